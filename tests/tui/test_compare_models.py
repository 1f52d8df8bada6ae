"""The models and compare screens driven by keys: promote, deploy through the gate, score a file,
compare two runs; SVG snapshots at 80x24 and 120x40."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Label

from tests.scoring_helpers import SAMPLE, credit_model
from tests.tui.conftest import wait_for
from tests.tui.helpers_screens import (
    SIG,
    app_on,
    cut_columns,
    fake_job,
    notes,
    registry_fixture,
    screen_text,
    settle,
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
        assert await wait_for(pilot, lambda: any("credit@production → v2" in n for n in notes(app)))
        await settle(pilot)
        # the table shows the alias once reloaded
        table = app.screen.query_one("#models-table")
        assert await wait_for(pilot, lambda: "@production" in str(table.get_row("credit:2")[2]))


async def test_e_evaluates_a_version_on_another_dataset_and_the_detail_shows_it(ws):
    """New-user tour (hui6): `mlops-tui evaluate` had no key in the TUI. e opens a form (the
    version's dataset prefilled), runs off the UI thread, and the Detail pane shows the metrics
    beside the holdout's; a dataset that does not exist is one line and the screen goes on."""
    from mlops_tui.data import datasets

    credit_model(ws)
    datasets.add(ws, str(SAMPLE / "default.csv"), name="default", target="default")
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.query_one("#field-dataset").value == "default"
        await pilot.press("ctrl+s")
        text = app.screen.query_one("#model-detail")
        assert await wait_for(pilot, lambda: "credit:1 on default:1 (10,000 rows)" in str(text.render()),
                              what="the evaluation in Detail", timeout=60)
        shown = str(text.render())
        # at 80 columns value and Δ (the holdout's figures are under Metrics): three columns of
        # 'best_f1_threshold' made lines of 41 in a pane of 26, each Δ wrapped onto a line of its own
        figures = shown.split("\nΔ: vs its holdout\n")[0].splitlines()
        assert figures[1].split() == ["value", "Δ"] and max(map(len, figures[1:])) <= text.content_region.width
        await pilot.pause()
        assert any(re.search(r"│ roc_auc +0\.9610 +\S+ ", r) for r in screen_text(app)), screen_text(app)
        assert [e.dataset_version for e in ws.store.runs.evaluations(kind="evaluate")] == [1]
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#field-dataset").value = "nope"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: "✗ evaluating on nope" in str(text.render()), what="the refusal")
        assert any("nope" in n for n in notes(app))
        assert type(app.screen).__name__ == "ModelsScreen"


async def test_an_evaluation_says_what_it_does_with_a_clock_while_it_runs(ws):
    """Deploy, score, retrain and a launch say how long they have been at it; e said '● evaluating
    credit:1 on default…' in Detail for as long as it took, seconds or minutes, and nothing at all
    once another version was selected. A line under the registry does, its seconds ticking."""
    import re

    from mlops_tui.data import datasets

    credit_model(ws)
    datasets.add(ws, str(SAMPLE / "default.csv"), name="default", target="default")
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="the form")
        with ws.session():  # the store is busy: the evaluation waits for it
            await pilot.press("ctrl+s")

            def clock() -> int | None:
                m = re.search(r"● evaluating credit:1 on default… (\d+) s", "\n".join(screen_text(app)))
                return int(m.group(1)) + 1 if m else None  # (+1: 0 s is shown, and falsy)

            first = await wait_for(pilot, clock, what="the clock")
            assert await wait_for(pilot, lambda: (clock() or 0) > first, what="the clock ticking")
        text = app.screen.query_one("#model-detail")
        assert await wait_for(pilot, lambda: "credit:1 on default:1" in str(text.render()), timeout=60)
        await pilot.pause()
        assert not app.screen.query_one("#evaluate-row").has_class("active")
        assert "● evaluating" not in "\n".join(screen_text(app))


async def test_the_model_detail_scrolls_with_j_and_k_like_the_other_panes(ws):
    """Tab reached the Detail pane (longer than its box at 80x24) but only the arrows scrolled it;
    j/k, which move every table and the run detail's text, did nothing there."""
    registry_fixture(ws)
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        pane = app.screen.query_one("#model-detail-pane")
        await wait_for(pilot, lambda: pane.max_scroll_y > 1, what="a detail longer than its pane")
        await pilot.press("tab")
        assert app.screen.focused is pane
        await pilot.press("j", "j")
        await wait_for(pilot, lambda: pane.scroll_y == 2, what="j scrolls the detail")
        await pilot.press("k")
        await wait_for(pilot, lambda: pane.scroll_y == 1, what="k scrolls back")


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
        assert await wait_for(pilot, lambda: any("gate refused credit:1" in n for n in notes(app)))
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
        assert "10,000" in str(jobs.get_row_at(0)[3])
    job = ws.store.jobs.list()[0]
    assert (job.status, job.rows_out, job.model_version) == ("succeeded", 10_000, model.version)
    assert out.exists()


async def test_a_job_of_a_long_named_deployment_keeps_its_figures_in_view_at_80_columns(ws):
    """attrition-scoring-deployment-long-name (38 characters) pushed rows, drift and when out of
    the Scoring jobs table at 80x24 (seen on a corpus workspace)."""
    versions = registry_fixture(ws)["versions"]
    long_name = "attrition-scoring-deployment-long-name"
    ws.store.models.deploy(name=long_name, model_name="credit", model_version=versions[1].version, signature=SIG)
    fake_job(ws, "c0ffee00c0ff", long_name, versions[1])
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        jobs = app.screen.query_one("#jobs-table")
        assert not {"rows", "drift", "when"} & set(cut_columns(jobs))
        row = [str(c) for c in jobs.get_row("c0ffee00c0ff")]
        assert row[2] == "attrition-s…-long-name" and row[5].endswith(" ago")


async def test_the_score_dialogs_long_labels_wrap_inside_it_at_80_columns(ws):
    """At 80x24 the keep field's label read '... comma-separated (a deployment remember', cut."""
    registry_fixture(ws)
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        box = await wait_for(pilot, lambda: app.screen.query_one("#form-box"), what="the score dialog")
        await pilot.pause()
        labels = list(box.query(".form-long > Label"))
        assert len(labels) == 4
        assert all(label.outer_size.width <= box.content_size.width for label in labels)
        keep = box.query_one("#field-keep").parent.query_one(Label)
        assert keep.size.height == 2  # the whole label, wrapped onto a second line


async def test_the_score_dialog_shows_the_deployments_kept_columns_and_edits_them(ws, tmp_path):
    import polars as pl

    from mlops_tui.registry import models as registry

    credit_model(ws, rounds=3)
    registry.deploy(ws, "credit:1", "credit-batch", force=True)
    ws.store.models.set_keep("credit-batch", ["student"])
    data = tmp_path / "incoming.csv"
    pl.read_csv(SAMPLE / "default.csv").with_columns(pid=pl.col("customer_id") + 1).write_csv(data)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#field-target").value == "credit-batch"
        assert form.query_one("#field-keep").value == "student"
        form.query_one("#field-inputs").value = str(data)
        form.query_one("#field-output").value = str(tmp_path / "o.parquet")
        form.query_one("#field-keep").value = "student, pid"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: not app.screen.scoring)
    assert pl.read_parquet(tmp_path / "o.parquet").columns[:3] == ["customer_id", "student", "pid"]
    assert ws.store.models.deployment("credit-batch").keep == ("student", "pid")


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
        assert await wait_for(pilot, lambda: any("/nonexistent/new.csv" in n for n in notes(app)))
        assert type(app.screen).__name__ == "ModelsScreen"     # no crash, still usable
    assert [j.status for j in ws.store.jobs.list()] == ["failed"]


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40)])
async def test_the_registry_shows_where_a_version_is_deployed_uncut(ws, size):
    """At 100x30 the registry's last column read '@production →credit-' (the Detail pane took 2/5 of
    the width for lines of 26 characters); at 80x24 it read '@production' with the deployment cut
    off behind the metric: which deployment serves a version, what d would change, was not shown."""
    fx = registry_fixture(ws)
    long_name = "attrition-scoring-deployment-for-the-night-batch"
    ws.store.models.deploy(name=long_name, model_name="credit", model_version=fx["versions"][0].version,
                           signature=SIG)
    app = app_on(ws, "models")
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#models-table")
        assert not {"model", "gate", "aliases", "deployed"} & set(cut_columns(table))
        if size != (80, 24):
            assert cut_columns(table) == []
        got = {r[0]: r[1:4] for r in ([str(c) for c in table.get_row_at(i)] for i in range(table.row_count))}
        assert got["credit:2"] == ["✓ pass", "@production", "credit-batch"]
        assert got["credit:1"][2] == "attrit…batch"  # clipped in its middle, not cut at the end
        detail = app.screen.query_one("#model-detail-pane")
        assert detail.size.width >= (30 if size == (80, 24) else 32)  # '  best_f1_threshold 0.2095', frame


async def test_a_version_with_two_aliases_keeps_its_deployment_in_view_at_80_columns(ws):
    """'@production @staging' made the aliases column 22 wide: at 80x24 the registry cut 'deployed'
    off, and which deployment serves the version p and d change was not shown. One alias a line."""
    fx = registry_fixture(ws)
    ws.store.models.set_alias("credit", "staging", fx["versions"][1].version)
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#models-table")
        await wait_for(pilot, lambda: "@staging" in str(table.get_row("credit:2")[2]), what="the aliases")
        assert not {"model", "gate", "aliases", "deployed"} & set(cut_columns(table)), cut_columns(table)
        await pilot.pause()
        rows = screen_text(app)
        at = next(i for i, r in enumerate(rows) if "│ credit:2" in r)
        assert "@production" in rows[at] and "credit-batch" in rows[at], rows[at]
        assert "@staging" in rows[at + 1] and "credit:1" not in rows[at + 1], rows[at + 1]


# -- snapshots -----------------------------------------------------------------------------------
@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_models_screen_snapshot(ws, snap_compare, size):
    registry_fixture(ws)
    assert snap_compare(app_on(ws, "models"), terminal_size=size, run_before=settle)


# -- compare -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cmp_ws(tmp_path_factory):
    """Two finished binary runs differing only in num_leaves (real LightGBM, holdout evaluations)
    and one multiclass run; fixed run ids so the snapshots are stable."""
    from mlops_tui.workspace import Workspace
    from tests.eval_helpers import make_run

    ws = Workspace.open(tmp_path_factory.mktemp("cmp") / "ws", create=True)
    make_run(ws, "binary", "aaaa1111", num_leaves=7, name="credit", journal=False)
    make_run(ws, "binary", "bbbb2222", num_leaves=31, name="credit", journal=False)
    make_run(ws, "multiclass", "cccc3333", name="peng", journal=False)
    return ws


async def open_compare(pilot, run_ids) -> None:
    """On the Workbench's home screen, push the compare screen the way the runs screen does."""
    from mlops_tui.screens.compare import CompareScreen

    await settle(pilot)
    pilot.app.push_screen(CompareScreen(run_ids))
    await settle(pilot)


async def test_mark_two_runs_with_space_and_compare(cmp_ws):
    app = app_on(cmp_ws, "runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#runs-table")
        keys = [table.coordinate_to_cell_key((r, 0)).row_key.value for r in range(table.row_count)]
        # runs are listed newest first: move to each binary run and mark it
        for run_id in ("aaaa1111", "bbbb2222"):
            table.move_cursor(row=keys.index(run_id))
            await pilot.press("space")
        await pilot.press("c")
        await settle(pilot)
        screen = app.screen
        assert type(screen).__name__ == "CompareScreen"
        assert sorted(screen.run_ids) == ["aaaa1111", "bbbb2222"]
        metrics = screen.query_one("#compare-metrics")
        assert await wait_for(pilot, lambda: metrics.row_count > 0)
        labels = [str(metrics.get_row_at(r)[0]) for r in range(metrics.row_count)]
        assert "roc_auc" in labels and "log_loss ↓" in labels
        roc = metrics.get_row_at(labels.index("roc_auc"))
        assert sum("★" in str(cell) for cell in roc[1:]) == 1          # exactly one best
        await pilot.press("p")
        params = screen.query_one("#compare-params")
        assert str(params.get_row_at(0)[0]).strip() == "≠ num_leaves"   # the differing one first
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == "RunsScreen"


async def test_compare_shows_its_metrics_before_the_plotting_code_is_imported(cmp_ws, held_plotext):
    """The compare screen imported textual-plotext (44 ms on first use) in compose, on the UI thread:
    nothing showed until it was done. With that import held back, the metrics still show; the
    curves come once it is let go."""
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(100, 30)) as pilot:
        from mlops_tui.screens.compare import CompareScreen

        await settle(pilot)
        app.push_screen(CompareScreen(["aaaa1111", "bbbb2222"]))
        metrics = await wait_for(pilot, lambda: app.screen.query_one("#compare-metrics"), what="compare screen")
        await wait_for(pilot, lambda: metrics.row_count > 0, what="metrics")
        assert not app.screen.query("#curve-left") and not held_plotext.held_out
        held_plotext.release.set()
        await pilot.press("c")
        plot = await wait_for(pilot, lambda: app.screen.query("#curve-left").first(), what="ROC plot")
        await wait_for(pilot, lambda: "ROC" in str(plot.render()), what="drawn ROC curve")
    assert not held_plotext.held_out


async def test_compare_tabs_show_importances_slices_and_curves(cmp_ws):
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_compare(pilot, ["aaaa1111", "bbbb2222"])
        screen = app.screen
        await pilot.press("i")
        imp = screen.query_one("#compare-importance")
        assert {str(imp.get_row_at(r)[0]) for r in range(imp.row_count)} >= {"balance", "income"}
        await pilot.press("s")
        slices = screen.query_one("#compare-slices")
        first = [str(c) for c in slices.get_row_at(0)]
        assert first[0] == "student (gap)"
        await pilot.press("c")
        assert screen.query_one("#compare-tabs").active == "curves"
        # both runs have ROC/PR: no note, the key
        assert screen.query_one("#compare-curves-note").render().plain.startswith("key: • ")


async def test_compare_plots_keys_are_outside_their_canvases(cmp_ws):
    """plotext's legends sat in each canvas's top left corner: over a precision-recall curve's start
    (precision 1 at low recall) and, on History, a minimized run's first trials."""
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_compare(pilot, ["aaaa1111", "bbbb2222"])
        screen = app.screen
        await pilot.press("c")
        note = screen.query_one("#compare-curves-note")
        key = await wait_for(pilot, lambda: note.render().plain.startswith("key: ") and note.render().plain,
                             what="the key")
        heads = key.removeprefix("key: ").replace("• ", "").replace("+ ", "").split()
        assert len(heads) == 2

        def canvases() -> list[str]:
            rows = screen_text(app)
            return [r for r in rows if "┤" in r or r.lstrip().startswith("│")]

        await settle(pilot)
        assert canvases() and not [r for r in canvases() if any(h in r for h in heads)]
        await pilot.press("h")
        await settle(pilot)
        title = await wait_for(pilot, lambda: next((r for r in screen_text(app) if "best so far per trial" in r), None),
                               what="the history title")
        assert all(h in title for h in heads), title
        assert not [r for r in canvases() if any(h in r for h in heads)]


async def test_export_html_report_from_compare(cmp_ws, tmp_path):
    out = tmp_path / "cmp.html"
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_compare(pilot, ["aaaa1111", "bbbb2222"])
        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#field-output").value = str(out)
        await pilot.press("enter")
        await settle(pilot)
        assert await wait_for(pilot, lambda: any("report written" in n for n in notes(app)))
    html = out.read_text()
    assert "aaaa1111" in html and "bbbb2222" in html and "http://" not in html


async def test_comparing_runs_of_different_tasks_warns(cmp_ws):
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_compare(pilot, ["aaaa1111", "cccc3333"])
        warning = app.screen.query_one("#compare-warnings").render().plain
        assert "▲" in warning and "different tasks" in warning
        await pilot.press("c")
        assert "different tasks" in app.screen.query_one("#compare-curves-note").render().plain


async def test_compare_with_an_unknown_run_is_a_notification(cmp_ws):
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_compare(pilot, ["aaaa1111", "zzzz9999"])
        assert await wait_for(pilot, lambda: any("unknown run 'zzzz9999'" in n for n in notes(app)))
        assert type(app.screen).__name__ == "CompareScreen"


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_compare_screen_snapshot(cmp_ws, snap_compare, size):
    async def metrics(pilot):
        await open_compare(pilot, ["aaaa1111", "bbbb2222"])

    assert snap_compare(app_on(cmp_ws, "home"), terminal_size=size, run_before=metrics)


def test_compare_curves_snapshot(cmp_ws, snap_compare):
    async def curves(pilot):
        await open_compare(pilot, ["aaaa1111", "bbbb2222"])
        await pilot.press("c")
        await pilot.pause()

    assert snap_compare(app_on(cmp_ws, "home"), terminal_size=(120, 40), run_before=curves)


async def test_rollback_moves_the_alias_back(ws):
    v1 = credit_model(ws, rounds=3)
    v2 = credit_model(ws, rounds=4)
    ws.store.models.set_alias("credit", "production", v1.version)
    ws.store.models.set_alias("credit", "production", v2.version)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause()
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: any("rolled back to v1" in n for n in notes(app)))
    assert ws.store.models.by_alias("credit", "production").version == v1.version


async def test_a_job_scored_from_the_cli_appears_without_a_key(ws):
    model = credit_model(ws, rounds=3)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        jobs = app.screen.query_one("#jobs-table")
        assert jobs.row_count == 0
        from mlops_tui.serving import scoring

        scoring.score(ws, model.ref, [str(SAMPLE / "default.csv")])   # as another process would
        assert await wait_for(pilot, lambda: jobs.row_count == 1)     # the periodic refresh finds it


async def test_a_job_whose_process_died_shows_failed_not_running(ws):
    import socket
    import subprocess
    import sys

    model = credit_model(ws, rounds=3)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)  # a real process that has ended: its pid is dead
    ws.store.jobs.start(job_id="killedjob123", model_name=model.name, model_version=model.version,
                        inputs=[{"path": "data/new.csv"}], pid=int(gone.stdout), host=socket.gethostname())
    app = app_on(ws, "home")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#recent").row_count, what="home's recent jobs")
        assert str(app.screen.query_one("#recent").get_row_at(0)[0]).endswith("failed")
        await pilot.press("4")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelsScreen"
                       and app.screen.query_one("#jobs-table").row_count == 1, what="the models screen's job")
        assert "failed" in str(app.screen.query_one("#jobs-table").get_row_at(0)[0])
    assert ws.store.jobs.get("killedjob123").error == f"scoring process died (pid {int(gone.stdout)})"


async def test_compare_follows_runs_that_are_still_tuning(ws):
    for run_id in ("run1aaaa", "run2bbbb"):
        ws.store.runs.create(run_id=run_id, name=run_id, dataset="penguins", dataset_version=1,
                             target="species", task="multiclass", metric="log_loss", direction="minimize",
                             seed=0, config={}, status="running")
        ws.store.runs.upsert_trial(run_id=run_id, number=0, state="COMPLETE", value=0.5, params={"num_leaves": 7})
    app = app_on(ws, "home")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_compare(pilot, ["run1aaaa", "run2bbbb"])
        table = app.screen.query_one("#compare-metrics")

        def trials_row() -> list[str]:
            labels = [str(table.get_row_at(r)[0]) for r in range(table.row_count)]
            return [str(c) for c in table.get_row_at(labels.index("trials"))] if "trials" in labels else []

        assert trials_row()[1:] == ["1", "1"]
        assert "no holdout evaluation yet" in app.screen.query_one("#compare-warnings").render().plain
        ws.store.runs.upsert_trial(run_id="run2bbbb", number=1, state="COMPLETE", value=0.4,
                                   params={"num_leaves": 9})
        assert await wait_for(pilot, lambda: trials_row()[1:] == ["1", "2"])


async def test_the_run_detail_shows_each_features_share_of_the_gain_not_raw_gain(cmp_ws):
    """Feature importances read '8.14e+03' (raw gain); `run show` gives each feature's 'gain %'."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    from mlops_tui.evaluation.evaluate import details_for_run

    imp = details_for_run(cmp_ws, "aaaa1111")["importance"]
    total = sum(g or 0 for g in imp["gain"])
    best = max(zip(imp["gain"], imp["features"], strict=False))
    app = app_on(cmp_ws, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(RunDetailScreen("aaaa1111"))
        await settle(pilot)
        await pilot.press("i")
        text = app.screen.query_one("#importance-text")
        await wait_for(pilot, lambda: "Feature importance" in str(text.render()), what="feature importances")
        lines = str(text.render()).split("Feature importance (share of gain, refit model)\n")[1].splitlines()
        assert lines[0].startswith(f"  {best[1][:22]} ")
        assert lines[0].endswith(f" {100 * best[0] / total:.1f}%")
        assert all(line.endswith("%") and "e+" not in line for line in lines), lines


async def test_a_runs_outcome_and_importances_scroll_with_the_keys_at_80x24(cmp_ws):
    """`o` showed the Outcome pane but left the keys with the hidden Trials table: j, the arrows and
    page down moved a cursor no one saw, and the holdout metrics and best parameters, longer than
    24 lines, could not be read to their end without a mouse."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    app = app_on(cmp_ws, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(RunDetailScreen("aaaa1111"))
        await settle(pilot)
        trials = app.screen.query_one("#trials-table")
        await wait_for(pilot, lambda: trials.row_count > 1, what="trials")
        await pilot.press("o")
        text = app.screen.query_one("#outcome-text")
        await wait_for(pilot, lambda: "Best parameters" in str(text.render()), what="outcome")
        pane = text.parent
        await wait_for(pilot, lambda: pane.max_scroll_y > 0, what="an outcome longer than the pane")
        await pilot.press("j")  # one line: the outcome is 2 lines past the pane since 07748da (was 3 j)
        await wait_for(pilot, lambda: pane.scroll_y == 1, what="j scrolls the outcome")
        await pilot.press("end")
        await wait_for(pilot, lambda: pane.scroll_y == pane.max_scroll_y, what="end shows its last line")
        await pilot.press("k")
        await wait_for(pilot, lambda: pane.scroll_y == pane.max_scroll_y - 1, what="k scrolls back")
        assert trials.cursor_row == 0  # the hidden table did not take the keys
        await pilot.press("i")
        assert app.screen.focused is app.screen.query_one("#importance-text").parent
        await pilot.press("t", "j")
        assert app.screen.focused is trials and trials.cursor_row == 1


async def test_a_compare_tab_shown_by_its_key_takes_the_arrow_keys(cmp_ws):
    """`s` showed the slices with the keys left on the tab strip: j did nothing, the arrows switched
    tabs, and the slices' rows could not be walked without a mouse click first."""
    app = app_on(cmp_ws, "home")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_compare(pilot, ["aaaa1111", "bbbb2222"])
        metrics = app.screen.query_one("#compare-metrics")
        await wait_for(pilot, lambda: metrics.row_count > 0, what="metrics")
        await pilot.press("s", "j", "j")
        slices = app.screen.query_one("#compare-slices")
        assert app.screen.focused is slices and slices.cursor_row == 2
        assert metrics.cursor_row == 0
        await pilot.press("h", "j")  # a plot: the tab strip has the keys, the hidden tables none
        assert type(app.screen.focused).__name__ == "ContentTabs" and slices.cursor_row == 2
