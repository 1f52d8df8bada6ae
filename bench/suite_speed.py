"""Is the test suite as fast as an older checkout's, test by test?

    .venv/bin/python bench/suite_speed.py --baseline-tree DIR [--out DIR] [-- PYTEST_ARGS...]
    .venv/bin/python bench/suite_speed.py --compare OLD.xml NEW.xml

The suite grows, so comparing the wall time of two whole runs says little. This runs the suite of
the older checkout in DIR (with DIR/.venv) and then this checkout's, each writing pytest's JUnit
report, and compares only the tests present in both that passed in both (a test's time is its
setup + call + teardown): the sum of their durations old and new, and the ratio new / old. It also
prints both runs' wall times and the tests whose time grew most. ``--compare`` reads two reports
written earlier (``pytest --junitxml=FILE``).

PYTEST_ARGS default to what `make test` runs (``-n 2 --dist loadgroup``) over the test files both
checkouts have (a file only one has cannot count, so neither run spends time on it); give
arguments with test paths to try it on a few files. The two runs are one after the other, so on a
busy machine their load differs: read the ratio from a quiet machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAKE_TEST = ["-n", "2", "--dist", "loadgroup"]


def passed_durations(report: Path) -> dict[str, float]:
    """Seconds of every test that passed, by ``classname::name``, from a JUnit report."""
    out: dict[str, float] = {}
    for case in ET.parse(report).iter("testcase"):  # noqa: S314 - pytest's own report of a run here
        if any(child.tag in ("skipped", "failure", "error") for child in case):
            continue
        out[f"{case.get('classname')}::{case.get('name')}"] = float(case.get("time") or 0)
    return out


def compare(old: Path, new: Path, walls: tuple[float, float] | None = None) -> None:
    a, b = passed_durations(old), passed_durations(new)
    both = sorted(a.keys() & b.keys())
    sum_a, sum_b = sum(a[t] for t in both), sum(b[t] for t in both)
    print(f"passed tests: old {len(a)}, new {len(b)}; in both: {len(both)} "
          f"(only old: {len(a.keys() - b.keys())}, only new: {len(b.keys() - a.keys())})")
    print(f"sum of the durations of the tests in both: old {sum_a:.1f} s, new {sum_b:.1f} s, "
          f"new/old {sum_b / sum_a if sum_a else float('nan'):.3f}")
    if walls:
        print(f"wall time of the whole run (all tests):   old {walls[0]:.1f} s, new {walls[1]:.1f} s")
    grew = sorted(both, key=lambda t: b[t] - a[t], reverse=True)[:10]
    print("grew most (old s -> new s):")
    for t in grew:
        print(f"  {a[t]:7.2f} -> {b[t]:7.2f}  {t}")


def common_test_files(old: Path, new: Path) -> list[str]:
    """The test files (relative to the checkout) that both checkouts have."""
    def files(root: Path) -> set[str]:
        return {str(f.relative_to(root)) for f in (root / "tests").rglob("test_*.py")}
    return sorted(files(old) & files(new))


def run_suite(tree: Path, python: Path, pytest_args: list[str], report: Path) -> float:
    """Wall seconds of one run of ``tree``'s suite with its own environment; its report in ``report``."""
    start = time.perf_counter()
    proc = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           *pytest_args], cwd=tree, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # 1: some tests failed; they are left out of the comparison
        raise SystemExit(f"pytest in {tree} ended with exit code {proc.returncode}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-tree", type=Path, metavar="DIR", help="the older checkout, with DIR/.venv")
    parser.add_argument("--out", type=Path, help="keep the two reports here (default: a temporary folder)")
    parser.add_argument("--compare", type=Path, nargs=2, metavar=("OLD.xml", "NEW.xml"))
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for both pytest runs")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    if not args.baseline_tree:  # `make bench` runs every bench bare: two whole suites are not for that
        print("nothing to compare: give --baseline-tree DIR or --compare OLD.xml NEW.xml (see --help)")
        return
    old = args.baseline_tree.resolve()
    pytest_args = args.pytest_args or [*MAKE_TEST, *common_test_files(old, ROOT)]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        walls = (run_suite(old, old / ".venv" / "bin" / "python", pytest_args, out / "old.xml"),
                 run_suite(ROOT, Path(sys.executable), pytest_args, out / "new.xml"))
        print(f"old: {old}\nnew: {ROOT}\npytest {' '.join(pytest_args)[:300]}")
        compare(out / "old.xml", out / "new.xml", walls)


if __name__ == "__main__":
    main()
