"""Time to the workbench's first useful frame, against a bare Textual app measured in the same run.

    .venv/bin/python bench/tui_startup.py [--repeat 5] [--workspace DIR]
    .venv/bin/python bench/tui_startup.py --baseline-tree DIR [--repeat 10]

Each measurement is a fresh Python process (imports are most of start-up), run headless with
``App.run_test`` at 80x24:

- baseline: ``import textual`` + a bare ``App`` with one Static, until its screen is mounted;
- workbench: ``build_app(ws)`` from ``mlops_tui.screens.app`` (what ``mlops-tui`` runs: the home
  screen's data read, then the app) on a workspace holding the sample datasets and a few runs,
  until the home screen shows data read from the store (the first useful frame).

Times are from the child's first line (after the interpreter is up) and as wall time of the whole
process. Prints medians and the ratio workbench / baseline, and which heavy modules (lightgbm,
sklearn, optuna, scipy) the workbench had imported by then (must be none).

``--baseline-tree DIR`` compares this checkout with an older one instead: DIR holds that checkout,
installed in its own ``DIR/.venv`` (before 47d0740 screens/ was the top-level package ``screens``;
the child finds either). Each checkout gets a sample workspace made by its own ``init --sample``.
Then, old and new in turn within every round, it measures the bare App (a control: the two
environments' Textual should be equally fast), the workbench's first frame, and the wall time of
the headless commands ``mlops-tui --help`` and ``mlops-tui dataset list --json``. Prints both
medians and the ratio new / old, and what a busy machine cannot blur: how many modules the first
frame and ``dataset list`` import, and whether any of them is heavy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

HEAVY = ("lightgbm", "sklearn", "optuna", "scipy")

CHILD = r"""
import time
T0 = time.perf_counter()
import asyncio, json, sys
KIND, WS = sys.argv[1], sys.argv[2]

def loaded():
    return {"heavy": sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in HEAVY}),
            "modules": len(sys.modules)}

async def first_frame():
    if KIND == "baseline":
        from textual.app import App
        from textual.widgets import Static

        class Bare(App):
            def compose(self):
                yield Static("hello")

        app = Bare()
        async with app.run_test(size=(80, 24)) as pilot:
            while not app.screen.query("Static"):
                await pilot.pause(0.005)
            elapsed = time.perf_counter() - T0
    else:
        from mlops_tui.workspace import Workspace
        try:
            from mlops_tui.screens.app import build_app
        except ModuleNotFoundError:  # a checkout from before 47d0740: screens/ was a top-level package
            from screens.app import build_app

        app = build_app(Workspace.open(WS))  # what `mlops-tui` runs: home data read, then the app
        async with app.run_test(size=(80, 24)) as pilot:
            while True:
                try:
                    if app.screen.query_one("#attention").row_count:
                        break
                except Exception:
                    pass
                await pilot.pause(0.005)
            elapsed = time.perf_counter() - T0
    print(json.dumps({"elapsed": elapsed, **loaded()}))

if KIND == "cli":  # a headless command, in this process, to see what it imports (not timed)
    import runpy
    sys.argv = ["mlops-tui", "--workspace", WS, *sys.argv[3:]]
    try:
        runpy.run_module("mlops_tui", run_name="__main__")
    except SystemExit:
        pass
    print(json.dumps(loaded()), file=sys.stderr)
else:
    asyncio.run(first_frame())
""".replace("HEAVY", repr(HEAVY))

# The three runs of a sample workspace, written with the store API both layouts share.
RUNS = r"""
import sys
from mlops_tui.workspace import Workspace
ws = Workspace.open(sys.argv[1])
for i, status in enumerate(("completed", "running", "failed")):
    ws.store.runs.create(run_id=f"bench{i}", name=f"penguins-{i}", dataset="penguins", dataset_version=1,
                         target="species", task="multiclass", metric="log_loss", direction="minimize",
                         seed=0, config={}, n_trials_requested=5)
    ws.store.runs.update(f"bench{i}", status=status)
"""


@dataclass(frozen=True)
class Tree:
    """A checkout and the Python of the environment it is installed in."""

    root: Path
    python: Path

    def run(self, *args: str, program: str = "python") -> subprocess.CompletedProcess[str]:
        """``program`` of this environment (python, or the console script mlops-tui), in the checkout."""
        return subprocess.run([str(self.python.parent / program), *args], capture_output=True, text=True,
                              cwd=self.root, timeout=300, check=False)

    def checked(self, *args: str, program: str = "python") -> str:
        proc = self.run(*args, program=program)
        if proc.returncode != 0:
            raise SystemExit(f"{self.root}: {program} {' '.join(args)[:80]} failed:\n{proc.stderr[-2000:]}")
        return proc.stdout

    def compile(self) -> None:
        """As installed by `make`: the project's bytecode compiled (an editable install leaves that to
        the first import, which PYTHONDONTWRITEBYTECODE=1 would turn into a compile on every start)."""
        self.checked("-m", "compileall", "-q", "mlops_tui", "screens", "store")


def measure(tree: Tree, kind: str, ws: Path) -> tuple[float, float, dict[str, Any]]:
    """(in-process seconds, wall seconds, what it had imported) of one fresh child."""
    start = time.perf_counter()
    out = tree.checked("-c", CHILD, kind, str(ws))
    wall = time.perf_counter() - start
    found = json.loads(out.strip().splitlines()[-1])
    return found.pop("elapsed"), wall, found


def command_wall(tree: Tree, *args: str) -> float:
    """Wall time of the console script, as a user or a cron job runs it."""
    start = time.perf_counter()
    tree.checked(*args, program="mlops-tui")
    return time.perf_counter() - start


def headless_imports(tree: Tree, ws: Path, *args: str) -> dict[str, Any]:
    """What a headless command imports (one run in the child, not timed)."""
    proc = tree.run("-c", CHILD, "cli", str(ws), *args)
    return json.loads(proc.stderr.strip().splitlines()[-1])


def entry_import_time(module: str) -> float:
    """What an entry point adds before run_app: importing its module."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(proc.stdout.strip())


def sample_workspace(tree: Tree, root: Path) -> Path:
    """The sample datasets plus three runs, like a workspace after the README's first steps."""
    tree.checked("--workspace", str(root), "init", "--sample", program="mlops-tui")
    tree.checked("-c", RUNS, str(root))
    return root


def one_round(tree: Tree, ws: Path) -> dict[str, float]:
    """Seconds of each measurement of the comparison, once."""
    bare = measure(tree, "baseline", ws)[0]
    frame, wall, _ = measure(tree, "workbench", ws)
    return {"bare textual App, first frame (control)": bare, "workbench first frame, in-process": frame,
            "workbench first frame, wall": wall, "`mlops-tui --help`, wall": command_wall(tree, "--help"),
            "`mlops-tui dataset list --json`, wall": command_wall(tree, "--workspace", str(ws), "dataset",
                                                                  "list", "--json")}


def compare_trees(old: Tree, new: Tree, repeat: int) -> None:
    """The old and the new checkout in turn within every round, so a change of load hits both."""
    trees = {"old": old, "new": new}
    times: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = {}
        for label, tree in trees.items():
            tree.compile()
            ws[label] = sample_workspace(tree, Path(tmp) / label)
            one_round(tree, ws[label])  # unmeasured: the OS file cache warm for both
        for _ in range(repeat):
            for label, tree in trees.items():
                for what, seconds in one_round(tree, ws[label]).items():
                    times.setdefault(what, {"old": [], "new": []})[label].append(seconds)
        imported = {label: (measure(tree, "workbench", ws[label])[2],
                            headless_imports(tree, ws[label], "dataset", "list", "--json"))
                    for label, tree in trees.items()}
    print(f"old: {old.root} ({old.python})\nnew: {new.root} ({new.python})")
    print(f"runs: {repeat} each, old and new in turn, medians; a fresh process each, headless 80x24")
    print(f"{'':42}{'old':>10}{'new':>10}{'new/old':>10}")
    for what, by in times.items():
        o, n = statistics.median(by["old"]) * 1000, statistics.median(by["new"]) * 1000
        print(f"{what:42}{o:8.0f}ms{n:8.0f}ms{n / o:9.2f}x")
    for i, what in enumerate(("the first frame", "`dataset list --json`")):
        o, n = imported["old"][i], imported["new"][i]
        print(f"{'modules imported by ' + what:42}{o['modules']:10}{n['modules']:10}")
        print(f"{'  heavy ones among them':42}{', '.join(o['heavy']) or 'none':>10}"
              f"{', '.join(n['heavy']) or 'none':>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workspace", type=Path, help="an existing workspace (default: a temp sample one)")
    parser.add_argument("--baseline-tree", type=Path, metavar="DIR",
                        help="compare with the older checkout in DIR (installed in DIR/.venv) instead")
    args = parser.parse_args()
    here = Tree(ROOT, Path(sys.executable))
    if args.baseline_tree:
        old = args.baseline_tree.resolve()
        compare_trees(Tree(old, old / ".venv" / "bin" / "python"), here, args.repeat)
        return
    here.compile()
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace or sample_workspace(here, Path(tmp) / "ws")
        measure(here, "baseline", ws)  # warm the OS file cache for both
        measure(here, "workbench", ws)
        base, bench, heavy = [], [], set()
        for _ in range(args.repeat):
            e, w, _ = measure(here, "baseline", ws)
            base.append((e, w))
            e, w, found = measure(here, "workbench", ws)
            bench.append((e, w))
            heavy.update(found["heavy"])
        entry = statistics.median(entry_import_time("mlops_tui.entry") for _ in range(args.repeat))
        cli = statistics.median(entry_import_time("mlops_tui.cli") for _ in range(args.repeat))
    b_e, b_w = statistics.median(e for e, _ in base), statistics.median(w for _, w in base)
    w_e, w_w = statistics.median(e for e, _ in bench), statistics.median(w for _, w in bench)
    print(f"runs: {args.repeat} each, median, fresh process each, headless 80x24")
    print(f"bare textual App, first frame        : {b_e * 1000:7.0f} ms in-process   {b_w * 1000:7.0f} ms wall")
    print(f"workbench, home with store data shown: {w_e * 1000:7.0f} ms in-process   {w_w * 1000:7.0f} ms wall")
    print(f"ratio workbench / bare App           : {w_e / b_e:7.2f}x in-process  {w_w / b_w:7.2f}x wall")
    print(f"target first useful frame <= 500 ms  : {'met' if w_e <= 0.5 else 'NOT met'} ({w_e * 1000:.0f} ms)")
    print(f"heavy modules loaded by then         : {', '.join(sorted(heavy)) or 'none'}")
    print(f"+ `mlops-tui` entry (mlops_tui.entry)  : {entry * 1000:7.0f} ms before run_app")
    print(f"  (`mlops-tui tui` goes through the CLI : {cli * 1000:7.0f} ms of typer and command modules)")


if __name__ == "__main__":
    main()
