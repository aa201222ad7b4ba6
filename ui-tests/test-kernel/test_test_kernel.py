"""Tests of the TEST-ONLY deardiary Julia kernel, through jupyter_client as a frontend would.

Run: /work/venv/bin/python -m pytest ui-tests/test-kernel -q
Needs Julia 1.5.3 ($DEARDIARY_TEST_JULIA or <repo>/.cache/julia/bin/julia, made by
scripts/get-julia.sh); the kernelspecs are found through JUPYTER_PATH, set here.
Every test runs once per IJulia generation the kernel imitates (one kernelspec each).
"""
from __future__ import annotations

import json
import os
import queue
import time
import uuid
from pathlib import Path

import pytest
from jupyter_client import BlockingKernelClient, KernelManager

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# IJulia generation -> the kernelspec that imitates it (README.md, src/kernel/PROTOCOL.md)
GENERATIONS = {"1.24": "deardiary-test-julia-1.5",
               "1.30": "deardiary-test-julia-gen130",
               "1.34": "deardiary-test-julia-gen134"}
JULIA = os.environ.get("DEARDIARY_TEST_JULIA") or str(HERE.parent.parent / ".cache/julia/bin/julia")



@pytest.fixture(scope="module", autouse=True)
def julia_present():
    # A missing Julia is a failure, not a skip: these tests are the only proof of the kernel.
    assert os.access(JULIA, os.X_OK), f"no Julia at {JULIA}: run scripts/get-julia.sh"


@pytest.fixture(scope="module", autouse=True)
def jupyter_path():
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(HERE), old]))
    # deardiary-test-julia-1.5 sets no generation: without this it would follow the caller's
    old_gen = os.environ.pop("DEARDIARY_IJULIA_GEN", None)
    yield
    if old is None:
        del os.environ["JUPYTER_PATH"]
    else:
        os.environ["JUPYTER_PATH"] = old
    if old_gen is not None:
        os.environ["DEARDIARY_IJULIA_GEN"] = old_gen


@pytest.fixture(scope="module", params=list(GENERATIONS))
def gen(request):
    """The IJulia generation under test ("1.24", "1.30", "1.34")."""
    return request.param


def at_least(gen, version):
    return tuple(map(int, gen.split("."))) >= tuple(map(int, version.split(".")))


def start(gen):
    km = KernelManager(kernel_name=GENERATIONS[gen])
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    kc.wait_for_ready(timeout=60)
    return km, kc


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


@pytest.fixture(scope="module")
def kernel(gen):
    km, kc = start(gen)
    yield km, kc
    stop(km, kc)


@pytest.fixture
def kc(kernel):
    client = kernel[1]
    drain(client)
    return client


# --- helpers -------------------------------------------------------------------------
def drain(kc, timeout=0.2):
    """Every IOPub message arriving within `timeout` of the previous one."""
    msgs = []
    while True:
        try:
            msgs.append(kc.get_iopub_msg(timeout=timeout))
        except queue.Empty:
            return msgs


def shell_reply(kc, msg_id, timeout=30):
    """The shell reply to msg_id (skipping e.g. extra kernel_info replies of wait_for_ready)."""
    deadline = time.monotonic() + timeout
    while True:
        msg = kc.get_shell_msg(timeout=max(0.01, deadline - time.monotonic()))
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def iopub_until(kc, pred, timeout=30):
    """IOPub messages up to and including the first one satisfying pred."""
    msgs, deadline = [], time.monotonic() + timeout
    while True:
        msg = kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
        msg["received"] = time.monotonic()
        msgs.append(msg)
        if pred(msg):
            return msgs


def is_idle_for(msg_id):
    return lambda m: (m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                      and m["parent_header"].get("msg_id") == msg_id)


def execute(kc, code, **kw):
    msg_id = kc.execute(code, **kw)
    reply = shell_reply(kc, msg_id)
    msgs = iopub_until(kc, is_idle_for(msg_id))
    return msg_id, reply, msgs


def result_text(kc, code):
    _, reply, msgs = execute(kc, code)
    assert reply["content"]["status"] == "ok", reply["content"]
    return [m for m in msgs if m["msg_type"] == "execute_result"][0]["content"]["data"]["text/plain"]


def send(kc, msg_type, content):
    msg = kc.session.msg(msg_type, content)
    kc.shell_channel.send(msg)
    return msg


def comm_msgs(msgs, comm_id):
    return [m for m in msgs if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id]


def wait_comm(kc, comm_id, timeout=30):
    return iopub_until(kc, lambda m: m["msg_type"] == "comm_msg"
                       and m["content"]["comm_id"] == comm_id, timeout)[-1]


def assert_silence(kc, comm_id, seconds=1.5):
    assert comm_msgs(drain(kc, timeout=seconds), comm_id) == []


ECHO = """
IJulia.CommManager.register_comm(c::IJulia.CommManager.Comm{:%s}, msg) = (
    c.on_msg = m -> IJulia.CommManager.send_comm(c, Dict("echo" => m.content["data"]));
    IJulia.CommManager.send_comm(c, Dict("ready" => true)))
"""


def register_echo(kc, target):
    """Inject an echo target the way the extension injects its bridge (silent, no history)."""
    _, reply, msgs = execute(kc, ECHO % target + "Main.IJulia.ans", silent=True,
                             store_history=False, stop_on_error=False)
    assert reply["content"]["status"] == "ok", reply["content"]
    return reply


def open_comm(kc, target):
    comm_id = uuid.uuid4().hex
    send(kc, "comm_open", {"comm_id": comm_id, "target_name": target, "data": {}})
    return comm_id


# --- (f) identity ----------------------------------------------------------------------
def test_kernel_info_presents_julia(kc, gen):
    msg_id = kc.kernel_info()
    reply = shell_reply(kc, msg_id)
    content = reply["content"]
    assert content["language_info"] == {"name": "julia", "version": "1.5.3",
                                        "mimetype": "application/julia", "file_extension": ".jl"}
    assert content["implementation"] == "deardiary-test-julia"
    assert content["status"] == "ok"
    assert f"imitating IJulia {gen}" in content["banner"]
    # v1.24.2 src/handlers.jl:159 "5.0", src/msg.jl:23 "5.3"; from v1.27.0 "5.4" (:179, :30)
    new = at_least(gen, "1.27")
    assert content["protocol_version"] == ("5.4" if new else "5.0")
    assert reply["header"]["version"] == ("5.4" if new else "5.3")


# --- execution --------------------------------------------------------------------------
def test_execute_result_and_streams(kc):
    msg_id, reply, msgs = execute(kc, 'println("hi"); println(stderr, "oops"); 1 + 1')
    assert reply["content"]["status"] == "ok"
    streams = {}  # one print may arrive in several chunks
    for m in msgs:
        if m["msg_type"] == "stream":
            streams[m["content"]["name"]] = streams.get(m["content"]["name"], "") + m["content"]["text"]
    assert streams == {"stdout": "hi\n", "stderr": "oops\n"}
    results = [m for m in msgs if m["msg_type"] == "execute_result"]
    assert results[0]["content"]["data"] == {"text/plain": "2"}
    assert results[0]["content"]["execution_count"] == reply["content"]["execution_count"]
    # all of it parented to the request, with the requesting client's session
    for m in msgs:
        assert m["parent_header"]["msg_id"] == msg_id
        assert m["header"]["session"] == kc.session.session


def test_output_printed_before_the_reply(kc):
    code = 'for i in 1:3; println("line ", i); flush(stdout); sleep(0.1); end; print("no newline")'
    _, reply, msgs = execute(kc, code)
    text = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    assert text == "line 1\nline 2\nline 3\nno newline"
    assert not [m for m in msgs if m["msg_type"] == "execute_result"]  # print returns nothing


def test_error_comes_back_as_error_reply(kc):
    _, reply, msgs = execute(kc, "undefined_name_xyz + 1")
    c = reply["content"]
    # IJulia: ename is the type thrown by include_string (LoadError), evalue the inner error
    assert (c["status"], c["ename"]) == ("error", "LoadError")
    assert "UndefVarError: undefined_name_xyz not defined" in c["evalue"]
    assert c["traceback"][0] == c["evalue"]
    errors = [m for m in msgs if m["msg_type"] == "error"]
    assert errors and errors[0]["content"]["evalue"] == c["evalue"]
    _, reply, _ = execute(kc, 'error("boom")')
    assert reply["content"]["evalue"] == "boom"


def test_semicolon_hides_the_result_but_sets_ans(kc):
    _, reply, msgs = execute(kc, "40 + 2;")
    assert reply["content"]["status"] == "ok"
    assert not [m for m in msgs if m["msg_type"] == "execute_result"]
    assert result_text(kc, "ans") == "42"


# --- (d) ans, silent requests, execution_count ----------------------------------------
def test_silent_request_overwrites_ans_and_prints_nothing(kc):
    assert result_text(kc, "41 + 1") == "42"
    msg_id, reply, msgs = execute(kc, "7", silent=True, store_history=False)
    assert reply["content"]["status"] == "ok"
    assert [m["msg_type"] for m in msgs] == ["status", "status"]  # busy, idle: nothing else
    assert result_text(kc, "ans") == "7"  # IJulia overwrites ans on every execute request


def test_code_ending_in_ijulia_ans_keeps_the_users_ans(kc):
    assert result_text(kc, '"users value"') == '"users value"'
    execute(kc, "injected_marker_xyz = 1\nMain.IJulia.ans", silent=True, store_history=False)
    assert result_text(kc, "ans") == '"users value"'


def test_execution_count(kc):
    _, first, _ = execute(kc, "1")
    n = first["content"]["execution_count"]
    _, silent, msgs = execute(kc, "2", silent=True, store_history=False)
    assert silent["content"]["execution_count"] == n
    _, after, _ = execute(kc, "3")
    assert after["content"]["execution_count"] == n + 1
    # IJulia quirk: a NON-silent request counts even with store_history=false (n += 1 on
    # !silent). JupyterLab's injection is silent, so it never counts.
    _, nohist, _ = execute(kc, "4", store_history=False)
    assert nohist["content"]["execution_count"] == n + 2


# --- (a), (b) comms ---------------------------------------------------------------------
def test_ready_and_replies_are_parented_to_the_last_execute_request(kc):
    register_echo(kc, "echo_a")
    last_id, _, _ = execute(kc, "nothing")
    comm_id = open_comm(kc, "echo_a")
    ready = wait_comm(kc, comm_id)
    assert ready["content"] == {"comm_id": comm_id, "data": {"ready": True}}
    assert ready["parent_header"]["msg_id"] == last_id
    assert ready["header"]["session"] == kc.session.session
    sent = send(kc, "comm_msg", {"comm_id": comm_id, "data": {"id": 1, "x": [1, "two", None]}})
    echo = wait_comm(kc, comm_id)
    assert echo["content"]["data"] == {"echo": {"id": 1, "x": [1, "two", None]}}
    assert echo["parent_header"]["msg_id"] == last_id != sent["header"]["msg_id"]


def test_replies_follow_another_clients_execute_request(kernel, kc):
    km = kernel[0]
    register_echo(kc, "echo_b")
    comm_id = open_comm(kc, "echo_b")
    wait_comm(kc, comm_id)
    other = BlockingKernelClient()  # a second frontend (a console, another tab): own session
    other.load_connection_info(km.get_connection_info())
    other.start_channels()
    try:
        assert other.session.session != kc.session.session
        time.sleep(0.5)  # let its IOPub subscription settle
        other_id, reply, _ = execute(other, "1 + 1")
        assert reply["content"]["status"] == "ok"
        drain(kc)
        send(kc, "comm_msg", {"comm_id": comm_id, "data": {"n": 1}})
        for client in (kc, other):  # IOPub: both clients receive it
            echo = wait_comm(client, comm_id)
            assert echo["content"]["data"] == {"echo": {"n": 1}}
            assert echo["parent_header"]["msg_id"] == other_id
            assert echo["header"]["session"] == other.session.session  # not kc's session
    finally:
        other.stop_channels()


def test_comm_opened_before_registration_stays_dead(kc):
    early = open_comm(kc, "echo_late")
    assert_silence(kc, early)  # accepted silently: no comm_close, no error, nothing
    register_echo(kc, "echo_late")
    send(kc, "comm_msg", {"comm_id": early, "data": {"n": 1}})
    assert_silence(kc, early)  # still dead after the target exists
    fresh = open_comm(kc, "echo_late")
    assert wait_comm(kc, fresh)["content"]["data"] == {"ready": True}


def test_comm_info_reply_on_shell_from_1_27_on_iopub_before(kc, gen):
    register_echo(kc, "echo_info")
    comm_id = open_comm(kc, "echo_info")
    wait_comm(kc, comm_id)
    msg_id = kc.comm_info(target_name="echo_info")
    if at_least(gen, "1.27"):  # v1.27.0 src/comm_manager.jl:62: send_ipython(sock, ...)
        reply = shell_reply(kc, msg_id)["content"]
        assert reply["status"] == "ok"
    else:  # v1.24.2 src/comm_manager.jl:62-63: on IOPub; the shell never answers
        reply = iopub_until(kc, lambda m: m["msg_type"] == "comm_info_reply")[-1]
        assert reply["parent_header"]["msg_id"] == msg_id
        reply = reply["content"]
        assert "status" not in reply  # msg_reply adds it from v1.27.0 src/msg.jl:42
        with pytest.raises(queue.Empty):
            kc.get_shell_msg(timeout=1.5)
    comms = reply["comms"]
    assert comms[comm_id] == {"target_name": "echo_info"}
    assert all(v["target_name"] == "echo_info" for v in comms.values())


def test_unknown_request_type(kc, gen):
    last_id, _, _ = execute(kc, "1")
    msg = send(kc, "frobnicate_request", {})
    msgs = iopub_until(kc, is_idle_for(msg["header"]["msg_id"]))
    errors = [m for m in msgs if m["msg_type"] == "error"]
    if at_least(gen, "1.25"):  # ignored: v1.25.0 src/eventloop.jl:8, src/handlers.jl:277
        assert errors == []
    else:  # v1.24.2 src/eventloop.jl:8: handlers[...] throws KeyError -> KERNEL EXCEPTION
        assert errors[0]["content"]["ename"] == "KeyError"
        assert errors[0]["content"]["traceback"][0] == "KERNEL EXCEPTION"
        assert errors[0]["parent_header"]["msg_id"] == last_id
    assert result_text(kc, "1 + 1") == "2"


def test_callback_exception_is_a_kernel_exception(kc):
    code = """
    IJulia.CommManager.register_comm(c::IJulia.CommManager.Comm{:thrower}, msg) =
        (c.on_msg = m -> error("callback failed"))
    """
    last_id, _, _ = execute(kc, code)
    comm_id = open_comm(kc, "thrower")
    send(kc, "comm_msg", {"comm_id": comm_id, "data": {}})
    err = iopub_until(kc, lambda m: m["msg_type"] == "error")[-1]
    assert err["content"]["traceback"][:2] == ["KERNEL EXCEPTION", "callback failed"]
    assert err["parent_header"]["msg_id"] == last_id
    assert result_text(kc, "1") == "1"  # the kernel goes on


def test_large_reply(kc):
    register_echo(kc, "echo_big")
    comm_id = open_comm(kc, "echo_big")
    wait_comm(kc, comm_id)
    big = "é" * 300_000  # bigger than a pipe buffer, non-ASCII
    send(kc, "comm_msg", {"comm_id": comm_id, "data": {"s": big}})
    assert wait_comm(kc, comm_id)["content"]["data"] == {"echo": {"s": big}}


# --- (c) one queue ----------------------------------------------------------------------
def test_comm_message_waits_behind_a_running_cell(kc):
    register_echo(kc, "echo_c")
    comm_id = open_comm(kc, "echo_c")
    wait_comm(kc, comm_id)
    t0 = time.monotonic()
    cell_id = kc.execute("sleep(2); 3")
    time.sleep(0.2)
    send(kc, "comm_msg", {"comm_id": comm_id, "data": {"q": 1}})
    msgs = iopub_until(kc, lambda m: m["msg_type"] == "comm_msg"
                       and m["content"]["comm_id"] == comm_id)
    reply = shell_reply(kc, cell_id)
    kinds = [(m["msg_type"], m["parent_header"].get("msg_id")) for m in msgs]
    assert kinds.index(("execute_result", cell_id)) < len(kinds) - 1
    assert ("status", cell_id) in kinds[:-1]  # the cell's idle came before the echo
    assert msgs[-1]["received"] - t0 >= 1.9
    assert msgs[-1]["parent_header"]["msg_id"] == cell_id  # the last execute request
    assert reply["content"]["status"] == "ok"


def test_unsolicited_comm_message_during_a_cell(kc):
    register_echo(kc, "echo_d")
    comm_id = open_comm(kc, "echo_d")
    wait_comm(kc, comm_id)
    code = (f'IJulia.CommManager.send_comm(IJulia.CommManager.comms["{comm_id}"], '
            'Dict("snapshot" => 1)); sleep(1); :done')
    cell_id, reply, msgs = execute(kc, code)
    kinds = [m["msg_type"] for m in msgs]
    assert kinds.index("comm_msg") < kinds.index("execute_result")  # sent while running
    assert comm_msgs(msgs, comm_id)[0]["parent_header"]["msg_id"] == cell_id


# --- (e), (g) restart -------------------------------------------------------------------
def test_restart_forgets_comms(gen):
    km, kc = start(gen)
    try:
        execute(kc, ECHO % "echo_r" + "\nbefore = 1")
        old = open_comm(kc, "echo_r")
        wait_comm(kc, old)
        pid = int(result_text(kc, "getpid()"))
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        with pytest.raises(ProcessLookupError):  # the old Julia process is gone
            os.kill(pid, 0)
        assert result_text(kc, "isdefined(Main, :IJulia), @isdefined(before)") == "(true, false)"
        send(kc, "comm_msg", {"comm_id": old, "data": {}})
        assert_silence(kc, old)  # ignored
        last_id, _, _ = execute(kc, "1")
        send(kc, "comm_close", {"comm_id": old, "data": {}})
        err = iopub_until(kc, lambda m: m["msg_type"] == "error")[-1]["content"]
        assert err["ename"] == "KeyError"
        assert err["traceback"][0] == "KERNEL EXCEPTION" and old in err["evalue"]
        assert result_text(kc, "2") == "2"  # the kernel is still serving
    finally:
        stop(km, kc)
    assert not km.is_alive()


def test_interrupt_stops_a_running_cell(kc, kernel):
    km = kernel[0]
    # (a loop without a safepoint, like `while true end`, cannot be interrupted in IJulia either)
    cell_id = kc.execute("x = 0; while true; global x += 1; end")
    time.sleep(1)
    km.interrupt_kernel()
    reply = shell_reply(kc, cell_id)["content"]
    assert reply["status"] == "error" and "InterruptException" in reply["evalue"]
    assert result_text(kc, "1 + 1") == "2"


# --- what execute_request does to code, per generation --------------------------------
def test_special_mode_strip_from_1_32(kc, gen):
    """v1.32.0 src/execute_request.jl:37-75,106: whole-line comments are stripped from a
    cell whose one other line is a special mode (`;`, `]`, `?`); before, such a cell is
    Julia code."""
    _, reply, msgs = execute(kc, "# say hi\n; echo hi from the shell")
    text = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    if at_least(gen, "1.32"):
        assert reply["content"]["status"] == "ok" and text == "hi from the shell\n"
    else:
        assert reply["content"]["status"] == "error"
    # a `;` cell without comments is a shell command in every generation
    _, reply, msgs = execute(kc, "; echo plain")
    assert "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream") == "plain\n"


def test_hooks_run_around_every_request_silent_ones_too(kc):
    """Every generation runs the pre/post-execute hooks around EVERY execute request
    (v1.24.2 src/execute_request.jl:58-60,100-102; v1.34.4 :123,164), silent ones too."""
    execute(kc, "hook_count = Ref(0); hook_f = () -> (hook_count[] += 1); "
                "IJulia.push_preexecute_hook(hook_f); IJulia.push_postexecute_hook(hook_f);")
    before = int(result_text(kc, "hook_count[]"))  # read between this request's two hooks
    _, reply, msgs = execute(kc, "1", silent=True, store_history=False)
    assert [m["msg_type"] for m in msgs] == ["status", "status"]
    # post of the read (+1), pre and post of the silent request (+2), pre of this read (+1)
    assert int(result_text(kc, "hook_count[]")) == before + 4
    execute(kc, "IJulia.pop_preexecute_hook(hook_f); IJulia.pop_postexecute_hook(hook_f);")
    # a pre-execute hook that throws fails the request, silent or not (IJulia's try block)
    execute(kc, 'hook_armed = Ref(true); bad_hook = () -> hook_armed[] && '
                '(hook_armed[] = false; error("hook failed")); IJulia.push_preexecute_hook(bad_hook);')
    _, reply, _ = execute(kc, "2", silent=True, store_history=False)
    assert reply["content"]["status"] == "error" and "hook failed" in reply["content"]["evalue"]
    assert result_text(kc, "IJulia.pop_preexecute_hook(bad_hook); 3") == "3"


def test_the_extension_works_end_to_end(kc, gen):
    """The shipped deardiary.jl, injected as the extension does, through this generation's
    execute_request (hooks, special_mode_strip): ready, a reply, @snapshot from a cell."""
    code = (REPO / "src" / "kernel" / "julia" / "deardiary.jl").read_text()
    assert result_text(kc, '"users value"') == '"users value"'
    _, reply, msgs = execute(kc, code, silent=True, store_history=False, allow_stdin=False,
                             stop_on_error=False)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert [m["msg_type"] for m in msgs] == ["status", "status"]  # printed nothing
    comm_id = open_comm(kc, "deardiary")
    ready = json.loads(wait_comm(kc, comm_id)["content"]["data"]["json"])
    assert ready["type"] == "ready" and ready["protocol"] == 1
    send(kc, "comm_msg", {"comm_id": comm_id, "data": {"id": "p1", "op": "ping"}})
    pong = json.loads(wait_comm(kc, comm_id)["content"]["data"]["json"])
    assert pong == {"type": "reply", "id": "p1", "ok": True,
                    "result": {"pong": True, "protocol": 1}}
    cell_id = kc.execute('@snapshot "from a cell"')
    msgs = iopub_until(kc, is_idle_for(cell_id))
    snaps = [json.loads(m["content"]["data"]["json"]) for m in comm_msgs(msgs, comm_id)]
    assert [s["type"] for s in snaps] == ["snapshot"] and snaps[0]["note"] == "from a cell"
    assert shell_reply(kc, cell_id)["content"]["status"] == "ok"
    out = "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream")
    assert out == f"DearDiary: snapshot {snaps[0]['snapshot_id'][:8]} sent to 1 notebook view\n"
    send(kc, "comm_close", {"comm_id": comm_id, "data": {}})
    cell_id = kc.execute("@snapshot")  # nobody listens any more
    msgs = iopub_until(kc, is_idle_for(cell_id))
    assert comm_msgs(msgs, comm_id) == []
    assert "no JupyterLab" in "".join(m["content"].get("text", "") for m in msgs
                                      if m["msg_type"] == "stream")
