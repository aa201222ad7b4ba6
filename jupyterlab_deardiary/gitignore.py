"""The store folder's own ``.gitignore``: so that ``.deardiary/`` never shows as untracked
in the repository the server root belongs to (unless ``c.DearDiary.version_store``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

#: Folders whose .gitignore was written or found in this process (one stat per folder).
_done: set[str] = set()
_lock = threading.Lock()

HEADER = (
    "# Written by jupyterlab-deardiary: its store is not versioned. To version it, delete\n"
    "# this file and set c.DearDiary.version_store = True in jupyter_server_config.py.\n"
)


def gitignore_text(folder: Path, store_name: str) -> str:
    """What the .gitignore says: everything in a folder of DearDiary's own
    (``.deardiary``), only the store's files in a folder the user chose."""
    if folder.name == ".deardiary":
        return HEADER + "*\n"
    name = store_name.replace("\\", "\\\\")
    return HEADER + "".join(
        f"/{pattern}\n"
        for pattern in (name, f"{name}-wal", f"{name}-shm", f"{name}-journal", f".{name}.*.tmp")
    )


def ensure_ignored(store_path: Path, root: str | Path, version_store: bool) -> bool:
    """Write ``.gitignore`` beside the store file when its folder exists, is not the server
    root and has none (an existing one is never touched). True when the folder has one."""
    folder = store_path.parent
    key = str(folder)
    if version_store or key in _done:
        return key in _done
    if os.path.realpath(folder) == os.path.realpath(root) or not folder.is_dir():
        return False  # never in the user's own root; a folder made later: next request
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    with _lock:
        try:
            fd = os.open(folder / ".gitignore", flags, 0o644)
        except FileExistsError:
            pass  # the user's own, or ours: left as it is
        except OSError:
            return False  # an unwritable folder: the store's own write says so
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(gitignore_text(folder, store_path.name))
        _done.add(key)
    return True
