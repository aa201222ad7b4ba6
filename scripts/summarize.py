"""Add up the results of every test suite into one closing line: `N passed, N failed`.

Reads the files that scripts/test.sh makes each runner write into a results folder:
jest-*.json (jest --json), *.xml (pytest --junitxml), playwright.json (Playwright's json
reporter) and julia.log (the Test stdlib's summary table). A suite that left no result
counts as one failure.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def jest(path: Path) -> tuple[int, int]:
    data = json.loads(path.read_text())
    failed = data["numFailedTests"] + data.get("numRuntimeErrorTestSuites", 0)
    return data["numPassedTests"], failed


def junit(path: Path) -> tuple[int, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    total = failed = skipped = 0
    for s in suites:
        total += int(s.get("tests", 0))
        failed += int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped += int(s.get("skipped", 0))
    return total - failed - skipped, failed + skipped  # a skipped test hides something


def playwright(path: Path) -> tuple[int, int]:
    stats = json.loads(path.read_text())["stats"]
    return stats["expected"], stats["unexpected"] + stats.get("flaky", 0) + stats.get("skipped", 0)


def julia(path: Path) -> tuple[int, int]:
    lines = path.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Test Summary:") and i + 1 < len(lines):
            names = line.split("|")[1].split()
            values = [int(v) for v in lines[i + 1].split("|")[1].split()]
            counts = dict(zip(names, values))
            return counts.get("Pass", 0), sum(v for k, v in counts.items() if k not in ("Pass", "Total"))
    return 0, 1


def main(folder: str, expected: list[str]) -> int:
    results = Path(folder)
    passed = failed = 0
    readers = {".json": jest, ".xml": junit, ".log": julia}
    for name in expected:
        path = results / name
        if not path.exists():
            print(f"{name}: no result (the suite did not run to the end)")
            failed += 1
            continue
        reader = playwright if name == "playwright.json" else readers[path.suffix]
        p, f = reader(path)
        print(f"{name}: {p} passed, {f} failed")
        passed, failed = passed + p, failed + f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
