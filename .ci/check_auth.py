"""Fail if any jupyterlab_deardiary endpoint can be reached without authentication.

jupyter_server inspects every handler an extension registers and emits a
JupyterServerAuthWarning for each HTTP verb that is neither @web.authenticated nor
explicitly @allow_unauthenticated. Load the extension with authentication required and
turn any such warning into a failure.
"""

import sys
import warnings

from jupyter_server.serverapp import ServerApp
from jupyter_server.utils import JupyterServerAuthWarning

EXTENSION = "jupyterlab_deardiary"


def main() -> int:
    app = ServerApp(
        allow_unauthenticated_access=False,
        jpserver_extensions={EXTENSION: True},
        reraise_server_extension_failures=True,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.initialize(argv=[], find_extensions=False, new_httpserver=False)

    problems = [w for w in caught if issubclass(w.category, JupyterServerAuthWarning)]
    if problems:
        for w in problems:
            print(f"{w.filename}:{w.lineno}: {w.message}", file=sys.stderr)
        sys.exit(f"{EXTENSION}: {len(problems)} endpoint(s) reachable without authentication")
    if EXTENSION not in app.extension_manager.extensions:
        sys.exit(f"{EXTENSION}: the server extension did not load")
    print(f"{EXTENSION}: every endpoint requires authentication")
    return 0


if __name__ == "__main__":
    sys.exit(main())
