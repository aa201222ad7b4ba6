"""jupyterlab-deardiary: a permanent, exact record of what a Julia kernel was made of."""

from __future__ import annotations

import contextlib
from typing import Any

try:
    from ._version import __version__
except ImportError:
    # Fallback when using the package in dev mode without installing in editable mode
    import warnings

    warnings.warn("Importing 'jupyterlab_deardiary' outside a proper installation.", stacklevel=2)
    __version__ = "dev"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyterlab-deardiary"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyterlab_deardiary"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """Register the /deardiary/* handlers."""
    from .config import DearDiary
    from .git import find_git
    from .routes import setup_handlers
    from .store import remove_stale_folders

    config = DearDiary(config=server_app.config)
    setup_handlers(server_app.web_app, config)
    with contextlib.suppress(OSError):
        remove_stale_folders()  # the private temporary folders of killed servers
    if find_git() is None:
        server_app.log.warning("jupyterlab_deardiary: git is not installed on the server")
    server_app.log.info("jupyterlab_deardiary %s: server extension loaded", __version__)
