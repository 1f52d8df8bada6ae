"""What a new user trips over on the screens: a gate pass that is not clean, CLI flags in dialogs,
a run that says nothing while its final model trains, palette words, plot ticks, help titles."""

from __future__ import annotations

import re

import pytest

from tests.tui.conftest import press_keys, type_text, wait_for
from tests.tui.helpers_screens import app_on, fake_model, notes, screen_text, settle

pytestmark = pytest.mark.xdist_group("tui-screens")


def penguins_run(ws, run_id: str, name: str, config: dict, trials: int | None) -> None:
    """A run record of penguins (species, multiclass, log_loss), written straight to the store."""
    ws.store.runs.create(
        run_id=run_id,
        name=name,
        dataset="penguins",
        dataset_version=1,
        target="species",
        task="multiclass",
        metric="log_loss",
        direction="minimize",
        seed=0,
        config=config,
        n_trials_requested=trials,
    )


def _with_policy(ws, policy: str):
    from mlops_tui.workspace import Workspace

    ws.config_path.write_text("[gate]\n" + policy)
    return Workspace.open(ws.root)  # config is read once per Workspace object


async def test_a_pass_only_because_the_champion_fails_too_says_so_at_80_columns(ws):
    ws = _with_policy(ws, "min_metric = { roc_auc = 0.9 }\n")
    champ = fake_model(ws, "credit", 0.80)
    fake_model(ws, "credit", 0.85)  # beats the champion, below the bound the champion misses too
    ws.store.models.set_alias("credit", "production", champ.version)
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#models-table")
        assert await wait_for(pilot, lambda: str(table.get_row("credit:2")[1]) == "▲ pass*", what="gate cell")
        assert str(table.get_row("credit:1")[1]) == "✗ fail"
        detail = str(app.screen.query_one("#model-detail").render())
        assert (
            "Gate ▲ pass*\n  * roc_auc 0.85 < 0.9, but the champion fails it too, as badly or more: 0.8"
            in detail
        )
        text = "\n".join(screen_text(app))
        # the metric comes after aliases and deployed at 80 columns (bbaf610): in Detail
        assert "│ credit:2  ▲ pass*  -            -" in text and "  * roc_auc 0.85 < 0.9," in text


# -- 2. the forms' messages name the form's fields, not CLI flags --------------------------------
async def test_the_launch_form_asks_for_trials_or_timeout_by_its_fields(sample_ws, app_factory):
    app = app_on(sample_ws, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_keys(pilot, "n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "LaunchScreen", what="launch form")
        app.screen.query_one("#field-dataset").value = "penguins"
        app.screen.query_one("#field-trials").value = ""
        await press_keys(pilot, "ctrl+s")
        said = await wait_for(
            pilot, lambda: [n for n in notes(app) if "study would never end" in n], what="the refusal"
        )
        assert said == ["fill in Trials or Timeout (or both), or the study would never end"]
        assert type(app.screen).__name__ == "LaunchScreen"  # still open, to fill in, on the field named
        await wait_for(pilot, lambda: app.screen.focused is not None and app.screen.focused.id == "field-trials",
                       what="the cursor on Trials")
    assert sample_ws.store.runs.list() == []


async def test_a_gate_refusal_and_a_bad_score_output_name_no_flag(ws, tmp_path):
    from tests.scoring_helpers import SAMPLE, credit_model

    credit_model(ws, rounds=3, metrics={"score": 0.70})
    v2 = credit_model(ws, rounds=4, metrics={"score": 0.90})
    ws.store.models.set_alias("credit", "production", v2.version)
    blocker = tmp_path / "out"
    blocker.write_text("a file where a folder would go")
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await press_keys(pilot, "j", "d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="deploy form")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmModal", what="force question")
        await pilot.press("n")
        await settle(pilot)
        await press_keys(pilot, "s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="score form")
        app.screen.query_one("#field-inputs").value = str(SAMPLE / "default.csv")
        app.screen.query_one("#field-output").value = str(blocker / "scored.parquet")
        await press_keys(pilot, "ctrl+s")
        await wait_for(pilot, lambda: any("is a file" in n for n in notes(app)), what="the output refused")
        await settle(pilot)
    said = notes(app)
    assert any(n.startswith("✗ gate refused credit:1") for n in said), said
    assert any(n.startswith(f"Output file {blocker / 'scored.parquet'}: ") for n in said), said
    assert not [n for n in said if "--" in n], said


# -- 3. the run head says the final model is training ---------------------------------------------
async def test_the_run_head_says_the_final_model_is_training(ws, app_factory):
    from mlops_tui.screens.run_detail import RunDetailScreen

    from mlops_tui.training import tuning
    from tests.tui.conftest import fake_runs

    run_id = fake_runs(ws)[1]  # running, no trial running
    log = tuning.log_path(ws, run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(
        "2026-01-15 12:00:01,000 4242 INFO mlops_tui.training.tuning.study: worker 4242 done in 3.1s\n"
        "2026-01-15 12:00:02,000 4241 INFO mlops_tui.training.tuning.worker: best trial 3 (log_loss=0.18); "
        "training the final model (one refit on train+valid)\n"
    )
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(RunDetailScreen(run_id))
        head = app.screen.query_one("#run-head")
        assert await wait_for(pilot, lambda: "final model" in str(head.render()), what="the phase")
        assert "\n● training the final model (one refit on train+valid)" in str(head.render())
        await pilot.pause()
        assert "● training the final model (one refit on" in "\n".join(screen_text(app))
        # the log says the run ended after it (a run resumed for more trials): no phase
        with log.open("a") as f:
            f.write(
                f"2026-01-15 12:00:09,000 4241 INFO mlops_tui.training.tuning.worker: run {run_id} completed: "
                "model penguins-1:1\n"
            )
        assert await wait_for(
            pilot, lambda: "final model" not in str(head.render()), what="no phase", timeout=10
        )


async def test_the_run_head_reads_the_phase_from_the_run_record_not_its_log(ws, app_factory):
    """The supervisor records its phase on the run (no log needed); 'searching' adds no line (the
    trials bar says so); a run that ended is doing nothing, whatever its record still says."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    from tests.tui.conftest import fake_runs

    completed, run_id, _ = fake_runs(ws)
    ws.store.runs.update(run_id, phase="training the final model", config={"protocol": {"kind": "cv"}})
    ws.store.runs.update(completed, phase="training the final model")  # its supervisor was killed
    assert ws.store.runs.get(completed).phase is None
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(RunDetailScreen(run_id))
        head = app.screen.query_one("#run-head")
        assert await wait_for(pilot, lambda: "final model" in str(head.render()), what="the phase")
        assert "\n● training the final model (its fold models, averaged)" in str(head.render())
        ws.store.runs.update(run_id, phase="searching")
        assert await wait_for(
            pilot, lambda: "\n●" not in str(head.render()), what="no phase line", timeout=10
        )


async def open_history(pilot, run_id: str) -> None:
    """Push the run's detail screen and show its History tab, plot drawn."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    await pilot.app.push_screen(RunDetailScreen(run_id))
    await press_keys(pilot, "h")
    await wait_for(pilot, lambda: pilot.app.screen.query_one("#history-plot"), what="plot")
    await settle(pilot)


# -- 5. whole trial numbers on the history plot -------------------------------------------------
async def test_the_history_plot_of_two_trials_has_whole_trial_numbers(ws, app_factory):

    from tests.tui.conftest import fake_runs

    run_id = fake_runs(ws)[1]  # trials 0 and 1 complete
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_history(pilot, run_id)
        axis = await wait_for(
            pilot,
            lambda: next(
                (r for r in screen_text(app) if r.strip().startswith("0") and r.split()[-1] == "1"), None
            ),
            what="an x axis 0 … 1",
        )
        assert axis.split() == ["0", "1"]  # not 0.00 0.25 0.50 0.75 1.00


# -- 4. the palette finds a command by the words a user types ----------------------------------
@pytest.mark.parametrize("query", ["register file", "add dataset", "import csv"])
async def test_the_palette_finds_register_by_a_users_words(sample_ws, app_factory, query):
    from textual.command import CommandPalette

    app = app_factory(sample_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await press_keys(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await type_text(pilot, query)
        hits = await wait_for(
            pilot,
            lambda: app.screen.query_one("CommandList").option_count and app.screen.query_one("CommandList"),
            what=f"hits for {query!r}",
        )
        await pilot.pause(0.3)  # every provider has answered
        assert str(hits.get_option_at_index(0).prompt).startswith("Datasets: Register")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="register form")
        assert app.screen.form_title == "Register a dataset file"


# -- 6. help names where keys work as a person would ------------------------------------------
async def test_help_names_dialogs_by_their_human_title(ws, app_factory):
    from mlops_tui.screens.help import SCOPES
    from mlops_tui.screens.keymap import catalogue

    assert {e.scope for e in catalogue() if e.scope != "HelpScreen"} <= set(
        SCOPES
    )  # a new screen gets a title
    app = app_factory(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await press_keys(pilot, "question_mark")
        table = await wait_for(pilot, lambda: app.screen.query_one("#help-table").row_count
                               and app.screen.query_one("#help-table"), what="help")
        scopes = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        assert {"form dialogs", "yes/no questions", "text views (logs, results)", "Run detail"} <= scopes
        assert not {"Form", "ConfirmModal", "Text", "RunDetail", "Sql"} & scopes


# -- the tour: a retrain run reads as one, not as a run that did nothing ------------------------
async def test_a_retrain_run_says_whose_parameters_it_reused(ws, app_factory):
    from mlops_tui.screens.run_detail import RunDetailScreen

    penguins_run(ws, "69bd51fb00", "penguins", {"retrain_of": "penguins:1", "trials": None}, None)
    ws.store.runs.update("69bd51fb00", status="completed", test_metrics={"log_loss": 0.12})
    app = app_factory(ws, start="home")
    async with app.run_test(size=(80, 24)) as pilot:
        recent = app.screen.query_one("#recent")
        assert await wait_for(pilot, lambda: recent.row_count == 1, what="the run in Recent")
        assert recent.get_row_at(0)[3] == "penguins:1 retrain of penguins:1"  # not 'log_loss=-'
        await press_keys(pilot, "3")
        table = await wait_for(
            pilot,
            lambda: app.screen.query_one("#runs-table").row_count and app.screen.query_one("#runs-table"),
            what="runs",
        )
        cells = [str(c) for c in table.get_row_at(0)]
        assert "retrain" in cells and "holdout 0.1200" in cells  # its best was '-': a run that did nothing
        # no R (Resume): it turned the retrain into a 5-trial study registering one more model
        footer = await wait_for(pilot, lambda: "Compare" in screen_text(app)[-1] and "Stop" not in screen_text(app)[-1]
                                and screen_text(app)[-1], what="the footer of a run that ended")
        assert "Resume" not in footer
        await app.push_screen(RunDetailScreen("69bd51fb00"))
        head = app.screen.query_one("#run-head")
        assert await wait_for(
            pilot, lambda: "retrain of penguins:1 with its parameters" in str(head.render())
        )
        assert "trials 0" not in str(head.render())
        # it opens on its outcome: its Trials tab was an empty table
        await wait_for(pilot, lambda: app.screen.query_one("#run-tabs").active == "outcome", what="the outcome")
        await pilot.pause()
        assert "Resume" not in screen_text(app)[-1] and "Logs" in screen_text(app)[-1]
        await app.screen.run_action("resume")  # as the palette would: nothing opens
        await pilot.pause()
        assert type(app.screen).__name__ == "RunDetailScreen"
    assert [r.n_trials for r in ws.store.runs.list()] == [0]


async def test_the_history_plots_key_is_below_it_not_over_trial_0(ws, app_factory):
    """plotext's legend sat in the canvas's top left corner, where a minimized run's first trial is."""

    from tests.tui.conftest import fake_runs

    run_id = fake_runs(ws)[1]  # minimize: trial 0 (0.42) is the top left point
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_history(pilot, run_id)

        def canvas() -> list[str]:
            rows = screen_text(app)
            top = next((i for i, r in enumerate(rows) if "┌" in r), None)
            bottom = next((i for i, r in enumerate(rows) if "└" in r), None)
            return [] if top is None or bottom is None else rows[top + 1 : bottom]

        rows = await wait_for(pilot, lambda: [r for r in canvas() if "•" in r] and canvas(), what="points")
        frame = rows[0].index("┤") if "┤" in rows[0] else rows[0].index("│")
        assert "•" in rows[0][frame : frame + 3], rows  # trial 0, at the top left corner
        assert not [r for r in rows if "trial" in r or "best so far" in r], rows
        assert "trial  (• a trial's value, line: best so far)" in "\n".join(screen_text(app))


async def test_compare_says_a_retrain_run_reused_parameters_not_trials_0(ws, app_factory):
    from mlops_tui.screens.compare import CompareScreen

    penguins_run(ws, "69bd51fb00", "penguins", {"retrain_of": "penguins:1", "trials": None}, None)
    penguins_run(ws, "5a5a5a5a5a", "penguins", {}, 3)
    ws.store.runs.upsert_trial(run_id="5a5a5a5a5a", number=0, state="COMPLETE", value=0.2, params={})
    for run_id in ("69bd51fb00", "5a5a5a5a5a"):
        ws.store.runs.update(run_id, status="completed", test_metrics={"log_loss": 0.12})
    app = app_factory(ws, start="home")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(CompareScreen(["69bd51fb00", "5a5a5a5a5a"]))
        table = await wait_for(pilot, lambda: app.screen.query_one("#compare-metrics"), what="compare")

        def trials_row() -> list[str]:
            labels = [str(table.get_row_at(r)[0]) for r in range(table.row_count)]
            return [str(c) for c in table.get_row_at(labels.index("trials"))] if "trials" in labels else []

        assert await wait_for(
            pilot, lambda: trials_row()[1:] == ["retrain (of penguins:1)", "1"], what="trials"
        )


async def test_a_form_submitted_with_a_required_field_blank_stays_open_and_says_which(sample_ws, app_factory):
    """Diff on a dataset's only version opens with 'Other version' blank: Enter closed the form and
    nothing happened, with no word why."""
    app = app_on(sample_ws, "datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.current == "bikeshare:1", what="bikeshare selected")
        await press_keys(pilot, "d")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="diff form")
        await press_keys(pilot, "enter")
        assert await wait_for(pilot, lambda: "Other version: required" in notes(app), what="the field named")
        assert type(app.screen).__name__ == "FormScreen"
        await type_text(pilot, "penguins:1")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "TextScreen", what="the diff")


async def test_home_says_enter_opens_a_row(ws, app_factory):
    """Enter on a row of Home opens it, but the footer never said so (the table's own Enter
    binding hides the screen's 'enter Open')."""
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        shown = "\n".join(screen_text(app))
        assert shown.count("enter opens a row · tab next pane") == 2, shown


async def test_resume_asks_how_many_more_trials(ws, app_factory):
    """R on a run that completed its trials said 'pass --trials N to run more': the TUI had no
    place to give it. R now opens a form: 5 more for a completed run, blank (the rest of its
    budget) for one stopped with trials left."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    from tests.tui.conftest import fake_runs

    completed, _, failed = fake_runs(ws)
    app = app_on(ws, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        for run_id, trials, hint in (
            (completed, "5", "more trials to run"),
            (failed, "", "blank: the 2 left of its budget"),
        ):
            await app.push_screen(RunDetailScreen(run_id))
            await wait_for(pilot, lambda: app.screen.run is not None, what="the run")
            await press_keys(pilot, "R")
            form = await wait_for(
                pilot, lambda: type(app.screen).__name__ == "FormScreen" and app.screen, what="form"
            )
            assert form.form_title.startswith("Resume run penguins-")
            field = form.query_one("#field-trials")
            assert (field.value, field.placeholder) == (trials, hint)
            await press_keys(pilot, "escape")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen", what="form closed")
            await press_keys(pilot, "escape")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", what="the runs")
    assert [r.status for r in ws.store.runs.list()].count("queued") == 0


async def test_home_recent_is_in_one_time_order(ws, app_factory):
    """Recent listed every job before every run: a job scored an hour ago sat above a run that
    had just completed."""
    from datetime import timedelta

    from mlops_tui.screens.formatters import now

    from tests.tui.helpers_screens import fake_job

    model = fake_model(ws, "credit", 0.8)
    fake_job(ws, "a1b2c3d4e5f6", None, model)  # scored now
    penguins_run(ws, "0a1b2c3d4e", "penguins-0", {}, 5)
    ended = now().replace(tzinfo=None) + timedelta(minutes=1)  # after the job
    ws.store.runs.update("0a1b2c3d4e", status="completed", best_value=0.2, ended_at=ended)
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        recent = app.screen.query_one("#recent")
        assert await wait_for(pilot, lambda: recent.row_count == 2, what="two recent rows")
        assert [recent.get_row_at(i)[1] for i in range(2)] == ["run penguins-0", "score credit"]


async def test_file_fields_name_the_folder_a_relative_path_starts_from(sample_ws, ws, app_factory):
    """The score form said 'relative to the cwd' and the register form nothing: which folder?"""
    from pathlib import Path

    from tests.tui.helpers_screens import registry_fixture

    registry_fixture(ws)
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_keys(pilot, "s")
        form = await wait_for(
            pilot, lambda: type(app.screen).__name__ == "FormScreen" and app.screen, what="score"
        )
        label = str(form.query_one("#field-inputs").parent.query_one("Label").render())
        assert label.endswith(f"relative to {Path.cwd()}") or "…" in label, label
    app = app_on(sample_ws, "datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_keys(pilot, "a")
        form = await wait_for(
            pilot, lambda: type(app.screen).__name__ == "FormScreen" and app.screen, what="register"
        )
        assert form.query_one("#field-source").placeholder.startswith(".csv/.parquet path (glob ok) from ")


async def test_the_sql_views_list_scrolls_inside_the_screen_and_keeps_the_nav_bar_whole(ws, app_factory):
    """ctrl+t's list of views made the SQL screen taller than 24 rows: its scroll bar took two
    columns from the nav bar ('7 Pipelines' cut to '7') and pushed the results off screen."""
    app = app_on(ws, "sql")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        rows = screen_text(app)
        assert "7 Pipelines" in rows[1], rows[1]
        assert "v_datasets: name, version" in "\n".join(rows)
        assert any(r.startswith("╭") for r in rows) and any(
            r.startswith("╰") for r in rows
        )  # the results pane
        assert "ORDER BY name, version DESC" in "\n".join(rows)  # the input is not narrowed either


async def test_the_launch_form_says_what_it_is_doing_while_the_run_starts(sample_ws, app_factory):
    """Submitted, the launch form was a blank box with a spinner for ~5 s (the data read and split,
    LightGBM imported). It stays in view, greyed, its border saying what happens; refused, it is
    the form again."""
    app = app_on(sample_ws, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_keys(pilot, "n")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "LaunchScreen", what="launch form")
        form = app.screen
        form.query_one("#field-dataset").value = "penguins"
        form.query_one("#field-group_column").value = "nope"
        await settle(pilot)
        with sample_ws.session():  # the store is busy: the run's preparation waits for it
            await pilot.press("ctrl+s")
            await pilot.pause()
            shown = "\n".join(screen_text(app))
            # (its seconds: 0, or more on a loaded machine)
            assert re.search(r"● preparing penguins: reading it, splitting off the holdout… \d+ s", shown), (
                shown
            )
            assert "Group column nope" in shown  # the form, not a blank box
            assert form.query_one("#form-box").disabled
        said = await wait_for(pilot, lambda: [n for n in notes(app) if "nope" in n], what="the refusal")
        assert "group column 'nope' is not in the dataset" in said[0]
        await settle(pilot)
        assert not form.query_one("#form-box").disabled
        assert "ctrl+s submit · Esc cancel" in "\n".join(screen_text(app))
    assert sample_ws.store.runs.list() == []


async def test_recent_shows_a_runs_holdout_figure_the_one_its_model_shows(ws, app_factory):
    """Home's Recent said 'log_loss=0.0335' (the best trial, on validation folds) while the Models
    screen said 'log_loss 0.1157' (the holdout) for the run's model: two figures, one name."""
    from tests.tui.conftest import fake_runs

    fake_runs(ws)  # completed: best trial 0.18, holdout log_loss 0.11; failed: 3 trials
    app = app_factory(ws, start="home")
    async with app.run_test(size=(80, 24)) as pilot:
        recent = app.screen.query_one("#recent")
        assert await wait_for(pilot, lambda: recent.row_count == 2, what="the runs in Recent")
        details = {str(recent.get_row_at(i)[1]): str(recent.get_row_at(i)[3]) for i in range(2)}
        assert details == {
            "run penguins-0": "penguins:1 holdout log_loss=0.1100",
            "run penguins-2": "penguins:1 best trial log_loss=0.3100",  # failed: no holdout
        }


async def test_monitoring_with_no_deployment_says_so_on_one_line_at_80_columns(ws):
    """The hint was squeezed into 34 columns (three lines) beside an empty sparkline's baseline."""
    app = app_on(ws, "monitoring")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: "No deployments" in "\n".join(screen_text(app)), what="the hint")
        rows = screen_text(app)
        assert any(
            "No deployments yet: 4 Models → d deploys a model; scoring jobs then appear" in r for r in rows
        )
        assert not any("▁▁▁▁" in r for r in rows), rows


async def test_the_run_head_names_the_best_trial_and_the_holdout(ws, app_factory):
    """'best 0.8175' in the head, the model's 0.8300 on the Models screen: which is the run's score?"""
    from mlops_tui.screens.run_detail import RunDetailScreen

    from tests.tui.conftest import fake_runs

    completed = fake_runs(ws)[0]  # best trial 0.18, holdout log_loss 0.11
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(RunDetailScreen(completed))
        head = app.screen.query_one("#run-head")
        assert await wait_for(pilot, lambda: "trials 5/5" in str(head.render()), what="the head")
        assert "log_loss (minimize) best trial 0.1800 · trials 5/5" in str(head.render())
        assert str(head.render()).endswith("\nholdout log_loss 0.1100")


async def test_the_models_detail_keeps_every_metric_value_in_one_column_at_80_columns(ws):
    """'best_f1_threshold' is longer than the other names: its value sat 5 columns right of theirs."""
    fake_model(ws, "credit", 0.85, best_f1_threshold=0.42)
    app = app_on(ws, "models")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await wait_for(pilot, lambda: "best_f1_threshold" in "\n".join(screen_text(app)), what="the metrics")
        detail = str(app.screen.query_one("#model-detail").render()).splitlines()
        rows = [r for r in detail if re.match(r"  (roc_auc|accuracy|best_f1_threshold) ", r)]
        starts = {re.match(r"  \S+ +", r).end() for r in rows}
        assert len(rows) == 3 and len(starts) == 1, rows
        assert any("  best_f1_threshold 0.4200" in r for r in screen_text(app)), screen_text(app)


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_help_shows_the_keys_of_the_screen_it_was_opened_from_first(ws, app_factory, size):
    """? listed the app's and the tables' keys first: on Pipelines at 80x24 its own x and r were
    below the bottom of the terminal, and the id column (what a remap needs) was cut."""
    from tests.tui.helpers_screens import cut_columns, screen_text

    app = app_factory(ws, start="pipelines")
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await press_keys(pilot, "question_mark")
        table = await wait_for(pilot, lambda: app.screen.query_one("#help-table").row_count
                               and app.screen.query_one("#help-table"), what="help")
        assert [str(c) for c in table.get_row_at(0)] == ["Pipelines", "x", "Run pipeline", "pipelines.run"]
        assert [str(c) for c in table.get_row_at(1)][0] == "Pipelines"
        await pilot.pause()
        assert "pipelines.refresh" in "\n".join(screen_text(app))
        assert cut_columns(table) == []
        intro = app.screen.query_one("#help-intro")
        assert str(intro.render()).startswith("Keys of Pipelines first") and intro.size.height == 2


async def test_the_launch_forms_metric_names_the_tasks_default_and_the_others(sample_ws):
    """'default per task: roc_auc / log_loss / rmse' beside a multiclass dataset: which is it, and
    what else may be typed there, only a refusal said."""
    app = app_on(sample_ws, "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await press_keys(pilot, "n")
        form = await wait_for(pilot, lambda: type(app.screen).__name__ == "LaunchScreen" and app.screen, what="form")
        form.query_one("#field-dataset").value = "penguins"
        metric = form.query_one("#field-metric")
        hint = "default: log_loss · or accuracy, f1_macro, f1_weighted"
        assert await wait_for(pilot, lambda: metric.placeholder == hint, what="the multiclass hint")
        await pilot.pause()
        assert any(hint in r for r in screen_text(app)), screen_text(app)
        form.query_one("#field-task").value = "regression"
        assert await wait_for(pilot, lambda: metric.placeholder == "default: rmse · or mae, r2, mape", what="rmse")


async def test_the_trials_table_shows_the_parameters_that_mattered_most_where_few_fit(ws, app_factory):
    """At 80 columns the trials table has room for two parameters: it showed the first two seen
    (bagging_fraction, bagging_freq on a real run) whatever their importance."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    from tests.tui.conftest import fake_runs

    completed = fake_runs(ws)[0]  # varying: num_leaves, learning_rate, min_child_samples (in that order)
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.push_screen(RunDetailScreen(completed))
        table = app.screen.query_one("#trials-table")

        def params() -> list[str]:
            return [str(c.label) for c in table.ordered_columns][4:]

        await wait_for(pilot, lambda: table.row_count, what="trials")
        app.screen.post_message(RunDetailScreen.Importance(
            {"importances": {"num_leaves": 0.1, "learning_rate": 0.2, "min_child_samples": 0.7}}, None))
        assert await wait_for(pilot, lambda: params() == ["min_child_samples", "learning_rate"], what="by importance")
        await pilot.pause()
        assert any("min_child_samples" in r and "learning_rate" in r for r in screen_text(app))
