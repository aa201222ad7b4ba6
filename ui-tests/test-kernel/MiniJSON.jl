# TEST-ONLY JSON reader for Julia 1.5 (which has no JSON stdlib); never shipped.
# parse_json(text) -> Dict{String,Any} / Vector{Any} / String / Int / Float64 / Bool / nothing
module MiniJSON
export parse_json

function parse_json(s::AbstractString)
    s = String(s)
    v, i = value(s, skipws(s, 1))
    i = skipws(s, i)
    i > ncodeunits(s) || error("MiniJSON: trailing data at $i")
    v
end

function skipws(s, i)
    while i <= ncodeunits(s) && s[i] in (' ', '\t', '\n', '\r')
        i = nextind(s, i)
    end
    i
end

function value(s, i)
    c = s[i]
    if c == '{'
        d = Dict{String,Any}()
        i = skipws(s, i + 1)
        s[i] == '}' && return d, i + 1
        while true
            k, i = str(s, skipws(s, i))
            i = skipws(s, i)
            s[i] == ':' || error("MiniJSON: expected ':' at $i")
            v, i = value(s, skipws(s, i + 1))
            d[k] = v
            i = skipws(s, i)
            s[i] == '}' && return d, i + 1
            s[i] == ',' || error("MiniJSON: expected ',' at $i")
            i += 1
        end
    elseif c == '['
        a = Any[]
        i = skipws(s, i + 1)
        s[i] == ']' && return a, i + 1
        while true
            v, i = value(s, skipws(s, i))
            push!(a, v)
            i = skipws(s, i)
            s[i] == ']' && return a, i + 1
            s[i] == ',' || error("MiniJSON: expected ',' at $i")
            i += 1
        end
    elseif c == '"'
        return str(s, i)
    elseif startswith(SubString(s, i), "true")
        return true, i + 4
    elseif startswith(SubString(s, i), "false")
        return false, i + 5
    elseif startswith(SubString(s, i), "null")
        return nothing, i + 4
    else
        m = match(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", s, i)
        (m === nothing || m.offset != i) && error("MiniJSON: unexpected '$c' at $i")
        t = m.match
        return (occursin(r"[.eE]", t) ? parse(Float64, t) : parse(Int, t)), i + ncodeunits(t)
    end
end

function str(s, i)
    s[i] == '"' || error("MiniJSON: expected string at $i")
    io = IOBuffer()
    i += 1
    while true
        c = s[i]
        if c == '"'
            return String(take!(io)), i + 1
        elseif c == '\\'
            e = s[i + 1]
            if e == 'u'
                u = parse(UInt16, s[i+2:i+5], base=16)
                i += 6
                if 0xd800 <= u < 0xdc00 && s[i] == '\\' && s[i + 1] == 'u'
                    lo = parse(UInt16, s[i+2:i+5], base=16)
                    print(io, Char(0x10000 + ((UInt32(u) - 0xd800) << 10) + (lo - 0xdc00)))
                    i += 6
                else
                    print(io, Char(u))
                end
                continue
            end
            print(io, Dict('"' => '"', '\\' => '\\', '/' => '/', 'b' => '\b', 'f' => '\f',
                           'n' => '\n', 'r' => '\r', 't' => '\t')[e])
            i += 2
        else
            print(io, c)
            i = nextind(s, i)
        end
    end
end

end # module
