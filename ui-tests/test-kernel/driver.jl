# TEST-ONLY: the Julia half of the deardiary test kernel (see README.md). Never shipped.
#
# Started by deardiary_test_kernel.py as
#     julia -i --color=yes --project=@. --startup-file=no driver.jl EVENTS_FD
# (the flags of IJulia's kernelspec, plus --startup-file=no to keep tests isolated), with
#   fd 0 (stdin)  : requests from Python, one JSON object per line
#   fd 1, fd 2    : the user's stdout/stderr, read by Python and published as `stream`
#                   messages; after each request the driver writes a sync marker to both
#                   so that Python knows all output of that request has arrived
#   EVENTS_FD     : events to Python, one JSON object per line (comm messages produced by
#                   `send_comm`, and the `done` result of each request)
# Python sends ONE request at a time and waits for its `done` (IJulia handles the shell
# queue in order, and a comm message waits behind a running cell): that ordering lives in
# Python; this loop just serves what it is given.

# `IJulia` is bound in Main, as in a real IJulia kernel (v1.24.2 src/kernel.jl:1,31 does
# `import IJulia` then `import IJulia: ans, In, Out, clear_history`; from 1.28 the
# kernelspec runs `import IJulia; IJulia.run_kernel()` and v1.34.4 src/kernel.jl:20 does
# the same import into Main). The stand-in only has `ans`. Its generation comes from
# DEARDIARY_IJULIA_GEN (set by the kernelspec), read when IJuliaStandin.jl is loaded.
include(joinpath(@__DIR__, "IJuliaStandin.jl"))
import .IJulia
import .IJulia: ans

module DearDiaryTestDriver

import REPL
import ..IJulia
include(joinpath(@__DIR__, "MiniJSON.jl"))
import .MiniJSON: parse_json

const EVENTS = Ref{IOStream}()   # EVENTS_FD
const OUT = Ref{IO}()            # the original stdout / stderr objects (pipes to Python)
const ERR = Ref{IO}()

# --- JSON for our own frames (IJulia.strictjson is kept for what send_comm sends) -----
clean(s::AbstractString) = isvalid(String(s)) ? String(s) :
    String(map(c -> isvalid(c) ? c : '\ufffd', collect(String(s))))
function jsonstr(io::IO, x)
    if x === nothing
        print(io, "null")
    elseif x isa Bool
        print(io, x ? "true" : "false")
    elseif x isa Integer
        print(io, x)
    elseif x isa AbstractString
        print(io, '"')
        for c in clean(x)
            c == '"' ? print(io, "\\\"") : c == '\\' ? print(io, "\\\\") :
            c < ' ' ? print(io, "\\u", string(UInt32(c), base=16, pad=4)) : print(io, c)
        end
        print(io, '"')
    elseif x isa AbstractDict
        print(io, '{')
        for (i, (k, v)) in enumerate(x)
            i > 1 && print(io, ',')
            jsonstr(io, string(k)); print(io, ':'); jsonstr(io, v)
        end
        print(io, '}')
    elseif x isa AbstractVector
        print(io, '[')
        for (i, v) in enumerate(x)
            i > 1 && print(io, ',')
            jsonstr(io, v)
        end
        print(io, ']')
    else
        jsonstr(io, string(x))
    end
end
jsonstr(x) = sprint(jsonstr, x)

# One line per event. SIGINT is deferred so that an interrupt never cuts a frame in half.
emit(line::AbstractString) = Base.disable_sigint() do
    write(EVENTS[], line, '\n')
    flush(EVENTS[])
end

# Where IJulia's send_comm would publish `comm_msg` on IOPub (parent: the last execute
# request), the stand-in hands the strictly encoded {"comm_id","data"} text to this sink;
# Python publishes it with the parent/session of the last execute request.
comm_sink(comm_id, text) = emit(string("{\"kind\":\"comm\",\"msg\":", text, "}"))

# --- errors, shaped like IJulia's error_content (src/execute_request.jl) ---------------
# ename is the type of the thrown exception (LoadError for a cell, since include_string
# wraps it), evalue the message of the unwrapped error, traceback = [evalue; backtrace]
# cut at include_string; a handler error gets "KERNEL EXCEPTION" in front (eventloop.jl).
function error_content(e, bt; msg::String="")
    t = bt
    i = findlast(ip -> Base.ip_matches_func(ip, :include_string), t)
    i !== nothing && (t = t[1:i-1])
    tb = String[split(sprint(Base.show_backtrace, t), '\n', keepempty=true)...]
    inner = e isa LoadError ? e.error : e
    evalue = try
        sprint((io, x) -> Base.invokelatest(showerror, io, x), inner)
    catch
        "SYSTEM: show(lasterr) caused an error"
    end
    pushfirst!(tb, evalue)
    isempty(msg) || pushfirst!(tb, msg)
    Dict{String,Any}("ename" => string(typeof(e)), "evalue" => evalue, "traceback" => tb)
end

# text/plain only (IJulia's display_dict adds richer MIME types when the value has them)
function plain(x)
    io = IOBuffer()
    ctx = IOContext(io, :limit => true, :displaysize => (30, 80))
    Base.invokelatest(show, ctx, MIME("text/plain"), x)
    String(take!(io))
end

# --- requests ---------------------------------------------------------------------------
# As IJulia's execute_request (v1.24.2 src/execute_request.jl:19-143, v1.34.4 :84-218):
# the code is rewritten first (special_mode_strip from 1.32, then `;`, `]`, `?` and
# %magics, IJulia.rewrite); pre-execute hooks run, then a soft-scope include_string into
# Main named "In[n]"; `ans = result` on success whether or not the request is silent;
# post-execute hooks; no execute_result when silent or when the code ends with `;`
# (REPL.ends_with_semicolon, checked on the code as sent); on an error the post-error
# hooks run. Hooks run for EVERY request, silent ones (the extension's injection) too.
function execute(r)
    code = r["code"]::String
    silent = r["silent"] === true || REPL.ends_with_semicolon(code)
    try
        kind, code = IJulia.rewrite(code)
        foreach(Base.invokelatest, IJulia.HOOKS.pre)
        result = if kind === :help
            Core.eval(Main, REPL.helpmode(code))
        elseif kind === :magic
            # IJulia answers a %magic with help text about Julia equivalents (magics.jl)
            "(test kernel) $(strip(code)): IJulia would show its help on %magics here"
        else
            include_string(REPL.softscope, Main, code, "In[$(r["n"])]")
        end
        IJulia.setans!(result)
        foreach(Base.invokelatest, IJulia.HOOKS.post)
        data = (silent || result === nothing) ? nothing : Dict("text/plain" => plain(result))
        Dict{String,Any}("status" => "ok", "data" => data)
    catch e
        bt = catch_backtrace()
        try
            foreach(Base.invokelatest, IJulia.HOOKS.error)
        catch
        end
        content = error_content(e, bt)
        content["status"] = "error"
        content
    end
end

# IJulia's eventloop calls every handler through invokelatest (so methods and closures
# defined by earlier cells are visible) and turns an exception into "KERNEL EXCEPTION":
# printed to the kernel's original stderr and published as `error` with the last execute
# request as parent. Python does the printing and publishing; an InterruptException is
# ignored there, as in IJulia.
const HANDLERS = ("comm_open", "comm_msg", "comm_close")
function comm(r)
    msg = IJulia.Msg(String[], r["header"], r["content"], r["parent_header"], r["metadata"])
    try
        IJulia.deliver(r["kind"], msg)
        Dict{String,Any}("status" => "ok")
    catch e
        e isa InterruptException && return Dict{String,Any}("status" => "ok")
        content = error_content(e, catch_backtrace(); msg="KERNEL EXCEPTION")
        content["status"] = "kernel_exception"
        content
    end
end

comm_info(r) = Dict{String,Any}("status" => "ok",
    "comms" => IJulia.CommManager.comm_info(get(r, "target_name", nothing)))

function handle(r)
    kind = r["kind"]
    kind == "execute" ? execute(r) :
    kind in HANDLERS ? comm(r) :
    kind == "comm_info" ? comm_info(r) :
    Dict{String,Any}("status" => "error", "ename" => "ArgumentError",
                     "evalue" => "unknown request kind $kind", "traceback" => String[])
end

const SYNC = "\0\eDDSYNC:"   # + seq + "\0", matched by deardiary_test_kernel.py

function finish(seq, reply)
    Base.disable_sigint() do
        Libc.flush_cstdio()                 # as IJulia's flush_all
        for io in (OUT[], ERR[])
            try
                write(io, SYNC, string(seq), '\0'); flush(io)
            catch
            end
        end
        reply["kind"] = "done"
        reply["seq"] = seq
        emit(jsonstr(reply))
    end
end

function main()
    requests = stdin                        # a libuv pipe: reading it lets other tasks run
    Core.eval(Base, :(stdin = devnull))     # user code must not read our requests
    OUT[] = stdout
    ERR[] = stderr
    EVENTS[] = Base.fdio(parse(Int, popfirst!(ARGS)), true)  # ARGS is the user's again
    IJulia.sink[] = comm_sink
    # Like IJulia's kernel.jl: SIGINT raises InterruptException instead of exiting,
    # interactive mode, fixed LINES/COLUMNS for output that does not depend on a terminal.
    ccall(:jl_exit_on_sigint, Cvoid, (Cint,), 0)
    Core.eval(Base, :(is_interactive = true))
    ENV["LINES"] = get(ENV, "LINES", "30")
    ENV["COLUMNS"] = get(ENV, "COLUMNS", "80")
    emit(jsonstr(Dict("kind" => "ready", "julia_version" => string(VERSION),
                      "generation" => IJulia.GENERATION)))
    while true
        line = try
            readline(requests)
        catch e
            e isa InterruptException && continue   # interrupt while idle: nothing to stop
            rethrow()
        end
        isempty(line) && eof(requests) && break  # Python went away or asked us to stop
        isempty(line) && continue
        r = parse_json(line)
        reply = try
            handle(r)
        catch e   # a bug here, not in user code: report it rather than hang the kernel
            e isa InterruptException || @error "driver failure" exception=(e, catch_backtrace())
            Dict{String,Any}("status" => "error", "ename" => string(typeof(e)),
                             "evalue" => sprint(showerror, e), "traceback" => String[])
        end
        finish(r["seq"], reply)
    end
end

end # module DearDiaryTestDriver

DearDiaryTestDriver.main()
exit(0)
