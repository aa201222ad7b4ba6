# Manifest rules of Julia 1.10–1.12 through the path the running Julia takes
# (`Base.project_file_manifest_path`, here a stand-in of each generation: see
# loading_standin.jl) and through the fallback rules (`manifest_for`), which must agree;
# and the workspace layout a restore writes. Included by runtests.jl.
include(joinpath(HERE, "loading_standin.jl"))
import .JuliaLoadingStandin
const JLS = JuliaLoadingStandin
import Pkg

const GENERATIONS = (v"1.10.0", v"1.10.8", v"1.11.3", v"1.12.0", v"1.12.5")
const RIBASIM = joinpath(REPO, "src", "__tests__", "fixtures", "manifests", "workspace-ribasim")

"Run `f` with `Base.project_file_manifest_path` answered by Julia `version`'s stand-in."
function as_julia(f, version::VersionNumber)
    r = JLS.rules(version)
    D().JULIA_MANIFEST_PATH[] = p -> JLS.manifest_path(r, p)
    try
        f()
    finally
        D().JULIA_MANIFEST_PATH[] = nothing
    end
end

"Run `f` with HOME (homedir()) set to `home`."
function with_home(f, home)
    old = get(ENV, "HOME", nothing)
    ENV["HOME"] = home
    try
        f()
    finally
        old === nothing ? delete!(ENV, "HOME") : (ENV["HOME"] = old)
    end
end

filekeys(cap) = [(f["role"], f["name"], f["path"], f["sha256"]) for f in cap["files"]]

"""
The stand-in of Julia `version` and the fallback at `version` agree on `project`: same
manifest, `found_by` is the rule the stand-in used, and a full capture through each path
records the same files and workspace root (through Julia's path `found_by` is "julia").
"""
function agree(project::String, version::VersionNumber; label="")
    trace = Ref{Any}(nothing)
    jl = JLS.manifest_path(JLS.rules(version), project; trace=trace)
    path, found_by, _ = D().manifest_for(project; version=version)
    ok = @test (label, jl) == (label, path)
    @test (label, trace[]) == (label, found_by)
    with_project(project) do
        fb = D().capture(version=version, ask_julia=false)
        cap = as_julia(() -> D().capture(version=version), version)
        @test (label, filekeys(cap)) == (label, filekeys(fb))
        @test (label, cap["workspace_root"]) == (label, fb["workspace_root"])
        if fb["manifest"] === nothing
            @test (label, cap["manifest"]) == (label, nothing)
        else
            @test (label, cap["manifest"]["path"], cap["manifest"]["found_by"]) ==
                  (label, fb["manifest"]["path"], "julia")
        end
        check_files(parse_json(D().tojson(cap)))
    end
    jl
end

"Every project file under `dir`."
function project_files(dir)
    out = String[]
    for (root, _, files) in walkdir(dir), f in files
        f in ("JuliaProject.toml", "Project.toml") && push!(out, joinpath(root, f))
    end
    sort!(out)
end

@testset "manifest rules 1.10–1.12: Julia's path (stand-in) and the fallback agree" begin
    grpc = (fixture_bytes("repo-url-v1-grpc", "Project.toml"), fixture_bytes("repo-url-v1-grpc", "Manifest.toml"))
    phys = fixture_bytes("versioned-julia-for-physics", "Project.toml")
    layouts = Dict{String,String}(
        "plain" => write_files(mktempdir(), "Project.toml" => grpc[1], "Manifest.toml" => grpc[2]),
        # JuliaProject.toml wins over Project.toml, JuliaManifest.toml over Manifest.toml
        "julia-names" => write_files(mktempdir(), "JuliaProject.toml" => grpc[1], "Project.toml" => "x = 1\n",
            "JuliaManifest.toml" => grpc[2], "Manifest.toml" => "# plain\n"),
        # real versioned manifests beside a plain one (1.10.0 and 1.10.8 have no -v1.10)
        "versioned" => write_files(mktempdir(), "Project.toml" => phys,
            "Manifest-v1.11.toml" => "# v1.11\n", "Manifest-v1.12.toml" => "# v1.12\n",
            "Manifest.toml" => grpc[2]),
        "versioned-julia" => write_files(mktempdir(), "Project.toml" => phys,
            "JuliaManifest-v1.11.toml" => "# j1.11\n", "Manifest-v1.11.toml" => "# v1.11\n",
            "Manifest-v1.10.toml" => "# v1.10\n", "JuliaManifest.toml" => "# j\n"),
        # the key beats versioned names; a key naming a missing file falls through
        "key" => write_files(mktempdir(), "Project.toml" => "manifest = \"envs/M.toml\"\n[deps]\n",
            "envs/M.toml" => grpc[2], "Manifest-v1.11.toml" => "# v1.11\n", "Manifest.toml" => "# plain\n"),
        "key-missing" => write_files(mktempdir(), "Project.toml" => "manifest = \"gone.toml\"\n",
            "Manifest-v1.12.toml" => "# v1.12\n", "Manifest.toml" => "# plain\n"),
        "no-manifest" => write_files(mktempdir(), "Project.toml" => grpc[1]),
    )
    # the real nested workspace (root -> core -> core/test), root manifest versioned for
    # 1.12 beside a plain one, and a member's own manifest the workspace beats
    ws = copy_fixture("workspace-ribasim")
    write_files(ws, "Manifest.toml" => read(joinpath(RIBASIM, "Manifest.toml")),
                "Manifest-v1.12.toml" => "# root, 1.12\n", "core/Manifest.toml" => "# core's own\n")
    layouts["workspace"] = ws
    # a member two levels down (only the walk finds it), a folder the root does not list,
    # and a root whose manifest comes from its `manifest =` key
    layouts["deep"] = write_files(mktempdir(),
        "JuliaProject.toml" => "name = \"R\"\nmanifest = \"m/Root.toml\"\n\n[workspace]\nprojects = [\"docs\", \"lib/Foo\"]\n",
        "m/Root.toml" => grpc[2], "lib/Foo/Project.toml" => "name = \"Foo\"\n",
        "lib/Foo/Manifest.toml" => "# Foo's own\n", "docs/Project.toml" => "",
        "other/Project.toml" => "")
    for (name, dir) in sort!(collect(layouts)), project in project_files(dir), v in GENERATIONS
        agree(project, v; label="$name $(relpath(project, dir)) as $v")
    end

    # what the generations answer differently, as read from loading.jl
    d = layouts["versioned"]
    @test [agree(joinpath(d, "Project.toml"), v) for v in GENERATIONS] ==
          joinpath.(d, ["Manifest.toml", "Manifest.toml", "Manifest-v1.11.toml",
                        "Manifest-v1.12.toml", "Manifest-v1.12.toml"])
    @test agree(joinpath(layouts["versioned-julia"], "Project.toml"), v"1.10.8") ==
          joinpath(layouts["versioned-julia"], "Manifest-v1.10.toml")
    member = joinpath(ws, "core", "test", "Project.toml")
    @test agree(member, v"1.11.3") === nothing                      # no workspaces before 1.12
    @test agree(member, v"1.12.0") == joinpath(ws, "Manifest-v1.12.toml")
    @test agree(joinpath(ws, "core", "Project.toml"), v"1.11.3") == joinpath(ws, "core", "Manifest.toml")
    foo = joinpath(layouts["deep"], "lib", "Foo", "Project.toml")
    @test agree(foo, v"1.12.0") == joinpath(layouts["deep"], "lib", "Foo", "Manifest.toml")
    @test agree(foo, v"1.12.5") == joinpath(layouts["deep"], "m", "Root.toml")

    # the walk stops at the home folder it started in (#59849)
    top = write_files(mktempdir(), "Project.toml" => "[workspace]\nprojects = [\"h/m\"]\n",
                      "Manifest.toml" => grpc[2], "h/m/Project.toml" => "name = \"M\"\n")
    m = joinpath(top, "h", "m", "Project.toml")
    with_home(joinpath(top, "h")) do
        @test agree(m, v"1.12.5"; label="inside home") === nothing
    end
    with_home(mktempdir()) do
        @test agree(m, v"1.12.5"; label="outside home") == joinpath(top, "Manifest.toml")
    end

    # a project file that does not exist: 1.12.0 throws (the capture falls back), the walk
    # revision answers nothing; both captures say "no manifest"
    gone = joinpath(mktempdir(), "Project.toml")
    @test_throws Exception JLS.manifest_path(JLS.rules(v"1.12.0"), gone)
    @test JLS.manifest_path(JLS.rules(v"1.12.5"), gone) === nothing
    @test D().manifest_for(gone; version=v"1.12.5") == (nothing, nothing, nothing)

    # a workspace Julia does not use is no workspace: the root is dropped when Julia's
    # answer is not the workspace's manifest (here: the generation before workspaces)
    with_project(member) do
        cap = as_julia(() -> D().capture(version=v"1.12.5"), v"1.11.3")
        @test cap["manifest"] === nothing && cap["workspace_root"] === nothing
        @test [f["role"] for f in cap["files"]] == ["project"]
    end
end

@testset "workspace restore: the written layout resolves every path (Julia 1.12)" begin
    ws = copy_fixture("workspace-ribasim")
    write(joinpath(ws, "Manifest.toml"), read(joinpath(RIBASIM, "Manifest.toml")))
    v = v"1.12.5"
    cap = with_project(joinpath(ws, "core")) do
        as_julia(() -> D().capture(version=v), v)
    end
    @test cap["workspace_root"] == joinpath(ws, "Project.toml")
    @test [(f["role"], f["name"]) for f in cap["files"]] == [("project", "Project.toml"),
        ("manifest", "Manifest.toml"), ("workspace_project", "Project.toml"),
        ("workspace_project", "core/test/Project.toml")]
    check_files(parse_json(D().tojson(cap)))
    bytes(f) = base64decode(f["base64"])
    byrole(r) = [f for f in cap["files"] if f["role"] == r]

    "Every `path = ...` of the manifest and of each project's [sources] is a folder with a project."
    function unresolved(manifest_file)
        bad = String[]
        resolves(dir) = isdir(dir) && any(n -> isfile(joinpath(dir, n)), ("JuliaProject.toml", "Project.toml"))
        man = Pkg.TOML.parsefile(manifest_file)
        for (name, entries) in man["deps"], e in entries
            haskey(e, "path") && !resolves(normpath(joinpath(dirname(manifest_file), e["path"]))) &&
                push!(bad, "$name ($(e["path"]))")
        end
        for p in project_files(dirname(manifest_file))
            for (name, s) in get(Pkg.TOML.parsefile(p), "sources", Dict())
                haskey(s, "path") && !resolves(normpath(joinpath(dirname(p), s["path"]))) &&
                    push!(bad, "$name ($(s["path"]) from $(relpath(p, dirname(manifest_file))))")
            end
        end
        bad
    end

    # What the restore writes (src/restore/workspace.ts): the workspace's project files at
    # their names (relative to the root), the manifest beside the root, the active project
    # in its folder relative to the root.
    target = mktempdir()
    member_rel = relpath(dirname(cap["project"]["path"]), dirname(cap["workspace_root"]))
    @test member_rel == "core"
    for f in byrole("workspace_project")
        write_files(target, f["name"] => bytes(f))
    end
    write_files(target, byrole("manifest")[1]["name"] => bytes(byrole("manifest")[1]),
                joinpath(member_rel, "Project.toml") => bytes(byrole("project")[1]))
    @test unresolved(joinpath(target, "Manifest.toml")) == String[]
    # ... and it is the same environment again: the restored member finds the root's
    # manifest, through Julia's path and the fallback, with the same bytes
    restored = with_project(joinpath(target, "core")) do
        as_julia(() -> D().capture(version=v), v)
    end
    @test restored["manifest"]["path"] == joinpath(target, "Manifest.toml")
    @test restored["workspace_root"] == joinpath(target, "Project.toml")
    @test [(f["role"], f["name"], f["sha256"]) for f in restored["files"]] ==
          [(f["role"], f["name"], f["sha256"]) for f in cap["files"]]
    agree(joinpath(target, "core", "Project.toml"), v)

    # control: the flat layout restores wrote before (member project + root manifest in one
    # folder) leaves the workspace's paths unresolved
    flat = write_files(mktempdir(), "Project.toml" => bytes(byrole("project")[1]),
                       "Manifest.toml" => bytes(byrole("manifest")[1]))
    @test unresolved(joinpath(flat, "Manifest.toml")) == ["Ribasim (core)"]

    # the active project being the root itself: the members come along too
    rootcap = with_project(ws) do
        as_julia(() -> D().capture(version=v), v)
    end
    @test rootcap["workspace_root"] === nothing
    @test [(f["role"], f["name"]) for f in rootcap["files"]] == [("project", "Project.toml"),
        ("manifest", "Manifest.toml"), ("workspace_project", "core/Project.toml"),
        ("workspace_project", "core/test/Project.toml")]
end
