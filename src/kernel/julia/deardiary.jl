# jupyterlab-deardiary: the kernel side of the `deardiary` comm (protocol 1, ../PROTOCOL.md).
#
# The frontend sends this whole file as ONE execute request (silent, store_history=false,
# allow_stdin=false, stop_on_error=false) to an IJulia kernel. It
#   - defines `Main.__deardiary__`, unless a complete module of this protocol is already
#     there. The guard is the `COMPLETE` marker (the module's LAST statement) plus
#     PROTOCOL == 1 and REVISION >= ours: a body that threw halfway leaves no marker and is
#     replaced next time, and so is the module of an older release (its comms are kept);
#   - registers the comm target "deardiary": IJulia calls
#     `CommManager.register_comm(comm::Comm{target}, msg)` on every comm_open, so we add a
#     method for `Comm{:deardiary}` (a comm opened before this method exists stays dead);
#   - defines `@snapshot` and `deardiary_snapshot` in Main for users (names already bound
#     in Main are left alone);
#   - prints nothing and evaluates to `Main.IJulia.ans`: IJulia stores the value of every
#     execute request, silent ones too, in `ans`, so this keeps the user's value.
#
# Rules that keep this safe inside a user's kernel (Julia 1.5.3 ... 1.12):
#   - Nothing is imported from LOAD_PATH (the user may activate any project): IJulia is
#     `Main.IJulia`; SHA, Base64 and Random are sysimage stdlibs, reached by PkgId.
#   - The top-level code below uses only `let` bindings and `local`s: IJulia evaluates
#     cells in soft scope, where a plain assignment would overwrite a user's global.
#   - The module is evaluated with Core.eval (a `module` expression is only legal at top
#     level, not inside `if`). Inside its quoted body there is no `$` outside string
#     literals (it would be interpolated when the quote is built).
#   - On Julia 1.12 a binding is visible only from the next top-level statement on, so
#     the statement that defines the module never reads it back.
#   - Of IJulia we use only what every release from 1.24 to 1.34 has (../PROTOCOL.md,
#     "IJulia facts", with the file and line at each tag): `CommManager.Comm{:deardiary}`,
#     a method of `CommManager.register_comm`, the comm's `on_msg`/`on_close` fields,
#     `CommManager.send_comm(comm, data)` with two arguments, `Main.IJulia.ans`. Never
#     IJulia's comm table or default callbacks: we keep our own registry of live comms.
#   - Every comm callback catches everything: an exception escaping into IJulia becomes a
#     kernel error nobody sees. Every message is encoded to JSON by our own strict
#     encoder BEFORE send_comm: a value IJulia cannot encode (invalid UTF-8, a Function,
#     NaN) breaks the kernel's output stream for every open browser connection.

# The protocol (what goes over the comm; PROTOCOL_VERSION in ../protocol.ts) and the release
# of this code within it. A kernel holding an older revision gets this one instead:
# revision 1 (no REVISION) compared callbacks with IJulia's `noop_callback`, which IJulia
# 1.31 removed, so its @snapshot fails there. A newer revision is left alone.
let dd_protocol = 1, dd_revision = 2,
    dd_old = isdefined(Main, :__deardiary__) ? getfield(Main, :__deardiary__) : nothing
    if !(dd_old isa Module && isdefined(dd_old, :PROTOCOL) &&
         getfield(dd_old, :PROTOCOL) === dd_protocol &&
         isdefined(dd_old, :REVISION) && getfield(dd_old, :REVISION) isa Int &&
         getfield(dd_old, :REVISION) >= dd_revision &&
         isdefined(dd_old, :COMPLETE) && getfield(dd_old, :COMPLETE) === true)
        local dd_module = :(module __deardiary__

const PROTOCOL = $dd_protocol
const REVISION = $dd_revision
const DEFAULT_MAX_BYTES = 50 * 1024 * 1024      # per file; larger -> error file_too_large

isdefined(Main, :IJulia) || error("jupyterlab-deardiary: IJulia is not loaded in Main")
const CM = Main.IJulia.CommManager

# ---- stdlibs by PkgId (already loaded in IJulia's sysimage; require them otherwise) ----
const STDLIB_UUIDS = Dict("SHA" => "ea8e919c-243c-51af-8825-aaa63cd721ce",
                          "Base64" => "2a0f44e3-6c83-55bd-87e4-b1978d98bd5f",
                          "Random" => "9a3f8284-a2c9-5f02-9a11-845980a1fd5c")
const STDLIBS = Dict{String,Module}()
function stdlib(name::String)
    get!(STDLIBS, name) do
        id = Base.PkgId(Base.UUID(STDLIB_UUIDS[name]), name)
        try
            Base.root_module(id)
        catch
            Base.require(id)
        end
    end
end
# invokelatest: a module that Base.require just loaded is newer than our calling code.
sha256hex(bytes::Vector{UInt8}) = bytes2hex(Base.invokelatest(stdlib("SHA").sha256, bytes))
base64(bytes::Vector{UInt8}) = Base.invokelatest(stdlib("Base64").base64encode, bytes)

# ---- errors with a protocol code ------------------------------------------------------
struct DiaryError <: Exception
    code::String        # bad_request, unknown_op, file_too_large, read_failed, encode_failed
    message::String     # text a user can act on
end
Base.showerror(io::IO, e::DiaryError) = print(io, e.message)

"Text that is safe to show and to send: invalid UTF-8 becomes U+FFFD."
safetext(s::AbstractString) = isvalid(s) ? String(s) : map(c -> isvalid(c) ? c : '\ufffd', String(s))

"A *path* field: the string itself, or {\"b64\": ...} of its bytes when it is not UTF-8."
pathval(s::AbstractString) =
    isvalid(s) ? String(s) : Dict{String,Any}("b64" => base64(Vector{UInt8}(codeunits(String(s)))))

errtext(e) = try safetext(sprint(showerror, e)) catch; string(typeof(e)) end

# ---- strict JSON encoder: plain values only, anything else throws ----------------------
const MAX_SAFE_INT = 2^53   # JavaScript numbers are exact up to here

function writejson(io::IO, x)
    if x === nothing
        write(io, "null")
    elseif x isa Bool
        write(io, x ? "true" : "false")
    elseif x isa Integer
        if -MAX_SAFE_INT <= x <= MAX_SAFE_INT
            print(io, x)
        else
            writestring(io, string(x))          # beyond 2^53: a decimal string
        end
    elseif x isa AbstractString
        writestring(io, x)
    elseif x isa AbstractDict
        write(io, '{')
        sep = false
        for (k, v) in x
            k isa AbstractString || throw(ArgumentError("JSON object key of type $(typeof(k)) is not a string"))
            sep && write(io, ',')
            sep = true
            writestring(io, k)
            write(io, ':')
            writejson(io, v)
        end
        write(io, '}')
    elseif x isa AbstractVector
        write(io, '[')
        for (i, v) in enumerate(x)
            i > 1 && write(io, ',')
            writejson(io, v)
        end
        write(io, ']')
    else   # Float (NaN/Inf too), Symbol, VersionNumber, Function, Module, Char, Tuple ...
        throw(ArgumentError("a value of type $(typeof(x)) is not plain JSON for this protocol"))
    end
    nothing
end

function writestring(io::IO, s::AbstractString)
    s = String(s)
    isvalid(s) || throw(ArgumentError("a string is not valid UTF-8"))
    write(io, '"')
    if any(b -> b < 0x20 || b == UInt8('"') || b == UInt8('\\'), codeunits(s))
        for c in s
            if c == '"'
                write(io, "\\\"")
            elseif c == '\\'
                write(io, "\\\\")
            elseif c == '\n'
                write(io, "\\n")
            elseif c == '\r'
                write(io, "\\r")
            elseif c == '\t'
                write(io, "\\t")
            elseif c < ' '
                write(io, "\\u", string(UInt32(c), base=16, pad=4))
            else
                write(io, c)
            end
        end
    else
        write(io, s)                             # the common case: copy as is
    end
    write(io, '"')
    nothing
end

tojson(x) = (io = IOBuffer(); writejson(io, x); String(take!(io)))

# ---- sending ---------------------------------------------------------------------------
# Every frame is {"protocol": 1, "json": <text>}: IJulia only ever encodes a valid string.
sendtext(comm, text::String) =
    CM.send_comm(comm, Dict{String,Any}("protocol" => PROTOCOL, "json" => text))

errorreply(id, code::String, message::AbstractString) =
    Dict{String,Any}("type" => "reply", "id" => id, "ok" => false,
                     "error" => Dict{String,Any}("code" => code, "message" => safetext(message)))

"Encode `msg` and send it; an unencodable message becomes an encode_failed reply. Never throws."
function send(comm, msg::Dict, id)
    text = try
        tojson(msg)
    catch e
        safeid = id isa String && isvalid(id) ? id : nothing
        try
            tojson(errorreply(safeid, "encode_failed",
                "jupyterlab-deardiary could not encode its reply as JSON: " * errtext(e)))
        catch
            "{\"type\":\"reply\",\"id\":null,\"ok\":false,\"error\":{\"code\":\"encode_failed\"," *
            "\"message\":\"jupyterlab-deardiary could not encode its reply as JSON\"}}"
        end
    end
    try
        sendtext(comm, text)
    catch
        # Nothing left to tell anyone: the frontend's request times out.
    end
    nothing
end

# ---- finding the manifest --------------------------------------------------------------
const PROJECT_NAMES = ("JuliaProject.toml", "Project.toml")   # JuliaProject.toml wins

# Base's dirname/basename/normpath (and isfile_casesensitive, which splits the path) use
# regexes that mis-split a path that is not valid UTF-8 (seen on 1.5: a 0xe9 byte swallows
# the next '/'). Unix allows such names; split those by bytes instead.
function pdirname(p::String)
    isvalid(p) && return dirname(p)
    cu = codeunits(p)
    i = findlast(==(UInt8('/')), cu)
    i === nothing && return ""
    while i > 1 && cu[i-1] == UInt8('/')
        i -= 1
    end
    i == 1 ? "/" : String(cu[1:i-1])
end
function pbasename(p::String)
    isvalid(p) && return basename(p)
    cu = codeunits(p)
    i = findlast(==(UInt8('/')), cu)
    i === nothing ? p : String(cu[i+1:end])
end
pnormpath(p::String) = isvalid(p) ? normpath(p) : p
pabspath(p::AbstractString) = isvalid(p) ? abspath(p) : startswith(p, "/") ? String(p) : joinpath(pwd(), p)
isfile_cs(p::String) =
    isvalid(p) && isdefined(Base, :isfile_casesensitive) ? Base.isfile_casesensitive(p) : isfile(p)

"A TOML file as text for our regex-level reading (invalid UTF-8 replaced, BOM dropped)."
function readtext(path)
    t = try safetext(String(read(path))) catch; "" end
    startswith(t, "\ufeff") ? t[nextind(t, 1):end] : t
end

"The part of a TOML text before its first table header."
function toplevel(text::String)
    h = match(r"^[ \t]*\["m, text)
    h === nothing ? text : text[1:prevind(text, h.offset)]
end

unescape(s) = replace(s, r"\\([\\\"])" => s"\1")
tomlstrings(s) = String[m.captures[1] === nothing ? String(m.captures[2]) : unescape(m.captures[1])
                        for m in eachmatch(r"\"((?:[^\"\\\n]|\\.)*)\"|'([^'\n]*)'", s)]

"The top-level `manifest = \"...\"` key of a project, or nothing."
function manifest_key(text::String)
    m = match(r"^[ \t]*manifest[ \t]*=[ \t]*(\"(?:[^\"\\\n]|\\.)*\"|'[^'\n]*')"m, toplevel(text))
    m === nothing ? nothing : tomlstrings(m.captures[1])[1]
end

"""
The entries of `[workspace] projects = [...]` (also `workspace.projects = [...]` and
`workspace = {projects = [...]}` at top level). Regex-level: a `]` inside a comment within
the array ends it early, and a line inside a multi-line string that starts with `[` is
taken for a table header. Julia itself parses TOML; this is only the fallback.
"""
function workspace_projects(text::String)
    a = nothing
    h = match(r"^[ \t]*\[[ \t]*workspace[ \t]*\][^\n]*"m, text)
    if h !== nothing
        body = text[h.offset + ncodeunits(h.match):end]
        nxt = match(r"^[ \t]*\["m, body)
        nxt === nothing || (body = body[1:prevind(body, nxt.offset)])
        a = match(r"(?:^|\n)[ \t]*projects[ \t]*=[ \t]*\[([^\]]*)\]", body)
    else
        top = toplevel(text)
        a = match(r"^[ \t]*workspace[ \t]*\.[ \t]*projects[ \t]*=[ \t]*\[([^\]]*)\]"m, top)
        a === nothing &&
            (a = match(r"^[ \t]*workspace[ \t]*=[ \t]*\{[^}\n]*projects[ \t]*=[ \t]*\[([^\]]*)\]"m, top))
    end
    a === nothing ? String[] : tomlstrings(a.captures[1])
end

# Which workspace a project belongs to changed within 1.12 (base/loading.jl,
# `base_project`): 1.12.0 looks only at the project's parent folder and compares the
# folder's base name with the entries of `[workspace] projects`; JuliaLang/julia#59849
# (merged 2025-10-17; in v1.12.5, not in v1.12.0) walks up the parent folders, stops
# where it would leave the home folder it started in, and compares folders with
# `samefile`. Which 1.12 patch release first has it is not known here: from 1.12.1 on
# we apply the walk, and the running Julia's own answer decides (`locate_manifest`).
const WORKSPACE_WALKUP = v"1.12.1-"

"The first of JuliaProject.toml, Project.toml in `dir` (Base.locate_project_file), or nothing."
function project_file_in(dir::String)
    for name in PROJECT_NAMES
        p = joinpath(dir, name)
        isfile_cs(p) && return p
    end
    nothing
end

"""
The project file of the workspace that lists `project`'s folder, or nothing, as Julia
`version` finds it (see WORKSPACE_WALKUP): 1.12.0 asks the parent folder only and
matches the base name; later 1.12 releases walk up to the filesystem root, or to the
home folder when the project is inside it, and compare folders with `samefile`. Only the
first existing project file of a folder counts (JuliaProject.toml wins).
"""
function workspace_base(project::String; version::VersionNumber=VERSION)
    pdir = pdirname(project)
    if version < WORKSPACE_WALKUP
        parent = pdirname(pdir)
        parent == pdir && return nothing
        base = project_file_in(parent)
        base === nothing && return nothing
        return pbasename(pdir) in workspace_projects(readtext(base)) ? base : nothing
    end
    home = try pabspath(homedir()) catch; "" end
    in_home = !isempty(home) && startswith(pdir, home)    # a string prefix, as Julia's
    dir = pdir
    while true
        parent = pdirname(dir)
        parent == dir && return nothing
        in_home && !startswith(parent, home) && return nothing
        base = project_file_in(parent)
        if base !== nothing
            for p in workspace_projects(readtext(base))
                cand = joinpath(parent, p)
                isdir(cand) && Base.Filesystem.samefile(cand, pdir) && return base
            end
        end
        dir = parent
    end
end

"""
    manifest_for(project_file; version=VERSION) -> (manifest, found_by, workspace_root)

The documented rules for the manifest that belongs to `project_file`, as Julia `version`
applies them, WITHOUT asking the running Julia (the fallback, and testable for any
version): a 1.12+ workspace member uses the manifest of its workspace root; then the
project's `manifest = "..."` key (if that file exists); then, on 1.10.8+/1.11+,
`JuliaManifest-vX.Y.toml` and `Manifest-vX.Y.toml`; then `JuliaManifest.toml` and
`Manifest.toml`. `found_by` is "workspace", "manifest_key", "versioned" or "default";
`workspace_root` is the root project file of a workspace the project belongs to.
A project file that does not exist has no manifest: (nothing, nothing, nothing).
"""
function manifest_for(project::AbstractString; version::VersionNumber=VERSION)
    project = pabspath(project)
    isfile_cs(project) || return (nothing, nothing, nothing)
    dir = pdirname(project)
    root = nothing
    if version >= v"1.12-"
        base = workspace_base(project; version=version)
        if base !== nothing
            bpath, _, broot = manifest_for(base; version=version)  # roots nest: follow up
            root = broot === nothing ? base : broot
            bpath === nothing || return (bpath, "workspace", root)
            # a root without a manifest: Julia goes on with the member's own rules
        end
    end
    key = manifest_key(readtext(project))
    if key !== nothing
        p = pnormpath(joinpath(dir, key))
        isfile_cs(p) && return (p, "manifest_key", root)
    end
    if version >= v"1.10.8-"
        vx = string("v", version.major, ".", version.minor)
        for name in ("JuliaManifest-" * vx * ".toml", "Manifest-" * vx * ".toml")
            p = joinpath(dir, name)
            isfile_cs(p) && return (p, "versioned", root)
        end
    end
    for name in ("JuliaManifest.toml", "Manifest.toml")
        p = joinpath(dir, name)
        isfile_cs(p) && return (p, "default", root)
    end
    (nothing, nothing, root)
end

"""
What the running Julia says is `project`'s manifest: `Base.project_file_manifest_path`,
or the stand-in of another Julia version that a test puts in `JULIA_MANIFEST_PATH`.
"""
const JULIA_MANIFEST_PATH = Ref{Any}(nothing)
julia_manifest_path(project::String) =
    (f = JULIA_MANIFEST_PATH[]; f === nothing ? Base.project_file_manifest_path(project) : f(project))

samepath(a::String, b::String) =
    a == b || (ispath(a) && ispath(b) && Base.Filesystem.samefile(a, b))

"""
    locate_manifest(project_file; version=VERSION, ask_julia=true)

The running Julia's own answer wins: `Base.project_file_manifest_path` (found_by "julia";
`nothing` from it means "no manifest"). Only when it throws (1.5 throws for a project file
that does not exist; any version throws on a malformed project) or is missing do the
rules of `manifest_for` decide. `workspace_root` comes from `manifest_for`, and is kept
only when Julia's answer is the manifest those rules find: a workspace Julia does not
use is no workspace.
"""
function locate_manifest(project::String; version::VersionNumber=VERSION, ask_julia::Bool=true)
    path, found_by, root = manifest_for(project; version=version)
    if ask_julia
        jl = try
            julia_manifest_path(project)
        catch
            missing
        end
        if jl isa AbstractString
            jl = pabspath(jl)
            return (jl, "julia", path !== nothing && samepath(path, jl) ? root : nothing)
        end
        jl === nothing && return (nothing, nothing, path === nothing ? root : nothing)
    end
    (path, found_by, root)
end

const MAX_WORKSPACE_PROJECTS = 200

"""
    workspace_entries(project, manifest, root, max_bytes, with_bytes; version) -> Vector

The other project files of the Julia 1.12+ workspace whose manifest `project` uses, so
that a restore can lay the workspace out again and every `path = ...` inside it resolves.
`manifest` and `root` are what `locate_manifest` found; the workspace is the one of
`root` (the outermost root), or `project` itself when it is a root (it lists
`[workspace] projects`) and uses its own manifest. Starting at the root, each project's
`[workspace] projects` entries are followed (nested workspaces too), inside the root's
folder only, at most MAX_WORKSPACE_PROJECTS. Role "workspace_project"; `name` is the
path relative to the root's folder ("Project.toml", "core/Project.toml"). The active
project is not repeated (it is the "project" file). Empty outside a workspace, before
1.12, when the manifest was not found or is not the workspace's.
"""
function workspace_entries(project::String, manifest, root, max_bytes::Integer, with_bytes::Bool;
                           version::VersionNumber=VERSION)
    version >= v"1.12-" || return Any[]
    manifest isa String && isfile(manifest) || return Any[]
    path, found_by, _ = manifest_for(project; version=version)
    path !== nothing && samepath(path, manifest) || return Any[]
    top = if found_by == "workspace" && root !== nothing
        root
    elseif root === nothing && !isempty(workspace_projects(readtext(project)))
        project
    else
        return Any[]
    end
    rootdir = pdirname(top)
    isvalid(rootdir) || return Any[]
    prefix = endswith(rootdir, "/") ? rootdir : rootdir * "/"
    found = String[top]
    queue = String[top]
    while !isempty(queue) && length(found) < MAX_WORKSPACE_PROJECTS
        pf = popfirst!(queue)
        for p in workspace_projects(readtext(pf))
            cand = pnormpath(joinpath(pdirname(pf), p))
            startswith(cand, prefix) && isdir(cand) || continue
            f = project_file_in(String(rstrip(cand, '/')))
            f === nothing || f in found || (push!(found, f); push!(queue, f))
            length(found) < MAX_WORKSPACE_PROJECTS || break
        end
    end
    active = pnormpath(project)
    entries = Any[]
    for f in found
        f == active && continue
        e = file_entry("workspace_project", f, max_bytes, with_bytes)
        e["name"] = safetext(f == top ? pbasename(f) : f[ncodeunits(prefix)+1:end])
        push!(entries, e)
    end
    entries
end

"Is `project` the default (global) environment `<depot>/environments/vX.Y/Project.toml`?"
function is_global(project::String; version::VersionNumber=VERSION)
    pbasename(project) in PROJECT_NAMES || return false
    pdir = pdirname(pnormpath(project))
    env = string("v", version.major, ".", version.minor)
    for depot in DEPOT_PATH
        edir = pnormpath(joinpath(pabspath(depot), "environments", env))
        (edir == pdir || (isdir(edir) && isdir(pdir) && Base.Filesystem.samefile(edir, pdir))) && return true
    end
    false
end

# ---- capture ---------------------------------------------------------------------------
function file_entry(role::String, path::String, max_bytes::Integer, with_bytes::Bool)
    toolarge(n) = DiaryError("file_too_large", string("The ", role, " file ", safetext(path),
        " is ", n, " bytes, over DearDiary's limit of ", max_bytes,
        " bytes per file, so it was not recorded."))
    n = try filesize(path) catch; 0 end
    n > max_bytes && throw(toolarge(n))
    bytes = try
        read(path)                                   # the exact bytes, never as a String
    catch e
        throw(DiaryError("read_failed", string("Could not read the ", role, " file ",
                                                safetext(path), ": ", errtext(e))))
    end
    length(bytes) > max_bytes && throw(toolarge(length(bytes)))
    # `name` is plain text (PROTOCOL.md); the exact bytes of an odd name are in `path`.
    d = Dict{String,Any}("role" => role, "name" => safetext(pbasename(path)),
                         "path" => pathval(path), "size" => length(bytes),
                         "sha256" => sha256hex(bytes))
    with_bytes && (d["base64"] = base64(bytes))
    d
end

function sys_facts()
    wd = try pathval(pwd()) catch; "" end            # pwd() throws if the folder is gone
    Dict{String,Any}(
        "kernel" => string(Sys.KERNEL), "arch" => string(Sys.ARCH),
        "machine" => string(Sys.MACHINE), "cpu_threads" => Int(Sys.CPU_THREADS),
        "nthreads" => Int(Threads.nthreads()), "bindir" => pathval(string(Sys.BINDIR)),
        "depot_path" => Any[pathval(p) for p in DEPOT_PATH],
        "load_path" => Any[pathval(p) for p in Base.load_path()],
        "pwd" => wd)
end

"""
    capture(; max_bytes, with_bytes=true, version=VERSION, ask_julia=true)

The environment of the active project. `version`/`ask_julia` exist for tests: they choose
the manifest rules (`julia_version` is always the running Julia's).
"""
function capture(; max_bytes::Integer=DEFAULT_MAX_BYTES, with_bytes::Bool=true,
                 version::VersionNumber=VERSION, ask_julia::Bool=true)
    project = Base.active_project()
    proj = nothing
    man = nothing
    root = nothing
    files = Any[]
    if project !== nothing
        project = pabspath(project)
        exists = isfile(project)
        proj = Dict{String,Any}("path" => pathval(project), "exists" => exists,
                                "is_global" => is_global(project; version=version))
        exists && push!(files, file_entry("project", project, max_bytes, with_bytes))
        mpath, found_by, root = locate_manifest(project; version=version, ask_julia=ask_julia)
        if mpath !== nothing
            mexists = isfile(mpath)
            man = Dict{String,Any}("path" => pathval(mpath), "exists" => mexists,
                                   "found_by" => found_by)
            mexists && push!(files, file_entry("manifest", mpath, max_bytes, with_bytes))
        end
        append!(files, workspace_entries(project, mpath, root, max_bytes, with_bytes; version=version))
    end
    Dict{String,Any}("julia_version" => string(VERSION), "project" => proj, "manifest" => man,
                     "workspace_root" => root === nothing ? nothing : pathval(root),
                     "files" => files, "sys" => sys_facts(),   # loaded_capture appends to files:
                     loaded_capture(project, files; max_bytes=max_bytes, with_bytes=with_bytes, version=version)...)
end

# ---- loaded packages -------------------------------------------------------------------
# What the kernel loaded (`Base.loaded_modules`) and the environment of the expanded
# LOAD_PATH each package comes from: the first environment in which Julia's own
# `Base.manifest_uuid_path` finds it, as `Base.locate_package` searches. Julia 1.5 re-reads
# a manifest on every such call, so the answers are kept per environment until its project
# or manifest file changes. A package module's version cannot change once it is loaded:
# it is looked up once (`pkgversion` on 1.9+, else the `version` of its Project.toml).
const LOCATED = Dict{String,Tuple{Any,Dict{Base.PkgId,Any},Any}}()   # env => (stamp, id => answer, text)
const VERSIONS = Dict{Base.PkgId,Any}()

filestamp(p) = (s = try stat(p) catch; nothing end; s === nothing ? nothing : (s.mtime, s.size, s.inode))

"What a LOAD_PATH entry is: its project file (String), true for a folder of packages, false."
env_project(env::String) = try Base.env_project_file(env) catch; false end

"Julia's answer for `id` in `env`: a path, `missing` (1.11+: here, but not installed), or nothing."
function locate_in(env::String, proj, mpath, id::Base.PkgId)
    stamp = (filestamp(proj isa String ? proj : env), mpath === nothing ? nothing : filestamp(mpath))
    entry = get(LOCATED, env, nothing)
    if entry === nothing || entry[1] != stamp
        # Before 1.6 (no package extensions, no TOML cache) Julia can only find a UUID
        # that its project or manifest file spells: skip a full scan for every other one.
        text = VERSION < v"1.6" && proj isa String ?
            lowercase(readtext(proj) * (mpath === nothing ? "" : readtext(mpath))) : nothing
        entry = (stamp, Dict{Base.PkgId,Any}(), text)
        LOCATED[env] = entry
    end
    get!(entry[2], id) do
        entry[3] isa String && id.uuid !== nothing &&
            !occursin(lowercase(string(id.uuid)), entry[3]) && return nothing
        try
            id.uuid === nothing ?   # a module without UUID only comes from a folder of packages
                (proj === true ? Base.implicit_manifest_uuid_path(env, id) : nothing) :
                Base.manifest_uuid_path(env, id)
        catch
            nothing
        end
    end
end

"The version of a loaded package as text, or nothing when it does not say."
function pkg_version(mod::Module, path)
    if isdefined(Base, :pkgversion)                       # Julia 1.9+
        v = try Base.invokelatest(getfield(Base, :pkgversion), mod) catch; nothing end
        v isa VersionNumber && return string(v)
    end
    path isa String || return nothing
    root = isdir(path) ? path : pdirname(pdirname(path))  # a folder, or its src/Name.jl
    for name in PROJECT_NAMES
        p = joinpath(root, name)
        isfile(p) || continue
        m = match(r"^[ \t]*version[ \t]*=[ \t]*\"([^\"\n]*)\""m, toplevel(readtext(p)))
        return m === nothing ? nothing : String(m.captures[1])
    end
    nothing
end

"""
    loaded_capture(project, files; max_bytes, with_bytes, version) -> Dict

`loaded`: every package in `Base.loaded_modules` but Core, Base and Main, by name:
`{name, uuid, version, env, stdlib}`, `env` the 0-based index in `environments` (the
expanded LOAD_PATH, as `sys.load_path`) Julia finds it in first, null when none has it.
`environments`: `{path, project, manifest, active, is_global, stdlib, carried}` per entry.
When a package that is not a stdlib comes from an environment with a project file other
than the active project, that environment's project and manifest files are appended to
`files` (roles `env_project`, `env_manifest`, with `env`), so a restore can carry them;
over `max_bytes` or unreadable, the environment gets an `error` instead. Never throws:
a failure is reported as `loaded_error`.
"""
function loaded_capture(project, files::Vector{Any}; max_bytes::Integer=DEFAULT_MAX_BYTES,
                        with_bytes::Bool=true, version::VersionNumber=VERSION)
    try
        envs = String[String(e) for e in Base.load_path()]
        stdlib_dir = pnormpath(string(Sys.STDLIB))
        instdlib(p) = p == stdlib_dir || startswith(p, stdlib_dir * "/")
        infos = map(envs) do env
            proj = env_project(env)
            mpath = proj isa String ? (try locate_manifest(proj; version=version)[1] catch; nothing end) : nothing
            (proj, mpath)
        end
        used = falses(length(envs))
        loaded = Any[]
        ids = sort!(collect(keys(Base.loaded_modules)), by = i -> (i.name, string(i.uuid)))
        for id in ids
            id.uuid === nothing && (id.name in ("Core", "Base", "Main") || startswith(id.name, "__")) && continue
            found = nothing
            path = nothing
            for (i, env) in enumerate(envs)
                r = locate_in(env, infos[i][1], infos[i][2], id)
                r === nothing && continue
                found = i
                path = r isa String ? pnormpath(r) : nothing
                break
            end
            std = (path !== nothing && instdlib(path)) ||
                  (found !== nothing && pnormpath(envs[found]) == stdlib_dir) ||
                  (found === nothing && isfile(joinpath(stdlib_dir, id.name, "src", id.name * ".jl")))
            mod = get(Base.loaded_modules, id, nothing)
            ver = mod isa Module ? get!(() -> pkg_version(mod, path), VERSIONS, id) : nothing
            push!(loaded, Dict{String,Any}("name" => safetext(id.name),
                "uuid" => id.uuid === nothing ? nothing : string(id.uuid),
                "version" => ver isa String ? safetext(ver) : nothing,
                "env" => found === nothing ? nothing : found - 1, "stdlib" => std))
            found === nothing || std || (used[found] = true)
        end
        environments = Any[]
        carried = Any[]
        for (i, env) in enumerate(envs)
            proj, mpath = infos[i]
            active = proj isa String && project !== nothing && pnormpath(pabspath(proj)) == pnormpath(project)
            d = Dict{String,Any}("path" => pathval(env),
                "project" => proj isa String ? pathval(proj) : nothing,
                "manifest" => mpath === nothing ? nothing : pathval(mpath),
                "active" => active, "is_global" => is_global(proj isa String ? proj : env; version=version),
                "stdlib" => pnormpath(env) == stdlib_dir, "carried" => false)
            if used[i] && !active && proj isa String
                try
                    fs = Any[file_entry("project", proj, max_bytes, with_bytes)]
                    mpath !== nothing && isfile(mpath) &&
                        push!(fs, file_entry("manifest", mpath, max_bytes, with_bytes))
                    for f in fs
                        f["role"] = "env_" * f["role"]
                        f["env"] = i - 1
                    end
                    append!(carried, fs)
                    d["carried"] = true
                catch e
                    d["error"] = e isa DiaryError ?
                        Dict{String,Any}("code" => e.code, "message" => e.message) :
                        Dict{String,Any}("code" => "read_failed", "message" => errtext(e))
                end
            end
            push!(environments, d)
        end
        append!(files, carried)
        Dict{String,Any}("loaded" => loaded, "environments" => environments)
    catch e
        Dict{String,Any}("loaded" => Any[], "environments" => Any[],
                         "loaded_error" => "Could not list the loaded packages: " * errtext(e))
    end
end

# ---- requests --------------------------------------------------------------------------
function max_bytes_arg(args)
    v = get(args, "max_bytes", nothing)
    v === nothing && return DEFAULT_MAX_BYTES
    (v isa Integer && !(v isa Bool) && v >= 0) ||
        throw(DiaryError("bad_request", "args.max_bytes must be a non-negative integer"))
    v
end

# Keys claimed in this kernel process (see op "claim"). A restart starts a new process
# with none: this is how frontends tell a fresh kernel from a page reload, and how
# several tabs agree that only one of them records the kernel-start run.
const CLAIMS = Set{String}()

function claim_arg(args)
    key = args isa AbstractDict ? get(args, "key", nothing) : nothing
    key isa AbstractString && !isempty(key) && isvalid(key) ||
        throw(DiaryError("bad_request", "args.key must be a non-empty string"))
    String(key)
end

function run_op(op::AbstractString, args)
    if op == "ping"
        Dict{String,Any}("pong" => true, "protocol" => PROTOCOL)
    elseif op == "claim"
        key = claim_arg(args)
        claimed = !(key in CLAIMS)
        push!(CLAIMS, key)
        Dict{String,Any}("claimed" => claimed)
    elseif op == "capture"
        capture(max_bytes=max_bytes_arg(args), with_bytes=true)
    elseif op == "fingerprint"
        capture(max_bytes=max_bytes_arg(args), with_bytes=false)
    else
        throw(DiaryError("unknown_op", string("Unknown operation \"", first(safetext(op), 80),
            "\": this kernel speaks deardiary protocol ", PROTOCOL,
            " (ping, claim, capture, fingerprint). Reload the page if the extension was updated.")))
    end
end

"One request `{id, op, args}` -> one reply with the same id."
function on_msg(comm, m)
    id = nothing
    reply = try
        data = m.content["data"]
        data isa AbstractDict ||
            throw(DiaryError("bad_request", "A deardiary request must be a JSON object."))
        rid = get(data, "id", nothing)
        (rid isa AbstractString && !isempty(rid)) ||
            throw(DiaryError("bad_request", "A deardiary request needs a string \"id\"."))
        id = rid
        op = get(data, "op", nothing)
        op isa AbstractString ||
            throw(DiaryError("bad_request", "A deardiary request needs a string \"op\"."))
        args = get(data, "args", nothing)
        args === nothing && (args = Dict{String,Any}())
        args isa AbstractDict ||
            throw(DiaryError("bad_request", "\"args\" of a deardiary request must be an object."))
        Dict{String,Any}("type" => "reply", "id" => id, "ok" => true, "result" => run_op(op, args))
    catch e
        e isa DiaryError ? errorreply(id, e.code, e.message) :
            errorreply(id, "internal", "Internal error in jupyterlab-deardiary's kernel code: " * errtext(e))
    end
    send(comm, reply, id)
end

# ---- the comms: our own registry ---------------------------------------------------------
# IJulia's comm table is no place to look for live comms: it moved into the kernel object
# in 1.30, and the callback that marked a comm nobody wired (`noop_callback`) is gone
# since 1.31 (`Returns(nothing)`), see ../PROTOCOL.md. So the comms a frontend opened to
# us are filed here when IJulia calls register_comm and removed when it calls on_close.
# A comm IJulia forgets without calling on_close stays here; sending to it is harmless
# (send_comm publishes on IOPub whatever comm it is given) and a send that throws is
# simply not counted.

"The comms a frontend opened to our target and has not closed, by comm id."
const LIVE = Dict{String,Any}()

"Point `comm`'s callbacks at this module's code and file it as live."
function wire!(comm)
    comm.on_msg = m -> (try on_msg(comm, m) catch end; nothing)
    comm.on_close = m -> (try on_close(comm, m) catch end; nothing)
    LIVE[comm.id] = comm
    nothing
end

# IJulia calls this on comm_close, then forgets the comm. (A comm of the same id opened
# since then is another object, and stays.)
function on_close(comm, m)
    get(LIVE, comm.id, nothing) === comm && delete!(LIVE, comm.id)
    nothing
end

# IJulia calls this on comm_open for target "deardiary": wire the comm, say ready at once.
function CM.register_comm(comm::CM.Comm{:deardiary}, msg)
    try
        wire!(comm)
        send(comm, Dict{String,Any}("type" => "ready", "protocol" => PROTOCOL,
                                    "julia_version" => string(VERSION)), nothing)
    catch
    end
    nothing
end

"The live comms, by id."
live_comms() = sort!(collect(values(LIVE)), by = c -> c.id)

"""
Take over the live comms of the module this one replaced (an older revision, or a
half-built one), re-wired to this code. A module without a registry (revision 1) has
none to give: its comms keep their old callbacks until their frontend reopens.
"""
function adopt!(old::Module)
    isdefined(old, :LIVE) || return nothing
    reg = getfield(old, :LIVE)
    reg isa AbstractDict || return nothing
    for (id, comm) in collect(reg)
        try
            comm isa CM.Comm{:deardiary} && id isa String && comm.id == id && wire!(comm)
        catch
        end
    end
    nothing
end

# ---- the user-facing call --------------------------------------------------------------

const COUNTER = Ref(0)
"A unique id: 128 random bits (OS entropy, never the user's RNG) in hex, '-', unix ms."
function new_snapshot_id()
    r = try
        R = stdlib("Random")
        string(Base.invokelatest(R.rand, Base.invokelatest(R.RandomDevice), UInt128), base=16, pad=32)
    catch
        COUNTER[] += 1
        first(sha256hex(Vector{UInt8}(string(time_ns(), "/", getpid(), "/", COUNTER[]))), 32)
    end
    string(r, "-", round(Int, time() * 1000))
end

"""
    snapshot(note=""; max_bytes) -> snapshot id, or nothing when no frontend listens

Capture the environment and send it, with `note`, to every live deardiary comm.
"""
function snapshot(note::AbstractString=""; max_bytes::Integer=DEFAULT_MAX_BYTES)
    isvalid(note) || error("DearDiary: the note is not valid UTF-8 text.")
    comms = live_comms()
    if isempty(comms)
        println(stderr, "Warning: DearDiary: no JupyterLab with jupyterlab-deardiary is ",
                "listening to this kernel, so nothing was recorded. Open this notebook in ",
                "JupyterLab with the extension enabled and run this again.")
        return nothing
    end
    cap = try
        capture(max_bytes=max_bytes, with_bytes=true)
    catch e
        e isa DiaryError && error("DearDiary: snapshot not recorded. ", e.message)
        rethrow()
    end
    id = new_snapshot_id()
    text = try
        tojson(Dict{String,Any}("type" => "snapshot", "snapshot_id" => id,
                                "note" => String(note), "capture" => cap))
    catch e
        error("DearDiary: snapshot not recorded: it could not be encoded as JSON: ", errtext(e))
    end
    sent = 0
    for c in comms
        try
            sendtext(c, text)
            sent += 1
        catch
        end
    end
    sent == 0 && error("DearDiary: snapshot not recorded: sending it to JupyterLab failed.")
    println("DearDiary: snapshot ", first(id, 8), " sent to ", sent,
            sent == 1 ? " notebook view" : " notebook views")
    id
end

"What `@snapshot` expands to: a call of the current module's `snapshot`."
function snapshot_macro(args...)
    length(args) <= 1 || throw(ArgumentError("usage: @snapshot \"note\"  or  @snapshot"))
    Expr(:call, snapshot, isempty(args) ? "" : esc(args[1]))
end

# Main's entry points look `Main.__deardiary__` up at each call, so a module replaced
# later (retry, newer protocol) is used without redefining them.
isdefined(Main, :deardiary_snapshot) || Core.eval(Main, quote
    """
        deardiary_snapshot(note="")

    Record a DearDiary snapshot of this kernel's environment (Julia version, active
    Project.toml and Manifest.toml bytes, system facts) with an optional note. JupyterLab
    (jupyterlab-deardiary) stores it with the notebook and its git state. Returns the
    snapshot id, or `nothing` (with a warning) when no JupyterLab is listening.
    The macro form is `@snapshot "note"`.
    """
    function deardiary_snapshot(note::AbstractString="")
        # invokelatest: a plain `Main.__deardiary__` would be compiled in as a constant
        # (Julia < 1.12) and keep calling a module that a later injection replaced.
        Base.invokelatest(Base.invokelatest(getfield, Main, :__deardiary__).snapshot, note)
    end
end)
isdefined(Main, Symbol("@snapshot")) || Core.eval(Main, quote
    """
        @snapshot "note"
        @snapshot

    Record a DearDiary snapshot of this kernel's environment; see `deardiary_snapshot`.
    """
    macro snapshot(args...)
        Base.invokelatest(Base.invokelatest(getfield, Main, :__deardiary__).snapshot_macro, args...)
    end
end)

const COMPLETE = true    # LAST statement: the guard trusts only a module that got here
end)
        if dd_old === nothing
            Core.eval(Main, dd_module)
        else
            # Replacing a half-built or older module makes Julia print "WARNING: replacing
            # module" through the C-level stderr (JL_STDERR, the `jl_uv_stderr` slot). In
            # IJulia that slot is IJulia's pipe, NOT fd 2, so `redirect_stderr(devnull)`
            # (1.7+ only) would not hide it. Point the slot at a /dev/null IOStream (as
            # Base's redirect_stderr(::IOStream) does) and restore the exact old pointer.
            # (If that slot is ever missing, replace loudly rather than not at all.)
            local dd_slot = try cglobal(:jl_uv_stderr, Ptr{Cvoid}) catch; C_NULL end
            local dd_saved = dd_slot == C_NULL ? C_NULL : unsafe_load(dd_slot)
            local dd_sink = open(Sys.iswindows() ? "NUL" : "/dev/null", "w")
            local dd_new = nothing
            try
                dd_slot == C_NULL || unsafe_store!(dd_slot, dd_sink.handle)
                dd_new = Core.eval(Main, dd_module)
            finally
                dd_slot == C_NULL || unsafe_store!(dd_slot, dd_saved)
                close(dd_sink)
            end
            # The comms the replaced module served are served by this code from now on.
            dd_old isa Module && dd_new isa Module &&
                try Base.invokelatest(Base.invokelatest(getfield, dd_new, :adopt!), dd_old) catch end
        end
    end
end
Main.IJulia.ans
