"""Add up the results of every test suite into one closing line: `N passed, N failed`.

Reads the files that scripts/test.sh makes each runner write into a results folder:
jest.json (jest --json), *.xml (pytest --junitxml, and the one-test checks), playwright.json
(Playwright's json reporter) and julia.log (the Test stdlib's summary table). Before the
closing line it prints one line per runner in that runner's own unit (jest, pytest and
Playwright count tests, Julia's Test counts @test assertions), then one `FAILED:` line per
reason a runner did not pass.

A runner does not pass, and each reason counts as one failure in the closing line, when:
- it left no result file, or one that cannot be read;
- a test failed, was skipped or is a todo (a skipped test hides something);
- Playwright reports a top-level error (a web server that did not start, a spec that
  throws when it is loaded: its `stats` are then all zero);
- it ran fewer tests than its expected minimum (MINIMUM below: a wrong path or a renamed
  folder collects nothing, and nothing must not count as green);
- it exited non-zero (scripts/test.sh writes the status to `<result file>.exit`) while its
  result shows no failure.
"""
from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

# The fewest tests each result file must hold, a little under the counts of the suite when
# this was written (the closing report of issue 14 lists them). Raise them as tests are
# added; a runner that ran fewer fails. The one-test checks (lint, check_auth, wheel) need 1.
MINIMUM = {
    "jest.json": 370,  # jest tests (376)
    "julia.log": 9500,  # Julia @test assertions, all IJulia generations together (9741)
    "pytest.xml": 620,  # pytest tests (627)
    "playwright.json": 37,  # Playwright tests, all projects together (37)
}
DEFAULT_MINIMUM = 1
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Result:
    """One runner's result: `ran` counts in `unit` (tests, or assertions for Julia)."""

    passed: int = 0
    failed: int = 0
    ran: int = 0
    unit: str = "tests"
    detail: str = ""
    problems: list[str] = field(default_factory=list)
    #: False when the file holds no count at all (its problem already says so).
    counted: bool = True

    def problem(self, text: str) -> None:
        self.problems.append(text)
        self.failed += 1

    def unreadable(self, text: str) -> "Result":
        self.problem(text)
        self.counted = False
        return self


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def jest(path: Path) -> Result:
    r = Result()
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or "numTotalTests" not in data:
        return r.unreadable("not a jest --json result (no numTotalTests)")
    skipped = data.get("numPendingTests", 0)
    todo = data.get("numTodoTests", 0)
    runtime = data.get("numRuntimeErrorTestSuites", 0)
    r.ran = data["numTotalTests"]
    r.passed = data["numPassedTests"]
    r.failed = data["numFailedTests"] + skipped + todo + runtime
    r.detail = f"in {_plural(data.get('numTotalTestSuites', 0), 'suite')}"
    if skipped:
        r.problems.append(f"{_plural(skipped, 'test')} skipped (it.skip, xit, describe.skip)")
    if todo:
        r.problems.append(f"{_plural(todo, 'test')} left as it.todo")
    if runtime:
        r.problems.append(f"{_plural(runtime, 'suite')} did not run (error outside a test)")
    return r


def junit(path: Path) -> Result:
    r = Result()
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = failed = skipped = 0
    for s in suites:
        total += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    r.ran = total
    r.passed = total - failed - skipped
    r.failed = failed + skipped  # a skipped test hides something
    if skipped:
        r.problems.append(f"{_plural(skipped, 'test')} skipped")
    return r


def playwright(path: Path) -> Result:
    r = Result()
    data = json.loads(path.read_text())
    stats = data.get("stats", {})
    expected = stats.get("expected", 0)
    unexpected = stats.get("unexpected", 0)
    flaky = stats.get("flaky", 0)
    skipped = stats.get("skipped", 0)
    r.ran = expected + unexpected + flaky + skipped
    r.passed = expected
    r.failed = unexpected + flaky + skipped
    r.detail = f"in {_plural(len(data.get('config', {}).get('projects', [])), 'project')}"
    if flaky:
        r.problems.append(f"{_plural(flaky, 'test')} passed only on a retry (flaky)")
    if skipped:
        r.problems.append(f"{_plural(skipped, 'test')} skipped")
    # Errors outside any test: the web server did not start, a spec threw when it was
    # loaded, the config is broken. Playwright then runs nothing and its stats are zeros.
    for error in data.get("errors", []):
        text = ANSI.sub("", error.get("message") or error.get("value") or "").strip()
        first = text.splitlines()[0] if text else "(no message)"
        r.problem(f"error outside any test: {first}")
    return r


def julia(path: Path) -> Result:
    r = Result(unit="@test assertions")
    lines = path.read_text(errors="replace").splitlines()
    generations = sorted(
        {line.split("]", 1)[0][len("[IJulia ") :] for line in lines if line.startswith("[IJulia ")}
    )
    if generations:
        r.detail = f"over {_plural(len(generations), 'IJulia generation')} ({', '.join(generations)})"
    for i, line in enumerate(lines):
        if line.startswith("Test Summary:") and i + 1 < len(lines):
            try:
                names = line.split("|")[1].split()
                values = [int(v) for v in lines[i + 1].split("|")[1].split()]
            except (IndexError, ValueError):
                continue
            counts = dict(zip(names, values))
            r.passed = counts.get("Pass", 0)
            r.ran = counts.get("Total", sum(values))
            r.failed = sum(v for k, v in counts.items() if k not in ("Pass", "Total"))
            if counts.get("Broken", 0):
                r.problems.append(f"{_plural(counts['Broken'], 'assertion')} marked @test_broken")
            return r
    return r.unreadable("no `Test Summary:` table (Julia stopped before the end of the tests)")


READERS = {".json": jest, ".xml": junit, ".log": julia}
NAMES = {"jest.json": "jest", "julia.log": "julia", "pytest.xml": "pytest", "playwright.json": "playwright"}


def read(results: Path, name: str, minimum: int) -> Result:
    path = results / name
    if not path.exists():
        r = Result(unit="@test assertions" if name == "julia.log" else "tests")
        r.problem("no result file (the runner did not run to the end)")
        return r
    reader = playwright if name == "playwright.json" else READERS[path.suffix]
    try:
        r = reader(path)
    except (ValueError, ET.ParseError, KeyError, TypeError, AttributeError) as error:
        r = Result()
        r.problem(f"unreadable result file ({type(error).__name__}: {error})")
        return r
    if r.counted and r.ran < minimum:
        r.problem(
            f"only {r.ran} {r.unit} ran, expected at least {minimum}"
            " (nothing collected? a wrong path, a renamed folder?)"
        )
    exit_file = results / f"{name}.exit"
    if exit_file.exists():
        status = exit_file.read_text().strip()
        if status not in ("", "0") and r.failed == 0:
            r.problem(f"the runner exited with status {status} but its result shows no failure")
    return r


def main(folder: str, expected: list[str], minimum: dict[str, int] | None = None) -> int:
    minimum = MINIMUM if minimum is None else minimum
    results = Path(folder)
    passed = failed = 0
    lines: list[str] = []
    problems: list[str] = []
    for name in expected:
        label = NAMES.get(name, Path(name).stem)
        r = read(results, name, minimum.get(name, DEFAULT_MINIMUM))
        extra = f" {r.detail}" if r.detail else ""
        unit = r.unit[:-1] if r.ran == 1 and r.unit.endswith("s") else r.unit
        lines.append(f"{label}: {r.ran} {unit}{extra}: {r.passed} passed, {r.failed} failed")
        problems += [f"FAILED: {label} ({name}): {p}" for p in r.problems]
        passed, failed = passed + r.passed, failed + r.failed
    for line in lines + problems:
        print(line)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
