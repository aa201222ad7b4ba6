"""Realistic run stores for the benchmarks, written fast through the server's own store.

    python bench/seed_store.py --runs 50000 --out ROOT/.deardiary/deardiary.sqlite [--json]
                               [--environments 300] [--notebooks 50] [--packages 400]

Shape (as the sidebar benchmark always had it): `runs` runs over `environments` distinct
environments and `notebooks` notebooks (10 project folders); a note on every 6th run,
uncommitted changes (a small git patch) on every 5th, unsaved changes on every 11th, a
small saved notebook kept with each run. Environments: 1 in 10 is a real manifest of
/work/shared/fixtures/manifests (its `project_hash` made the environment's own), the
others a generated manifest_format 2.0 Manifest of `packages` packages (the generator of
bench/manifest.ts, in Python) whose versions belong to the environment, so that
`Package12@1` selects 1 environment in 4. Consecutive runs of a notebook mostly share
their environment.

Each run is an IRunRecord (docs/store.md) plus the blobs it names, inserted by the
server's store module (jupyterlab_deardiary.db) in one transaction into a new file, then
copied to `--out`. The store of given options is kept in .cache/bench-stores (keyed by
the options and the store module's source) and copied from there the next time.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import random
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("DEARDIARY_MANIFEST_FIXTURES", "/work/shared/fixtures/manifests"))
CACHE = REPO_ROOT / ".cache" / "bench-stores"

JULIA = ["1.9.4", "1.10.4", "1.10.5", "1.11.1"]
TRIGGERS = ["button", "kernel-start", "code", "environment-change"]
NOTES = [
    "baseline before the refactor",
    "tuned learning rate",
    "after upgrading the solver",
    "figure 3 for the paper",
    "reviewer request: more samples",
    "regression on the larger grid",
    "sanity check with the old seed",
    "final numbers for the report",
]


@dataclass
class Options:
    runs: int
    environments: int = 300
    notebooks: int = 50
    packages: int = 400


@dataclass
class Seeded:
    runs: int
    environments: int
    notebooks: int
    packages: int
    bytes: int
    manifest_bytes: int
    real_manifests: int
    notes: int
    seconds: float
    cached: bool


_SHAS: dict[bytes, str] = {}


def sha(data: bytes) -> str:
    if len(data) < 4096:
        return hashlib.sha256(data).hexdigest()
    # The environments' files, shared by many runs (a bytes object caches its hash).
    digest = _SHAS.get(data)
    if digest is None:
        digest = _SHAS[data] = hashlib.sha256(data).hexdigest()
    return digest


def hexof(seed: str, length: int) -> str:
    return sha(seed.encode())[:length]


def package_version(k: int, env: int) -> str:
    """The version of PackageK in environment `env` (so `Package12@1` picks 1 in 4)."""
    return f"{(k + env) % 4}.{(k * 7 + env) % 13}.{env % 7}"


def generated_manifest(packages: int, env: int, julia: str, rng: random.Random) -> str:
    """bench/manifest.ts's Manifest (400 packages: ~200 KB), versions of `env`."""

    def uid() -> str:
        h = rng.randbytes(16).hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    lines = [
        "# This file is machine-generated - editing it directly is not advised",
        "",
        f'julia_version = "{julia}"',
        'manifest_format = "2.0"',
        f'project_hash = "{rng.randbytes(20).hex()}"',
        "",
    ]
    for i in range(packages):
        deps = ", ".join(f'"Package{(i * 7 + k) % packages}"' for k in range(4 + i % 12))
        lines += [
            f"[[deps.Package{i}]]",
            f"deps = [{deps}]",
            f'git-tree-sha1 = "{rng.randbytes(20).hex()}"',
            f'uuid = "{uid()}"',
            f'version = "{package_version(i, env)}"',
            "",
            f"    [deps.Package{i}.weakdeps]",
            '    ChainRulesCore = "d360d2e6-b24c-11e9-a2a3-2a2ae2dbcce4"',
            '    SparseArrays = "2f01184e-e22b-5df5-ae63-d93ebab69eaf"',
            "",
            f"    [deps.Package{i}.extensions]",
            f'    Package{i}ChainRulesCoreExt = "ChainRulesCore"',
            f'    Package{i}SparseArraysExt = "SparseArrays"',
            "",
        ]
    return "\n".join(lines)


def real_manifests() -> list[tuple[str, bytes, bytes]]:
    """(name, Manifest bytes, Project bytes) of the real fixtures that have packages."""
    found = []
    for manifest in sorted(FIXTURES.rglob("*Manifest*.toml")):
        data = manifest.read_bytes()
        if data.count(b"uuid =") < 5:
            continue  # the empty edge cases
        project = next(
            (p for p in (manifest.parent / "JuliaProject.toml", manifest.parent / "Project.toml")
             if p.exists()),
            None,
        )
        found.append(
            (manifest.name, data, project.read_bytes() if project else b'name = "Fixture"\n')
        )
    return found


@dataclass
class Environment:
    julia: str
    manifest_name: str
    manifest: bytes
    project: bytes
    dir: str
    real: bool


def environments(options: Options) -> list[Environment]:
    rng = random.Random(1301)
    reals = real_manifests()
    envs = []
    for e in range(options.environments):
        julia = JULIA[e % len(JULIA)]
        folder = f"/home/u/work/env-{e:03d}"
        if reals and e % 10 == 5:
            name, data, project = reals[(e // 10) % len(reals)]
            # The environment's own bytes (its own project_hash, or a last comment line).
            own = f'project_hash = "{hexof(f"env {e}", 40)}"'.encode()
            if b"\nproject_hash = " in data:
                head, _, rest = data.partition(b"\nproject_hash = ")
                data = head + b"\n" + own + rest[rest.index(b"\n"):]
            else:
                data = data + f"# environment {e}\n".encode()
            envs.append(Environment(julia, name, data, project, folder, True))
            continue
        deps = "\n".join(
            f'Package{(e * 13 + i) % options.packages} = '
            f'"{hexof(f"{e}/{i}", 8)}-0000-4000-8000-{hexof(str(i), 12)}"'
            for i in range(20)
        )
        project = f'name = "Analysis{e}"\n\n[deps]\n{deps}\n'.encode()
        manifest = generated_manifest(options.packages, e, julia, rng).encode()
        envs.append(Environment(julia, "Manifest.toml", manifest, project, folder, False))
    return envs


def notebook_path(n: int) -> str:
    return f"project-{n % 10:02d}/analysis-{n:02d}.ipynb"


SYS = {
    "kernel": "Linux",
    "arch": "x86_64",
    "machine": "x86_64-linux-gnu",
    "cpu_threads": 8,
    "nthreads": 1,
    "load_path": ["@", "@v#.#", "@stdlib"],
}


def record(
    *,
    snapshot_id: str,
    env: Environment,
    notebook: str,
    notebook_bytes: bytes | None,
    created: datetime,
    trigger: str = "button",
    note: str = "",
    parent: str | None = None,
    patch: str = "",
    head_sha: str = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3",
    unsaved: bool = False,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """An IRunRecord (docs/store.md) and the blobs it names (sha256 → bytes)."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> str:
        digest = sha(data)
        blobs[digest] = data
        return digest

    files = [
        {"role": "project", "name": "Project.toml", "path": f"{env.dir}/Project.toml",
         "size": len(env.project), "sha256": blob(env.project)},
        {"role": "manifest", "name": env.manifest_name,
         "path": f"{env.dir}/{env.manifest_name}",
         "size": len(env.manifest), "sha256": blob(env.manifest)},
    ]
    nb_declared = notebook_bytes if notebook_bytes is not None else b'{"cells": []}'
    if notebook_bytes is not None:
        blob(notebook_bytes)
    patch_bytes = patch.encode()
    minor = env.julia.rsplit(".", 1)[0]
    rec = {
        "snapshot_id": snapshot_id,
        "trigger": trigger,
        "note": note,
        "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "ended_at": (created + timedelta(seconds=3))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "parent_snapshot_id": parent,
        "kernel": {"name": f"julia-{minor}", "display_name": f"Julia {env.julia}",
                   "language": "julia"},
        "capture": {
            "julia_version": env.julia,
            "project": {"path": f"{env.dir}/Project.toml", "exists": True, "is_global": False},
            "manifest": {"path": f"{env.dir}/{env.manifest_name}", "exists": True,
                         "found_by": "julia"},
            "workspace_root": None,
            "files": files,
            "sys": {**SYS, "bindir": f"/opt/julia-{env.julia}/bin",
                    "depot_path": ["/home/u/.julia"], "pwd": env.dir},
        },
        "git": {
            "state": "ok",
            "git": {
                "path": notebook,
                "repo": True,
                "head_sha": head_sha,
                "branch": "main",
                "detached": False,
                "remote_url": "https://github.com/u/demo.git",
                "dirty": bool(patch),
                "dirty_files": [
                    {"path": "src/model.jl", "status": "M", "xy": " M", "orig_path": None,
                     "submodule": False}
                ] if patch else [],
                "untracked_count": 0,
                "patch_bytes": len(patch_bytes),
                "truncated": False,
                "binary_files": [],
                "toplevel": "/home/u/demo",
                "toplevel_outside_root": False,
                "patch_sha256": blob(patch_bytes) if patch else None,
            },
        },
        "notebook": {
            "path": notebook,
            "sha256": sha(nb_declared),
            "size": len(nb_declared),
            "unsaved_changes": unsaved,
            "stored": notebook_bytes is not None,
        },
    }
    return rec, blobs


def runs(options: Options, envs: list[Environment]) -> Iterator[tuple[dict, dict[str, bytes]]]:
    """The records of the store, oldest first (5 minutes apart from 2024-01-01 08:00 UTC)."""
    start = datetime(2024, 1, 1, 8, tzinfo=timezone.utc)
    last: dict[int, str] = {}
    rng = random.Random(77)
    for r in range(options.runs):
        n = (r * 7) % options.notebooks
        env = envs[(n * 6 + r // 200) % options.environments]
        note = f"{NOTES[(r // 6) % len(NOTES)]} (run {r})" if r % 6 == 0 else ""
        path = notebook_path(n)
        nb = json.dumps({
            "cells": [{
                "cell_type": "code", "execution_count": 1,
                "source": [f"result_{r} = simulate({r % 97})"],
                "outputs": [{"output_type": "stream", "text": [f"{r * 0.618:.6f}\n"]}],
            }],
            "metadata": {"kernelspec": {"name": f"julia-{env.julia.rsplit('.', 1)[0]}",
                                        "display_name": f"Julia {env.julia}",
                                        "language": "julia"}},
            "nbformat": 4, "nbformat_minor": 5,
        }).encode()
        dirty = r % 5 == 0
        patch = (
            "diff --git a/src/model.jl b/src/model.jl\n--- a/src/model.jl\n+++ b/src/model.jl\n"
            f"@@ -{r % 300},3 +{r % 300},3 @@\n-const STEPS = {r}\n+const STEPS = {r + 1}\n"
            if dirty else ""
        )
        trigger = TRIGGERS[r % len(TRIGGERS)]
        snapshot = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        yield record(
            snapshot_id=snapshot, env=env, notebook=path, notebook_bytes=nb,
            created=start + timedelta(minutes=5 * r), trigger=trigger, note=note,
            parent=last.get(n) if trigger == "environment-change" else None,
            patch=patch, head_sha=hexof(f"commit {n}/{r // 400}", 40),
            unsaved=r % 11 == 0,
        )
        last[n] = snapshot


def insert(file: Path, options: Options, envs: list[Environment]) -> None:
    """Every run into a new store `file` through the server's store module
    (jupyterlab_deardiary.db: Store.put_blob for each blob the store lacks, Store.add_run),
    in ONE transaction: the module's own transactions are made part of it."""
    sys.path.insert(0, str(REPO_ROOT))
    from jupyterlab_deardiary import db as store_db  # the server's own store module

    store = store_db.Store(file, root=file.parent)
    conn = store.connection(create=True)
    own = store_db.transaction

    @contextmanager
    def within(db: Any, mode: str = "IMMEDIATE") -> Iterator[Any]:
        yield db

    conn.execute("BEGIN IMMEDIATE")
    store_db.transaction = within
    try:
        for rec, blobs in runs(options, envs):
            for digest, data in blobs.items():
                store.put_blob(digest, data)
            _, created, _ = store.add_run(rec, 1 << 40)
            if not created:
                raise RuntimeError(f"run {rec['snapshot_id']} was not created")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        store_db.transaction = own
        conn.close()


def module_key() -> str:
    sources = sorted((REPO_ROOT / "jupyterlab_deardiary").glob("*.py"))
    sources += sorted((REPO_ROOT / "jupyterlab_deardiary").glob("*.sql"))
    h = hashlib.sha256(Path(__file__).read_bytes())
    for s in sources:
        h.update(s.read_bytes())
    return h.hexdigest()[:16]


def seed(out: Path, options: Options) -> Seeded:
    """Write a store of `options` to `out` (replaced atomically; its -wal/-shm removed)."""
    started = time.perf_counter()
    envs = environments(options)
    key = f"{options.runs}-{options.environments}-{options.notebooks}-{options.packages}"
    cached = CACHE / f"{key}-{module_key()}.sqlite"
    CACHE.mkdir(parents=True, exist_ok=True)
    # One seeder per shape at a time (another waits, then copies what the first made).
    with open(CACHE / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        hit = cached.exists()
        if not hit:
            for old in CACHE.glob(f"{key}-*.sqlite"):
                old.unlink()  # made by an older store module
            tmp = cached.with_name(cached.name + f".{os.getpid()}.tmp")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
            try:
                insert(tmp, options, envs)
                for suffix in ("-wal", "-shm"):
                    if Path(f"{tmp}{suffix}").exists():
                        raise RuntimeError(f"{tmp}{suffix} left behind: the store was not closed")
                os.replace(tmp, cached)
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    tmp_out = out.with_name(out.name + f".{os.getpid()}.tmp")
    shutil.copyfile(cached, tmp_out)
    os.replace(tmp_out, out)
    return Seeded(
        runs=options.runs,
        environments=options.environments,
        notebooks=options.notebooks,
        packages=options.packages,
        bytes=out.stat().st_size,
        manifest_bytes=sum(len(e.manifest) for e in envs) // len(envs),
        real_manifests=sum(e.real for e in envs),
        notes=sum(1 for r in range(options.runs) if r % 6 == 0),
        seconds=time.perf_counter() - started,
        cached=hit,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, required=True)
    parser.add_argument("--environments", type=int, default=300)
    parser.add_argument("--notebooks", type=int, default=50)
    parser.add_argument("--packages", type=int, default=400)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    seeded = seed(
        args.out,
        Options(args.runs, args.environments, args.notebooks, args.packages),
    )
    if args.json:
        print(json.dumps(asdict(seeded)))
    else:
        print(
            f"{seeded.runs:,} runs, {seeded.environments} environments "
            f"({seeded.real_manifests} real manifests), {seeded.bytes / 1048576:.1f} MiB, "
            f"{seeded.seconds:.1f} s{' (cached)' if seeded.cached else ''}: {args.out}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
