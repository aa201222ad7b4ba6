# restore.jl: restore one run of a jupyterlab-deardiary bundle without JupyterLab.
#
# Unzip the bundle, then:
#
#   julia deardiary-bundle/restore.jl                      # list the runs
#   julia deardiary-bundle/restore.jl RUN TARGET           # restore run RUN into TARGET
#   julia deardiary-bundle/restore.jl --no-instantiate RUN TARGET
#
# RUN is a run's number in the list or its snapshot id. TARGET must not exist or be an
# empty folder. The run's Project.toml and Manifest.toml, its notebook and its git patch
# (when the bundle has them) are written there, each checked against its sha256; then the
# project is activated and instantiated (Pkg). --no-instantiate: the checked files only.
#
# Needs only Julia's standard library (Julia 1.5 or later). It reads restore-index.txt
# and blobs/<sha256> next to this file.

using SHA
import Pkg

const HERE = @__DIR__
const KINDS = ("project", "manifest", "notebook", "patch")

function unescape_field(s::AbstractString)
    out = IOBuffer()
    chars = collect(s)
    i = 1
    while i <= length(chars)
        c = chars[i]
        if c == '\\' && i < length(chars)
            n = chars[i + 1]
            print(out, n == 't' ? '\t' : n == 'n' ? '\n' : n == 'r' ? '\r' : n)
            i += 2
        else
            print(out, c)
            i += 1
        end
    end
    return String(take!(out))
end

struct RunFile
    kind::String
    name::String
    sha256::String
    size::Int
end

mutable struct Run
    number::Int
    snapshot_id::String
    created::String
    notebook::String
    julia_version::String
    files::Vector{RunFile}
end

function read_index(path::AbstractString)
    runs = Run[]
    for line in eachline(path)
        (isempty(line) || startswith(line, "#")) && continue
        fields = [unescape_field(f) for f in split(line, '\t')]
        if fields[1] == "run" && length(fields) == 6
            push!(runs, Run(parse(Int, fields[2]), fields[3], fields[4], fields[5], fields[6], RunFile[]))
        elseif fields[1] == "file" && length(fields) == 6
            n = parse(Int, fields[2])
            push!(runs[n].files, RunFile(fields[3], fields[4], fields[5], parse(Int, fields[6])))
        else
            error("restore-index.txt: unexpected line: $(repr(line))")
        end
    end
    return runs
end

# A file name from the index is written only if it is a plain name (no folder, no "..").
function safe_name(name::AbstractString, fallback::AbstractString)
    ok = occursin(r"^[A-Za-z0-9_][A-Za-z0-9_. +-]*$", name) && !occursin("..", name)
    return ok ? String(name) : String(fallback)
end

function blob_bytes(f::RunFile)
    occursin(r"^[0-9a-f]{64}$", f.sha256) || error("bad sha256 $(repr(f.sha256))")
    data = read(joinpath(HERE, "blobs", f.sha256))
    got = bytes2hex(sha256(data))
    got == f.sha256 || error("blobs/$(f.sha256) hashes to $got: the bundle is damaged")
    length(data) == f.size || error("blobs/$(f.sha256) has $(length(data)) bytes, not $(f.size)")
    return data
end

function restore_run(run::Run, target::AbstractString; instantiate::Bool=true)
    if ispath(target) && !(isdir(target) && isempty(readdir(target)))
        error("$target exists and is not an empty folder: choose another target")
    end
    mkpath(target)
    defaults = Dict("project" => "Project.toml", "manifest" => "Manifest.toml",
                    "notebook" => "notebook.ipynb", "patch" => "git.patch")
    written = String[]
    for f in run.files
        f.kind in KINDS || continue  # stacked environments' files stay in the bundle
        data = blob_bytes(f)
        path = joinpath(target, safe_name(f.name, defaults[f.kind]))
        write(path, data)
        bytes2hex(sha256(read(path))) == f.sha256 || error("$path was not written exactly")
        println("wrote $path ($(f.size) bytes, sha256 $(f.sha256)) ok")
        push!(written, f.kind)
    end
    println("run $(run.number): $(run.snapshot_id), $(run.notebook), recorded $(run.created) with Julia $(run.julia_version)")
    if !("project" in written)
        println("this run has no Project.toml: nothing to activate")
        return written
    end
    recorded = try VersionNumber(run.julia_version) catch; nothing end  # no tryparse in 1.5
    if recorded !== nothing && VERSION < recorded
        println("note: the run was recorded with Julia $(recorded); this is Julia $(VERSION), " *
                "whose Pkg may not read its Manifest.toml")
    end
    if !instantiate
        println("files only: activate with Pkg.activate($(repr(target))), then Pkg.instantiate()")
        return written
    end
    try
        Pkg.activate(target)
        "manifest" in written || println("no Manifest.toml in this run: instantiate resolves anew")
        Pkg.instantiate()
    catch e
        println(stderr, "the files are restored and checked, but Pkg failed: ", sprint(showerror, e))
        println(stderr, "run this script with the run's Julia ($(run.julia_version)) or with --no-instantiate")
        exit(2)
    end
    return written
end

function main(args)
    instantiate = !("--no-instantiate" in args)
    rest = [a for a in args if a != "--no-instantiate"]
    runs = read_index(joinpath(HERE, "restore-index.txt"))
    if isempty(rest)
        for r in runs
            println("$(r.number)\t$(r.snapshot_id)\t$(r.created)\t$(r.notebook)\tJulia $(r.julia_version)")
        end
        println("restore one: julia $(PROGRAM_FILE) [--no-instantiate] RUN TARGET")
        return 0
    end
    length(rest) == 2 || error("usage: julia restore.jl [--no-instantiate] RUN TARGET")
    which, target = rest
    found = filter(r -> string(r.number) == which || r.snapshot_id == which, runs)
    isempty(found) && error("no run $(repr(which)) in this bundle")
    restore_run(found[1], target; instantiate=instantiate)
    return 0
end

if abspath(PROGRAM_FILE) == @__FILE__
    exit(main(ARGS))
end
