"""The models and compare screens driven by keys: promote, deploy through the gate, score a file,
compare two runs; SVG snapshots at 80x24 and 120x40."""

from __future__ import annotations

import pytest

from tests.scoring_helpers import SAMPLE, credit_model
from tests.tui.helpers_screens import (
    app_on,
    frozen_clock,  # noqa: F401 - a fixture, used by name
    notes,
    registry_fixture,
    settle,
    wait_for,
)

pytestmark = pytest.mark.xdist_group("tui-screens")


# -- models: promote, deploy, score --------------------------------------------------------------
async def test_promote_moves_the_alias_from_the_keyboard(ws):
    models = [credit_model(ws, rounds=3 + i, metrics={"score": 0.7 + 0.05 * i}) for i in range(2)]
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        # the cursor starts on the newest version (credit:2); p opens the form prefilled "production"
        await pilot.press("p")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        assert ws.store.models.by_alias("credit", "production").version == models[1].version
        assert any("credit@production → v2" in n for n in notes(app))
        # the table shows the alias once reloaded
        table = app.screen.query_one("#models-table")
        assert "@production" in str(table.get_row("credit:2")[3])


async def test_deploy_refused_by_the_gate_shows_reason_and_force_deploys(ws):
    v1 = credit_model(ws, rounds=3, metrics={"score": 0.70})
    v2 = credit_model(ws, rounds=4, metrics={"score": 0.90})
    ws.store.models.set_alias("credit", "production", v2.version)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("j")            # credit:1, worse than the champion by 0.2
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("enter")        # deployment name defaults to the model name
        await settle(pilot)
        assert any("gate refused credit:1" in n for n in notes(app))
        assert type(app.screen).__name__ == "ConfirmModal"
        assert "worse than champion" in str(app.screen.question)
        await pilot.press("y")
        await settle(pilot)
    dep = ws.store.models.deployment("credit")
    assert (dep.model_version, dep.forced) == (v1.version, True)
    outcomes = [e.outcome for e in ws.store.audit.events(obj="deployment:credit")]
    assert "refused" in outcomes and "ok" in outcomes


async def test_declining_the_force_leaves_no_deployment(ws):
    credit_model(ws, rounds=3, metrics={"score": 0.70})
    v2 = credit_model(ws, rounds=4, metrics={"score": 0.90})
    ws.store.models.set_alias("credit", "production", v2.version)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("j", "d")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert type(app.screen).__name__ == "ModelsScreen"
    assert ws.store.models.deployments() == []


async def test_score_a_file_shows_progress_then_the_job(ws, tmp_path):
    model = credit_model(ws, rounds=5)
    ws.store.models.set_alias("credit", "production", model.version)
    out = tmp_path / "scored.parquet"
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#field-target").value == "credit:1"
        form.query_one("#field-inputs").value = str(SAMPLE / "default.csv")
        form.query_one("#field-output").value = str(out)
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not app.screen.scoring)
        await settle(pilot)
        # the progress bar was fed the rows done, and hides once the job is over
        assert app.screen.query_one("#score-progress").progress == 10_000
        assert not app.screen.query_one("#score-row").has_class("active")
        jobs = app.screen.query_one("#jobs-table")
        assert jobs.row_count == 1 and jobs.has_focus
        assert "succeeded" in str(jobs.get_row_at(0)[0])
        assert "10,000" in str(jobs.get_row_at(0)[4])
    job = ws.store.jobs.list()[0]
    assert (job.status, job.rows_out, job.model_version) == ("succeeded", 10_000, model.version)
    assert out.exists()


async def test_scoring_a_missing_file_is_one_line_and_a_failed_job(ws):
    credit_model(ws, rounds=3)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        app.screen.query_one("#field-inputs").value = "/nonexistent/new.csv"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not getattr(app.screen, "scoring", True))
        await settle(pilot)
        assert any("/nonexistent/new.csv" in n for n in notes(app))
        assert type(app.screen).__name__ == "ModelsScreen"     # no crash, still usable
    assert [j.status for j in ws.store.jobs.list()] == ["failed"]


# -- snapshots -----------------------------------------------------------------------------------
@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_models_screen_snapshot(ws, snap_compare, size):
    registry_fixture(ws)
    assert snap_compare(app_on(ws, "models"), terminal_size=size, run_before=settle)
