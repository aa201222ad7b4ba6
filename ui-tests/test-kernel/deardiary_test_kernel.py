"""TEST-ONLY Jupyter kernel that presents itself as Julia (never shipped; see README.md).

It runs every execute request for real in a Julia 1.5 process (driver.jl) and stands in
only for IJulia's message glue, imitating the IJulia 1.x behaviours the jupyterlab-deardiary
frontend depends on. Written directly on pyzmq + jupyter_client's Session, not on ipykernel,
because IJulia's quirks are about headers and queueing, which ipykernel decides for us:

* every message the kernel sends copies `session` and `username` from the header of the
  message it answers (IJulia's msg_header(m, msg_type)), and comm messages sent by Julia
  (`send_comm`), stream output and handler errors are parented to the LAST EXECUTE REQUEST,
  whichever client sent it (IJulia's global `execute_msg`);
* one queue: the shell socket is not read while Julia works on a request, so a comm
  message waits behind a running cell and shell messages are handled in order
  (IJulia's eventloop on the requests socket). The control socket is always served.

It imitates one IJulia GENERATION, chosen by $DEARDIARY_IJULIA_GEN (the kernelspecs
deardiary-test-julia-gen130 / -gen134 set it; default "1.24"): "1.24" (IJulia 1.24.x),
"1.30" (1.27-1.30), "1.34" (1.31-1.34). What differs here, on the Python side, is cited
below (IJulia file:line at the tag); the Julia side is IJuliaStandin.jl.

Usage (what the kernelspec runs): python deardiary_test_kernel.py -f CONNECTION_FILE
Julia: $DEARDIARY_TEST_JULIA, else <repo>/.cache/julia/bin/julia (scripts/get-julia.sh).
"""
from __future__ import annotations

import argparse
import codecs
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path

import zmq
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
IMPLEMENTATION = "deardiary-test-julia"
SYNC = re.compile(rb"\x00\x1bDDSYNC:(\d+)\x00")  # written by driver.jl after each request
SYNC_HEAD = b"\x00\x1bDDSYNC:"
SYNC_GRACE = 2.0  # seconds to wait for the sync marker after `done` (if user code broke fd 1)

GENERATIONS = ("1.24", "1.30", "1.34")  # as IJuliaStandin.jl


def generation() -> str:
    gen = os.environ.get("DEARDIARY_IJULIA_GEN") or "1.24"
    if gen not in GENERATIONS:
        raise SystemExit(f"DEARDIARY_IJULIA_GEN={gen!r}: the test kernel imitates "
                         f"IJulia {', '.join(GENERATIONS)} only")
    return gen


def at_least(gen: str, version: str) -> bool:
    return tuple(map(int, gen.split("."))) >= tuple(map(int, version.split(".")))


def julia_command() -> list[str]:
    julia = os.environ.get("DEARDIARY_TEST_JULIA") or str(REPO / ".cache" / "julia" / "bin" / "julia")
    # IJulia's kernelspec runs `julia -i --color=yes --project=@. kernel.jl`: interactive,
    # and the active project found from the kernel's working directory (the notebook's).
    # DEARDIARY_TEST_KERNEL_PROJECT (set by the "noproject" spec) replaces "@."; empty: none.
    project = os.environ.get("DEARDIARY_TEST_KERNEL_PROJECT", "@.")
    return [julia, "-i", "--color=yes", *([f"--project={project}"] if project else []), "--startup-file=no"]


def log(*args: object) -> None:
    print("[deardiary-test-kernel]", *args, file=sys.stderr, flush=True)


class Kernel:
    def __init__(self, connection_file: str) -> None:
        with open(connection_file) as f:
            cfg = json.load(f)
        self.gen = generation()
        # Header version: "5.3" in v1.24.2 src/msg.jl:23, "5.4" from v1.27.0 src/msg.jl:30
        # (v1.34.4 src/msg.jl:15); kernel_info's protocol_version "5.0" in v1.24.2
        # src/handlers.jl:159, "5.4" from v1.27.0 src/handlers.jl:179 (v1.34.4 :186).
        new = at_least(self.gen, "1.27")
        self.header_version, self.protocol_version = ("5.4", "5.4") if new else ("5.3", "5.0")
        # comm_info_reply on the requesting socket (shell) from v1.27.0
        # src/comm_manager.jl:62; on IOPub before (v1.24.2 src/comm_manager.jl:62-63).
        self.comm_info_on_shell = new
        # Unknown request types: a KeyError (KERNEL EXCEPTION) in v1.24.2
        # src/eventloop.jl:8; ignored from v1.25.0 src/eventloop.jl:8 (unknown_request,
        # src/handlers.jl:277; v1.34.4 src/eventloop.jl:26, src/handlers.jl:442).
        self.unknown_ignored = at_least(self.gen, "1.25")
        self.session = Session(
            key=cfg["key"].encode(), signature_scheme=cfg.get("signature_scheme", "hmac-sha256")
        )
        self.ctx = zmq.Context()

        def url(port: int) -> str:
            if cfg.get("transport", "tcp") == "ipc":
                return f"ipc://{cfg['ip']}-{port}"
            return f"tcp://{cfg['ip']}:{port}"

        self.shell = self.ctx.socket(zmq.ROUTER)
        self.control = self.ctx.socket(zmq.ROUTER)
        self.stdin = self.ctx.socket(zmq.ROUTER)  # bound, never used (no input_request)
        self.iopub = self.ctx.socket(zmq.PUB)
        for sock, name in ((self.shell, "shell_port"), (self.control, "control_port"),
                           (self.stdin, "stdin_port"), (self.iopub, "iopub_port")):
            sock.linger = 1000
            sock.bind(url(cfg[name]))
        hb = self.ctx.socket(zmq.REP)
        hb.linger = 0
        hb.bind(url(cfg["hb_port"]))
        threading.Thread(target=self._heartbeat, args=(hb,), daemon=True).start()

        # IJulia's initial execute_msg, the parent of anything sent before the first
        # execute request: Msg(["julia"], Dict("username"=>"jlkernel","session"=>uuid4()))
        self.last_execute: dict = {"username": "jlkernel", "session": str(uuid.uuid4())}
        self.execution_count = 0
        self.julia_version = "?"
        self.seq = 0
        self.job: dict | None = {"kind": "startup"}  # shell waits until Julia is ready
        self.synced = {"stdout": 0, "stderr": 0}
        self.buf = {"stdout": b"", "stderr": b""}
        self.event_chunks: list[bytes] = []
        self.dec = {n: codecs.getincrementaldecoder("utf-8")("replace") for n in ("stdout", "stderr")}
        self._start_julia()

    # --- Julia process ------------------------------------------------------------------
    def _start_julia(self) -> None:
        """Start Julia at once (it needs ~1.2 s) so that it is ready by the first request."""
        evt_r, evt_w = os.pipe()
        self.julia = subprocess.Popen(
            [*julia_command(), str(HERE / "driver.jl"), str(evt_w)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(evt_w,),
        )
        os.close(evt_w)
        self.fds = {evt_r: "events", self.julia.stdout.fileno(): "stdout",
                    self.julia.stderr.fileno(): "stderr"}
        self.poller = zmq.Poller()
        self.poller.register(self.control, zmq.POLLIN)
        for fd in self.fds:
            self.poller.register(fd, zmq.POLLIN)

    def _to_julia(self, kind: str, **fields: object) -> None:
        self.seq += 1
        line = json.dumps({"seq": self.seq, "kind": kind, **fields}, default=json_default)
        self.julia.stdin.write(line.encode() + b"\n")  # ASCII: json.dumps escapes the rest
        self.julia.stdin.flush()

    @staticmethod
    def _heartbeat(sock: zmq.Socket) -> None:
        try:
            while True:
                sock.send(sock.recv())
        except zmq.ZMQError:
            pass

    # --- sending, the IJulia way --------------------------------------------------------
    def send(self, sock: zmq.Socket, msg_type: str, content: dict, parent: dict,
             ident: list | bytes | None = None) -> None:
        """IJulia's msg_pub/msg_reply: header.session and username come from `parent`."""
        header = {
            "msg_id": uuid.uuid4().hex,
            "username": parent.get("username", "jlkernel"),
            "session": parent.get("session", ""),
            "date": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "msg_type": msg_type,
            "version": self.header_version,
        }
        msg = {"header": header, "msg_id": header["msg_id"], "msg_type": msg_type,
               "parent_header": parent, "metadata": {}, "content": content}
        if ident is None:  # IOPub topic: the msg_type, or the stream name for streams
            ident = (content["name"] if msg_type == "stream" else msg_type).encode()
        self.session.send(sock, msg, ident=ident)

    def publish(self, msg_type: str, content: dict, parent: dict) -> None:
        self.send(self.iopub, msg_type, content, parent)

    def status(self, state: str, parent: dict) -> None:
        self.publish("status", {"execution_state": state}, parent)

    # --- main loop ----------------------------------------------------------------------
    def run(self) -> None:
        while True:
            # Read the shell socket only while Julia is idle: that is the single queue.
            self.poller.register(self.shell, zmq.POLLIN if self.job is None else 0)
            ready = dict(self.poller.poll(100 if self.job and self.job.get("reply") else None))
            for fd, name in list(self.fds.items()):
                if fd in ready:
                    self._read_fd(fd, name)
            while (got := self.session.recv(self.control, zmq.NOBLOCK))[1] is not None:
                self._guarded(self.on_control, *got)
            self._maybe_finish()
            if self.job is None and self.shell in ready:
                idents, msg = self.session.recv(self.shell, zmq.NOBLOCK)
                if msg is not None:
                    self._guarded(self.on_shell, idents, msg)

    @staticmethod
    def _guarded(handler, idents: list, msg: dict) -> None:
        """A malformed message is logged, not fatal: a dead test kernel explains nothing."""
        try:
            handler(idents, msg)
        except Exception:
            log("failed to handle", msg.get("header", {}).get("msg_type"), "\n" + traceback.format_exc())

    def _read_fd(self, fd: int, name: str) -> None:
        data = os.read(fd, 1 << 16)
        if not data:
            if name == "events":  # Julia is gone: exit so that jupyter notices and restarts
                code = self.julia.wait()
                log(f"julia exited with code {code}")
                self.shutdown(code or 1)
            self.poller.unregister(fd)
            del self.fds[fd]
            return
        if name == "events":  # one JSON object per line; a line may be megabytes long
            if b"\n" not in data:
                self.event_chunks.append(data)
                return
            first, *lines, rest = data.split(b"\n")
            lines.insert(0, b"".join([*self.event_chunks, first]))
            self.event_chunks = [rest]
            for line in lines:
                try:
                    ev = json.loads(line)
                except ValueError:
                    log("undecodable event from julia:", line[:500])
                    continue
                self.on_event(ev)
        else:
            if self.job and self.job["kind"] == "startup":
                # Before IJulia redirects stdio its output goes to the kernel's own log (e.g.
                # the reset code `-i --color=yes` prints, or why Julia failed to start).
                sys.stderr.buffer.write(data)
                sys.stderr.flush()
            else:
                self._on_output(name, data)

    def _on_output(self, name: str, data: bytes) -> None:
        """User output, published as `stream` with the last execute request as parent
        (IJulia's stdio forwarding uses execute_msg). Strips the sync markers."""
        buf = self.buf[name] + data
        out, pos = [], 0
        for m in SYNC.finditer(buf):
            out.append(buf[pos:m.start()])
            pos = m.end()
            self.synced[name] = max(self.synced[name], int(m.group(1)))
        rest = buf[pos:]
        cut = rest.rfind(b"\x00")  # keep back what may be the start of a marker
        tail = rest[cut:] if cut >= 0 else b""
        partial = tail and (SYNC_HEAD.startswith(tail) if len(tail) <= len(SYNC_HEAD)
                            else tail.startswith(SYNC_HEAD) and tail[len(SYNC_HEAD):].isdigit())
        if partial:
            out.append(rest[:cut])
            self.buf[name] = tail
        else:
            out.append(rest)
            self.buf[name] = b""
        text = self.dec[name].decode(b"".join(out))
        if text:
            self.publish("stream", {"name": name, "text": text}, self.last_execute)

    def on_event(self, ev: dict) -> None:
        kind = ev.get("kind")
        if kind == "ready":
            self.julia_version = ev["julia_version"]
            if ev.get("generation") != self.gen:
                log(f"julia imitates IJulia {ev.get('generation')}, python {self.gen}")
            self.job = None
        elif kind == "comm":
            # IJulia's send_comm: msg_pub(execute_msg, "comm_msg", {comm_id, data})
            self.publish("comm_msg", ev["msg"], self.last_execute)
        elif kind == "done" and self.job and ev.get("seq") == self.job.get("seq"):
            self.job["reply"] = ev
            self.job["done_at"] = time.monotonic()
        else:
            log("unexpected event from julia:", ev)

    def _maybe_finish(self) -> None:
        job = self.job
        if not job or "reply" not in job:
            return
        synced = all(n >= job["seq"] for n in self.synced.values())
        if not synced and time.monotonic() - job["done_at"] < SYNC_GRACE:
            return
        if not synced:
            log("no output sync marker from julia; finishing the request anyway")
        self.job = None
        reply, msg, idents = job["reply"], job["msg"], job["idents"]
        parent = msg["header"]
        if job["kind"] == "execute":
            n = self.execution_count
            if reply["status"] == "ok":
                if reply.get("data") is not None:
                    self.publish("execute_result", {"execution_count": n, "data": reply["data"],
                                                    "metadata": {}}, parent)
                content = {"status": "ok", "execution_count": n, "payload": [],
                           "user_expressions": {}}
            else:
                err = {k: reply[k] for k in ("ename", "evalue", "traceback")}
                self.publish("error", err, parent)
                content = {"status": "error", "execution_count": n, **err}
            self.send(self.shell, "execute_reply", content, parent, idents)
        elif job["kind"] == "comm_info":
            if self.comm_info_on_shell:
                # msg_reply merges "status" => "ok" from v1.27.0 src/msg.jl:42
                self.send(self.shell, "comm_info_reply",
                          {"status": "ok", "comms": reply["comms"]}, parent, idents)
            else:
                # v1.24.2 src/comm_manager.jl:62-63: msg_reply (the request's idents, no
                # status, src/msg.jl:34-35) sent on the PUB socket: the frontend's shell
                # never gets a reply (its idents become the IOPub topic).
                self.send(self.iopub, "comm_info_reply", {"comms": reply["comms"]}, parent,
                          idents)
        elif reply.get("status") == "kernel_exception":
            self.kernel_exception(reply)
        self.status("idle", parent)

    def kernel_exception(self, err: dict) -> None:
        """IJulia's eventloop: print the traceback to the kernel's own stderr and publish
        `error` with the LAST EXECUTE REQUEST as parent (not the failing message)."""
        for line in err["traceback"]:
            print(line, file=sys.stderr, flush=True)
        self.publish("error", {k: err[k] for k in ("ename", "evalue", "traceback")},
                     self.last_execute)

    # --- shell ------------------------------------------------------------------------
    def on_shell(self, idents: list, msg: dict) -> None:
        msg_type, parent, content = msg["header"]["msg_type"], msg["header"], msg["content"]
        self.status("busy", parent)
        if msg_type == "execute_request":
            self.last_execute = parent  # IJulia: `global execute_msg = msg`, first thing
            code = content.get("code", "")
            if not content.get("silent", False):
                # IJulia increments n for every non-silent request (store_history or not)
                self.execution_count += 1
                self.publish("execute_input", {"code": code,
                                               "execution_count": self.execution_count}, parent)
            self._to_julia("execute", code=code, silent=bool(content.get("silent", False)),
                           n=self.execution_count)
        elif msg_type in ("comm_open", "comm_msg", "comm_close"):
            self._to_julia(msg_type, header=parent, content=content,
                           parent_header=msg["parent_header"], metadata=msg["metadata"])
        elif msg_type == "comm_info_request":
            # Replied on shell from 1.27, on IOPub before (see _maybe_finish).
            fields = {"target_name": content["target_name"]} if content.get("target_name") else {}
            self._to_julia("comm_info", **fields)
        else:
            self.answer(self.shell, idents, msg)
            self.status("idle", parent)
            return
        self.job = {"kind": msg_type.removesuffix("_request"), "seq": self.seq,
                    "msg": msg, "idents": idents}

    def answer(self, sock: zmq.Socket, idents: list, msg: dict) -> None:
        """Requests that need no Julia (on shell or control)."""
        msg_type, parent, content = msg["header"]["msg_type"], msg["header"], msg["content"]
        if msg_type == "kernel_info_request":
            self.send(sock, "kernel_info_reply", self.kernel_info(), parent, idents)
        elif msg_type == "shutdown_request":
            # IJulia replies on the shell socket even for control; we use the request's.
            self.send(sock, "shutdown_reply", {"status": "ok",
                                               "restart": bool(content.get("restart"))},
                      parent, idents)
            self.shutdown(0)
        elif msg_type == "is_complete_request":
            self.send(sock, "is_complete_reply", {"status": "unknown"}, parent, idents)
        elif msg_type == "complete_request":
            pos = content.get("cursor_pos", 0)
            self.send(sock, "complete_reply", {"status": "ok", "matches": [], "cursor_start": pos,
                                               "cursor_end": pos, "metadata": {}}, parent, idents)
        elif msg_type == "inspect_request":
            self.send(sock, "inspect_reply", {"status": "ok", "found": False, "data": {},
                                              "metadata": {}}, parent, idents)
        elif msg_type == "history_request":
            self.send(sock, "history_reply", {"status": "ok", "history": []}, parent, idents)
        elif self.unknown_ignored:
            log("unknown message type", msg_type)  # IJulia >= 1.25: @vprintln, nothing sent
        else:
            # IJulia 1.24 looks the handler up in a Dict: an unknown type is a KeyError,
            # shown as a KERNEL EXCEPTION.
            evalue = f'KeyError: key "{msg_type}" not found'
            self.kernel_exception({"ename": "KeyError", "evalue": evalue,
                                   "traceback": ["KERNEL EXCEPTION", evalue]})

    def kernel_info(self) -> dict:
        return {
            "status": "ok",
            "protocol_version": self.protocol_version,
            "implementation": IMPLEMENTATION,
            "implementation_version": "0.0.0-test",
            "language_info": {"name": "julia", "version": self.julia_version,
                              "mimetype": "application/julia", "file_extension": ".jl"},
            "banner": f"TEST-ONLY deardiary kernel: Julia {self.julia_version} with stand-in "
                      f"IJulia comm glue imitating IJulia {self.gen} (not IJulia)",
            "help_links": [],
        }

    # --- control ----------------------------------------------------------------------
    def on_control(self, idents: list, msg: dict) -> None:
        parent = msg["header"]
        self.status("busy", parent)
        if parent["msg_type"] == "interrupt_request":
            # kernel.json says interrupt_mode "message", so jupyter_client asks us here and
            # we signal Julia only while it runs a cell (see README: best effort).
            if self.job and self.job["kind"] == "execute":
                os.kill(self.julia.pid, signal.SIGINT)
            self.send(self.control, "interrupt_reply", {"status": "ok"}, parent, idents)
        else:
            self.answer(self.control, idents, msg)
        self.status("idle", parent)

    def shutdown(self, code: int) -> None:
        try:
            self.julia.stdin.close()  # driver.jl ends its loop on EOF
            self.julia.wait(timeout=1)
        except Exception:
            self.julia.kill()
        time.sleep(0.1)  # like IJulia: give the last messages a moment to leave
        os._exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", dest="connection_file", required=True)
    args = parser.parse_args()
    kernel = Kernel(args.connection_file)  # starts Julia, which must not inherit SIG_IGN
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts arrive as interrupt_request
    kernel.run()


if __name__ == "__main__":
    main()
