"""Server-side settings, configured as ``c.DearDiary.<name>`` in jupyter_server_config."""

from __future__ import annotations

import os

from traitlets import Bool, Float, Int, List, Unicode, default
from traitlets.config import Configurable

MiB = 1024 * 1024


class DearDiary(Configurable):
    """Settings of the jupyterlab-deardiary server extension."""

    store_path = Unicode(
        ".deardiary/deardiary.sqlite",
        help="The SQLite store, relative to the server root (must stay inside it).",
    ).tag(config=True)

    version_store = Bool(
        False,
        help=(
            "Let git see the store: when False (the default) the server writes a .gitignore "
            "into the store's folder (everything in .deardiary/; only the store's files in a "
            "folder of your own) so it never shows as untracked. An existing .gitignore is "
            "never changed."
        ),
    ).tag(config=True)

    run_max_bytes = Int(
        256 * MiB,
        min=0,
        help=(
            "Most bytes one run may add to the store: the sizes of the blobs it is the first "
            "to reference (PUT /deardiary/blobs, POST /deardiary/runs). A limit per run, "
            "never per file."
        ),
    ).tag(config=True)

    patch_max_bytes = Int(
        1 * MiB, min=0, help="The git patch is cut to this many bytes (flagged as truncated)."
    ).tag(config=True)

    git_timeout = Float(10.0, min=0.0, help="Seconds before one git invocation is killed.").tag(
        config=True
    )

    git_index_cache = Int(
        32,
        min=0,
        help=(
            "How many repositories' refreshed index copies GET /deardiary/git keeps between "
            "calls (in a private temporary folder of the server, never in the repository), "
            "so that only the first call after a change re-hashes files git cannot tell "
            "unchanged by their times; least recently used first out. 0: every call works "
            "on a new copy of the index."
        ),
    ).tag(config=True)

    restore_max_bytes = Int(
        256 * MiB, min=0, help="Largest request body accepted by POST /deardiary/restore."
    ).tag(config=True)

    trusted_filters = List(
        Unicode(),
        default_value=["lfs"],
        help=(
            "Git filter drivers allowed to run during status/diff (GET /deardiary/git), "
            "and only as defined in the system or global git config ('lfs': only in a "
            "repository git-lfs has run in, without lfs.extension.* in its config). Every "
            "other driver is neutralised, and the worktree endpoint runs none (git-lfs "
            "files stay pointers there)."
        ),
    ).tag(config=True)

    mlflow_tracking_uri = Unicode(
        help=(
            "The MLflow tracking server runs are pushed to and pulled from (e.g. "
            "http://mlflow.example.org:5000); default: $MLFLOW_TRACKING_URI. Credentials come "
            "from MLflow's own environment variables (MLFLOW_TRACKING_USERNAME / _PASSWORD, "
            "MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_INSECURE_TLS). Needs the 'mlflow' extra."
        ),
    ).tag(config=True)

    @default("mlflow_tracking_uri")
    def _mlflow_tracking_uri_default(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI", "")

    mlflow_auto_push = Bool(
        False,
        help=(
            "Push every run to mlflow_tracking_uri once it is stored (checked every few "
            "seconds, in the background; runs stored before the server started are pushed "
            "on demand)."
        ),
    ).tag(config=True)
