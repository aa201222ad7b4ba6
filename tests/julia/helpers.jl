# Test helpers: the comm harness on top of the IJulia stand-in, output capture, temp projects.
# Included into Main by runtests.jl after IJuliaStandin.jl and MiniJSON.jl.
# The stand-in imitates the IJulia generation named by DEARDIARY_IJULIA_GEN; comm messages
# reach it through `IJulia.deliver` (the event loop's call, with that generation's handler
# arguments).

const CMX = IJulia.CommManager

inject(code=CODE) = include_string(Main, code, "deardiary.jl")

"Run `f()` with stdout and stderr redirected to pipes (like IJulia: the C-level stderr
slot then points at a libuv pipe, not at fd 2). Returns (value, stdout_text, stderr_text)."
function capture_output(f)
    outp, errp = Pipe(), Pipe()
    Base.link_pipe!(outp; reader_supports_async=true, writer_supports_async=true)
    Base.link_pipe!(errp; reader_supports_async=true, writer_supports_async=true)
    outr = @async read(outp.out, String)
    errr = @async read(errp.out, String)
    val = try
        redirect_stdout(outp.in) do
            redirect_stderr(errp.in) do
                v = f()
                Libc.flush_cstdio()
                v
            end
        end
    finally
        close(outp.in)
        close(errp.in)
    end
    return val, fetch(outr), fetch(errr)
end

"Every message sent since index `n` of IJulia.sent, decoded: (comm_id, message Dict)."
function sent_since(n)
    map(IJulia.sent[n+1:end]) do (comm_id, text)
        frame = parse_json(text)
        @test frame["comm_id"] == comm_id
        data = frame["data"]
        @test sort(collect(keys(data))) == ["json", "protocol"]
        @test data["protocol"] === 1
        @test data["json"] isa String
        (comm_id, parse_json(data["json"]))
    end
end

"Open a comm with target `target`; return the decoded messages it produced."
function open_comm(id; target="deardiary")
    n = length(IJulia.sent)
    IJulia.deliver("comm_open", IJulia.Msg(Dict("comm_id" => id, "target_name" => target,
                                                "data" => Dict{String,Any}())))
    sent_since(n)
end

close_comm(id) = IJulia.deliver("comm_close", IJulia.Msg(Dict("comm_id" => id, "data" => Dict{String,Any}())))

"Close every comm the kernel has (as frontends going away would): a clean slate."
close_all_comms() = foreach(close_comm, collect(keys(CMX.table())))

"Send raw comm `data` on comm `id`; return the decoded messages produced."
function send_raw(id, data)
    n = length(IJulia.sent)
    IJulia.deliver("comm_msg", IJulia.Msg(Dict{String,Any}("comm_id" => id, "data" => data)))
    sent_since(n)
end

"One request -> exactly one reply (asserted); returns the reply."
function rpc(id, op; args=nothing, rid="req-" * string(rand(UInt32), base=16))
    data = Dict{String,Any}("id" => rid, "op" => op)
    args === nothing || (data["args"] = args)
    msgs = send_raw(id, data)
    @test length(msgs) == 1
    @test msgs[1][1] == id
    r = msgs[1][2]
    @test r["type"] == "reply"
    @test r["id"] == rid
    r
end

"The result of a successful op (asserted ok)."
function result_of(id, op; kw...)
    r = rpc(id, op; kw...)
    @test r["ok"] === true
    get(r, "result", nothing)
end

"A *path* field back to the raw path: a string, or {\"b64\": ...}."
rawpath(v::String) = v
rawpath(v::Dict) = (@test collect(keys(v)) == ["b64"]; String(base64decode(v["b64"])))

"Check each captured file against the disk: bytes, size, sha256 (SHA stdlib, independently)."
function check_files(cap; with_bytes=true)
    for f in cap["files"]
        @test Set(keys(f)) == Set(["role", "name", "path", "size", "sha256",
                                   (with_bytes ? ["base64"] : [])...])
        path = rawpath(f["path"])
        bytes = read(path)
        cu = codeunits(path)       # (Base.basename mis-splits non-UTF-8 paths on 1.5)
        @test f["name"] isa String
        if f["role"] == "workspace_project"   # named relative to the workspace root's folder
            @test !startswith(f["name"], "/") && endswith(path, "/" * f["name"])
        else
            @test f["name"] == String(cu[findlast(==(UInt8('/')), cu)+1:end])
        end
        @test f["size"] == length(bytes)
        @test f["sha256"] == bytes2hex(sha256(bytes))
        @test occursin(r"^[0-9a-f]{64}$", f["sha256"])
        if with_bytes
            @test base64decode(f["base64"]) == bytes
        end
    end
end

"Run `f` with the active project set to `path` (a folder or a project file)."
function with_project(f, path)
    old = Base.ACTIVE_PROJECT[]
    Base.ACTIVE_PROJECT[] = path
    try
        f()
    finally
        Base.ACTIVE_PROJECT[] = old
    end
end

"Write files into `dir`: pairs relative path => bytes or string."
function write_files(dir, files...)
    for (rel, content) in files
        p = joinpath(dir, rel)
        mkpath(dirname(p))
        write(p, content)
    end
    dir
end

fixture(parts...) = joinpath(FIXTURES, parts...)
fixture_bytes(parts...) = read(fixture(parts...))

"Copy a fixture folder (recursively) into a fresh temp folder; returns the copy's path."
function copy_fixture(name)
    dst = joinpath(mktempdir(), name)
    cp(fixture(name), dst)
    for (root, _, files) in walkdir(dst), f in files
        chmod(joinpath(root, f), 0o644)
    end
    dst
end
