# Run tests/julia/runtests.jl once per IJulia generation that the stand-in imitates
# (ui-tests/test-kernel/IJuliaStandin.jl; see src/kernel/PROTOCOL.md for what differs),
# each in its own Julia process with DEARDIARY_IJULIA_GEN set, as many at a time as there
# are CPU threads. Included by runtests.jl when that variable is not set. Each child's
# output is printed when it ends, with "[IJulia <gen>] " in front of every line, so that
# the one table starting with "Test Summary:" is the sum printed at the end
# (scripts/summarize.py reads it). Exits: 0 when every generation passed.

let gens = ("1.24", "1.30", "1.34"),
    julia = joinpath(Sys.BINDIR, Base.julia_exename()),
    script = joinpath(@__DIR__, "runtests.jl"),
    counts = Dict{String,Int}(),
    failed = String[],
    outputs = Vector{Any}(undef, length(gens)),
    slots = Base.Semaphore(max(1, min(length(gens), Sys.CPU_THREADS))),
    t0 = time()

    @sync for (i, gen) in enumerate(gens)
        @async begin
            Base.acquire(slots)
            try
                env = copy(ENV)
                env["DEARDIARY_IJULIA_GEN"] = gen
                cmd = setenv(`$julia --startup-file=no $script`, env; dir=pwd())
                out = Pipe()
                proc = run(pipeline(ignorestatus(cmd); stdout=out, stderr=out); wait=false)
                close(out.in)
                lines = collect(eachline(out))
                wait(proc)
                outputs[i] = (lines, proc.exitcode)
            finally
                Base.release(slots)
            end
        end
    end

    for (gen, (lines, exitcode)) in zip(gens, outputs)
        summary = nothing
        prev = ""
        for line in lines
            println("[IJulia ", gen, "] ", line)
            if startswith(prev, "Test Summary:")
                names = split(split(prev, '|')[2])
                values = tryparse.(Int, split(split(line, '|')[2]))
                if length(names) == length(values) && all(v -> v !== nothing, values)
                    summary = Dict(zip(String.(names), values))
                end
            end
            prev = line
        end
        if summary === nothing
            counts["Error"] = get(counts, "Error", 0) + 1     # a child that left no table
            push!(failed, gen)
            continue
        end
        for (k, v) in summary
            counts[k] = get(counts, k, 0) + v
        end
        (exitcode != 0 || any(k -> !(k in ("Pass", "Total")) && summary[k] > 0, keys(summary))) &&
            push!(failed, gen)
    end

    # One table in the Test stdlib's layout: the sum over the generations.
    cols = [k for k in ("Pass", "Fail", "Error", "Broken") if get(counts, k, 0) > 0]
    total = sum(get(counts, k, 0) for k in ("Pass", "Fail", "Error", "Broken"))
    push!(cols, "Total")
    vals = [k == "Total" ? total : counts[k] for k in cols]
    label = "jupyterlab-deardiary kernel code, IJulia " * join(gens, ", ")
    widths = [max(length(c), length(string(v))) for (c, v) in zip(cols, vals)]
    println()
    println(rpad("Test Summary:", length(label)), " | ",
            join([lpad(c, w) for (c, w) in zip(cols, widths)], "  "))
    println(label, " | ", join([lpad(string(v), w) for (v, w) in zip(vals, widths)], "  "))
    println("Julia tests: ", round(time() - t0; digits=1), " s for ", length(gens),
            " IJulia generations", isempty(failed) ? "" : "; FAILED: " * join(failed, ", "))
    exit(isempty(failed) ? 0 : 1)
end
