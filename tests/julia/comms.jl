# The comm glue across IJulia generations: @snapshot from a cell, our own registry of live
# comms, only the IJulia spellings every release 1.24-1.34 has, and an injection that
# IJulia's execute_request (hooks; special_mode_strip from 1.32) leaves alone.
# Included by runtests.jl inside its top testset, in a process whose stand-in imitates
# IJulia.GENERATION (DEARDIARY_IJULIA_GEN; src/kernel/PROTOCOL.md has the differences).

const GEN = IJulia.GENERATION

"Run `code` as IJulia's execute_request does (rewrite, hooks, soft scope, `ans`)."
function execute_like_ijulia(code::String; n::Int=1)
    kind, c = IJulia.rewrite(code)
    kind === :julia || error("IJulia would not run this as Julia code: $kind")
    foreach(Base.invokelatest, IJulia.HOOKS.pre)
    r = include_string(REPL.softscope, Main, c, "In[$n]")
    IJulia.setans!(r)
    foreach(Base.invokelatest, IJulia.HOOKS.post)
    r
end

"The dotted names a Julia expression reads (`CM.send_comm`, `Main.IJulia.ans`, ...)."
function dotted_names(ex, acc=Set{String}())
    if ex isa Expr
        ex.head === :. && length(ex.args) == 2 && ex.args[2] isa QuoteNode && push!(acc, string(ex))
        foreach(a -> dotted_names(a, acc), ex.args)
    end
    acc
end
all_symbols(ex, acc=Set{Symbol}()) =
    ex isa Symbol ? push!(acc, ex) :
    ex isa QuoteNode ? all_symbols(ex.value, acc) :
    ex isa Expr ? (foreach(a -> all_symbols(a, acc), ex.args); acc) : acc

@testset "IJulia $GEN: @snapshot from a cell reaches the listening comm" begin
    # Fails with the kernel code of before this test on 1.31+: it compared callbacks with
    # CommManager.noop_callback, which IJulia 1.31.0 removed (UndefVarError).
    close_all_comms(); empty!(IJulia.sent)
    dir = copy_fixture("repo-url-v1-grpc")
    with_project(dir) do
        @test length(open_comm("listen-1")) == 1                     # ready
        n = length(IJulia.sent)
        id, out, err = capture_output(() -> execute_like_ijulia("@snapshot \"from a cell\""))
        @test id isa String && occursin(r"^[0-9a-f]{32}-[0-9]+$", id)
        @test out == "DearDiary: snapshot $(id[1:8]) sent to 1 notebook view\n" && err == ""
        msgs = sent_since(n)
        @test [c for (c, _) in msgs] == ["listen-1"]
        @test msgs[1][2]["type"] == "snapshot" && msgs[1][2]["note"] == "from a cell"
        @test msgs[1][2]["capture"]["manifest"]["path"] == joinpath(dir, "Manifest.toml")
        @test IJulia.ans == id                                        # a cell's value, as usual
        id2, out, _ = capture_output(() -> execute_like_ijulia("deardiary_snapshot(\"fn\");"))
        @test id2 isa String && id2 != id && occursin("sent to 1 notebook view", out)
        close_comm("listen-1")
        _, _, err = capture_output(() -> execute_like_ijulia("@snapshot"))
        @test occursin("no JupyterLab with jupyterlab-deardiary is listening", err)
    end
end

@testset "IJulia $GEN: our own registry of live comms" begin
    close_all_comms(); empty!(IJulia.sent)
    live() = [c.id for c in D().live_comms()]
    open_comm("r2"); open_comm("r1")
    @test live() == ["r1", "r2"]                                      # sorted by id
    @test D().LIVE["r1"] === CMX.table()["r1"]
    close_comm("r1")
    @test live() == ["r2"]
    # a deardiary comm nobody registered (opened before the target existed) is not ours
    CMX.Comm(:deardiary, "r-dead")
    @test live() == ["r2"]
    # the same id opened again: the new comm replaces the old one
    old = CMX.table()["r2"]
    open_comm("r2")
    @test D().LIVE["r2"] === CMX.table()["r2"] !== old
    # a comm IJulia dropped without calling on_close is tolerated: IJulia's send_comm
    # publishes whatever comm it is given, and the others still get the snapshot
    open_comm("r3")
    delete!(CMX.table(), "r3")
    n = length(IJulia.sent)
    id, out, err = capture_output(() -> deardiary_snapshot("dropped"))
    @test id isa String && err == ""
    @test sort([c for (c, _) in sent_since(n)]) == ["r2", "r3"]
    # a send that throws is not counted; the others are sent
    oldsink = IJulia.sink[]
    IJulia.sink[] = (cid, text) -> cid == "r3" ? error("socket gone") : oldsink(cid, text)
    try
        n = length(IJulia.sent)
        id, out, _ = capture_output(() -> deardiary_snapshot("one fails"))
        @test [c for (c, _) in sent_since(n)] == ["r2"]
        @test out == "DearDiary: snapshot $(id[1:8]) sent to 1 notebook view\n"
        IJulia.sink[] = (cid, text) -> error("socket gone")
        e = try capture_output(() -> deardiary_snapshot("all fail")); nothing catch ex; ex end
        @test e isa ErrorException && occursin("sending it to JupyterLab failed", e.msg)
    finally
        IJulia.sink[] = oldsink
    end
    # on_close that IJulia calls for a comm we never registered changes nothing
    @test D().on_close(CMX.table()["r-dead"], nothing) === nothing
    @test live() == ["r2", "r3"]
    close_all_comms()
    @test live() == ["r3"]            # r3 left IJulia's table without a comm_close
    delete!(D().LIVE, "r3")
end

@testset "IJulia $GEN: the kernel code uses only what IJulia 1.24-1.34 all have" begin
    ast = Meta.parse("begin\n" * CODE * "\nend")
    names = dotted_names(ast)
    ij = Set(n for n in names if startswith(n, "CM.") || startswith(n, "Main.IJulia."))
    @test ij ⊆ Set(["CM.Comm", "CM.register_comm", "CM.send_comm",
                    "Main.IJulia.CommManager", "Main.IJulia.ans"])
    @test "CM.send_comm" in ij && "CM.register_comm" in ij
    syms = all_symbols(ast)
    for gone in (:noop_callback, :_default_kernel, :execute_msg, :comm_info_request, :Returns)
        @test !(gone in syms)
    end
    # those spellings exist in this generation's stand-in
    @test isdefined(CMX, :Comm) && isdefined(CMX, :register_comm) && isdefined(CMX, :send_comm)
    @test hasmethod(CMX.send_comm, Tuple{CMX.Comm{:deardiary}, Dict{String,Any}})
    @test isdefined(CMX, :noop_callback) == (GEN in ("1.24", "1.30"))
    # how a comm nobody wired looks in this generation (1.31.0 src/comm_manager.jl:16-17)
    c = CMX.Comm(:deardiary, "probe")
    @test GEN == "1.34" ? c.on_msg isa IJulia.Returns : c.on_msg === CMX.noop_callback
    delete!(CMX.table(), "probe")
end

@testset "IJulia $GEN: execute_request leaves the injection alone (hooks, special_mode_strip)" begin
    # special_mode_strip (1.32+) returns the code unchanged unless exactly one line is not
    # a blank or whole-line comment: ours has many, the first `let ...`.
    @test IJulia.special_mode_strip(CODE) === CODE
    @test IJulia.rewrite(CODE) == (:julia, CODE)
    body = [l for l in split(CODE, '\n') if !isempty(strip(l)) && !startswith(strip(l), "#")]
    @test length(body) > 1 && startswith(body[1], "let ")
    # (controls: what the strip does to a real special-mode cell)
    @test IJulia.special_mode_strip("# check the environment\n] st\n") == "] st"
    @test IJulia.special_mode_strip("# a\n?x\ny = 1\n") == "# a\n?x\ny = 1\n"
    @test occursin("repl_cmd", IJulia.rewrite("# c\n; echo hi\n")[2]) == IJulia.SPECIAL_MODE_STRIP
    # pre- and post-execute hooks run around every request, ours too
    ran = Symbol[]
    pre = () -> push!(ran, :pre)
    post = () -> push!(ran, :post)
    IJulia.push_preexecute_hook(pre)
    IJulia.push_postexecute_hook(post)
    try
        IJulia.setans!(:users_value)
        capture_output(() -> Core.eval(Main, :(module __deardiary__ end)))   # force a real run
        v, out, err = capture_output(() -> execute_like_ijulia(CODE))
        @test v === :users_value && out == "" && err == ""
        @test IJulia.ans === :users_value
        @test ran == [:pre, :post]
        @test D().COMPLETE === true
        @test length(open_comm("hooked")) == 1
        close_comm("hooked")
    finally
        IJulia.pop_preexecute_hook(pre)
        IJulia.pop_postexecute_hook(post)
    end
end

@testset "IJulia $GEN: an older revision is replaced; the comms its registry knew are kept" begin
    close_all_comms(); empty!(IJulia.sent)
    open_comm("kept")
    cur = D()
    # the module of an older jupyterlab-deardiary: protocol 1, an older revision, complete
    capture_output(() -> Core.eval(Main, :(module __deardiary__
        const PROTOCOL = 1; const REVISION = 1; const LIVE = $(cur.LIVE); const COMPLETE = true end)))
    older = D()
    val, out, err = capture_output(inject)
    @test out == "" && err == "" && val === IJulia.ans
    @test D() !== older && D() !== cur && D().COMPLETE === true
    @test [c.id for c in D().live_comms()] == ["kept"]
    @test rpc("kept", "ping")["ok"] === true                         # re-wired to the new code
    n = length(IJulia.sent)
    capture_output(() -> deardiary_snapshot("after the upgrade"))
    @test [c for (c, _) in sent_since(n)] == ["kept"]
    # the module of the first release (no REVISION, no registry) is replaced too
    capture_output(() -> Core.eval(Main, :(module __deardiary__
        const PROTOCOL = 1; const COMPLETE = true end)))
    val, out, err = capture_output(inject)
    @test out == "" && err == "" && isdefined(D(), :LIVE) && isempty(D().LIVE)
    # a newer revision is kept as it is
    capture_output(() -> Core.eval(Main, :(module __deardiary__
        const PROTOCOL = 1; const REVISION = 99; const COMPLETE = true end)))
    newer = D()
    capture_output(inject)
    @test D() === newer
    capture_output(() -> Core.eval(Main, :(module __deardiary__ end)))   # then back to ours
    capture_output(inject)
    @test D().REVISION == cur.REVISION
    close_all_comms()
end
