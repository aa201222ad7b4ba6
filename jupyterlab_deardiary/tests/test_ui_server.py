"""Issue 14: the Galata tests never reuse a server they did not start, and a Galata run that
cannot start its server fails the checker with a clear line (it once counted as green).

Real Playwright (ui-tests' own, with ui-tests/playwright.config.js) against a JupyterLab-like
server a user left running on the tests' port: Playwright must refuse to start, the
squatter must receive nothing but Playwright's probe of the URL, and scripts/summarize.py
must turn Playwright's JSON report into a failure that names the cause.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from .test_store_crash import free_port
from .test_summarize import minimum, run as checker

REPO = Path(__file__).parents[2]
UI = REPO / "ui-tests"


class Squatter(http.server.ThreadingHTTPServer):
    """A server that answers every request 200 with a JupyterLab-looking page, as a
    `jupyter lab` left running by `scripts/start.sh` does, and notes each request."""

    def __init__(self, port: int, status: int) -> None:
        self.seen: list[str] = []
        answer = status

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.server.seen.append(f"GET {self.path}")  # type: ignore[attr-defined]
                body = b"<html><title>JupyterLab</title></html>"
                self.send_response(answer)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", port), Handler)


def run_playwright(port: int, results: Path) -> subprocess.CompletedProcess:
    assert shutil.which("jlpm"), "jlpm is needed (the frontend's toolchain)"
    assert (UI / "node_modules").is_dir(), "ui-tests' node_modules: run scripts/setup.sh"
    env = {
        **os.environ,
        "DEARDIARY_UI_PORT": str(port),
        "DEARDIARY_UI_ROOT": str(results / "root"),
        "PLAYWRIGHT_JSON_OUTPUT_NAME": str(results / "playwright.json"),
    }
    return subprocess.run(
        ["jlpm", "playwright", "test", "tests/deardiary.spec.ts", "--reporter=json"],
        cwd=UI, env=env, capture_output=True, text=True, timeout=180,
    )


@pytest.mark.parametrize("status", [200, 404], ids=["jupyterlab-answers", "other-server"])
def test_galata_never_uses_a_server_it_did_not_start(tmp_path, status):
    port = free_port()
    squatter = Squatter(port, status)
    thread = threading.Thread(target=squatter.serve_forever, daemon=True)
    thread.start()
    try:
        run = run_playwright(port, tmp_path)
    finally:
        squatter.shutdown()
        squatter.server_close()
    assert run.returncode != 0, run.stdout[-2000:]
    # Only Playwright's look at the URL before starting its own server: no test ran there.
    assert set(squatter.seen) == {"GET /lab"}, squatter.seen
    report = json.loads((tmp_path / "playwright.json").read_text())
    assert report["stats"]["expected"] == report["stats"]["unexpected"] == 0
    (error,) = report["errors"]
    expected = "is already used" if status == 200 else "was not able to start"
    assert expected in error["message"], error
    # The checker, run as scripts/test.sh runs it, says so and fails.
    code, out = checker(tmp_path, "playwright.json")
    assert code == 1
    assert out[0] == "playwright: 0 tests in 3 projects: 0 passed, 2 failed"
    assert out[1].startswith("FAILED: playwright (playwright.json): error outside any test: ")
    assert expected in out[1]
    assert out[2] == (
        "FAILED: playwright (playwright.json): only 0 tests ran, expected at least "
        f"{minimum('playwright.json')} (nothing collected? a wrong path, a renamed "
        "folder?)"
    )
    assert out[-1] == "0 passed, 2 failed"
