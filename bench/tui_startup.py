"""Time to the workbench's first useful frame, against a bare Textual app measured in the same run.

    .venv/bin/python bench/tui_startup.py [--repeat 5] [--workspace DIR]

Each measurement is a fresh Python process (imports are most of start-up), run headless with
``App.run_test`` at 80x24:

- baseline: ``import textual`` + a bare ``App`` with one Static, until its screen is mounted;
- workbench: ``import screens.app`` + ``build_app(ws)`` (what ``mlops-tui`` runs: the home screen's
  data read, then the app) on a workspace holding the sample datasets and a few runs, until the
  home screen shows data read from the store (the first useful frame).

Times are from the child's first line (after the interpreter is up) and as wall time of the whole
process. Prints medians and the ratio workbench / baseline, and which heavy modules (lightgbm,
sklearn, optuna, scipy) the workbench had imported by then (must be none).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEAVY = ("lightgbm", "sklearn", "optuna", "scipy")

CHILD = r"""
import time
T0 = time.perf_counter()
import asyncio, json, sys
KIND, WS = sys.argv[1], sys.argv[2]

async def main():
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
        from mlops_tui.screens.app import build_app

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
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    print(json.dumps({"elapsed": elapsed, "heavy": sorted({m.split(".")[0] for m in heavy})}))

asyncio.run(main())
""".replace("HEAVY", repr(HEAVY))


def measure(kind: str, ws: Path) -> tuple[float, float, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(ws)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return out["elapsed"], wall, out["heavy"]


def entry_import_time(module: str) -> float:
    """What an entry point adds before run_app: importing its module."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return float(proc.stdout.strip())


def sample_workspace(root: Path) -> Path:
    """The sample datasets plus three runs, like a workspace after the README's first steps."""
    from mlops_tui.sample_data import SAMPLES, sample_path

    from mlops_tui.data import datasets
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(root, create=True)
    for name, (file, target) in SAMPLES.items():
        datasets.add(ws, str(sample_path(file)), name=name, target=target)
    for i, status in enumerate(("completed", "running", "failed")):
        ws.store.runs.create(run_id=f"bench{i}", name=f"penguins-{i}", dataset="penguins", dataset_version=1,
                             target="species", task="multiclass", metric="log_loss", direction="minimize",
                             seed=0, config={}, n_trials_requested=5)
        ws.store.runs.update(f"bench{i}", status=status)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workspace", type=Path, help="an existing workspace (default: a temp sample one)")
    args = parser.parse_args()
    # As installed by `make`: the project's bytecode compiled (an editable install leaves that to the
    # first import, which PYTHONDONTWRITEBYTECODE=1 would turn into a compile on every start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", "mlops_tui", "screens", "store"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace or sample_workspace(Path(tmp) / "ws")
        measure("baseline", ws)  # warm the OS file cache for both
        measure("workbench", ws)
        base, bench, heavy = [], [], set()
        for _ in range(args.repeat):
            e, w, _ = measure("baseline", ws)
            base.append((e, w))
            e, w, h = measure("workbench", ws)
            bench.append((e, w))
            heavy.update(h)
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
