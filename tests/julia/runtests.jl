# Tests of the injected kernel code (src/kernel/julia/deardiary.jl) under a real Julia,
# against the test-only IJulia stand-in, once per IJulia generation it imitates. Run from
# the repository root:
#     .cache/julia/bin/julia --startup-file=no tests/julia/runtests.jl
# (DEARDIARY_IJULIA_GEN=1.34 in the environment: that generation only, in this process).
using Test, SHA, Base64, Random
import REPL

# Without DEARDIARY_IJULIA_GEN, generations.jl runs this file in a child Julia per
# generation (the stand-in reads the variable when it is loaded), prints one summary table
# for all of them and exits.
isempty(get(ENV, "DEARDIARY_IJULIA_GEN", "")) && include(joinpath(@__DIR__, "generations.jl"))

const HERE = @__DIR__
const REPO = normpath(joinpath(HERE, "..", ".."))
const FIXTURES = joinpath(HERE, "fixtures")
const CODE_PATH = joinpath(REPO, "src", "kernel", "julia", "deardiary.jl")
const CODE = read(CODE_PATH, String)

include(joinpath(REPO, "ui-tests", "test-kernel", "IJuliaStandin.jl"))   # Main.IJulia
include(joinpath(REPO, "ui-tests", "test-kernel", "MiniJSON.jl"))
using .MiniJSON
include(joinpath(HERE, "helpers.jl"))

# Looked up at each call: a plain `Main.__deardiary__` in a function would be compiled in
# as a constant and keep pointing at a module that a later injection replaced.
D() = Base.invokelatest(getfield, Main, :__deardiary__)
world() = ccall(:jl_get_world_counter, UInt, ())
const DEARDIARY_METHOD_SIG = Tuple{CMX.Comm{:deardiary}, Any}
const T0 = time()

@testset "jupyterlab-deardiary kernel code" begin

@testset "the capture harness sees C-level stderr (control)" begin
    # Without our guard, replacing a module prints through JL_STDERR: the harness must see it.
    Core.eval(Main, :(module __dd_control__ end))
    _, out, err = capture_output(() -> Core.eval(Main, :(module __dd_control__ end)))
    @test occursin("WARNING: replacing module __dd_control__", err)
end

@testset "injection: retry after a half-built module, silently" begin
    # A body that threw halfway: bound, PROTOCOL set, but no COMPLETE marker.
    quietly(ex) = capture_output(() -> Core.eval(Main, ex))   # the test's own setup
    quietly(:(module __deardiary__ const PROTOCOL = 1; half_built = true end))
    half = D()
    IJulia.setans!(42)
    val, out, err = capture_output(inject)
    @test val == 42                     # evaluates to Main.IJulia.ans
    @test out == "" && err == ""        # no "WARNING: replacing module"
    @test D() !== half
    @test D().COMPLETE === true && D().PROTOCOL === 1
    @test !isdefined(D(), :half_built)
    @test hasmethod(CMX.register_comm, DEARDIARY_METHOD_SIG)
    # the C-level stderr slot was restored: a later warning is seen again
    _, _, err2 = capture_output(() -> Core.eval(Main, :(module __dd_control__ end)))
    @test occursin("WARNING: replacing module", err2)
end

@testset "injection: a body that throws halfway does not block the next injection" begin
    marker = "const COMPLETE = true"
    @test count(marker, CODE) == 1
    broken = replace(CODE, marker => "error(\"boom\")\n" * marker)
    capture_output(() -> Core.eval(Main, :(module __deardiary__ end)))  # so the guard runs it
    @test_throws LoadError capture_output(() -> include_string(Main, broken, "In[1]"))
    @test !isdefined(D(), :COMPLETE) && isdefined(D(), :capture)     # half-built, bound
    _, _, err = capture_output(() -> Core.eval(Main, :(module __dd_control__ end)))
    @test occursin("WARNING: replacing module", err)   # stderr slot restored after the throw
    val, out, err = capture_output(inject)
    @test out == "" && err == "" && val === IJulia.ans
    @test D().COMPLETE === true
end

@testset "injection: an older protocol is replaced, silently" begin
    capture_output(() -> Core.eval(Main, :(module __deardiary__ const PROTOCOL = 0; const COMPLETE = true end)))
    old = D()
    val, out, err = capture_output(inject)
    @test out == "" && err == ""
    @test D() !== old && D().PROTOCOL === 1 && D().COMPLETE === true
    @test val === IJulia.ans
end

@testset "injection: idempotent, keeps ans, prints nothing" begin
    m = D()
    meth = which(CMX.register_comm, DEARDIARY_METHOD_SIG)
    fmeth = which(Main.deardiary_snapshot, Tuple{String})
    w = world()
    for ans_value in (42, "user's value", nothing, [1, 2, 3])
        IJulia.setans!(ans_value)
        val, out, err = capture_output(inject)
        @test val === ans_value
        @test out == "" && err == ""
    end
    @test D() === m                                      # same module object
    @test which(CMX.register_comm, DEARDIARY_METHOD_SIG) === meth
    @test which(Main.deardiary_snapshot, Tuple{String}) === fmeth
    @test world() == w                                   # no method was (re)defined at all
end

@testset "injection under IJulia's soft scope leaves user globals alone" begin
    # IJulia 1.x on Julia >= 1.5 runs cells through REPL.softscope.
    names = (:dd_old, :dd_module, :dd_slot, :dd_saved, :dd_sink, :dd_new)
    for n in names
        Core.eval(Main, :($n = :users_own))
    end
    IJulia.setans!(7)
    val, out, err = capture_output(() -> include_string(REPL.softscope, Main, CODE, "In[3]"))
    @test val == 7 && out == "" && err == ""
    # and on the replacing path too
    capture_output(() -> Core.eval(Main, :(module __deardiary__ const PROTOCOL = 1 end)))
    val, out, err = capture_output(() -> include_string(REPL.softscope, Main, CODE, "In[4]"))
    @test val == 7 && out == "" && err == ""
    @test D().COMPLETE === true
    for n in names
        @test getfield(Main, n) === :users_own
    end
end

@testset "registration and ready" begin
    empty!(CMX.comms); empty!(IJulia.sent)
    msgs = open_comm("c1")
    @test length(msgs) == 1
    cid, ready = msgs[1]
    @test cid == "c1"
    @test ready == Dict("type" => "ready", "protocol" => 1, "julia_version" => string(VERSION))
    @test !IJulia.is_default_callback(CMX.comms["c1"].on_msg)
    # another target gets nothing from us and stays dead
    @test isempty(open_comm("x1"; target="something_else"))
    @test IJulia.is_default_callback(CMX.comms["x1"].on_msg)
end

@testset "ping; ids echoed; back-to-back requests in order" begin
    r = rpc("c1", "ping"; rid="abc-1")
    @test r == Dict("type" => "reply", "id" => "abc-1", "ok" => true,
                    "result" => Dict("pong" => true, "protocol" => 1))
    n = length(IJulia.sent)
    for i in 1:5
        IJulia.deliver("comm_msg", IJulia.Msg(Dict("comm_id" => "c1", "data" => Dict("id" => "q$i", "op" => "ping"))))
    end
    @test [m["id"] for (_, m) in sent_since(n)] == ["q$i" for i in 1:5]
    # ids with characters that need escaping come back intact
    weird = "id \"quoted\" \\ \n\t ünï ✓ \u1"
    @test rpc("c1", "ping"; rid=weird)["id"] == weird
end

@testset "claim: true exactly once per key and kernel process" begin
    @test result_of("c1", "claim"; args=Dict("key" => "kernel-start")) == Dict("claimed" => true)
    @test result_of("c1", "claim"; args=Dict("key" => "kernel-start")) == Dict("claimed" => false)
    @test result_of("c1", "claim"; args=Dict("key" => "other")) == Dict("claimed" => true)
    for bad in (nothing, Dict("key" => ""), Dict("key" => 3), Dict{String,Any}())
        r = rpc("c1", "claim"; args=bad)
        @test r["ok"] === false && r["error"]["code"] == "bad_request"
    end
end

@testset "error replies" begin
    err(m) = (@test m["type"] == "reply"; @test m["ok"] === false;
              @test Set(keys(m)) == Set(["type", "id", "ok", "error"]);
              @test Set(keys(m["error"])) == Set(["code", "message"]);
              @test !isempty(m["error"]["message"]); m["error"]["code"])
    r = rpc("c1", "frobnicate"; rid="u1")
    @test err(r) == "unknown_op" && r["id"] == "u1"
    @test occursin("frobnicate", r["error"]["message"])
    for (data, id) in ((Any[1, 2], nothing), ("just a string", nothing), (nothing, nothing),
                       (Dict("op" => "ping"), nothing),                    # no id
                       (Dict("id" => 12, "op" => "ping"), nothing),        # id not a string
                       (Dict("id" => "", "op" => "ping"), nothing),        # empty id
                       (Dict("id" => "b1"), "b1"),                         # no op
                       (Dict("id" => "b2", "op" => 5), "b2"),              # op not a string
                       (Dict("id" => "b3", "op" => "ping", "args" => [1]), "b3"),
                       (Dict("id" => "b4", "op" => "capture", "args" => Dict("max_bytes" => -1)), "b4"),
                       (Dict("id" => "b5", "op" => "capture", "args" => Dict("max_bytes" => "9")), "b5"),
                       (Dict("id" => "b6", "op" => "capture", "args" => Dict("max_bytes" => true)), "b6"))
        msgs = send_raw("c1", data)
        @test length(msgs) == 1
        @test err(msgs[1][2]) == "bad_request"
        @test msgs[1][2]["id"] == id
    end
    # an exception inside the callback itself -> a structured "internal" error, no throw
    n = length(IJulia.sent)
    @test CMX.comms["c1"].on_msg(42) === nothing            # 42 is no Msg: `.content` throws
    msgs = sent_since(n)
    @test length(msgs) == 1 && err(msgs[1][2]) == "internal" && msgs[1][2]["id"] === nothing
    @test occursin("Internal error", msgs[1][2]["error"]["message"])
    # an unencodable reply (the id is not UTF-8) -> encode_failed, sent safely, id null
    msgs = send_raw("c1", Dict("id" => String(UInt8[0x61, 0xff]), "op" => "ping"))
    @test length(msgs) == 1 && err(msgs[1][2]) == "encode_failed" && msgs[1][2]["id"] === nothing
    # send_comm itself failing never escapes into IJulia
    oldsink = IJulia.sink[]
    IJulia.sink[] = (id, text) -> error("socket gone")
    try
        @test IJulia.deliver("comm_msg", IJulia.Msg(Dict("comm_id" => "c1",
                                           "data" => Dict("id" => "s1", "op" => "ping")))) === nothing
        @test CMX.comms["c1"].on_close(IJulia.Msg(Dict("comm_id" => "c1"))) === nothing
    finally
        IJulia.sink[] = oldsink
    end
    CMX.comms["c1"].on_msg = m -> D().on_msg(CMX.comms["c1"], m)   # re-wire after on_close
    @test rpc("c1", "ping")["ok"] === true                          # the comm still works
end

@testset "strict encoder" begin
    J = D().tojson
    bad(x) = (@test_throws ArgumentError J(x); true)
    bad(sin); bad(:sym); bad(NaN); bad(Inf); bad(-Inf); bad(1.5); bad(v"1.2.3"); bad('c')
    bad((1, 2)); bad(Main); bad(Dict(:k => 1)); bad(Dict(1 => 1)); bad(String(UInt8[0xc3]))
    bad(Dict("ok" => Any[1, Dict("deep" => NaN)]))
    bad(Any["fine", String(UInt8[0x80])])
    @test J(nothing) == "null" && J(true) == "true" && J(false) == "false"
    @test J(2^53) == "9007199254740992" && J(-(2^53)) == "-9007199254740992"
    @test J(2^53 + 1) == "\"9007199254740993\""
    @test J(-(2^53) - 1) == "\"-9007199254740993\""
    @test J(typemin(Int64)) == "\"-9223372036854775808\""
    @test J(typemax(UInt64)) == "\"18446744073709551615\""
    @test J(big(2)^100) == "\"1267650600228229401496703205376\""
    @test J(typemax(UInt128)) == "\"" * string(typemax(UInt128)) * "\""
    @test J(Int8(-5)) == "-5" && J(UInt8(200)) == "200"
    s = "q\" b\\ nl\n cr\r tab\t nul\0 bel\a del\x7f é ✓ 🎉 \u2028"
    @test J(s) == "\"q\\\" b\\\\ nl\\n cr\\r tab\\t nul\\u0000 bel\\u0007 del\x7f é ✓ 🎉 \u2028\""
    @test parse_json(J(s)) == s
    v = Dict("a" => Any[1, "x", nothing, true, Dict{String,Any}()], "b" => Any[])
    @test parse_json(J(v)) == v
    # every message we send passed the stand-in's own strict check; a path that is not
    # UTF-8 becomes {"b64": ...}
    p = String(UInt8[0x2f, 0x74, 0xff])
    @test D().pathval(p) == Dict("b64" => base64encode(UInt8[0x2f, 0x74, 0xff]))
    @test D().pathval("/ok/ü") == "/ok/ü"
end

@testset "capture: Project.toml + Manifest.toml (real fixtures)" begin
    for (name, psha, msha) in (
            ("repo-url-v1-grpc", "0c1f1269cd1eac8453b8f31e02fba1fc0312127dd3cb4f868f1cea486772607b",
                                 "a652cec52b8fe98132ea0412b6481f77218e8073422afd9dab53e7735b91b108"),
            ("format-migration-cgcoefficient-446597c",
                                 "91832ca97d388a0c99b5be3bfed66d7c2b3a4c9aeb1edec1bf2b8d75f236e953",
                                 "3bef261ec65b9996beec0eecb2731d68703fcb14fe639ebc3f4eca4b1a2a7405"))
        dir = copy_fixture(name)
        with_project(dir) do
            cap = result_of("c1", "capture")
            @test Set(keys(cap)) == Set(["julia_version", "project", "manifest", "workspace_root", "files", "sys",
                                         "loaded", "environments"])
            @test cap["julia_version"] == string(VERSION)
            @test cap["project"] == Dict("path" => joinpath(dir, "Project.toml"), "exists" => true, "is_global" => false)
            @test cap["manifest"] == Dict("path" => joinpath(dir, "Manifest.toml"), "exists" => true, "found_by" => "julia")
            @test cap["workspace_root"] === nothing
            @test [f["role"] for f in cap["files"]] == ["project", "manifest"]
            @test [f["name"] for f in cap["files"]] == ["Project.toml", "Manifest.toml"]
            @test [f["sha256"] for f in cap["files"]] == [psha, msha]    # from the fixtures README
            check_files(cap)
            # fingerprint: same paths and hashes, no bytes
            fp = result_of("c1", "fingerprint")
            check_files(fp; with_bytes=false)
            @test [f["sha256"] for f in fp["files"]] == [psha, msha]
            @test fp["project"] == cap["project"] && fp["manifest"] == cap["manifest"]
            # the fallback rules agree with Julia here
            @test D().manifest_for(joinpath(dir, "Project.toml")) == (joinpath(dir, "Manifest.toml"), "default", nothing)
        end
    end
end

@testset "capture: sys facts" begin
    sys = result_of("c1", "capture")["sys"]
    @test sys["kernel"] == string(Sys.KERNEL) && sys["arch"] == string(Sys.ARCH)
    @test sys["machine"] == Sys.MACHINE
    @test sys["cpu_threads"] == Sys.CPU_THREADS && sys["nthreads"] == Threads.nthreads()
    @test sys["bindir"] == Sys.BINDIR
    @test sys["depot_path"] == DEPOT_PATH
    @test sys["load_path"] == Base.load_path()
    @test sys["pwd"] == pwd()
    # a working folder that was deleted under the kernel: pwd() throws, we send ""
    here = pwd()
    gone = mktempdir()
    cd(gone); rm(gone)
    try
        @test_throws Base.IOError pwd()
        @test result_of("c1", "fingerprint")["sys"]["pwd"] == ""
    finally
        cd(here)
    end
end

@testset "capture: JuliaProject.toml / JuliaManifest.toml win" begin
    dir = write_files(mktempdir(),
        "JuliaProject.toml" => fixture_bytes("juliaproject-qcontrol-tutorial", "JuliaProject.toml"),
        "Project.toml" => fixture_bytes("repo-url-v1-grpc", "Project.toml"),
        "JuliaManifest.toml" => fixture_bytes("format-migration-cgcoefficient-446597c", "Manifest.toml"),
        "Manifest.toml" => fixture_bytes("repo-url-v1-grpc", "Manifest.toml"))
    with_project(dir) do
        cap = result_of("c1", "capture")
        @test cap["project"]["path"] == joinpath(dir, "JuliaProject.toml")
        @test cap["manifest"]["path"] == joinpath(dir, "JuliaManifest.toml")
        @test cap["manifest"]["found_by"] == "julia"
        @test [f["name"] for f in cap["files"]] == ["JuliaProject.toml", "JuliaManifest.toml"]
        @test cap["files"][1]["sha256"] == "60cbee0960dcaaf9cb56018e0bf95811800f5040b3352b669b9b75dd8bc2e09d"
        check_files(cap)
        fb = D().capture(ask_julia=false)
        @test fb["manifest"] == Dict("path" => joinpath(dir, "JuliaManifest.toml"), "exists" => true, "found_by" => "default")
    end
end

@testset "manifest rules: versioned manifests (fallback, any Julia version)" begin
    m = fixture_bytes("format-migration-cgcoefficient-446597c", "Manifest.toml")
    dir = write_files(mktempdir(),
        "Project.toml" => fixture_bytes("versioned-julia-for-physics", "Project.toml"),
        "Manifest.toml" => m, "Manifest-v1.10.toml" => m, "Manifest-v1.11.toml" => m,
        "Manifest-v1.12.toml" => m)
    proj = joinpath(dir, "Project.toml")
    mf(v) = D().manifest_for(proj; version=v)
    @test mf(v"1.5.3") == (joinpath(dir, "Manifest.toml"), "default", nothing)
    @test mf(v"1.10.7") == (joinpath(dir, "Manifest.toml"), "default", nothing)
    @test mf(v"1.10.8") == (joinpath(dir, "Manifest-v1.10.toml"), "versioned", nothing)
    @test mf(v"1.11.0") == (joinpath(dir, "Manifest-v1.11.toml"), "versioned", nothing)
    @test mf(v"1.11.0-rc2") == (joinpath(dir, "Manifest-v1.11.toml"), "versioned", nothing)
    @test mf(v"1.12.4") == (joinpath(dir, "Manifest-v1.12.toml"), "versioned", nothing)
    @test mf(v"1.13.0") == (joinpath(dir, "Manifest.toml"), "default", nothing)    # no v1.13 file
    write(joinpath(dir, "JuliaManifest-v1.11.toml"), m)
    @test mf(v"1.11.5") == (joinpath(dir, "JuliaManifest-v1.11.toml"), "versioned", nothing)
    # Julia 1.5.3 itself knows no versioned names: its own answer wins in a real capture
    with_project(dir) do
        @test result_of("c1", "fingerprint")["manifest"]["path"] == joinpath(dir, "Manifest.toml")
        cap = D().capture(version=v"1.11.0", ask_julia=false)      # as 1.11 would see it
        @test cap["manifest"] == Dict("path" => joinpath(dir, "JuliaManifest-v1.11.toml"),
                                      "exists" => true, "found_by" => "versioned")
        @test cap["julia_version"] == string(VERSION)
        check_files(parse_json(D().tojson(cap)))
    end
end

@testset "manifest rules: manifest = \"...\" key" begin
    m = fixture_bytes("format-migration-cgcoefficient-446597c", "Manifest.toml")
    dir = write_files(mktempdir(),
        "Project.toml" => "name = \"X\"\nmanifest = \"sub/My Manifest.toml\"\n\n[deps]\nmanifest = \"not-this.toml\"\n",
        "sub/My Manifest.toml" => m, "Manifest.toml" => m, "not-this.toml" => m)
    proj = joinpath(dir, "Project.toml")
    want = joinpath(dir, "sub", "My Manifest.toml")
    @test D().manifest_for(proj) == (want, "manifest_key", nothing)
    @test D().manifest_for(proj; version=v"1.12.0") == (want, "manifest_key", nothing)
    with_project(dir) do
        cap = result_of("c1", "capture")
        @test cap["manifest"] == Dict("path" => want, "exists" => true, "found_by" => "julia")
        @test cap["files"][2]["name"] == "My Manifest.toml"
        check_files(cap)
    end
    # single quotes, a BOM, an escaped backslash-free relative path
    write(proj, "\ufeffmanifest = '../elsewhere.toml'  # comment\n")
    write(joinpath(dirname(dir), "elsewhere.toml"), m)
    @test D().manifest_for(proj) == (joinpath(dirname(dir), "elsewhere.toml"), "manifest_key", nothing)
    # a key naming a missing file falls through to the default names (as Julia does)
    write(proj, "manifest = \"missing.toml\"\n")
    @test D().manifest_for(proj) == (joinpath(dir, "Manifest.toml"), "default", nothing)
    # a key inside a table is not the top-level key
    write(proj, "[extras]\nmanifest = \"sub/My Manifest.toml\"\n")
    @test D().manifest_for(proj) == (joinpath(dir, "Manifest.toml"), "default", nothing)
end

@testset "manifest rules: Julia 1.12 workspaces (real nested ribasim projects)" begin
    ws = copy_fixture("workspace-ribasim")        # root -> core -> core/test, no manifest yet
    root, core, test = (joinpath(ws, "Project.toml"), joinpath(ws, "core", "Project.toml"),
                        joinpath(ws, "core", "test", "Project.toml"))
    rootman = joinpath(ws, "Manifest.toml")
    write(rootman, fixture_bytes("edge-empty-v2-grothcrypto", "Manifest.toml"))
    v12 = v"1.12.0"
    @test D().manifest_for(root; version=v12) == (rootman, "default", nothing)
    @test D().manifest_for(core; version=v12) == (rootman, "workspace", root)
    @test D().manifest_for(test; version=v12) == (rootman, "workspace", root)  # nested
    # before 1.12 there are no workspaces: a member has no manifest of its own
    @test D().manifest_for(test; version=v"1.11.3") == (nothing, nothing, nothing)
    # the workspace wins over a member's own manifest (Julia checks it first)
    write(joinpath(ws, "core", "Manifest.toml"), "# own\n")
    @test D().manifest_for(core; version=v12) == (rootman, "workspace", root)
    @test D().manifest_for(core; version=v"1.11.3") == (joinpath(ws, "core", "Manifest.toml"), "default", nothing)
    # a root without a manifest: the member's own rules apply, the root is still named
    rm(rootman)
    @test D().manifest_for(core; version=v12) == (joinpath(ws, "core", "Manifest.toml"), "default", root)
    # (core is itself a workspace root with a manifest now: nested roots resolve upwards,
    # each falling back to its own rules, as Julia's recursion does)
    @test D().manifest_for(test; version=v12) == (joinpath(ws, "core", "Manifest.toml"), "workspace", root)
    rm(joinpath(ws, "core", "Manifest.toml"))
    @test D().manifest_for(test; version=v12) == (nothing, nothing, root)
    write(rootman, fixture_bytes("edge-empty-v2-grothcrypto", "Manifest.toml"))
    # a full capture of the member, as a 1.12 kernel would see it
    with_project(joinpath(ws, "core", "test")) do
        cap = D().capture(version=v12, ask_julia=false)
        @test cap["project"]["path"] == test
        @test cap["manifest"] == Dict("path" => rootman, "exists" => true, "found_by" => "workspace")
        @test cap["workspace_root"] == root
        # the workspace's other project files, named relative to the root's folder
        @test [(f["role"], f["name"]) for f in cap["files"]] == [("project", "Project.toml"),
            ("manifest", "Manifest.toml"), ("workspace_project", "Project.toml"),
            ("workspace_project", "core/Project.toml")]
        @test cap["files"][1]["sha256"] == "5f3d1769ea216fdf20f072578aa9d7e7524c8a0cbb33aa3fcf1ceaa51bc4dffa"
        @test cap["files"][2]["sha256"] == "4fa704198dd60718587bc0ba4c17d128e1701a43713d6e0e65b71fe7d5c36132"
        check_files(parse_json(D().tojson(cap)))
        # Julia 1.5.3's own answer (no workspaces): the member has no manifest
        cap = result_of("c1", "capture")
        @test cap["manifest"] === nothing && cap["workspace_root"] === nothing
        @test length(cap["files"]) == 1
    end
    # a member listed by a deeper relative path, found by walking up
    ws2 = write_files(mktempdir(),
        "JuliaProject.toml" => "name = \"R\"\n\n[workspace]\nprojects = [\n    \"docs\",  # the docs\n    'lib/Foo',\n]\n\n[deps]\n",
        "Manifest.toml" => "# root\n", "lib/Foo/Project.toml" => "name = \"Foo\"\n",
        "docs/Project.toml" => "", "other/Project.toml" => "")
    r2 = joinpath(ws2, "JuliaProject.toml")
    @test D().manifest_for(joinpath(ws2, "lib", "Foo", "Project.toml"); version=v"1.12.5") ==
          (joinpath(ws2, "Manifest.toml"), "workspace", r2)
    # 1.12.0 asks the parent folder only (lib/ has no project): no workspace
    @test D().manifest_for(joinpath(ws2, "lib", "Foo", "Project.toml"); version=v12) == (nothing, nothing, nothing)
    @test D().manifest_for(joinpath(ws2, "docs", "Project.toml"); version=v12)[2] == "workspace"
    @test D().manifest_for(joinpath(ws2, "other", "Project.toml"); version=v12) == (nothing, nothing, nothing)
    # the other spellings of the table, read at regex level
    wp = D().workspace_projects
    @test wp("[workspace]\nprojects = [\"a\", \"b\"]\n[deps]\nprojects = [\"no\"]\n") == ["a", "b"]
    @test wp("workspace.projects = [\"a\"]\n") == ["a"]
    @test wp("workspace = { projects = ['x', \"y\"] }\n") == ["x", "y"]
    @test wp("[workspace] # c\n\n  projects=[]\n") == String[]
    @test wp("name = \"x\"\n[deps]\n") == String[]
    @test wp(read(fixture("workspace-ribasim", "Project.toml"), String)) == ["core"]
    @test wp(read(fixture("workspace-ribasim", "core", "Project.toml"), String)) == ["test"]
end

@testset "capture: project without manifest; no project file; no active project" begin
    dir = write_files(mktempdir(), "Project.toml" => fixture_bytes("repo-url-v1-grpc", "Project.toml"))
    with_project(dir) do
        cap = result_of("c1", "capture")
        @test cap["manifest"] === nothing
        @test [f["role"] for f in cap["files"]] == ["project"]
        check_files(cap)
    end
    # an active project whose file does not exist (Pkg.activate(temp=true), fresh depot)
    missingdir = joinpath(mktempdir(), "not-created")
    with_project(missingdir) do
        for op in ("capture", "fingerprint")
            cap = result_of("c1", op)
            @test cap["project"] == Dict("path" => joinpath(missingdir, "Project.toml"),
                                         "exists" => false, "is_global" => false)
            @test cap["manifest"] === nothing && cap["files"] == [] && cap["workspace_root"] === nothing
        end
    end
    # no active project at all: Base.active_project() === nothing
    oldlp = copy(LOAD_PATH)
    empty!(LOAD_PATH)
    try
        with_project(nothing) do
            @test Base.active_project() === nothing
            cap = result_of("c1", "capture")
            @test cap["project"] === nothing && cap["manifest"] === nothing && cap["files"] == []
            @test cap["sys"]["load_path"] == []
        end
    finally
        append!(LOAD_PATH, oldlp)
    end
end

@testset "capture: the global environment" begin
    depot = mktempdir()
    env = joinpath(depot, "environments", "v$(VERSION.major).$(VERSION.minor)")
    olddepots = copy(DEPOT_PATH)
    try
        for depots in ([depot], [mktempdir(), depot])     # first depot, or a later one
            empty!(DEPOT_PATH); append!(DEPOT_PATH, depots)
            with_project(env) do                          # not created yet
                cap = result_of("c1", "capture")
                @test cap["project"] == Dict("path" => joinpath(env, "Project.toml"),
                                             "exists" => false, "is_global" => true)
                @test cap["files"] == []
            end
        end
        write_files(env, "Project.toml" => fixture_bytes("repo-url-v1-grpc", "Project.toml"),
                         "Manifest.toml" => fixture_bytes("repo-url-v1-grpc", "Manifest.toml"))
        with_project(env) do
            cap = result_of("c1", "capture")
            @test cap["project"]["is_global"] === true && cap["project"]["exists"] === true
            @test cap["manifest"]["path"] == joinpath(env, "Manifest.toml")
            check_files(cap)
        end
        other = joinpath(depot, "environments", "v1.0")    # another version's env is not ours
        with_project(other) do
            @test result_of("c1", "capture")["project"]["is_global"] === false
        end
    finally
        empty!(DEPOT_PATH); append!(DEPOT_PATH, olddepots)
    end
end

@testset "capture: byte-exact tricky contents" begin
    cases = [
        "CRLF" => Vector{UInt8}("[[A]]\r\nuuid = \"1\"\r\n"),
        "CR only" => Vector{UInt8}("[[A]]\ruuid = \"1\"\r"),
        "BOM" => UInt8[0xef, 0xbb, 0xbf, codeunits("# bom\n")...],
        "NUL" => UInt8[0x23, 0x00, 0x0a, 0x00, 0x00],
        "invalid UTF-8" => UInt8[0x23, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0x0a],
        "empty" => UInt8[],
        "all bytes" => UInt8.(0:255),
        "no final newline" => Vector{UInt8}("x = 1"),
    ]
    for (label, bytes) in cases
        dir = write_files(mktempdir(), "Project.toml" => bytes, "Manifest.toml" => reverse(bytes))
        with_project(dir) do
            cap = result_of("c1", "capture")
            @test length(cap["files"]) == 2
            for f in cap["files"]
                want = f["role"] == "project" ? bytes : reverse(bytes)
                @test base64decode(f["base64"]) == want
                @test f["size"] == length(want)
                @test f["sha256"] == bytes2hex(sha256(want))
            end
            check_files(cap)
        end
    end
    # the empty file's hash is the well-known one
    dir = write_files(mktempdir(), "Project.toml" => UInt8[])
    with_project(dir) do
        f = result_of("c1", "capture")["files"][1]
        @test f["sha256"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        @test f["base64"] == "" && f["size"] == 0
    end
end

@testset "capture: a path that is not UTF-8 travels as {\"b64\": ...}" begin
    base = mktempdir()
    badname = String(UInt8[0x62, 0x61, 0x64, 0xff, 0xfe, 0x2d, 0xe9])   # "bad\xff\xfe-\xe9"
    dir = joinpath(base, badname)
    made = try
        mkdir(dir); isdir(dir)
    catch
        false
    end
    if !made
        @test_skip "this filesystem refuses non-UTF-8 names"
    else
        write_files(dir, "Project.toml" => fixture_bytes("repo-url-v1-grpc", "Project.toml"),
                         "Manifest.toml" => fixture_bytes("repo-url-v1-grpc", "Manifest.toml"))
        with_project(dir) do
            cap = result_of("c1", "capture")                # the stand-in accepted the frame
            @test cap["project"]["path"] isa Dict
            @test rawpath(cap["project"]["path"]) == joinpath(dir, "Project.toml")
            # Julia 1.5's own lookup finds no manifest in such a folder (its
            # isfile_casesensitive splits the path with a regex), and its answer wins ...
            if VERSION < v"1.6"
                @test cap["manifest"] === nothing
            end
            @test all(f -> f["path"] isa Dict && f["name"] isa String, cap["files"])
            check_files(cap)
            # ... while our byte-safe rules find it
            cap = parse_json(D().tojson(D().capture(ask_julia=false)))
            @test rawpath(cap["manifest"]["path"]) == joinpath(dir, "Manifest.toml")
            @test cap["manifest"]["found_by"] == "default"
            @test [f["name"] for f in cap["files"]] == ["Project.toml", "Manifest.toml"]
            @test all(f -> f["path"] isa Dict, cap["files"])
            check_files(cap)
            @test D().pdirname(joinpath(dir, "Project.toml")) == dir
            @test D().pbasename(joinpath(dir, "Project.toml")) == "Project.toml"
            @test cap["sys"]["load_path"][1] isa Dict       # the expanded LOAD_PATH has it too
            # an error naming that file still encodes (U+FFFD in the message)
            r = rpc("c1", "capture"; args=Dict("max_bytes" => 10))
            @test r["ok"] === false && r["error"]["code"] == "file_too_large"
            @test occursin("bad\ufffd", r["error"]["message"])
            # pwd() inside it
            cd(dir) do
                @test rawpath(result_of("c1", "fingerprint")["sys"]["pwd"]) == dir
            end
        end
    end
end

@testset "capture: file_too_large" begin
    dir = copy_fixture("repo-url-v1-grpc")
    with_project(dir) do
        for op in ("capture", "fingerprint")
            r = rpc("c1", op; args=Dict("max_bytes" => 1000), rid="big-$op")
            @test r["ok"] === false && r["error"]["code"] == "file_too_large"
            msg = r["error"]["message"]
            @test occursin(joinpath(dir, "Manifest.toml"), msg) && occursin("2053", msg)
            @test occursin("1000", msg)
        end
        @test length(result_of("c1", "capture"; args=Dict("max_bytes" => 2053))["files"]) == 2
        r = rpc("c1", "capture"; args=Dict("max_bytes" => 0))
        @test r["error"]["code"] == "file_too_large" && occursin("Project.toml", r["error"]["message"])
    end
end

@testset "snapshot: 0, 1 and 2 live comms; dead ones never receive" begin
    close_all_comms(); empty!(IJulia.sent)
    CMX.Comm(:deardiary, "dead")                                       # noop on_msg: dead
    CMX.Comm(:other, "other", false, m -> nothing)                    # not ours
    dir = copy_fixture("format-migration-cgcoefficient-446597c")
    with_project(dir) do
        # 0 live comms: a plain warning, nothing sent, nothing returned
        val, out, err = capture_output(() -> deardiary_snapshot("nobody"))
        @test val === nothing && out == "" && isempty(IJulia.sent)
        @test occursin("no JupyterLab with jupyterlab-deardiary is listening", err)
        @test occursin("nothing was recorded", err)
        # 1 live comm
        open_comm("v1")
        n = length(IJulia.sent)
        id, out, err = capture_output(() -> deardiary_snapshot("first note ✓"))
        @test occursin(r"^[0-9a-f]{32}-[0-9]+$", id)
        @test out == "DearDiary: snapshot $(id[1:8]) sent to 1 notebook view\n" && err == ""
        msgs = sent_since(n)
        @test length(msgs) == 1 && msgs[1][1] == "v1"
        snap = msgs[1][2]
        @test Set(keys(snap)) == Set(["type", "snapshot_id", "note", "capture"])
        @test snap["type"] == "snapshot" && snap["snapshot_id"] == id && snap["note"] == "first note ✓"
        @test snap["capture"]["manifest"]["path"] == joinpath(dir, "Manifest.toml")
        check_files(snap["capture"])
        # 2 live comms (two tabs): the same message, the same id, to each
        open_comm("v2")
        n = length(IJulia.sent)
        id2, out, _ = capture_output(() -> deardiary_snapshot())
        @test id2 != id
        @test out == "DearDiary: snapshot $(id2[1:8]) sent to 2 notebook views\n"
        msgs = sent_since(n)
        @test sort([c for (c, _) in msgs]) == ["v1", "v2"]
        @test msgs[1][2] == msgs[2][2] && msgs[1][2]["snapshot_id"] == id2 && msgs[1][2]["note"] == ""
        # the macro, with a note and bare
        n = length(IJulia.sent)
        id3, out, _ = capture_output(() -> include_string(Main, "@snapshot \"macro \" * \"note\""))
        @test occursin(r"^[0-9a-f]{32}-[0-9]+$", id3)
        @test [m["note"] for (_, m) in sent_since(n)] == ["macro note", "macro note"]
        n = length(IJulia.sent)
        capture_output(() -> include_string(Main, "@snapshot"))
        @test [m["note"] for (_, m) in sent_since(n)] == ["", ""]
        @test_throws LoadError include_string(Main, "@snapshot \"a\" \"b\"")
        # a closed comm no longer receives
        close_comm("v1")
        n = length(IJulia.sent)
        _, out, _ = capture_output(() -> deardiary_snapshot("after close"))
        @test [c for (c, _) in sent_since(n)] == ["v2"] && occursin("sent to 1 notebook view", out)
        @test !any(c -> c in ("dead", "other"), first.(IJulia.sent))
        # the user's random stream is untouched by the snapshot id
        Random.seed!(1234); a = rand(UInt64)
        Random.seed!(1234); capture_output(() -> deardiary_snapshot()); b = rand(UInt64)
        @test a == b
        # capture errors reach the user as a clear Julia error, nothing is sent
        n = length(IJulia.sent)
        e = try D().snapshot("x"; max_bytes=10); nothing catch ex; ex end
        @test e isa ErrorException && occursin("snapshot not recorded", e.msg)
        @test occursin("Project.toml", e.msg) && occursin("over DearDiary's limit", e.msg)
        @test length(IJulia.sent) == n
        @test_throws ErrorException deardiary_snapshot(String(UInt8[0xff]))
    end
end

include(joinpath(HERE, "comms.jl"))

@testset "fresh kernel: user's own @snapshot kept, stdlibs not imported" begin
    # A fresh Julia process: Main already has a user @snapshot; SHA/Base64 never `using`ed.
    script = """
        include($(repr(joinpath(REPO, "ui-tests", "test-kernel", "IJuliaStandin.jl"))))
        macro snapshot(args...) :(:users_macro) end
        IJulia.setans!(:before)
        r = include_string(Main, read($(repr(CODE_PATH)), String))
        print(r, " ", @snapshot(), " ", isdefined(Main, :deardiary_snapshot), " ",
              isdefined(Main, :SHA), " ", isdefined(Main, :Base64), " ")
        IJulia.deliver("comm_open", IJulia.Msg(Dict("comm_id" => "k", "target_name" => "deardiary")))
        IJulia.deliver("comm_msg", IJulia.Msg(Dict("comm_id" => "k",
            "data" => Dict("id" => "1", "op" => "fingerprint"))))
        print(length(IJulia.sent), " ", occursin("\\\\\\"ok\\\\\\":true", IJulia.sent[end][2]))
        """
    julia = joinpath(Sys.BINDIR, Base.julia_exename())
    cmd = `$julia --startup-file=no --history-file=no -e $script`
    errfile = tempname()
    out = read(pipeline(cmd; stderr=errfile), String)  # the wrapper's environment is inherited
    @test out == "before users_macro true false false 2 true"
    @test read(errfile, String) == ""
end

include(joinpath(HERE, "loaded.jl"))
include(joinpath(HERE, "manifest_rules.jl"))

end # testset

println("Julia tests: ", round(time() - T0; digits=1), " s in the test sets")
