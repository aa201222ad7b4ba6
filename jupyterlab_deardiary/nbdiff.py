"""GET /deardiary/nbdiff?base=<sha256>&remote=<sha256>: the notebook diff of two stored
notebooks, computed by nbdime (the Jupyter project's notebook diff library).

The answer is what nbdime's own web app answers, ``{"base": <notebook>, "diff": [...]}``,
so the browser renders it with nbdime's NotebookDiffModel / NotebookDiffWidget.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat
from jupyter_server.auth.decorator import authorized
from nbdime import diff_notebooks
from tornado import web

from .blobs import BlobCorrupt
from .errors import ApiError, bad_request
from .routes import BaseHandler, blocking, checked_sha256, configured_store


def read_notebook(data: bytes | None, sha: str, side: str) -> Any:
    """The stored blob ``sha`` as an nbformat 4 notebook, or a 404/422 that names it."""
    if data is None:
        raise ApiError(404, "no_blob", f"There is no blob {sha} in the store ({side}).")
    name = f"The {side} blob {sha[:12]}…"
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise ApiError(
            422, "not_a_notebook", f"{name} is not JSON, so it is not a notebook."
        ) from None
    if not isinstance(value, dict) or not isinstance(value.get("cells", []), list):
        raise ApiError(422, "not_a_notebook", f"{name} is JSON but not a notebook.")
    try:
        # Converts an older notebook to nbformat 4 (nbdime diffs version 4 only).
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception as e:  # nbformat raises many kinds for a file that is no notebook
        raise ApiError(
            422, "not_a_notebook", f"{name} is not a notebook nbformat can read: {e}"
        ) from None


def notebook_diff(store: Any, base: str, remote: str) -> bytes:
    """The JSON answer for two stored notebooks (blocking: run it in a thread)."""
    try:
        base_nb = read_notebook(store.get_blob(base), base, "base")
        remote_nb = read_notebook(store.get_blob(remote), remote, "remote")
    except BlobCorrupt as e:
        raise ApiError(500, "blob_corrupt", str(e)) from None
    for nb in (base_nb, remote_nb):
        # Each run writes its own id there (src/recorder/run-metadata.ts): not a change
        # the user made, so successive runs would always differ in it.
        nb.get("metadata", {}).pop("deardiary", None)
    try:
        diff = diff_notebooks(base_nb, remote_nb)
    except Exception as e:  # a notebook valid enough to read but not to diff
        raise ApiError(
            422, "not_a_notebook", f"nbdime could not compare these notebooks: {e}"
        ) from None
    return json.dumps({"base": base_nb, "diff": diff}).encode()


class NotebookDiffHandler(BaseHandler):
    """GET ?base=<sha256>&remote=<sha256>: nbdime's diff of two stored notebooks."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        shas = []
        for side in ("base", "remote"):
            value = self.get_query_argument(side, "")
            if not value:
                raise bad_request(f"Give the {side} notebook's sha256 as ?{side}=.")
            shas.append(checked_sha256(value))
        body = await blocking(notebook_diff, configured_store(self), *shas)
        self.set_header("Content-Type", "application/json")
        self.finish(body)
