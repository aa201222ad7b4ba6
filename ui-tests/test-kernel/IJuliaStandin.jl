# TEST-ONLY stand-in for the parts of IJulia that jupyterlab-deardiary's injected code uses.
# Never shipped. It imitates one IJulia GENERATION at a time, chosen by the environment
# variable DEARDIARY_IJULIA_GEN when this file is loaded (default "1.24"):
#
#   "1.24"  IJulia 1.24.x (the last for Julia 1.5; 1.25-1.26 are the same for what we touch,
#           except that they ignore unknown request types, see deardiary_test_kernel.py)
#   "1.30"  IJulia 1.27-1.30: comm_info_reply on the requesting socket, register_comm
#           called through invokelatest (both 1.27.0); the kernel object owns the comm
#           table and send_comm takes a `kernel` keyword (both 1.30.0; 1.27-1.29 keep the
#           module-global table of "1.24"). noop_callback still exists.
#   "1.34"  IJulia 1.31-1.34: no noop_callback, default callbacks `Returns(nothing)`, a
#           `buffers` argument (1.31.0); special_mode_strip on every execute request
#           (1.32.0). Hooks in IJulia._preexecute_hooks (since 1.30.6).
#
# Every difference is cited as file:line AT THE TAG, read with
#     git --git-dir=<IJulia.jl clone> show v1.31.0:src/comm_manager.jl
# (src/kernel/PROTOCOL.md has the table). Spellings ALL generations share, and the only
# ones deardiary.jl may use: `CommManager.Comm{target}`, a method of
# `CommManager.register_comm(comm, msg)` (a no-op that targets extend by dispatch),
# `comm.on_msg` / `comm.on_close`, `CommManager.send_comm(comm, data)`, `IJulia.ans`.
#
# Where real IJulia would JSON-encode `send_comm`'s Dict and write it to the IOPub socket,
# the stand-in encodes it STRICTLY (plain JSON types and valid UTF-8 only: anything else
# throws, as a real send would corrupt the stream) and hands the text to `IJulia.sink[]`.
# Unit tests leave the default sink, which records into `IJulia.sent`; the test kernel
# points it at its pipe. Names marked "stand-in only" do not exist in IJulia.
module IJulia

"Stand-in only: the generations this file can imitate."
const GENERATIONS = ("1.24", "1.30", "1.34")
"Stand-in only: the imitated generation (DEARDIARY_IJULIA_GEN)."
const GENERATION = let g = get(ENV, "DEARDIARY_IJULIA_GEN", "")
    isempty(g) ? "1.24" : g
end
GENERATION in GENERATIONS ||
    error("DEARDIARY_IJULIA_GEN=$(repr(GENERATION)): the IJulia stand-in imitates ",
          join(GENERATIONS, ", "), " only")
const GEN = VersionNumber(GENERATION)

# ---- the facts, each from the first tag that has it --------------------------------
# comm_info_reply on the socket it came from (shell): v1.27.0 src/comm_manager.jl:62
# (`send_ipython(sock, ...)`); before, on IOPub: v1.24.2 src/comm_manager.jl:62-63.
# Decided in deardiary_test_kernel.py; here for the record.
const COMM_INFO_ON_SHELL = GEN >= v"1.27"
# register_comm through invokelatest: v1.27.0 src/comm_manager.jl:109; before, a direct
# call: v1.24.2 src/comm_manager.jl:109 (inside a handler the event loop already calls
# through invokelatest, v1.24.2 src/eventloop.jl:8).
const REGISTER_INVOKELATEST = GEN >= v"1.27"
# The kernel object owns the comm table, `Comm` moves into IJulia, `CommManager.comms` is a
# non-const global that init points at the kernel's table, send_comm gets `kernel=`:
# v1.30.0 src/IJulia.jl:76-86,107; src/init.jl:158-159; src/comm_manager.jl:5,11,65-70.
const KERNEL_OBJECT = GEN >= v"1.30"
# noop_callback removed, defaults `Returns(nothing)`, `buffers` in send_comm and Msg:
# v1.31.0 src/comm_manager.jl:13-21,66-67; src/IJulia.jl:64-77 (noop_callback was at
# v1.30.6 src/comm_manager.jl:13, v1.24.2 src/comm_manager.jl:27).
const HAS_NOOP_CALLBACK = GEN < v"1.31"
# special_mode_strip(code) on every execute request: v1.32.0 src/execute_request.jl:37,106
# (v1.34.4 src/execute_request.jl:37-75,106).
const SPECIAL_MODE_STRIP = GEN >= v"1.32"
# The hooks live in IJulia._preexecute_hooks etc.: v1.30.6 src/IJulia.jl:406,441
# (v1.34.4 src/IJulia.jl:442-488); before, IJulia.preexecute_hooks: v1.24.2
# src/IJulia.jl:220-270. Every generation runs them around EVERY execute request
# (silent ones, ours, included): v1.24.2 src/execute_request.jl:58-60,100-102,132-134;
# v1.34.4 src/execute_request.jl:123,164,208.

# ---- messages ------------------------------------------------------------------------
@static if GEN >= v"1.31"
    # v1.31.0 src/IJulia.jl:64-77 (buffers added)
    mutable struct Msg
        idents::Vector{String}
        header::Dict
        content::Dict
        parent_header::Dict
        metadata::Dict
        buffers::Vector{Vector{UInt8}}
        Msg(idents, header::Dict, content::Dict, parent_header=Dict{String,Any}(),
            metadata=Dict{String,Any}(), buffers=Vector{UInt8}[]) =
            new(idents, header, content, parent_header, metadata, buffers)
    end
else
    # v1.24.2 src/msg.jl:6-16
    mutable struct Msg
        idents::Vector{String}
        header::Dict
        content::Dict
        parent_header::Dict
        metadata::Dict
        Msg(idents, header::Dict, content::Dict, parent_header=Dict{String,Any}(),
            metadata=Dict{String,Any}()) = new(idents, header, content, parent_header, metadata)
    end
end
"Stand-in only: a message with this content (and an empty header)."
Msg(content::Dict) = Msg(String[], Dict{String,Any}(), Dict{String,Any}(content))

"Every message send_comm produced: (comm_id, json_text) pairs (default sink)."
const sent = Tuple{String,String}[]
const sink = Ref{Any}((comm_id, text) -> push!(sent, (comm_id, text)))

# --- strict JSON encoding (what a real send would need to survive) --------------------
function strictjson(io::IO, x)
    if x === nothing
        print(io, "null")
    elseif x isa Bool
        print(io, x ? "true" : "false")
    elseif x isa Integer
        -2^53 <= x <= 2^53 || error("stand-in: integer beyond 2^53 would lose precision: $x")
        print(io, x)
    elseif x isa AbstractFloat
        isfinite(x) || error("stand-in: non-finite float $x is not JSON")
        print(io, x)
    elseif x isa AbstractString
        isvalid(String(x)) || error("stand-in: invalid UTF-8 string would corrupt the stream")
        print(io, '"')
        for c in x
            if c == '"'; print(io, "\\\"")
            elseif c == '\\'; print(io, "\\\\")
            elseif c < ' '; print(io, "\\u", string(UInt32(c), base=16, pad=4))
            else print(io, c)
            end
        end
        print(io, '"')
    elseif x isa AbstractDict
        print(io, '{')
        first = true
        for (k, v) in x
            k isa AbstractString || error("stand-in: non-string key $(repr(k))")
            first || print(io, ',')
            first = false
            strictjson(io, k); print(io, ':'); strictjson(io, v)
        end
        print(io, '}')
    elseif x isa AbstractVector || x isa Tuple
        print(io, '[')
        for (i, v) in enumerate(x)
            i > 1 && print(io, ',')
            strictjson(io, v)
        end
        print(io, ']')
    else
        error("stand-in: $(typeof(x)) is not a plain JSON type")
    end
end
strictjson(x) = sprint(strictjson, x)

# ---- Returns(nothing), the default callback from 1.31 --------------------------------
# Base.Returns exists from Julia 1.7; the stand-in runs on 1.5, so it brings its own
# (a Function, like Base's, because Comm's callback fields are ::Function).
@static if isdefined(Base, :Returns)
    const Returns = Base.Returns
else
    struct Returns{V} <: Function
        value::V
    end
    (r::Returns)(args...; kwargs...) = r.value
end

# ---- the kernel object (1.30+) and the comm type -------------------------------------
@static if KERNEL_OBJECT
    # v1.30.0 src/IJulia.jl:76-86 (v1.34.4 src/IJulia.jl:79-89): the constructor files the
    # comm in the KERNEL's table.
    mutable struct Comm{target}
        id::String
        primary::Bool
        on_msg::Function
        on_close::Function
        function (::Type{Comm{target}})(id, primary, on_msg, on_close, kernel) where {target}
            comm = new{target}(id, primary, on_msg, on_close)
            kernel.comms[id] = comm
            return comm
        end
    end

    # The fields we imitate of v1.34.4 src/IJulia.jl:100-176 (`ans`, `n`, `comms`).
    mutable struct Kernel
        ans::Any
        n::Int
        comms::Dict{String,Comm}
    end
    # v1.34.4 src/IJulia.jl:178-185: ans and n are mirrored into IJulia's globals.
    function Base.setproperty!(kernel::Kernel, name::Symbol, x)
        name in (:ans, :n) && Core.eval(IJulia, :($name = $(QuoteNode(x))))
        setfield!(kernel, name, x)
    end
    ans = nothing        # v1.34.4 src/IJulia.jl:365
    n = 0
    # v1.34.4 src/init.jl:163: set by init when the kernel starts (nothing otherwise).
    _default_kernel = Kernel(nothing, 0, Dict{String,Comm}())
    "Stand-in only: set ans as execute_request does (`kernel.ans = result`)."
    setans!(x) = (_default_kernel.ans = x; nothing)
else
    ans = nothing        # v1.24.2 src/IJulia.jl:142
    n = 0
    "Stand-in only: set ans as execute_request does (`ans = result`, a global)."
    setans!(x) = (global ans = x; nothing)
end

# ---- hooks (all generations run them around every execute request) -------------------
@static if GEN >= v"1.30"
    const _preexecute_hooks = Function[]   # v1.30.6 src/IJulia.jl:406
    const _postexecute_hooks = Function[]
    const _posterror_hooks = Function[]
    const HOOKS = (pre=_preexecute_hooks, post=_postexecute_hooks, error=_posterror_hooks)
else
    const preexecute_hooks = Function[]    # v1.24.2 src/IJulia.jl:220-270
    const postexecute_hooks = Function[]
    const posterror_hooks = Function[]
    const HOOKS = (pre=preexecute_hooks, post=postexecute_hooks, error=posterror_hooks)
end
function _pop_hook!(f, hooks)
    i = findlast(isequal(f), hooks)
    i === nothing && error("function not a hook")
    splice!(hooks, i)
end
push_preexecute_hook(f::Function) = push!(HOOKS.pre, f)
pop_preexecute_hook(f::Function) = _pop_hook!(f, HOOKS.pre)
push_postexecute_hook(f::Function) = push!(HOOKS.post, f)
pop_postexecute_hook(f::Function) = _pop_hook!(f, HOOKS.post)
push_posterror_hook(f::Function) = push!(HOOKS.error, f)
pop_posterror_hook(f::Function) = _pop_hook!(f, HOOKS.error)

# ---- execute_request's code rewriting ------------------------------------------------
"""
    special_mode_strip(code)

v1.32.0 src/execute_request.jl:37-75 (v1.34.4 the same lines), applied to every execute
request from 1.32 (v1.34.4 src/execute_request.jl:106): if the code has exactly ONE line
that is neither blank nor a whole-line comment and that line starts with `;`, `]` or `?`,
the code becomes that line; otherwise it is returned unchanged.
"""
function special_mode_strip(code::String)
    occursin(r"#|;|\]|\?", code) || return code
    uncommented_line = ""
    has_special_mode = false
    for line in eachline(IOBuffer(code))
        (isempty(line) || all(isspace, line)) && continue
        first_char = strip(line)[1]
        if first_char != '#'
            isempty(uncommented_line) || return code
            uncommented_line = line
            has_special_mode = first_char in (';', ']', '?')
        end
    end
    isempty(uncommented_line) ? code : has_special_mode ? uncommented_line : code
end

# v1.24.2 src/magics.jl:16 (unchanged at v1.34.4 src/magics.jl:16)
const magics_regex = r"^\s*(%%?[A-Za-z_][A-Za-z_0-9]*\b)\s*(.*)\s*$"m

"""
Stand-in only: what execute_request does to `code` before evaluating it. Returns
`(kind, code)` with kind `:julia`, `:help` (code is the help query) or `:magic`.
v1.24.2 src/execute_request.jl:43-55,67; v1.34.4 src/execute_request.jl:106-120,129.
"""
function rewrite(code::String)
    SPECIAL_MODE_STRIP && (code = special_mode_strip(code))
    code = replace(code, r"^\s*;.*$" =>
                   m -> string(replace(m, r"^\s*;" => "Base.repl_cmd(`"), "`, stdout)"))
    if occursin(r"^\].*$", code)
        # stripped from v1.28.0 src/execute_request.jl:65 (v1.34.4 :116); not in v1.24.2 :50-51
        cmd = GEN >= v"1.28" ? strip(code[2:end]) : code[2:end]
        code = "IJulia.do_pkg_cmd(\"" * escape_string(cmd) * "\")"
    end
    hcode = replace(code, r"^\s*\?" => "")
    hcode != code && return (:help, hcode)
    occursin(magics_regex, code) && match(magics_regex, code).offset == 1 && return (:magic, code)
    (:julia, code)
end

const PKG_ID = Base.PkgId(Base.UUID("44cfe95a-1eb2-52ea-b672-e2afdf69b78f"), "Pkg")
"`] cmd` (IJulia: Pkg.REPLMode; the stand-in: Pkg.REPLMode.pkgstr, loaded lazily)."
function do_pkg_cmd(cmd::AbstractString)
    Pkg = Base.require(PKG_ID)
    Base.invokelatest(Pkg.REPLMode.pkgstr, String(cmd))
end

module CommManager
import ..IJulia
import ..IJulia: Returns, KERNEL_OBJECT, HAS_NOOP_CALLBACK, REGISTER_INVOKELATEST

@static if KERNEL_OBJECT
    import ..IJulia: Comm           # v1.30.0 src/comm_manager.jl:5
    # "Global variable kept around for backwards compatibility", pointed at the kernel's
    # table by init: v1.30.0 src/comm_manager.jl:11, src/init.jl:159.
    comms = IJulia._default_kernel.comms
    "Stand-in only: the table comm_open files comms in."
    table() = IJulia._default_kernel.comms
else
    # v1.24.2 src/comm_manager.jl:10-20
    mutable struct Comm{target}
        id::String
        primary::Bool
        on_msg::Function
        on_close::Function
        function (::Type{Comm{target}})(id, primary, on_msg, on_close) where {target}
            comm = new{target}(id, primary, on_msg, on_close)
            comms[id] = comm
            return comm
        end
    end
    const comms = Dict{String,Comm}()          # v1.24.2 src/comm_manager.jl:25
    table() = comms
end

# Outer constructors. `primary=true` would send a comm_open to the frontend in IJulia;
# kernel-initiated comms are not implemented here, so the stand-in defaults to false.
@static if HAS_NOOP_CALLBACK
    noop_callback(msg) = nothing               # v1.24.2 :27, v1.30.6 :13
    @static if KERNEL_OBJECT                   # v1.30.0 src/comm_manager.jl:14-30
        Comm(target, id, primary=false, on_msg=noop_callback, on_close=noop_callback;
             kernel=IJulia._default_kernel) =
            Comm{Symbol(target)}(id, primary, on_msg, on_close, kernel)
    else                                       # v1.24.2 src/comm_manager.jl:28-43
        Comm(target, id, primary=false, on_msg=noop_callback, on_close=noop_callback) =
            Comm{Symbol(target)}(id, primary, on_msg, on_close)
    end
else                                           # v1.31.0 src/comm_manager.jl:13-30
    Comm(target, id, primary=false, on_msg=Returns(nothing), on_close=Returns(nothing);
         kernel=IJulia._default_kernel) =
        Comm{Symbol(target)}(id, primary, on_msg, on_close, kernel)
end

comm_target(comm::Comm{target}) where {target} = target

"No-op; targets extend it by dispatch on Comm{target} (v1.24.2 :92-96, v1.34.4 :80-84)."
function register_comm(comm::Comm, data) end

# send_comm: v1.24.2 src/comm_manager.jl:78-83, v1.30.0 :65-70 (kernel=), v1.31.0 :66-71
# (buffers, kernel=). The 2-argument call works in all of them. msg_comm puts the keyword
# arguments into the content (v1.24.2 :71-73).
function _send(comm::Comm, data::Dict; kwargs...)
    content = Dict{String,Any}("comm_id" => comm.id, "data" => data)
    for (k, v) in kwargs
        content[string(k)] = v
    end
    IJulia.sink[](comm.id, IJulia.strictjson(content))
    nothing
end
@static if !KERNEL_OBJECT
    send_comm(comm::Comm, data::Dict, metadata::Dict=Dict(); kwargs...) = _send(comm, data; kwargs...)
elseif HAS_NOOP_CALLBACK
    function send_comm(comm::Comm, data::Dict, metadata::Dict=Dict();
                       kernel=IJulia._default_kernel, kwargs...)
        kernel === nothing && throw(ArgumentError("no IJulia kernel is running"))
        _send(comm, data; kwargs...)
    end
else
    function send_comm(comm::Comm, data::Dict, metadata::Dict=Dict(), buffers=Vector{UInt8}[];
                       kernel=IJulia._default_kernel, kwargs...)
        kernel === nothing && throw(ArgumentError("no IJulia kernel is running"))
        isempty(buffers) || throw(ArgumentError("stand-in: comm buffers are not implemented"))
        _send(comm, data; kwargs...)
    end
end

# Handlers for incoming messages, as IJulia's: an unknown comm_msg is ignored, an unknown
# comm_close throws KeyError (the event loop shows it as a KERNEL EXCEPTION).
# v1.24.2 src/comm_manager.jl:100-150; v1.30.0 :87-137 and v1.34.4 :88-144 take the kernel.
function _open(kernel, msg::IJulia.Msg)
    comm_id = msg.content["comm_id"]
    haskey(msg.content, "data") || (msg.content["data"] = Dict{String,Any}())
    comm = KERNEL_OBJECT ? Comm(msg.content["target_name"], comm_id, false; kernel=kernel) :
                           Comm(msg.content["target_name"], comm_id, false)
    REGISTER_INVOKELATEST ? Base.invokelatest(register_comm, comm, msg) : register_comm(comm, msg)
    table()[comm_id] = comm
    nothing
end
function _msg(kernel, msg::IJulia.Msg)
    comm = get(table(), msg.content["comm_id"], nothing)
    comm === nothing && return nothing
    haskey(msg.content, "data") || (msg.content["data"] = Dict{String,Any}())
    comm.on_msg(msg)
    nothing
end
function _close(kernel, msg::IJulia.Msg)
    comm = table()[msg.content["comm_id"]]
    haskey(msg.content, "data") || (msg.content["data"] = Dict{String,Any}())
    comm.on_close(msg)
    delete!(table(), comm.id)
    nothing
end
@static if KERNEL_OBJECT
    comm_open(sock, kernel, msg) = _open(kernel, msg)
    comm_msg(sock, kernel, msg) = _msg(kernel, msg)
    comm_close(sock, kernel, msg) = _close(kernel, msg)
else
    comm_open(sock, msg) = _open(nothing, msg)
    comm_msg(sock, msg) = _msg(nothing, msg)
    comm_close(sock, msg) = _close(nothing, msg)
end

"Stand-in only: {comm_id => target} of the comms (for comm_info_request)."
comm_info(target=nothing) = Dict{String,Any}(id => Dict("target_name" => string(comm_target(c)))
                                             for (id, c) in table()
                                             if target === nothing || string(comm_target(c)) == target)
end # module CommManager

"""
Stand-in only: hand `msg` to the comm handler `kind` ("comm_open", "comm_msg",
"comm_close") as the event loop does: through invokelatest, with the arguments of this
generation (v1.24.2 src/eventloop.jl:8 `(socket, msg)`; v1.34.4 src/eventloop.jl:26
`(socket, kernel, msg)`).
"""
function deliver(kind::AbstractString, msg::Msg)
    h = kind == "comm_open" ? CommManager.comm_open :
        kind == "comm_msg" ? CommManager.comm_msg :
        kind == "comm_close" ? CommManager.comm_close : throw(KeyError(kind))
    @static if KERNEL_OBJECT
        Base.invokelatest(h, nothing, _default_kernel, msg)
    else
        Base.invokelatest(h, nothing, msg)
    end
end

"Stand-in only: the callbacks a comm gets when no target wired it (the default)."
is_default_callback(f) = HAS_NOOP_CALLBACK ? f === CommManager.noop_callback : f isa Returns

end # module IJulia
