# What the kernel loaded: `loaded`, `environments` and the carried files of a stacked
# environment (src/kernel/julia/deardiary.jl, section "loaded packages").
# Included by runtests.jl inside its top testset.

const FOO_UUID = "7c1a0b3e-5f3c-4b7a-9a5e-0e7d2f7d1a11"

"A tiny local package Foo (no precompilation, so no cache file is written)."
function make_foo(root)
    write_files(joinpath(root, "Foo"),
        "Project.toml" => "name = \"Foo\"\nuuid = \"$FOO_UUID\"\nversion = \"0.3.1\"\n",
        "src/Foo.jl" => "__precompile__(false)\nmodule Foo\nfoo() = 1\nend\n")
end

"An environment holding Foo by path (Manifest format of Julia 1.5)."
function env_with_foo(dir)
    write_files(dir,
        "Project.toml" => "[deps]\nFoo = \"$FOO_UUID\"\n",
        "Manifest.toml" => "[[Foo]]\npath = \"../Foo\"\nuuid = \"$FOO_UUID\"\nversion = \"0.3.1\"\n")
end

@testset "loaded packages: one from a stacked environment (B on LOAD_PATH, A active)" begin
    @test open_comm("cl")[1][2]["type"] == "ready"
    root = mktempdir()
    make_foo(root)
    A = write_files(joinpath(root, "A"), "Project.toml" => "name = \"A\"\n", "Manifest.toml" => "# no deps\n")
    B = env_with_foo(joinpath(root, "B"))
    oldlp = copy(LOAD_PATH)
    push!(LOAD_PATH, B)
    try
        with_project(A) do
            @test_nowarn Base.require(Main, :Foo)      # `using Foo`, found through B only
            @test Base.root_module(Base.PkgId(Base.UUID(FOO_UUID), "Foo")) isa Module
            cap = result_of("cl", "capture")
            @test Set(keys(cap)) == Set(["julia_version", "project", "manifest", "workspace_root",
                                         "files", "sys", "loaded", "environments"])
            envs = cap["environments"]
            @test [rawpath(e["path"]) for e in envs] == Base.load_path() == cap["sys"]["load_path"]
            ib = findfirst(e -> e["path"] == joinpath(B, "Project.toml"), envs) - 1
            ia = findfirst(e -> e["path"] == joinpath(A, "Project.toml"), envs) - 1
            @test ia == 0 && ib == length(envs) - 1
            @test envs[ia+1]["active"] === true && envs[ia+1]["carried"] === false
            @test envs[ib+1] == Dict("path" => joinpath(B, "Project.toml"),
                "project" => joinpath(B, "Project.toml"), "manifest" => joinpath(B, "Manifest.toml"),
                "active" => false, "is_global" => false, "stdlib" => false, "carried" => true)
            @test count(e -> e["stdlib"], envs) == 1
            foo = only(filter(p -> p["name"] == "Foo", cap["loaded"]))
            @test foo == Dict("name" => "Foo", "uuid" => FOO_UUID, "version" => "0.3.1",
                              "env" => ib, "stdlib" => false)
            # stdlibs are flagged, plain values only, sorted by name
            sha = only(filter(p -> p["name"] == "SHA", cap["loaded"]))
            @test sha["stdlib"] === true && sha["uuid"] == "ea8e919c-243c-51af-8825-aaa63cd721ce"
            @test sha["env"] isa Int
            @test issorted([p["name"] for p in cap["loaded"]])
            @test !any(p -> p["name"] in ("Core", "Base", "Main"), cap["loaded"])
            @test all(p -> p["version"] === nothing || p["version"] isa String, cap["loaded"])
            # B's files ride along, after the active project's, byte-exact
            @test [(f["role"], get(f, "env", nothing)) for f in cap["files"]] ==
                  [("project", nothing), ("manifest", nothing), ("env_project", ib), ("env_manifest", ib)]
            for f in cap["files"][3:4]
                bytes = read(rawpath(f["path"]))
                @test f["size"] == length(bytes) && f["sha256"] == bytes2hex(sha256(bytes))
                @test base64decode(f["base64"]) == bytes
            end
            @test rawpath(cap["files"][4]["path"]) == joinpath(B, "Manifest.toml")
            # the fingerprint lists the same files (without bytes): same fingerprint key
            fp = result_of("cl", "fingerprint")
            @test [(f["role"], f["sha256"]) for f in fp["files"]] == [(f["role"], f["sha256"]) for f in cap["files"]]
            @test !any(f -> haskey(f, "base64"), fp["files"])
            @test fp["loaded"] == cap["loaded"] && fp["environments"] == cap["environments"]
            # a change of B's manifest is seen (the cache follows the file)
            write(joinpath(B, "Manifest.toml"), read(joinpath(B, "Manifest.toml"), String) * "\n# edited\n")
            fp2 = result_of("cl", "fingerprint")
            @test fp2["files"][4]["sha256"] != fp["files"][4]["sha256"]
            # B's files over the size limit: B gets an error, the capture still succeeds
            small = result_of("cl", "capture"; args=Dict("max_bytes" => 40))
            eb = small["environments"][ib+1]
            @test eb["carried"] === false && eb["error"]["code"] == "file_too_large"
            @test occursin(joinpath(B, "Project.toml"), eb["error"]["message"])
            @test [f["role"] for f in small["files"]] == ["project", "manifest"]
        end
        # Foo in the active project itself: nothing is carried
        C = env_with_foo(joinpath(root, "C"))
        with_project(C) do
            cap = result_of("cl", "capture")
            foo = only(filter(p -> p["name"] == "Foo", cap["loaded"]))
            @test foo["env"] == 0 && cap["environments"][1]["active"] === true
            @test [f["role"] for f in cap["files"]] == ["project", "manifest"]
            @test !any(e -> e["carried"], cap["environments"])
        end
    finally
        empty!(LOAD_PATH); append!(LOAD_PATH, oldlp)
    end
    # B left LOAD_PATH: Foo stays loaded but no environment has it any more
    with_project(A) do
        cap = result_of("cl", "capture")
        foo = only(filter(p -> p["name"] == "Foo", cap["loaded"]))
        @test foo["env"] === nothing && foo["version"] == "0.3.1"
        @test [f["role"] for f in cap["files"]] == ["project", "manifest"]
    end
end

@testset "loaded packages: the global environment is flagged as such" begin
    depot = mktempdir()
    genv = joinpath(depot, "environments", "v$(VERSION.major).$(VERSION.minor)")
    olddepots = copy(DEPOT_PATH)
    root = mktempdir()
    A = write_files(joinpath(root, "A"), "Project.toml" => "", "Manifest.toml" => "")
    try
        empty!(DEPOT_PATH); push!(DEPOT_PATH, depot)
        env_with_foo(genv)                                   # Foo by path from the global env
        write_files(dirname(genv), "Foo/Project.toml" => "name = \"Foo\"\nuuid = \"$FOO_UUID\"\nversion = \"0.3.1\"\n",
                                   "Foo/src/Foo.jl" => "module Foo end\n")
        with_project(A) do
            cap = result_of("cl", "capture")
            g = findfirst(e -> e["is_global"], cap["environments"])
            @test g !== nothing && cap["environments"][g]["carried"] === true
            @test only(filter(p -> p["name"] == "Foo", cap["loaded"]))["env"] == g - 1
        end
    finally
        empty!(DEPOT_PATH); append!(DEPOT_PATH, olddepots)
    end
end
