# A TEST-ONLY stand-in of `Base.project_file_manifest_path` as Julia 1.10, 1.11 and 1.12
# answer it, for a test Julia (1.5.3) whose own Base knows neither versioned manifests nor
# workspaces. Written from reading Julia's base/loading.jl, not copied; what each
# generation does, and where it is read:
#
# - `project_file_manifest_path` (all three): parse the project file (a missing or
#   malformed file throws: `parsed_toml`); a 1.12 workspace member returns its base
#   project's manifest first, when that base has one (`workspace_manifest`, recursive, so
#   nested workspaces resolve to the outermost root with a manifest); then the project's
#   top-level `manifest = "..."` key, only if that file exists (a missing one falls
#   through, it does not stop the search); then the first existing of `manifest_names`
#   in the project's folder; else nothing.
# - `manifest_names`: ("JuliaManifest.toml", "Manifest.toml") up to 1.10.7; from 1.11
#   (JuliaLang/julia#43845) and 1.10.8 (its backport #56600, merged 2025-01-13)
#   ("JuliaManifest-vX.Y.toml", "Manifest-vX.Y.toml", "JuliaManifest.toml",
#   "Manifest.toml") with X.Y the running Julia's major.minor.
# - `base_project` (1.12, workspaces from #53653): 1.12.0 takes the project file of the
#   parent folder (`env_project_file`: JuliaProject.toml, else Project.toml) and accepts
#   it when its `[workspace] projects` is a list that contains the base name of the
#   project's folder. #59849 (merged 2025-10-17; the test/project/SubProject/nested
#   fixture it added is in v1.12.5, not in v1.12.0) walks up instead: each parent folder
#   in turn, stopping at the filesystem root, and, when the project's folder starts with
#   the home folder (a string prefix), at the first parent that does not; a parent's
#   project file is the base when one of its `projects` entries, joined to that parent,
#   is a folder that is `samefile` with the project's folder. The same revision returns
#   nothing (instead of throwing) for a project file that does not exist.
#
# Each answer also records which rule decided (`trace`), in DearDiary's words
# ("workspace", "manifest_key", "versioned", "default"), so that a test can check the
# fallback's `found_by` against it.
module JuliaLoadingStandin

import Pkg
const TOML = Pkg.TOML      # Julia 1.5 has no TOML stdlib; Pkg carries a parser

"One generation of Julia's manifest rules."
struct Rules
    version::VersionNumber   # the Julia it imitates (X.Y of versioned manifest names)
    versioned::Bool          # manifest_names has the -vX.Y names
    workspace::Symbol        # :none, :parent (1.12.0), :walkup (#59849)
end

"The stand-in of the Julia `version` (one of the generations above)."
function rules(version::VersionNumber)
    versioned = version >= v"1.10.8-"
    workspace = version < v"1.12-" ? :none : version < v"1.12.1-" ? :parent : :walkup
    Rules(version, versioned, workspace)
end

function manifest_names(r::Rules)
    vx = string("v", r.version.major, ".", r.version.minor)
    plain = ("JuliaManifest.toml", "Manifest.toml")
    r.versioned ? ("JuliaManifest-" * vx * ".toml", "Manifest-" * vx * ".toml", plain...) : plain
end

"env_project_file for a folder: its first existing project file, else nothing."
function folder_project(dir::String)
    isdir(dir) || return nothing
    for name in ("JuliaProject.toml", "Project.toml")
        p = joinpath(dir, name)
        isfile(p) && return p
    end
    nothing
end

function workspace_list(base_project_file::String)
    ws = get(TOML.parsefile(base_project_file), "workspace", nothing)
    ws isa AbstractDict || return nothing
    projects = get(ws, "projects", nothing)
    projects isa Vector ? projects : nothing
end

function base_project(r::Rules, project_file::String)
    r.workspace === :none && return nothing
    if r.workspace === :parent
        base = folder_project(abspath(joinpath(dirname(project_file), "..")))
        base === nothing && return nothing
        projects = workspace_list(base)
        return projects !== nothing && basename(dirname(project_file)) in projects ? base : nothing
    end
    home = abspath(homedir())
    project_dir = abspath(dirname(project_file))
    in_home = startswith(project_dir, home)
    current = project_dir
    while true
        parent = dirname(current)
        parent == current && return nothing
        in_home && !startswith(parent, home) && return nothing
        base = folder_project(parent)
        if base !== nothing
            projects = workspace_list(base)
            if projects !== nothing
                for p in projects
                    cand = joinpath(dirname(base), p)
                    isdir(cand) && Base.Filesystem.samefile(cand, project_dir) && return base
                end
            end
        end
        current = parent
    end
end

"""
    manifest_path(r, project_file; trace=Ref{Any}()) -> String or nothing

What Julia `r.version` answers for `project_file`; `trace[]` is set to the rule that
decided (nothing when there is no manifest).
"""
function manifest_path(r::Rules, project_file::String; trace::Ref{Any}=Ref{Any}(nothing))
    trace[] = nothing
    r.workspace === :walkup && !isfile(project_file) && return nothing
    d = TOML.parsefile(project_file)               # throws like parsed_toml
    dir = abspath(dirname(project_file))
    base = base_project(r, project_file)
    if base !== nothing
        m = manifest_path(r, base)
        if m !== nothing
            trace[] = "workspace"
            return m
        end
    end
    explicit = get(d, "manifest", nothing)::Union{String,Nothing}
    if explicit !== nothing
        f = normpath(joinpath(dir, explicit))
        if isfile(f)
            trace[] = "manifest_key"
            return f
        end
    end
    for name in manifest_names(r)
        f = joinpath(dir, name)
        if isfile(f)
            trace[] = occursin("-v", name) ? "versioned" : "default"
            return f
        end
    end
    nothing
end

end # module
