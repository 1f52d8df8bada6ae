"""The monitoring and SQL screens driven by keys; SVG snapshots at 80x24 and 120x40."""

from __future__ import annotations

import polars as pl
import pytest

from tests.scoring_helpers import SAMPLE, credit_model
from tests.tui.conftest import type_text, wait_for
from tests.tui.helpers_screens import (
    SIG,
    app_on,
    cut_columns,
    fake_job,
    monitoring_fixture,
    notes,
    registry_fixture,
    settle,
)

pytestmark = pytest.mark.xdist_group("tui-monitoring-sql")


def rows(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


# -- monitoring ----------------------------------------------------------------------------------
async def test_deployments_show_drift_status_and_worst_features_first(ws):
    monitoring_fixture(ws)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        deps = rows(app.screen.query_one("#deployments-table"))
        assert deps[0][:2] == ["■ alert", "credit-batch"] and deps[0][6] == "-"  # no HTTP service
        assert "■ alert" in deps[0][2] and "roc_auc 0.79" in deps[0][2]     # live performance
        assert deps[0][3].startswith("3 · ") and deps[0][3].endswith(" ago")  # jobs, the latest when
        assert deps[1][:2] == ["○ -", "credit-shadow"] and "no labels" in deps[1][2]
        jobs = rows(app.screen.query_one("#mon-jobs-table"))
        assert [[j[0], j[3]] for j in jobs] == [["■ alert", "job3cccc"], ["▲ warn", "job2bbbb"], ["✓ ok", "job1aaaa"]]
        drift = rows(app.screen.query_one("#mon-drift"))
        assert [d[:2] for d in drift] == [["balance", "■ alert"], ["income", "▲ warn"], ["student", "✓ ok"]]
        assert drift[2][4] == "new 2 · nulls 0%→10%"
        assert app.screen.query_one("#mon-drift-table").border_title == "Drift of job job3cccc (worst first)"
        # move to the oldest job with the keyboard: its drift is all ok
        await pilot.press("tab")
        await pilot.press("j", "j")
        await pilot.pause()
        drift = rows(app.screen.query_one("#mon-drift"))
        assert {d[1] for d in drift} == {"✓ ok"}


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_prediction_drift_trend_names_its_scale_and_needs_two_jobs(ws, size):
    """The sparkline spans the lowest to the highest value with no figure to say which; a deployment
    of one job drew one full-height bar as wide as the screen (hui4's tour: read as the worst drift).
    Its figures have three decimals, as the drift pane's PSI: 1.046 read '1' (hui5's tour)."""
    from tests.tui.helpers_screens import fake_job, fake_model

    monitoring_fixture(ws)
    single = fake_model(ws, "single", 0.9)
    ws.store.models.deploy(name="a-single", model_name="single", model_version=single.version, signature=SIG)
    fake_job(ws, "job9single00", "a-single", single, drift="ok", pred_drift=1.046)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deployments-table")
        trend, label, spark = (app.screen.query_one(q) for q in ("#mon-trend", "#mon-trend-label", "#mon-sparkline"))
        table.focus()

        async def show(name: str) -> str:
            keys = [table.coordinate_to_cell_key((r, 0)).row_key.value for r in range(table.row_count)]
            steps = keys.index(name) - table.cursor_row
            await pilot.press(*(["j"] * steps or ["k"] * -steps))
            await wait_for(pilot, lambda: table.selected_key() == name and name in str(label.render()), what=name)
            return " ".join(str(label.render()).split())

        assert (await show("credit-batch")).endswith("prediction drift over 3 jobs 0.010 … 0.310, oldest → newest")
        assert spark.display and list(spark.data) == [0.01, 0.08, 0.31]
        assert "prediction drift 1.046 in its one job" in await show("a-single")
        assert trend.has_class("empty") and not spark.display


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_jobs_and_drift_panes_show_their_figures_uncut_on_a_small_terminal(ws, size):
    """At 80x24 the Jobs pane is ~28 characters wide: the prediction drift column was cut off
    ('pred' with no values) behind the job kind, and then 'when' behind the job's id; the drift
    pane's one 'measure' cell ('psi 2.83 · ks p <0.001') was cut after 'ks' (hui4's tour)."""
    monitoring_fixture(ws)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#mon-jobs-table")
        assert not {"drift", "when", "pred Δ"} & set(cut_columns(table))
        assert [[r[0], r[2]] for r in rows(table)] == [["■ alert", "0.310"], ["▲ warn", "0.080"], ["✓ ok", "0.010"]]
        assert all(r[1].endswith(" ago") for r in rows(table))
        drift = app.screen.query_one("#mon-drift")
        assert not {"feature", "status", "psi", "p"} & set(cut_columns(drift))
        assert [r[:3] for r in rows(drift)][0] == ["balance", "■ alert", "0.420"]


async def test_the_drift_pane_shows_the_p_that_set_the_status_as_monitor_does(ws):
    """MplsStops' later stops: 'long' warned at PSI 0.011 beside 'ks p 0.12' (the bins' chi-square,
    p < 0.001, had decided) and a categorical feature showed no p at all. `monitor` prints the smaller
    of the two under 'p' (FeatureDrift.pvalue); the screen now shows the same figure and heading."""
    from mlops_tui.store import DriftResult

    fx = monitoring_fixture(ws)
    fake_job(ws, "job4dddddddd", "credit-batch", fx["model"], drift="warn", pred_drift=0.02)
    ws.store.jobs.add_drift([
        DriftResult(job_id="job4dddddddd", feature="long", kind="numeric", psi=0.011, ks_stat=0.01,
                    ks_pvalue=0.12, null_rate_ref=0.0, null_rate_cur=0.0, new_categories=None, status="warn",
                    details={"chi2_pvalue": 2e-5}),
        DriftResult(job_id="job4dddddddd", feature="race", kind="categorical", psi=0.004, ks_stat=None,
                    ks_pvalue=None, null_rate_ref=0.0, null_rate_cur=0.0, new_categories=None, status="warn",
                    details={"chi2_pvalue": 0.0042}),
        DriftResult(job_id="job4dddddddd", feature="lat", kind="numeric", psi=0.001, ks_stat=0.01,
                    ks_pvalue=0.64, null_rate_ref=0.0, null_rate_cur=0.0, new_categories=None, status="ok",
                    details={"chi2_pvalue": 0.81})])
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        drift = app.screen.query_one("#mon-drift")
        assert [str(c.label) for c in drift.columns.values()][:4] == ["feature", "status", "psi", "p"]
        assert "p" not in cut_columns(drift)
        got = {r[0]: r[3] for r in rows(drift)}
        assert got == {"long": "<0.001", "race": "0.0042", "lat": "0.64"}


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_deployments_table_shows_when_the_last_job_ran_on_a_small_terminal(ws, size):
    """At 80x24 the Deployments table showed drift, name, model, serving and part of performance:
    'last job' (the far end) was cut off, and a long deployment name pushed out performance too."""
    monitoring_fixture(ws)
    long_name = "attrition-scoring-deployment-for-the-night-batch"
    ws.store.models.deploy(name=long_name, model_name="credit", model_version=1, signature=SIG)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deployments-table")
        assert not {"drift", "deployment", "performance", "jobs"} & set(cut_columns(table))
        by_key = {str(k.value): [str(c) for c in table.get_row(k)] for k in table.rows}
        assert by_key["credit-batch"][3].endswith(" ago")
        assert by_key[long_name][1] == "attrition-s…ight-batch"  # its start and its telling end


async def test_a_job_scored_elsewhere_appears_on_refresh(ws):
    model = credit_model(ws, rounds=3)
    ws.store.models.deploy(name="credit-batch", model_name="credit", model_version=model.version,
                           signature=model.signature)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert rows(app.screen.query_one("#mon-jobs-table")) == []
        from mlops_tui.serving import scoring

        job = scoring.score(ws, "credit-batch", [str(SAMPLE / "default.csv")])  # as a CLI call would
        await pilot.press("r")
        await settle(pilot)
        jobs = rows(app.screen.query_one("#mon-jobs-table"))
        assert len(jobs) == 1 and jobs[0][3] == job.job_id[:8] and jobs[0][5] == "batch"
        assert jobs[0][4] == "10,000"


async def test_feedback_form_records_live_performance(ws, tmp_path):
    model = credit_model(ws, rounds=3)
    ws.store.models.deploy(name="credit-batch", model_name="credit", model_version=model.version,
                           signature=model.signature)
    from mlops_tui.serving import scoring

    scoring.score(ws, "credit-batch", [str(SAMPLE / "default.csv")])
    labels = tmp_path / "labels.csv"
    pl.read_csv(SAMPLE / "default.csv").select("customer_id", "default").write_csv(labels)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await pilot.pause()
        app.screen.query_one("#field-labels").value = str(labels)
        app.screen.query_one("#field-id_column").value = "customer_id"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: any("rows matched" in n for n in notes(app)))
        await settle(pilot)
        assert "no labels" not in rows(app.screen.query_one("#deployments-table"))[0][2]
    assert ws.store.jobs.feedback("credit-batch")[0].rows_matched == 10_000


async def test_retrain_from_the_keyboard_compares_challenger_and_champion(ws, tmp_path):
    """retrain existed only as a CLI command: from a drifting deployment the user had to leave the
    workbench. t on a deployment asks for the new data, trains a challenger off the UI thread and
    shows the comparison; the deployment then serves whichever model won."""
    from mlops_tui.data import datasets
    from mlops_tui.registry import models as registry
    from tests.monitor_helpers import tune_small
    from tests.tui.conftest import add_samples

    header, *lines = (SAMPLE / "penguins.csv").read_text().splitlines()
    early = tmp_path / "early.csv"  # 3 penguins in 4: the bundled file (penguins:2) has rows new to the champion
    early.write_text("\n".join([header, *(line for i, line in enumerate(lines) if i % 4)]) + "\n")
    datasets.add(ws, str(early), name="penguins", target="species")
    run = tune_small(ws, "penguins:1", tmp_path, name="penguins")
    add_samples(ws, "penguins")
    registry.deploy(ws, f"{run.model_name}:{run.model_version}", "peng-batch", force=True)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "t" in [k.key for k in app.screen.query("FooterKey")]
        await pilot.press("t")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="the retrain form")
        await pilot.press(*"penguins", "ctrl+s")
        await wait_for(pilot, lambda: any(n.message == "retraining peng-batch: a challenger to penguins:1 is trained on "
                                          "penguins in the background…" for n in app._notifications),
                       what="what is retrained, named (it read 'retraining penguins for peng-batch')")
        text = await wait_for(pilot, lambda: type(app.screen).__name__ == "TextScreen" and str(app.screen.body),
                              timeout=240, what="the comparison")
        assert "challenger penguins:2" in text and "champion penguins:1" in text
        assert "champion" in text and "challenger" in text and "log_loss" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitoringScreen", what="back")
    served = ws.store.models.deployment("peng-batch")
    assert served.model_version == (2 if text.startswith("✓ promoted") else 1)
    assert len(ws.store.runs.list()) == 2
    retrain_run = ws.store.runs.list()[0]  # its time shows in the runs list (it had no start: '-')
    assert retrain_run.started_at is not None and retrain_run.ended_at >= retrain_run.started_at


async def test_a_retrain_running_shows_its_clock_and_a_second_t_waits(ws, monkeypatch):
    """A retrain said 'retraining … in the background…' in a notification that faded after seconds;
    for the minutes it can take, nothing on screen said it still ran, and t started a second one."""
    import threading

    import mlops_tui.monitoring.retrain as retraining
    from mlops_tui.errors import UserError

    monitoring_fixture(ws)
    release, calls = threading.Event(), []

    def held(ws_, deployment, dataset, trials=None):  # the domain's retrain is tested in tests/cli
        calls.append(deployment)
        release.wait(30)
        raise UserError(f"{dataset}: no such dataset")

    monkeypatch.setattr(retraining, "retrain", held)
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#deployments-table")
        try:
            await pilot.press("t")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="the retrain form")
            await pilot.press(*"newdata", "ctrl+s")
            await wait_for(pilot, lambda: str(table.border_subtitle).startswith("● retraining credit-batch on newdata… "),
                           what="the retrain on screen")
            await wait_for(pilot, lambda: str(table.border_subtitle).endswith((" 1 s", " 2 s")), what="its clock")
            await pilot.press("t")
            await wait_for(pilot, lambda: any("still retraining credit-batch" in n for n in notes(app)), what="one at a time")
            assert type(app.screen).__name__ == "MonitoringScreen" and calls == ["credit-batch"]
        finally:
            release.set()
        await wait_for(pilot, lambda: any("newdata: no such dataset" in n for n in notes(app)), what="the refusal")
        await wait_for(pilot, lambda: not table.border_subtitle, what="the clock gone")


async def test_a_refused_retrain_gives_the_form_back_as_it_was_typed(ws, monkeypatch):
    """A retrain refused (the new data's holdout is rows the champion learnt from; a challenger that
    lost; Trials not a number) closed the form: the user typed the dataset and trials all over again.
    Refused, the form opens again as typed; after a loss, t opens it as typed (the comparison says so)."""
    from types import SimpleNamespace

    import mlops_tui.monitoring.retrain as retraining
    from mlops_tui.errors import PolicyRefused, UserError

    monitoring_fixture(ws)
    outcome: list[Exception] = [UserError("all 120 holdout rows of newdata:1 are rows champion credit:1 learnt "
                                          "from: a challenger would have nothing new to be judged on")]

    def refused(ws_, deployment, dataset, trials=None):  # the domain's retrain is tested in tests/cli
        raise outcome[0]

    monkeypatch.setattr(retraining, "retrain", refused)
    app = app_on(ws, "monitoring")

    def form() -> dict[str, str] | None:
        return app.screen.values() if type(app.screen).__name__ == "FormScreen" else None

    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await wait_for(pilot, form, what="the retrain form")
        await type_text(pilot, "newdata")
        await pilot.press("tab")
        await type_text(pilot, "x3")
        await pilot.press("ctrl+s")  # Trials: not a number
        assert await wait_for(pilot, lambda: form() == {"dataset": "newdata", "trials": "x3"}, what="the form again")
        assert app.screen.focused.id == "field-trials"
        await pilot.press("backspace", "backspace", "3", "ctrl+s")
        await wait_for(pilot, lambda: any("nothing new" in n for n in notes(app)), what="the refusal")
        assert await wait_for(pilot, lambda: form() == {"dataset": "newdata", "trials": "3"}, what="the form again")
        await pilot.press("escape")
        outcome[0] = PolicyRefused("challenger credit:2 loses to champion credit:1", SimpleNamespace(
            promoted=False, deployment="credit-batch", dataset="newdata:1", compared_rows=120, warnings=(),
            summary="challenger credit:2 loses to champion credit:1", metrics={}))
        await pilot.press("t")
        await wait_for(pilot, lambda: form() == {"dataset": "newdata", "trials": "3"}, what="the form as typed")
        await pilot.press("ctrl+s")
        body = await wait_for(pilot, lambda: type(app.screen).__name__ == "TextScreen" and str(app.screen.body),
                              what="the comparison")
        assert "t retrains credit-batch again, the form as you filled it" in body
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "MonitoringScreen", what="back")
        await pilot.press("t")
        assert await wait_for(pilot, lambda: form() == {"dataset": "newdata", "trials": "3"}, what="as typed")


async def test_monitoring_without_deployments_says_what_to_do(ws):
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "No deployments yet" in app.screen.query_one("#mon-trend-label").render().plain


# -- sql -----------------------------------------------------------------------------------------
async def test_sql_query_fills_the_table(ws):
    registry_fixture(ws)
    app = app_on(ws, "sql")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await type_text(pilot, "SELECT name, version FROM v_models ORDER BY version")
        await pilot.press("enter")
        await settle(pilot)
        assert rows(app.screen.query_one("#sql-results")) == [["credit", "1"], ["credit", "2"], ["credit", "3"]]
        assert "✓ 3 row(s)" in app.screen.query_one("#sql-status").render().plain


async def test_after_a_query_the_number_keys_switch_screens_again(ws):
    """A new user ran a query, pressed 7 for Pipelines and got '7' typed into the query instead."""
    registry_fixture(ws)
    app = app_on(ws, "sql")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the example query
        await settle(pilot)
        await pilot.press("j", "7")
        await wait_for(pilot, lambda: app.current_mode == "pipelines", what="the pipelines screen")
        await pilot.press("6", "ctrl+l", "x")  # back to the query box to edit the query
        assert app.screen.query_one("#sql-input").value == "x"


async def test_a_query_of_a_table_that_does_not_exist_names_the_views_and_the_next_one_runs(ws):
    """TUI tour at 80x24 (hui6): 'select * from nope_table' said 'Did you mean "pg_tables"?'."""
    registry_fixture(ws)
    app = app_on(ws, "sql")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#sql-input").value = "select * from nope_table"
        await pilot.press("enter")
        await settle(pilot)
        status = app.screen.query_one("#sql-status")
        assert status.has_class("error") and "query the views: v_datasets, v_runs" in status.render().plain
        assert "pg_tables" not in status.render().plain
        app.screen.query_one("#sql-input").value = "SELECT name FROM v_models"
        await pilot.press("enter")
        await settle(pilot)
        assert "✓ 3 row(s)" in status.render().plain and not status.has_class("error")


async def test_sql_writes_are_refused_in_one_line_and_the_store_is_unchanged(ws):
    registry_fixture(ws)
    app = app_on(ws, "sql")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        app.screen.query_one("#sql-input").value = "DELETE FROM models"
        await pilot.press("enter")
        await settle(pilot)
        status = app.screen.query_one("#sql-status")
        assert status.has_class("error") and "read-only" in status.render().plain
        app.screen.query_one("#sql-input").value = "SELECT nope FROM v_models"
        await pilot.press("enter")
        await settle(pilot)
        assert "nope" in status.render().plain
        # up walks back through the session's queries
        await pilot.press("up", "up")
        assert app.screen.query_one("#sql-input").value == "DELETE FROM models"
    assert len(ws.store.models.list()) == 3


# -- snapshots -----------------------------------------------------------------------------------
@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_monitoring_screen_snapshot(ws, snap_compare, size):
    monitoring_fixture(ws)
    assert snap_compare(app_on(ws, "monitoring"), terminal_size=size, run_before=settle)


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_sql_screen_snapshot(ws, snap_compare, size):
    registry_fixture(ws)

    async def query(pilot):
        await settle(pilot)
        await pilot.press("enter")          # the example query
        await settle(pilot)

    assert snap_compare(app_on(ws, "sql"), terminal_size=size, run_before=query)


def test_a_drift_row_keeps_its_figures_readable_in_a_narrow_pane():
    """mn_police_use_of_force at 80x24: the measure column showed "psi 6." and "ks p 1." (for
    1.5e-141, read as no drift), squeezed by a 26-character feature name."""
    from mlops_tui.screens.formatters import clip_middle
    from mlops_tui.screens.monitoring import drift_cells

    from mlops_tui.monitoring.monitor import FeatureDrift

    row = FeatureDrift("response_datetime__year", "num", "alert", 5.07, 0.4, 1.5e-141, 0.0, 0.02, 3, 2017.0, 2019.0,
                       pvalue=1.5e-141)
    assert drift_cells(row) == ("5.070", "<0.001", "new 3 · nulls 0%→2%")
    moved = FeatureDrift("date__year", "num", "ok", 0.0, 0.0, 1.0, 0.0, 0.0, None, 2012.0, 2014.0, note="time moved",
                         pvalue=1.0)
    assert drift_cells(moved) == ("0.000", "1", "time moved")  # why a later year is no alert
    from mlops_tui.screens.monitoring import feature_label

    assert feature_label("__prediction__") == "(prediction)"  # as `monitor` names it
    assert clip_middle("response_datetime__weekday", 22) == "response_da…e__weekday"
    assert clip_middle("balance", 22) == "balance"
