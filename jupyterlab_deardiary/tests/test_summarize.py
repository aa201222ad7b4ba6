"""scripts/summarize.py, the checker that turns the runners' result files into the closing
line `N passed, N failed` of scripts/test.sh: fabricated result files of each runner, the
failures they must count and the lines that must say why.

The checker is run as scripts/test.sh runs it (a separate Python, the results folder and
the expected file names as arguments), so the exit status and the closing line are the
ones CI sees.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "summarize.py"
_spec = importlib.util.spec_from_file_location("deardiary_summarize", SCRIPT)
summarize = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = summarize  # dataclasses look their module up there
_spec.loader.exec_module(summarize)


def minimum(name: str) -> int:
    return getattr(summarize, "MINIMUM", {}).get(name, 1)


def run(folder: Path, *names: str) -> tuple[int, list[str]]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder), *names],
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = proc.stdout.splitlines()
    return proc.returncode, lines


def closing(lines: list[str]) -> str:
    assert lines, "the checker printed nothing"
    assert re.fullmatch(r"\d+ passed, \d+ failed", lines[-1]), lines[-1]
    return lines[-1]


def jest_json(passed: int, failed: int = 0, pending: int = 0, todo: int = 0, suites: int = 3):
    return {
        "numTotalTests": passed + failed + pending + todo,
        "numPassedTests": passed,
        "numFailedTests": failed,
        "numPendingTests": pending,
        "numTodoTests": todo,
        "numTotalTestSuites": suites,
        "numPassedTestSuites": suites,
        "numFailedTestSuites": 0,
        "numPendingTestSuites": 0,
        "numRuntimeErrorTestSuites": 0,
        "success": failed == 0,
        "testResults": [],
    }


def junit_xml(tests: int, failures: int = 0, errors: int = 0, skipped: int = 0) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites>'
        f'<testsuite name="pytest" errors="{errors}" failures="{failures}" '
        f'skipped="{skipped}" tests="{tests}" time="1.0"/></testsuites>'
    )


def playwright_json(expected: int, errors: list[str] = (), unexpected: int = 0):
    return {
        "config": {"projects": [{"name": "ijulia-1.24"}, {"name": "ijulia-1.30"}]},
        "suites": [],
        "errors": [
            {"message": f"\x1b[31m{m}\x1b[39m\n    at somewhere", "stack": m} for m in errors
        ],
        "stats": {
            "startTime": "2025-01-01T00:00:00.000Z",
            "duration": 1.0,
            "expected": expected,
            "skipped": 0,
            "unexpected": unexpected,
            "flaky": 0,
        },
    }


def julia_log(passed: int, generations=("1.24", "1.30", "1.34")) -> str:
    lines = [f"[IJulia {g}] Test Summary: | Pass  Total" for g in generations]
    label = "jupyterlab-deardiary kernel code, IJulia " + ", ".join(generations)
    lines += [
        "",
        "Test Summary:".ljust(len(label)) + " | " + "Pass".rjust(5) + "  " + "Total".rjust(5),
        label + " | " + str(passed).rjust(5) + "  " + str(passed).rjust(5),
        f"Julia tests: 40.0 s for {len(generations)} IJulia generations",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def green(tmp_path: Path) -> Path:
    """A results folder where every runner ran at least its minimum and passed."""
    (tmp_path / "jest.json").write_text(json.dumps(jest_json(minimum("jest.json"))))
    (tmp_path / "pytest.xml").write_text(junit_xml(minimum("pytest.xml")))
    (tmp_path / "playwright.json").write_text(
        json.dumps(playwright_json(minimum("playwright.json")))
    )
    (tmp_path / "julia.log").write_text(julia_log(minimum("julia.log")))
    (tmp_path / "lint.xml").write_text(junit_xml(1))
    return tmp_path


ALL = ("lint.xml", "jest.json", "julia.log", "pytest.xml", "playwright.json")


def test_green_results_pass_and_each_runner_says_its_unit(green: Path):
    status, lines = run(green, *ALL)
    total = sum(minimum(n) for n in ALL)
    assert closing(lines) == f"{total} passed, 0 failed"
    assert status == 0
    assert not [line for line in lines if line.startswith("FAILED")]
    by_runner = {line.split(":")[0]: line for line in lines[:-1]}
    assert by_runner["jest"].startswith(f"jest: {minimum('jest.json')} tests in 3 suites:")
    assert by_runner["pytest"].startswith(f"pytest: {minimum('pytest.xml')} tests:")
    assert by_runner["playwright"].startswith(
        f"playwright: {minimum('playwright.json')} tests in 2 projects:"
    )
    # Julia's Test counts assertions, not tests: the line says so.
    assert by_runner["julia"].startswith(
        f"julia: {minimum('julia.log')} @test assertions over 3 IJulia generations (1.24, 1.30, 1.34):"
    )


def test_a_galata_run_that_never_started_fails(green: Path):
    # What Playwright writes when the web server cannot start: no test, zero stats, errors.
    (green / "playwright.json").write_text(
        json.dumps(
            playwright_json(
                0,
                errors=[
                    "Error: Process from config.webServer was not able to start. Exit code: 1",
                    "Error: Cannot find module './lab' from tests/snapshot.spec.ts",
                ],
            )
        )
    )
    status, lines = run(green, *ALL)
    assert status == 1
    others = sum(minimum(n) for n in ALL if n != "playwright.json")
    # Two top-level errors, and fewer tests than the minimum: three failures.
    assert closing(lines) == f"{others} passed, 3 failed"
    assert (
        "FAILED: playwright (playwright.json): error outside any test: "
        "Error: Process from config.webServer was not able to start. Exit code: 1"
    ) in lines
    assert (
        "FAILED: playwright (playwright.json): error outside any test: "
        "Error: Cannot find module './lab' from tests/snapshot.spec.ts"
    ) in lines
    assert any(
        line.startswith(
            f"FAILED: playwright (playwright.json): only 0 tests ran, expected at least "
            f"{minimum('playwright.json')}"
        )
        for line in lines
    )


@pytest.mark.parametrize("content", ["", "{}", "[]"])
def test_an_empty_jest_result_fails(green: Path, content: str):
    (green / "jest.json").write_text(content)
    status, lines = run(green, "jest.json", "pytest.xml")
    assert status == 1
    assert closing(lines) == f"{minimum('pytest.xml')} passed, 1 failed"
    assert any(line.startswith("FAILED: jest (jest.json): ") for line in lines)


def test_a_jest_run_that_collected_nothing_fails(green: Path):
    (green / "jest.json").write_text(json.dumps(jest_json(0, suites=0)))
    status, lines = run(green, "jest.json")
    assert status == 1
    assert closing(lines) == "0 passed, 1 failed"
    assert any(
        line.startswith(
            f"FAILED: jest (jest.json): only 0 tests ran, expected at least {minimum('jest.json')}"
        )
        for line in lines
    )


def test_jest_skipped_and_todo_tests_are_failures(green: Path):
    n = minimum("jest.json")
    (green / "jest.json").write_text(json.dumps(jest_json(n, pending=2, todo=1)))
    status, lines = run(green, "jest.json")
    assert status == 1
    assert closing(lines) == f"{n} passed, 3 failed"
    assert "FAILED: jest (jest.json): 2 tests skipped (it.skip, xit, describe.skip)" in lines
    assert "FAILED: jest (jest.json): 1 test left as it.todo" in lines


def test_a_junit_file_with_no_test_fails(green: Path):
    (green / "pytest.xml").write_text(junit_xml(0))
    status, lines = run(green, "pytest.xml", "lint.xml")
    assert status == 1
    assert closing(lines) == "1 passed, 1 failed"
    assert any(
        line.startswith(
            f"FAILED: pytest (pytest.xml): only 0 tests ran, expected at least {minimum('pytest.xml')}"
        )
        for line in lines
    )


def test_pytest_skips_still_fail(green: Path):
    n = minimum("pytest.xml")
    (green / "pytest.xml").write_text(junit_xml(n + 1, skipped=1))
    status, lines = run(green, "pytest.xml")
    assert (status, closing(lines)) == (1, f"{n} passed, 1 failed")
    assert "FAILED: pytest (pytest.xml): 1 test skipped" in lines


def test_a_julia_log_without_a_summary_fails(green: Path):
    (green / "julia.log").write_text("[IJulia 1.24] ERROR: LoadError: boom\n")
    status, lines = run(green, "julia.log")
    assert status == 1
    # One failure: the missing table says why; no second line about the minimum.
    assert closing(lines) == "0 passed, 1 failed"
    assert (
        "FAILED: julia (julia.log): no `Test Summary:` table "
        "(Julia stopped before the end of the tests)"
    ) in lines


def test_julia_with_too_few_assertions_fails(green: Path):
    (green / "julia.log").write_text(julia_log(5))
    status, lines = run(green, "julia.log")
    assert (status, closing(lines)) == (1, "5 passed, 1 failed")
    assert any(
        line.startswith(
            f"FAILED: julia (julia.log): only 5 @test assertions ran, expected at least "
            f"{minimum('julia.log')}"
        )
        for line in lines
    )


def test_a_missing_result_fails(green: Path):
    (green / "playwright.json").unlink()
    status, lines = run(green, "playwright.json")
    assert (status, closing(lines)) == (1, "0 passed, 1 failed")
    assert (
        "FAILED: playwright (playwright.json): no result file (the runner did not run to the end)"
    ) in lines


def test_a_runner_that_exited_non_zero_fails_even_with_a_clean_result(green: Path):
    # e.g. pytest exits 2 (usage error, interrupted) after writing a clean junit file.
    (green / "pytest.xml.exit").write_text("2\n")
    (green / "jest.json.exit").write_text("0\n")
    status, lines = run(green, "pytest.xml", "jest.json")
    assert status == 1
    assert closing(lines) == f"{minimum('pytest.xml') + minimum('jest.json')} passed, 1 failed"
    assert (
        "FAILED: pytest (pytest.xml): the runner exited with status 2 but its result shows "
        "no failure"
    ) in lines


def test_minimums_are_set_for_every_runner():
    table = getattr(summarize, "MINIMUM", None)
    assert table is not None, "no table of expected minimum counts"
    for name in ("jest.json", "julia.log", "pytest.xml", "playwright.json"):
        assert table.get(name, 0) > 1, name
