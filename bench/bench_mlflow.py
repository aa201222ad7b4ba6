"""Benchmark the push to MLflow (issue 17) against MLflow's own `log_artifact`.

    python bench/bench_mlflow.py [--runs 1000] [--environments 30] [--notebooks 10]
                                 [--threads 4]

A real `mlflow server` (SQLite backend store, artifacts served by it, started here in a
throw-away folder) behind a byte-counting proxy (jupyterlab_deardiary/tests/mlflow_server.py).
A store gets `--runs` runs of `--notebooks` notebooks sharing `--environments`
environments (a 14 KB manifest and a project each; a ~6 KB notebook per run, a patch on
every other run). Measured in the same run, each on a fresh MLflow experiment set:
- ours: jupyterlab_deardiary.mlflow_sync.Pusher pushes every run (an environment's files
  once, in an environment run; per run the record, the notebook, the patch), `--threads`
  runs at a time; then the same push again (everything on the server already);
- baseline: MLflow's own client, per run create_run + log_artifact of the same files
  (Project.toml, Manifest.toml, the notebook, the patch, the capture JSON) + set_terminated,
  one run after the other as a script would.
Printed: time, bytes clients sent (request lines, headers, bodies, counted by the proxy),
requests, and the ratios ours / baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")

from jupyterlab_deardiary.db import Store, js_json  # noqa: E402
from jupyterlab_deardiary.mlflow_sync import Pusher, make_client, record_of, run_files  # noqa: E402
from jupyterlab_deardiary.tests.mlflow_server import MlflowServer, Proxy  # noqa: E402
from jupyterlab_deardiary.tests.test_db import manifest_bytes, record  # noqa: E402


def seed(store: Store, runs: int, environments: int, notebooks: int) -> None:
    base = manifest_bytes("medium")
    for i in range(runs):
        env = i % environments
        nb = i % notebooks
        cells = ",".join(f'{{"cell_type": "code", "source": "x = {i} + {c}"}}' for c in range(80))
        rec, blobs = record(
            f"bench-{i}",
            notebook=f"bench/notebook-{nb}.ipynb",
            notebook_bytes=f'{{"cells": [{cells}], "run": {i}}}\n'.encode(),
            manifest=base + f"# environment {env}\n".encode(),
            project=f'[deps]\nExample = "7876af07-990d-54b4-ab0e-23690620f79a"\n# {env}\n'.encode(),
            patch=f"diff --git a/src.jl b/src.jl\n+x = {i}\n".encode() * 20 if i % 2 else None,
            created_at=f"2024-05-01T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        )
        for sha, data in blobs.items():
            store.put_blob(sha, data)
        store.add_run(rec, 1 << 30)


def baseline(client, store: Store, ids: list[int], tmp: Path) -> None:
    """MLflow's own way: every file of every run through log_artifact."""
    experiments: dict[str, str] = {}
    for run_id in ids:
        rec = record_of(store, run_id)
        name = f"baseline/{rec['notebook']['path']}"
        if name not in experiments:
            experiments[name] = client.create_experiment(name)
        run = client.create_run(experiments[name], tags={"snapshot_id": rec["snapshot_id"]})
        rid = run.info.run_id
        folder = tmp / rid
        folder.mkdir()
        files = [(f["name"], store.get_blob(f["sha256"])) for f in rec["capture"]["files"]]
        files += [(Path(p).name, store.get_blob(s)) for p, s, _ in run_files(rec)]
        files.append(("capture.json", js_json(rec)))
        for name, data in files:
            (folder / name).write_bytes(data)
            client.log_artifact(rid, str(folder / name))
        client.set_terminated(rid, "FINISHED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--environments", type=int, default=30)
    parser.add_argument("--notebooks", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-mlflow-") as folder:
        tmp = Path(folder)
        store = Store(tmp / "store" / "deardiary.sqlite", tmp)
        t0 = time.perf_counter()
        seed(store, args.runs, args.environments, args.notebooks)
        ids = list(range(1, args.runs + 1))
        print(f"== MLflow push (issue 17): {args.runs} runs, {args.notebooks} notebooks, "
              f"{args.environments} environments (seeded in {time.perf_counter() - t0:.1f} s)")
        server = MlflowServer(tmp / "mlflow")
        t0 = time.perf_counter()
        server.start()
        print(f"  mlflow server up in {time.perf_counter() - t0:.1f} s")
        proxy = Proxy(server.url)
        try:
            client = make_client(proxy.url)
            t0 = time.perf_counter()
            pusher = Pusher(client, store, threads=args.threads)
            results = pusher.push_all(ids)
            ours_s = time.perf_counter() - t0
            pusher.close()
            ours_b, ours_r = proxy.bytes_in, proxy.requests
            assert [r["state"] for r in results] == ["pushed"] * args.runs
            proxy.reset()
            t0 = time.perf_counter()
            again = Pusher(client, store, threads=args.threads).push_all(ids)
            again_s = time.perf_counter() - t0
            again_b, again_r = proxy.bytes_in, proxy.requests
            assert [r["state"] for r in again] == ["already"] * args.runs
            proxy.reset()
            base_tmp = tmp / "baseline"
            base_tmp.mkdir()
            t0 = time.perf_counter()
            baseline(client, store, ids, base_tmp)
            base_s = time.perf_counter() - t0
            base_b, base_r = proxy.bytes_in, proxy.requests
        finally:
            proxy.close()
            server.stop()
        mb = 1024 * 1024
        print(f"  ours ({args.threads} runs at a time): {ours_s:.1f} s, {ours_b / mb:.2f} MiB sent, {ours_r} requests")
        print(f"  ours again (all on the server):       {again_s:.1f} s, {again_b / mb:.3f} MiB sent, {again_r} requests")
        print(f"  baseline (MLflow's log_artifact):     {base_s:.1f} s, {base_b / mb:.2f} MiB sent, {base_r} requests")
        print(f"  ratio ours / baseline: time {ours_s / base_s:.2f}, bytes {ours_b / base_b:.3f}, "
              f"requests {ours_r / base_r:.2f}")
        print(f"  target: bytes sent < baseline (environments' files once): "
              f"{'met' if ours_b < base_b else 'NOT met'} ({ours_b / base_b:.3f})")


if __name__ == "__main__":
    main()
