"""Benchmark the server's store through its endpoints (issue 13, S-F and S-B).

    python bench/bench_store.py [--writers 4] [--runs 100] [--rounds 3] [--growth-runs 200]
                                [--only F|B]

Each part runs its own real `jupyter server` with the extension, in a throw-away root,
and talks to it over HTTP as the browser does (docs/store.md): POST /deardiary/blobs/missing,
PUT /deardiary/blobs/<sha256> for each blob the store lacks, POST /deardiary/runs.

S-F  `--writers` writers (threads, each its own connection, notebook and environment) add
     `--runs` runs each at the same time. Checked: every run stored once (GET
     /deardiary/runs), 0 lost, `PRAGMA integrity_check` ok; printed: p50/p95 per add (the
     three requests), and the same add by one writer alone, measured in the same run.
     Target: p95 <= 3 x p50. `--rounds` rounds, each on a new store: every round's
     figures, then the median of their p95 / p50 ratios.
S-B  a ~1 MB notebook (150 code cells that never change, 10 figure outputs: base64 of random
     "PNG" bytes that change on every run), an unchanged 400-package manifest, `--growth-runs`
     runs. Per run: the bytes the store file grew (used pages x page size) and the chunk
     bytes added, against the zstd (level 3) size of what changed (the 10 new base64
     strings). Then 20 runs that change nothing, and 20 that edit one code cell.
     Target: growth <= 1.2 x compressed change; unchanged manifest and cells add ~0.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_git import Server  # noqa: E402
from seed_store import Environment, generated_manifest, record, sha  # noqa: E402

STORE = Path(".deardiary") / "deardiary.sqlite"


class Client:
    """One HTTP connection to the server, with its token."""

    def __init__(self, server: Server) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
        self.headers = {"Authorization": f"token {server.token}"}

    def request(
        self, method: str, url: str, body: bytes | None = None, ctype: str | None = None
    ) -> tuple[int, bytes]:
        headers = dict(self.headers)
        if ctype:
            headers["Content-Type"] = ctype
        self.conn.request(method, url, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, url: str, payload: Any) -> tuple[int, Any]:
        status, body = self.request(method, url, json.dumps(payload).encode(), "application/json")
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, body[:300]

    def add_run(self, rec: dict[str, Any], blobs: dict[str, bytes]) -> tuple[int, Any, int]:
        """Ask which blobs are missing, upload them, post the run (once more after a 409
        missing_blobs): (status, answer, bytes uploaded)."""
        status, answer = self.json("POST", "/deardiary/blobs/missing", {"sha256": list(blobs)})
        if status != 200:
            raise RuntimeError(f"blobs/missing: {status} {answer}")
        uploaded = 0
        for attempt in range(2):
            for digest in answer["missing"]:
                status, body = self.request(
                    "PUT", f"/deardiary/blobs/{digest}", blobs[digest], "application/octet-stream"
                )
                if status not in (200, 201):
                    raise RuntimeError(f"PUT blob: {status} {body[:300]!r}")
                uploaded += len(blobs[digest])
            status, answer = self.json("POST", "/deardiary/runs", rec)
            if status == 409 and attempt == 0 and answer.get("error") == "missing_blobs":
                continue
            return status, answer, uploaded
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def start(workdir: Path) -> tuple[Server, Path]:
    root = workdir / "root"
    root.mkdir()
    return Server(root, workdir), root / STORE


def column(columns: dict[str, Any], name: str) -> list[Any]:
    c = columns[name]
    return c if isinstance(c, list) else [c["values"][i] for i in c["index"]]


def stored_snapshots(client: Client) -> list[str]:
    status, body = client.request("GET", "/deardiary/runs")
    if status != 200:
        raise RuntimeError(f"GET /deardiary/runs: {status} {body[:300]!r}")
    return column(json.loads(body)["columns"], "snapshot_id")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))]


def small_env(w: int, packages: int) -> Environment:
    rng = random.Random(w)
    manifest = generated_manifest(packages, w, "1.10.4", rng).encode()
    return Environment("1.10.4", "Manifest.toml", manifest, f'name = "W{w}"\n'.encode(),
                       f"/home/u/work/writer-{w}", False)


def small_notebook(w: int, i: int) -> bytes:
    cells = [{"cell_type": "code", "execution_count": k, "metadata": {}, "id": f"c{k}",
              "source": [f"x{k} = rand(100)\n", f"println(sum(x{k}))"],
              "outputs": [{"name": "stdout", "output_type": "stream",
                           "text": [f"{(w * 1000 + i + k) * 0.618:.6f}\n" if k == 1 else
                                    f"{k * 0.5}\n"]}]}
             for k in range(1, 120)]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
                      indent=1).encode()


def bench_writers(
    workdir: Path, writers: int, runs: int, packages: int, label: str = ""
) -> tuple[list[str], float, bool]:
    server, store = start(workdir)
    start_time = datetime(2025, 1, 1, tzinfo=timezone.utc)
    try:
        envs = [small_env(w, packages) for w in range(writers + 1)]
        # Every payload is made before the clock starts.
        plans = [
            [record(snapshot_id=str(uuid.uuid4()), env=envs[w], notebook=f"w{w}/analysis.ipynb",
                    notebook_bytes=small_notebook(w, i),
                    created=start_time + timedelta(seconds=w * 10000 + i))
             for i in range(runs)]
            for w in range(writers + 1)
        ]
        # One writer alone first (the last plan), as the baseline of the same run.
        alone: list[float] = []
        client = Client(server)
        for rec, blobs in plans[writers]:
            t0 = time.perf_counter()
            status, answer, _ = client.add_run(rec, blobs)
            alone.append((time.perf_counter() - t0) * 1000)
            if status != 201:
                raise RuntimeError(f"POST /deardiary/runs: {status} {answer}")
        times: list[list[float]] = [[] for _ in range(writers)]
        statuses: list[list[int]] = [[] for _ in range(writers)]
        errors: list[str] = []
        barrier = threading.Barrier(writers)

        def writer(w: int) -> None:
            c = Client(server)
            try:
                barrier.wait()
                for rec, blobs in plans[w]:
                    t0 = time.perf_counter()
                    status, answer, _ = c.add_run(rec, blobs)
                    times[w].append((time.perf_counter() - t0) * 1000)
                    statuses[w].append(status)
                    if status != 201:
                        errors.append(f"writer {w}: {status} {answer}")
            except Exception as error:  # noqa: BLE001  (reported below)
                errors.append(f"writer {w}: {error!r}")
            finally:
                c.close()

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        stored = stored_snapshots(client)
        client.close()
        expected = {rec["snapshot_id"] for plan in plans[:writers] for rec, _ in plan}
        found = expected & set(stored)
        duplicates = len(stored) - len(set(stored))
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        integrity_live = db.execute("PRAGMA integrity_check").fetchone()[0]
        db.close()
    finally:
        server.stop()
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    flat = [t for ts in times for t in ts]
    total = writers * runs
    lines = [
        "",
        f"S-F{label}  {writers} writers x {runs} runs at once over HTTP (blobs/missing, PUT missing "
        f"blobs, POST run; ~{len(envs[0].manifest) // 1024} KB manifest, "
        f"~{len(small_notebook(0, 0)) // 1024} KB notebook)",
        f"  stored {len(found)} of {total}, lost {total - len(found)}, duplicates {duplicates}, "
        f"answers other than 201: {sum(s != 201 for ss in statuses for s in ss)}",
        f"  PRAGMA integrity_check: {integrity_live} (server running), {integrity} (stopped)",
    ]
    if flat:
        p50, p95 = pct(flat, 50), pct(flat, 95)
        lines += [
            f"  per add, {writers} at once: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max "
            f"{max(flat):.1f} ms; {total / wall:.0f} runs/s ({wall:.1f} s)",
            f"  per add, one writer alone (same run): p50 {pct(alone, 50):.1f} ms, "
            f"p95 {pct(alone, 95):.1f} ms",
            f"  p95 / p50 = {p95 / p50:.2f}   concurrent p50 / alone p50 = "
            f"{p50 / pct(alone, 50):.2f}",
            "  slowest adds (writer/run: ms; run 0 uploads its manifest): "
            + ", ".join(
                f"{w}/{i}: {t:.0f}"
                for t, w, i in sorted(
                    ((t, w, i) for w, ts in enumerate(times) for i, t in enumerate(ts)),
                    reverse=True,
                )[:6]
            ),
        ]
        ok = (len(found) == total and not duplicates and integrity == "ok" and
              integrity_live == "ok" and not errors)
        lines.append(f"  target: 400 stored, 0 lost, integrity ok ......... "
                     f"{'OK' if ok else 'MISSED'}")
        lines.append(f"  target: p95 <= 3 x p50 ........................... "
                     f"{'OK' if p95 <= 3 * p50 else 'MISSED'} ({p95 / p50:.2f}x)")
    for e in errors[:5]:
        lines.append(f"  error: {e[:300]}")
    ok = (len(found) == total and not duplicates and integrity == "ok" and
          integrity_live == "ok" and not errors)
    return lines, (pct(flat, 95) / pct(flat, 50) if flat else float("nan")), ok


FIGURES = 10
FIGURE_BYTES = 72 * 1024  # random bytes each; ~96 KB of base64


def figure(rng: random.Random) -> str:
    import base64

    data = b"\x89PNG\r\n\x1a\n" + rng.randbytes(FIGURE_BYTES - 8)
    return base64.b64encode(data).decode()


def big_notebook(figures: list[str], edit: int = 0) -> bytes:
    """~1 MB: 150 code cells that never change (cell 1's source ends with `edit` when
    not 0), `figures` (up to 10) as image/png outputs of every 15th cell."""
    cells = []
    f = 0
    for k in range(1, 151):
        outputs: list[dict[str, Any]] = [
            {"name": "stdout", "output_type": "stream", "text": [f"step {k}: {k * 0.25}\n"]}
        ]
        if k % 15 == 0 and f < len(figures):
            outputs.append({"output_type": "display_data", "metadata": {},
                            "data": {"image/png": figures[f], "text/plain": ["<Figure>"]}})
            f += 1
        source = [f"# step {k}\n", f"data{k} = load_data(\"part-{k}.csv\")\n",
                  f"model{k} = fit(data{k}; iterations = {k * 10})\n",
                  f"plot(model{k}, title = \"Model {k}\")"]
        if k == 1 and edit:
            source.append(f"\n# edit {edit}")
        cells.append({"cell_type": "code", "execution_count": k, "id": f"cell-{k}",
                      "metadata": {}, "source": source, "outputs": outputs})
    return json.dumps({"cells": cells, "metadata": {"kernelspec": {
        "name": "julia-1.10", "display_name": "Julia 1.10.4", "language": "julia"}},
        "nbformat": 4, "nbformat_minor": 5}, indent=1).encode()


def store_size(store: Path) -> tuple[int, int]:
    """(used pages x page size, sum of chunk data bytes) as committed (WAL included)."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
        chunks = db.execute("SELECT coalesce(sum(length(data)), 0) FROM chunk").fetchone()[0]
        return (pages - free) * size, chunks
    finally:
        db.close()


def bench_growth(workdir: Path, runs: int, packages: int) -> list[str]:
    server, store = start(workdir)
    rng = random.Random(13)
    env = small_env(99, packages)
    cctx = zstandard.ZstdCompressor(level=3)
    start_time = datetime(2025, 2, 1, tzinfo=timezone.utc)
    client = Client(server)
    series: dict[str, list[tuple[int, int, int, int]]] = {}
    n = 0

    def add(kind: str, nb: bytes, changed: int) -> None:
        nonlocal n
        before = store_size(store) if store.exists() else (0, 0)
        rec, blobs = record(snapshot_id=str(uuid.uuid4()), env=env, notebook="fig/plots.ipynb",
                            notebook_bytes=nb, created=start_time + timedelta(minutes=n))
        n += 1
        status, answer, uploaded = client.add_run(rec, blobs)
        if status != 201:
            raise RuntimeError(f"POST /deardiary/runs: {status} {answer}")
        after = store_size(store)
        series.setdefault(kind, []).append(
            (after[0] - before[0], after[1] - before[1], changed, uploaded))

    try:
        figures = [figure(rng) for _ in range(FIGURES)]
        first = big_notebook(figures)
        add("first", first, len(cctx.compress(first)))
        for _ in range(runs):
            figures = [figure(rng) for _ in range(FIGURES)]
            add("figures", big_notebook(figures), len(cctx.compress("".join(figures).encode())))
        same = big_notebook(figures)
        for _ in range(20):
            add("nothing", same, 0)
        for e in range(1, 21):
            add("cell", big_notebook(figures, edit=e), len(cctx.compress(f"\n# edit {e}".encode())))
        nb_size = len(same)
        page_size, _ = store_size(store)
    finally:
        client.close()
        server.stop()
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    try:  # where the pages go (SQLite's dbstat, when compiled in)
        tables = db.execute(
            "SELECT name, sum(pgsize), sum(payload), sum(unused) FROM dbstat GROUP BY name "
            "ORDER BY 2 DESC LIMIT 5"
        ).fetchall()
    except sqlite3.Error:
        tables = []
    page = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    file_bytes = store.stat().st_size

    def med(kind: str, i: int) -> float:
        return statistics.median(v[i] for v in series[kind])

    def mean(kind: str, i: int) -> float:
        return statistics.fmean(v[i] for v in series[kind])

    grow, chunks, changed = mean("figures", 0), mean("figures", 1), mean("figures", 2)
    raw_changed = FIGURES * len(figures[0])
    lines = [
        "",
        f"S-B  store growth: {nb_size / 1e6:.2f} MB notebook ({FIGURES} figures of "
        f"{len(figures[0]) // 1024} KB base64 that change every run, 150 code cells that do "
        f"not), unchanged {len(env.manifest) // 1024} KB manifest; {runs} runs",
        f"  first run: file +{series['first'][0][0] / 1024:.0f} KB, chunks "
        f"+{series['first'][0][1] / 1024:.0f} KB (whole notebook zstd: "
        f"{series['first'][0][2] / 1024:.0f} KB; manifest and project uploaded once)",
        "  per run (mean / median)                 file grows     chunk bytes    "
        "compressed change   uploaded",
    ]
    for kind, label in (("figures", f"{FIGURES} new figures"), ("nothing", "nothing changed"),
                        ("cell", "one code cell edited")):
        lines.append(
            f"  {label:<38} {mean(kind, 0) / 1024:7.1f} / {med(kind, 0) / 1024:6.1f} KB  "
            f"{mean(kind, 1) / 1024:6.1f} / {med(kind, 1) / 1024:5.1f} KB  "
            f"{mean(kind, 2) / 1024:9.1f} KB      {mean(kind, 3) / 1024:7.1f} KB"
        )
    lines += [
        f"  what changed, raw: {raw_changed / 1024:.0f} KB of base64 a run; zstd level 3: "
        f"{changed / 1024:.0f} KB",
        f"  store file at the end: {file_bytes / 1048576:.1f} MiB (+ -wal); integrity_check "
        f"{integrity}; used pages {page_size / 1048576:.1f} MiB",
        f"  pages by table (page size {page} B; pages / payload / unused): "
        + "; ".join(f"{n} {p / 1048576:.1f} / {d / 1048576:.1f} / {u / 1048576:.1f} MiB"
                    for n, p, d, u in tables),
        f"  file growth / compressed change = {grow / changed:.3f}   chunk bytes / compressed "
        f"change = {chunks / changed:.3f}",
        f"  target: growth <= 1.2 x compressed change ........ "
        f"{'OK' if grow <= 1.2 * changed else 'MISSED'} ({grow / changed:.3f}x)",
        f"  target: unchanged notebook and manifest add ~0 ... "
        f"{'OK' if mean('nothing', 1) == 0 and mean('nothing', 0) < 16384 else 'MISSED'} "
        f"(chunks +{mean('nothing', 1):.0f} B, file +{mean('nothing', 0) / 1024:.1f} KB a run)",
    ]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--growth-runs", type=int, default=200)
    parser.add_argument("--packages", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3, help="S-F rounds (fresh store each)")
    parser.add_argument("--only", choices=["F", "B"])
    args = parser.parse_args()
    lines = [f"Store endpoints (issue 13; real jupyter server, {sys.executable})"]
    with tempfile.TemporaryDirectory(prefix="dd-bench-store-") as tmp:
        ratios: list[float] = []
        oks: list[bool] = []

        def writers(work: Path, r: int) -> list[str]:
            label = f" (round {r + 1} of {args.rounds})" if args.rounds > 1 else ""
            out, ratio, ok = bench_writers(work, args.writers, args.runs, args.packages, label)
            ratios.append(ratio)
            oks.append(ok)
            return out

        parts = [(f"F{r}", lambda work, r=r: writers(work, r)) for r in range(args.rounds)]
        parts.append(("B", lambda work: bench_growth(work, args.growth_runs, args.packages)))
        for name, part in parts:
            if args.only not in (None, name[0]):
                continue
            work = Path(tmp) / name
            work.mkdir()
            try:
                lines += part(work)
            except Exception:
                log = work / "server.log"
                if log.exists():
                    tail = log.read_text(errors="replace").splitlines()[-40:]
                    print("\n".join(["server log (last 40 lines):", *tail]), file=sys.stderr)
                raise
            shutil.rmtree(work)
            if name == f"F{args.rounds - 1}" and args.rounds > 1:
                median = statistics.median(ratios)
                lines += [
                    "",
                    f"S-F over {args.rounds} rounds: p95 / p50 "
                    + ", ".join(f"{r:.2f}" for r in ratios)
                    + f"; median {median:.2f}",
                    f"  target: every run stored, integrity ok, every round OK"
                    f" .. {'OK' if all(oks) else 'MISSED'}",
                    f"  target: p95 <= 3 x p50 (median of the rounds) ...... "
                    f"{'OK' if median <= 3 else 'MISSED'} ({median:.2f}x)",
                ]
    print("\n".join(lines), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
