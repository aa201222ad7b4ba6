"""JupyterLab server for the Galata tests. TEST ONLY.

Never use this configuration in production: galata's settings open the server without a
token and expose JupyterLab's objects on `window` for the tests.
"""
import os
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821
# Galata's helper hard-codes port 8888 (and port_retries = 0). The tests' port is
# DEARDIARY_UI_PORT: ui-tests/playwright.config.js chooses a free one when it is not set
# and passes it to this server (`jlpm start`) through the environment; 8888 only when this
# server is started by hand without it.
c.ServerApp.port = int(os.environ.get("DEARDIARY_UI_PORT") or "8888")  # noqa: F821
c.ServerApp.port_retries = 0  # noqa: F821  # another port would never be tested

# The notebooks and repositories the tests create live in a throw-away root.
root = Path(os.environ.get("DEARDIARY_UI_ROOT", Path(__file__).parent / ".jupyter-root"))
root.mkdir(parents=True, exist_ok=True)
c.ServerApp.root_dir = str(root)  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.jpserver_extensions = {"jupyterlab_deardiary": True}  # noqa: F821

# The TEST-ONLY Julia kernel (ui-tests/test-kernel): visible to this server only; none at
# all with DEARDIARY_UI_NO_JULIA=1 (the first-run guidance test: no Julia kernelspec).
here = Path(__file__).parent
kernels = [] if os.environ.get("DEARDIARY_UI_NO_JULIA") else [str(here / "test-kernel")]
os.environ["JUPYTER_PATH"] = os.pathsep.join(
    p
    for p in [*kernels, *os.environ.get("JUPYTER_PATH", "").split(os.pathsep)]
    if p and (kernels or Path(p).resolve() != (here / "test-kernel").resolve())
)
