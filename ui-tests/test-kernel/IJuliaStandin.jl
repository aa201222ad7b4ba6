# TEST-ONLY stand-in for the parts of IJulia that jupyterlab-deardiary's injected code uses.
# Never shipped. Spellings follow IJulia 1.x (src/comm_manager.jl): `Comm{target}`,
# `comms`, `noop_callback`, `register_comm(comm, msg)` (a no-op that targets extend by
# dispatch), `send_comm(comm, data)`, `comm_open/comm_msg/comm_close` handlers, and the
# global `IJulia.ans` that every execute request overwrites.
#
# Where real IJulia would JSON-encode `send_comm`'s Dict and write it to the IOPub socket,
# the stand-in encodes it STRICTLY (plain JSON types and valid UTF-8 only: anything else
# throws, as a real send would corrupt the stream) and hands the text to `IJulia.sink[]`.
# Unit tests leave the default sink, which records into `IJulia.sent`; the test kernel
# points it at its pipe.
module IJulia

mutable struct Msg
    idents::Vector{String}
    header::Dict{String,Any}
    content::Dict{String,Any}
    parent_header::Dict{String,Any}
    metadata::Dict{String,Any}
end
Msg(content::Dict) = Msg(String[], Dict{String,Any}(), Dict{String,Any}(content),
                         Dict{String,Any}(), Dict{String,Any}())

ans = nothing
setans!(x) = (global ans = x)

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

module CommManager
import ..IJulia

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

const comms = Dict{String,Comm}()
noop_callback(msg) = nothing

Comm(target, id, primary=false, on_msg=noop_callback, on_close=noop_callback) =
    Comm{Symbol(target)}(id, primary, on_msg, on_close)

comm_target(comm::Comm{target}) where {target} = target

"No-op; targets extend it by dispatch on Comm{target} (as in IJulia)."
function register_comm(comm::Comm, data) end

function send_comm(comm::Comm, data::Dict, metadata::Dict=Dict(); kwargs...)
    IJulia.sink[](comm.id, IJulia.strictjson(Dict("comm_id" => comm.id, "data" => data)))
    nothing
end

# Handlers for incoming messages, as IJulia's: an unknown comm_msg is ignored, an unknown
# comm_close throws KeyError (IJulia shows it as a KERNEL EXCEPTION).
function comm_open(msg::IJulia.Msg)
    comm_id = msg.content["comm_id"]
    haskey(msg.content, "data") || (msg.content["data"] = Dict{String,Any}())
    comm = Comm(msg.content["target_name"], comm_id, false)
    register_comm(comm, msg)
    comms[comm_id] = comm
    nothing
end

function comm_msg(msg::IJulia.Msg)
    comm = get(comms, msg.content["comm_id"], nothing)
    comm === nothing && return nothing
    haskey(msg.content, "data") || (msg.content["data"] = Dict{String,Any}())
    comm.on_msg(msg)
    nothing
end

function comm_close(msg::IJulia.Msg)
    comm = comms[msg.content["comm_id"]]
    haskey(msg.content, "data") || (msg.content["data"] = Dict{String,Any}())
    comm.on_close(msg)
    delete!(comms, comm.id)
    nothing
end

end # module CommManager
end # module IJulia
