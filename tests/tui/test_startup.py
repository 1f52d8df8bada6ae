"""Start-up stays light: after the workbench has mounted and shown the home screen's data, no heavy
ML module has been imported (checked in a fresh child process, where sys.modules is honest)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.tui.conftest import ROOT, add_samples, fake_runs

CHILD = r"""
import asyncio, json, sys
from mlops_tui.workspace import Workspace
from mlops_tui.screens.app import build_app

async def main():
    app = build_app(Workspace.open(sys.argv[1]))  # what `mlops-tui` runs
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(2000):
            try:
                if app.screen.query_one("#attention").row_count:
                    break
            except Exception:
                pass
            await pilot.pause(0.01)
        shown = app.screen.query_one("#attention").row_count
        await pilot.press("2")
        for _ in range(2000):
            try:
                if app.screen.query_one("#schema-table").row_count:
                    break
            except Exception:
                pass
            await pilot.pause(0.01)
        datasets_shown = app.screen.query_one("#schema-table").row_count
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"lightgbm", "sklearn", "optuna", "scipy"})
    print(json.dumps({"home_rows": shown, "schema_rows": datasets_shown, "heavy": heavy}))

asyncio.run(main())
"""


def test_first_frames_import_no_lightgbm_sklearn_optuna_or_scipy(ws):
    add_samples(ws, "penguins")
    fake_runs(ws)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ws.root)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["home_rows"] >= 2 and out["schema_rows"] == 8
    assert out["heavy"] == []


async def test_the_app_mlops_tui_runs_shows_store_data_in_its_first_frame(ws):
    from mlops_tui.screens.app import build_app

    fake_runs(ws)
    app = build_app(ws)  # reads the home screen's data before the app starts
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        attention = app.screen.query_one("#attention")
        whats = [attention.get_row_at(i)[1] for i in range(attention.row_count)]
        assert sorted(whats) == ["run penguins-1", "run penguins-2"]  # running, failed: no worker waited for
        assert "3 runs" in str(app.screen.query_one("#home-summary").render())


async def test_a_store_another_process_holds_opens_the_app_saying_what_it_waits_for(ws, monkeypatch):
    """A DuckDB shell (or a long write) holding the store: the app still opens at once and says so,
    then shows the data when the holder lets go (it used to keep the terminal blank for the whole
    store timeout, then exit with StoreBusyError)."""
    from mlops_tui.screens.app import build_app

    from tests.tui.conftest import wait_for
    from tests.unit.test_store_concurrency import _hold

    fake_runs(ws)
    monkeypatch.setenv("MLOPS_STORE_TIMEOUT", "20")
    holder = _hold(ws.store_path, foreign=True, seconds=30)
    try:
        app = build_app(ws)
        async with app.run_test(size=(80, 24)) as pilot:
            summary = app.screen.query_one("#home-summary")
            await pilot.pause()
            assert "Waiting for the store: another process holds store.duckdb" in str(summary.render())
            holder.kill()
            holder.wait()
            await wait_for(pilot, lambda: "3 runs" in str(summary.render()), what="the home data once free")
    finally:
        holder.kill()
        holder.wait()
