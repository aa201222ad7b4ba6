"""Bundles: runs of the store as one zip file, and back into another store (issue 17).

A bundle holds, under one folder ``deardiary-bundle/``:

- ``index.json``: ``{"format", "version", "created", "store_id", "runs": [...], "blobs":
  {sha256: size}}``; each run has its ``record`` (the IRunRecord the store's add path
  takes, docs/store.md), its ``iteration`` row and ``files`` rows exactly as the store
  holds them, and the sha256 of every blob it names;
- ``blobs/<sha256>``: the exact bytes of every blob a run names;
- ``restore-index.txt``: the same runs, one tab-separated line per run and per file, for
  ``restore.jl`` (Julia without a JSON package reads it);
- ``restore.jl``: writes one run's files, checks their sha256, activates and
  instantiates the project (Julia 1.5 and later; see its header).

Import checks every blob's sha256 (and its size) before anything is stored; then each run
new to the store goes through ``Store.add_run`` (one transaction per run). A run whose
snapshot id the store holds is reported as already there, never added twice.

Nothing here takes a name from the zip as a filesystem path: blobs are looked up by
their sha256 in the zip's name list. Every call blocks (run it in a thread).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from pathlib import Path
from typing import IO, Any

from . import blobs as blob_rows
from .db import Store, prepare_run, transaction
from .errors import ApiError

FORMAT = "jupyterlab-deardiary-bundle"
VERSION = 1
FOLDER = "deardiary-bundle"
RESTORE_JL = Path(__file__).parent / "julia" / "restore.jl"
_SHA = re.compile(r"[0-9a-f]{64}")
_READ = 1 << 20


class Limits:
    """What an imported bundle may hold (uncompressed sizes as its zip declares them, which
    zipfile enforces while reading)."""

    def __init__(
        self,
        max_bytes: int = 4 << 30,
        max_entries: int = 200_000,
        max_index_bytes: int = 256 << 20,
        max_ratio: int = 200,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.max_index_bytes = max_index_bytes
        self.max_ratio = max_ratio


def refused(message: str, **extra: Any) -> ApiError:
    return ApiError(400, "bad_bundle", message + " Nothing was stored.", **extra)


# Export


def run_entry(db: Any, run_id: int) -> dict[str, Any]:
    """One run as the index holds it (inside a read transaction)."""
    cursor = db.execute("SELECT * FROM iteration WHERE id = ?", (run_id,))
    row = cursor.fetchone()
    if row is None:
        raise ApiError(404, "no_run", f"There is no run with id {run_id}.")
    iteration = dict(zip([d[0] for d in cursor.description], row))
    cursor = db.execute(
        "SELECT * FROM iteration_file WHERE iteration_id = ? ORDER BY role, name", (run_id,)
    )
    names = [d[0] for d in cursor.description]
    files = [dict(zip(names, r)) for r in cursor.fetchall()]
    env_bytes = blob_rows.read_blob(db, iteration["environment_sha256"])
    if env_bytes is None:
        raise ApiError(500, "blob_corrupt", f"Run {run_id}: its environment blob is missing.")
    env = json.loads(env_bytes)
    details = json.loads(iteration["details"])
    record = run_record(iteration, details, env)
    # The record must give back the stored environment and details byte for byte, or an
    # import would store another run.
    prepared = prepare_run(record)
    if (
        prepared.environment_sha256 != iteration["environment_sha256"]
        or prepared.details != iteration["details"]
    ):
        raise ApiError(
            500,
            "unexportable_run",
            f"Run {run_id} ({iteration['snapshot_id']}): its stored environment cannot be "
            "rebuilt from its record; it was not exported.",
        )
    shas = sorted({iteration["environment_sha256"], *prepared.blobs})
    return {
        "snapshot_id": iteration["snapshot_id"],
        "record": record,
        "iteration": iteration,
        "files": files,
        "blobs": shas,
    }


def run_record(iteration: dict[str, Any], details: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    """The IRunRecord that POST /deardiary/runs took for this stored run."""
    git = env["git"]
    if git.get("state") == "ok" and env.get("patch_sha256") is not None:
        git = {**git, "git": {**git["git"], "patch_sha256": env["patch_sha256"]}}
    kernel: dict[str, Any] = {
        "name": iteration["kernel_name"],
        "display_name": iteration["kernel_display_name"],
        "language": details["kernel_language"],
    }
    if "kernelspec" in details:
        kernel["spec"] = details["kernelspec"]
    return {
        "snapshot_id": iteration["snapshot_id"],
        "trigger": iteration["trigger"],
        "note": iteration["notes"],
        "created_at": iteration["created_date"],
        "ended_at": iteration["end_date"],
        "parent_snapshot_id": details["parent_snapshot_id"],
        "kernel": kernel,
        "capture": env["capture"],
        "git": git,
        "notebook": {
            "path": iteration["entrypoint"],
            "sha256": iteration["notebook_sha256"],
            "size": iteration["notebook_size"],
            "unsaved_changes": details["notebook"]["unsaved_changes"],
            "stored": iteration["notebook_blob"] is not None,
        },
    }


def _escape(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def restore_index(runs: list[dict[str, Any]]) -> str:
    """The line index restore.jl reads: ``run``, then ``file`` lines (tab-separated,
    ``\\`` ``\\t`` ``\\n`` ``\\r`` escaped); runs numbered from 1 in the index's order."""
    lines = [f"# {FORMAT} {VERSION}: runs for restore.jl"]
    for n, run in enumerate(runs, 1):
        rec = run["record"]
        lines.append(
            "\t".join(
                ["run", str(n), *map(_escape, (rec["snapshot_id"], rec["created_at"],
                                              rec["notebook"]["path"], rec["capture"]["julia_version"]))]
            )
        )
        for f in run["files"]:
            lines.append("\t".join(["file", str(n), *map(_escape, (f["role"], f["name"], f["sha256"], f["size"]))]))
        if rec["notebook"]["stored"]:
            name = rec["notebook"]["path"].rsplit("/", 1)[-1] or "notebook.ipynb"
            lines.append("\t".join(["file", str(n), "notebook", _escape(name),
                                    rec["notebook"]["sha256"], str(rec["notebook"]["size"])]))
        patch = run["iteration"].get("patch_sha256")
        if patch:
            size = run["blob_sizes"][patch]
            lines.append("\t".join(["file", str(n), "patch", "git.patch", patch, str(size)]))
    return "\n".join(lines) + "\n"


def export_bundle(store: Store, run_ids: list[int], out: IO[bytes]) -> dict[str, Any]:
    """Write the bundle of ``run_ids`` (oldest first) to ``out``; its summary."""
    db = store.connection()
    if db is None:
        raise ApiError(404, "no_run", "There is no store yet, so no run.")
    ids = list(dict.fromkeys(run_ids))
    with transaction(db, "DEFERRED"):
        runs = [run_entry(db, i) for i in ids]
        runs.sort(key=lambda r: (r["iteration"]["created_date"], r["iteration"]["id"]))
        sizes: dict[str, int] = {}
        for run in runs:
            for sha in run["blobs"]:
                if sha not in sizes:
                    row = db.execute("SELECT size FROM blob WHERE sha256 = ?", (sha,)).fetchone()
                    if row is None:
                        raise ApiError(500, "blob_corrupt", f"The blob {sha} of run "
                                       f"{run['snapshot_id']} is not in the store.")
                    sizes[sha] = row[0]
            run["blob_sizes"] = {sha: sizes[sha] for sha in run["blobs"]}
        store_id = db.execute("SELECT value FROM meta WHERE key = 'store_id'").fetchone()[0]
        index = {
            "format": FORMAT,
            "version": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "store_id": store_id,
            "runs": [{k: v for k, v in r.items() if k != "blob_sizes"} for r in runs],
            "blobs": sizes,
        }
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            z.writestr(f"{FOLDER}/index.json", json.dumps(index, ensure_ascii=False, indent=1))
            z.writestr(f"{FOLDER}/restore-index.txt", restore_index(runs))
            z.write(RESTORE_JL, f"{FOLDER}/restore.jl")
            for sha in sizes:
                data = blob_rows.read_blob(db, sha)  # reassembled and checked
                assert data is not None
                z.writestr(f"{FOLDER}/blobs/{sha}", data)
    return {"runs": len(runs), "blobs": len(sizes), "bytes": sum(sizes.values())}


# Import


def _index_name(z: zipfile.ZipFile) -> tuple[str, str]:
    """(index entry, folder prefix) of a bundle."""
    candidates = [n for n in z.namelist() if re.fullmatch(r"(?:[^/]+/)?index\.json", n)]
    if len(candidates) != 1:
        raise refused("This is not a DearDiary bundle: it has no index.json (or several).")
    name = candidates[0]
    return name, name[: -len("index.json")]


def _read_checked(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[str, int]:
    """(sha256, size) of an entry, read in pieces (zipfile stops at the declared size and
    checks the CRC)."""
    h = hashlib.sha256()
    size = 0
    with z.open(info) as f:
        while chunk := f.read(_READ):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def check_bundle(z: zipfile.ZipFile, limits: Limits) -> tuple[dict[str, Any], dict[str, zipfile.ZipInfo]]:
    """The index and the blob entries of a bundle whose every blob was read and hashed;
    a bad bundle raises 400 bad_bundle (or 413) before anything is stored."""
    infos = z.infolist()
    if len(infos) > limits.max_entries:
        raise refused(f"The bundle has {len(infos)} entries, more than {limits.max_entries}.")
    total = sum(i.file_size for i in infos)
    if total > limits.max_bytes:
        raise ApiError(413, "bundle_too_large",
                       f"The bundle unpacks to {total} bytes, more than {limits.max_bytes}. "
                       "Nothing was stored.", limit=limits.max_bytes)
    for i in infos:
        if i.file_size > limits.max_ratio * max(i.compress_size, 1024):
            raise refused(f"The entry {i.filename[:200]!r} unpacks {i.file_size} bytes from "
                          f"{i.compress_size}: refused as a zip bomb.")
    name, prefix = _index_name(z)
    info = z.getinfo(name)
    if info.file_size > limits.max_index_bytes:
        raise refused(f"index.json is {info.file_size} bytes, more than {limits.max_index_bytes}.")
    try:
        index = json.loads(z.read(info))
    except (ValueError, RecursionError, zipfile.BadZipFile) as e:
        raise refused(f"index.json is not valid JSON: {e}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise refused("index.json is not a DearDiary bundle index.")
    if index.get("version") != VERSION:
        raise refused(f"The bundle is of version {index.get('version')!r}; this server reads "
                      f"version {VERSION}.")
    runs, sizes = index.get("runs"), index.get("blobs")
    if not isinstance(runs, list) or not isinstance(sizes, dict):
        raise refused("index.json has no 'runs' list or 'blobs' table.")
    entries: dict[str, zipfile.ZipInfo] = {}
    for sha, size in sizes.items():
        if not isinstance(sha, str) or not _SHA.fullmatch(sha) or not isinstance(size, int):
            raise refused(f"index.json names a bad blob {str(sha)[:80]!r}.")
        try:
            entries[sha] = z.getinfo(f"{prefix}blobs/{sha}")
        except KeyError:
            raise refused(f"The blob {sha} is named in the index but not in the bundle.") from None
    for sha, info in entries.items():
        try:
            got, size = _read_checked(z, info)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise refused(f"The blob {sha} cannot be read: {e}.", sha256=sha) from None
        if got != sha:
            raise refused(f"The blob {sha} hashes to {got}: the bundle was changed or damaged.",
                          sha256=sha)
        if size != sizes[sha]:
            raise refused(f"The blob {sha} has {size} bytes, the index says {sizes[sha]}.",
                          sha256=sha)
    return index, entries


def _run_problem(run: Any, entries: dict[str, zipfile.ZipInfo]) -> tuple[str, str] | None:
    """(error, message) when a run of the index cannot be added."""
    if not isinstance(run, dict) or not isinstance(run.get("record"), dict):
        return "bad_run", "The index entry is not a run."
    try:
        prepared = prepare_run(run["record"])
    except ApiError as e:
        return e.error, e.message
    missing = [s for s in prepared.blobs if s not in entries]
    if missing:
        return "missing_blobs", f"The bundle lacks {len(missing)} blob(s) of this run: {missing[0]}…"
    iteration = run.get("iteration")
    if isinstance(iteration, dict) and iteration.get("environment_sha256") not in (
        None, prepared.environment_sha256
    ):
        return "bad_run", "Its record does not give the environment the index names."
    return None


def import_bundle(store: Store, source: IO[bytes], run_max_bytes: int, limits: Limits) -> dict[str, Any]:
    """Add the runs of a bundle to the store; the report ``{added, already, refused}``."""
    try:
        z = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise refused(f"The file is not a zip file: {e}.") from None
    with z:
        index, entries = check_bundle(z, limits)
        added: list[dict[str, Any]] = []
        already: list[dict[str, Any]] = []
        refused_runs: list[dict[str, Any]] = []
        for run in index["runs"]:
            snapshot_id = run.get("snapshot_id") if isinstance(run, dict) else None
            problem = _run_problem(run, entries)
            if problem:
                refused_runs.append({"snapshot_id": snapshot_id, "error": problem[0],
                                     "message": problem[1]})
                continue
            record = run["record"]
            snapshot_id = record["snapshot_id"]
            existing = _find(store, snapshot_id)
            if existing is not None:
                already.append({"snapshot_id": snapshot_id, "id": existing})
                continue
            prepared = prepare_run(record)
            for sha in prepared.blobs:
                if sha not in store.missing_blobs([sha]):
                    continue
                with z.open(entries[sha]) as f:
                    data = f.read()
                if hashlib.sha256(data).hexdigest() != sha:  # read twice: checked twice
                    raise refused(f"The blob {sha} changed while importing.")
                store.put_blob(sha, data)
            try:
                summary, created, _ = store.add_run(record, run_max_bytes)
            except ApiError as e:
                refused_runs.append({"snapshot_id": snapshot_id, "error": e.error,
                                     "message": e.message})
                continue
            (added if created else already).append({"snapshot_id": snapshot_id, "id": summary["id"]})
    return {
        "added": added,
        "already": already,
        "refused": refused_runs,
        "version": store.version(),
    }


def _find(store: Store, snapshot_id: str) -> int | None:
    db = store.connection()
    if db is None:
        return None
    row = db.execute("SELECT id FROM iteration WHERE snapshot_id = ?", (snapshot_id,)).fetchone()
    return None if row is None else row[0]


def all_run_ids(store: Store) -> list[int]:
    db = store.connection()
    if db is None:
        return []
    return [r[0] for r in db.execute("SELECT id FROM iteration ORDER BY created_date, id")]
