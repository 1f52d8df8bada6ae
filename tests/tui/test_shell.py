"""The app shell: screen switching by keys, help, command palette, keymap, home, error routing."""

from __future__ import annotations

import pytest

from tests.tui.conftest import fake_runs, press_keys, settled, type_text, wait_for
from tests.tui.helpers_screens import SIG, monitoring_fixture, screen_text


def texts(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_number_keys_switch_main_screens_and_escape_goes_home(ws, app_factory):
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HomeScreen", what="home")
        for key, mode in (("2", "datasets"), ("3", "runs"), ("4", "models"), ("5", "monitoring"),
                          ("6", "sql"), ("escape", "home")):  # the SQL screen's input takes digits
            await press_keys(pilot, key)
            await wait_for(pilot, lambda mode=mode: app.current_mode == mode, what=mode)
        await press_keys(pilot, "3")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunsScreen", what="runs screen")
        await press_keys(pilot, "escape")
        await wait_for(pilot, lambda: app.current_mode == "home", what="back home")


async def test_every_main_screens_footer_shows_help_and_quit_at_80_columns(ws, app_factory):
    """At 80x24 the Datasets footer ended '? He' and the Models one 'q Q': with the nav bar's
    '? help' hint also dropped at that width, nothing on those screens said ? lists the keys."""
    monitoring_fixture(ws)  # a model and deployments, so every screen has its usual bindings
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, mode in (("1", "home"), ("2", "datasets"), ("3", "runs"), ("4", "models"), ("5", "monitoring"),
                          ("7", "pipelines")):  # SQL's footer is the query box's: ? and q type there
            await press_keys(pilot, key)
            await wait_for(pilot, lambda mode=mode: app.current_mode == mode, what=mode)
            await pilot.pause()
            footer = screen_text(app)[-1]
            assert "? Help" in footer and "q Quit" in footer, (mode, footer)


async def test_home_offers_no_back_key_where_there_is_nowhere_to_go(ws, app_factory):
    """Home's footer began 'esc Back', a key that did nothing there; the other screens keep it."""
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        keys = lambda: [k.key for k in app.screen.query("FooterKey")]  # noqa: E731
        await wait_for(pilot, lambda: "r" in keys(), what="home's footer")
        assert "escape" not in keys()
        await press_keys(pilot, "2")
        await wait_for(pilot, lambda: app.current_mode == "datasets" and "escape" in keys(), what="datasets' esc")
        await press_keys(pilot, "escape")
        await wait_for(pilot, lambda: app.current_mode == "home", what="back home")


async def test_question_mark_lists_every_binding_with_its_id(ws, app_factory):
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await press_keys(pilot, "question_mark")
        table = await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen"
                               and app.screen.query_one("#help-table").row_count and app.screen.query_one("#help-table"),
                               what="help")
        ids = {table.get_row_at(i)[3] for i in range(table.row_count)}
        assert {"app.quit", "app.help", "app.runs", "runs.launch", "runs.mark", "datasets.register",
                "run.stop", "table.down", "screen.back"} <= ids
        await press_keys(pilot, "escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HomeScreen", what="help closed")


async def test_keys_remapped_in_config_take_effect_and_unknown_ids_warn(ws, app_factory):
    ws.config_path.write_text('[keys]\n"app.help" = "f1"\n"app.runs" = "ctrl+r"\n"app.nope" = "x"\n')
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        # The warning is read while it shows (a notification expires; on a busy machine the two
        # screen switches below can outlast it).
        await wait_for(pilot, lambda: any("no binding has id 'app.nope'" in t for t in texts(app)),
                       what="unknown id warned")
        await press_keys(pilot, "ctrl+r")
        await wait_for(pilot, lambda: app.current_mode == "runs", what="runs via ctrl+r")
        await press_keys(pilot, "f1")
        table = await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen"
                               and app.screen.query_one("#help-table").row_count and app.screen.query_one("#help-table"),
                               what="help via f1")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert any(r[3] == "app.help" and r[1] == "f1" for r in rows)


async def test_command_palette_runs_an_action_of_another_screen_by_name(sample_ws, app_factory):
    from textual.command import CommandPalette

    app = app_factory(sample_ws)
    async with app.run_test(size=(100, 30)) as pilot:
        await press_keys(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await type_text(pilot, "datasets: register")  # the footer's word, under its screen
        await wait_for(pilot, lambda: app.screen.query_one("CommandList").option_count > 0, what="palette hits")
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="register form")
        assert app.current_mode == "datasets"
        assert app.screen.form_title == "Register a dataset file"


async def test_home_shows_running_and_failed_runs_with_symbols(ws, app_factory):
    fake_runs(ws)
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#attention").row_count >= 2
                               and app.screen.query_one("#attention"), what="attention rows")
        cells = [str(table.get_row_at(i)[0]) + " " + table.get_row_at(i)[1] for i in range(table.row_count)]
        assert "● running run penguins-1" in cells
        assert "✗ failed run penguins-2" in cells
        table.focus()
        table.move_cursor(row=[c.endswith("penguins-1") for c in cells].index(True))
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "RunDetailScreen", what="run detail")
        assert app.screen.run_id.startswith("1a1b")
        await wait_for(pilot, lambda: app.screen.run is not None, what="the run shown")


async def test_home_shows_drift_with_its_trend_and_live_performance_alerts(ws, app_factory):
    monitoring_fixture(ws)  # credit-batch: jobs drifting ok → warn → alert, labels below the holdout
    app = app_factory(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#attention").row_count >= 2
                               and app.screen.query_one("#attention"), what="deployment alerts")
        rows = [" ".join(str(c) for j, c in enumerate(table.get_row_at(i)) if j != 2)  # all but 'when'
                for i in range(table.row_count)]
        assert "■ alert deployment credit-batch drift alert, prediction drift 0.3100 ▁▃█" in rows


async def test_homes_drift_trend_leaves_out_failed_jobs_and_needs_two(ws, app_factory):
    """A failed job (no prediction drift) drew a bar of 0 in the trend, a fall that never was; one
    job drew one full bar (hui4's tour: 'prediction drift 0.0663  █')."""
    from tests.tui.helpers_screens import fake_job, fake_model

    v1 = monitoring_fixture(ws)["model"]
    fake_job(ws, "job4dddddddd", "credit-batch", v1, status="failed", drift=None, pred_drift=None,
             error="input does not match")
    fake_job(ws, "job5eeeeeeee", "credit-batch", v1, drift="alert", pred_drift=0.2)
    single = fake_model(ws, "single", 0.9)
    ws.store.models.deploy(name="a-single", model_name="single", model_version=single.version, signature=SIG)
    fake_job(ws, "job9single00", "a-single", single, drift="warn", pred_drift=0.07)
    app = app_factory(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#attention").row_count >= 3
                               and app.screen.query_one("#attention"), what="deployment alerts")
        rows = [" ".join(str(c) for j, c in enumerate(table.get_row_at(i)) if j != 2) for i in range(table.row_count)]
        assert "■ alert deployment credit-batch drift alert, prediction drift 0.2000 ▁▃█▆" in rows, rows
        assert "▲ warn deployment a-single drift warn, prediction drift 0.0700" in rows, rows
        perf = [i for i, r in enumerate(rows) if "live roc_auc 0.7900 vs holdout 0.8600" in r]
        assert len(perf) == 1 and rows[perf[0]].startswith("■ alert deployment credit-batch")
        table.focus()
        table.move_cursor(row=perf[0])
        await press_keys(pilot, "enter")
        await wait_for(pilot, lambda: app.current_mode == "monitoring"
                       and app.screen.query_one("#deployments-table").row_count, what="monitoring screen")


async def test_a_failing_worker_becomes_an_error_notification(ws, app_factory):
    fake_runs(ws)
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        from mlops_tui.screens.run_detail import RunDetailScreen

        await app.push_screen(RunDetailScreen("no-such-run"))
        await wait_for(pilot, lambda: any("unknown run" in t for t in texts(app)), what="error note")
        assert app.is_running


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_home_snapshot(ws, frozen_clock, snap_compare, app_factory, size):
    fake_runs(ws)

    async def loaded(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#attention").row_count >= 2
                       and "dataset" in str(pilot.app.screen.query_one("#home-summary").render())
                       and pilot.app.focused is pilot.app.screen.query_one("#attention"), what="home")
        await settled(pilot, "#attention", "#recent")

    assert snap_compare(app_factory(ws), terminal_size=size, run_before=loaded)


async def test_recent_rows_keep_their_time_in_view_at_80_columns_beside_a_long_output_path(ws, app_factory):
    """At 80 columns a job's '10,000 rows → /long/path/scores.parquet' pushed 'when' off the edge."""
    ws.store.jobs.start(job_id="j" * 12, model_name="credit", model_version=1, inputs=[{"path": "in.csv"}],
                        output="/srv/scoring/outputs/credit-nightly/2026-12-03/scores-final.parquet")
    ws.store.jobs.finish("j" * 12, status="succeeded", rows_in=10_000, rows_out=10_000, seconds=1.0)
    app = app_factory(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#recent").row_count
                               and app.screen.query_one("#recent").show_header and app.screen.query_one("#recent"),
                               what="the recent job")
        columns = list(table.ordered_columns)
        when = [str(c.label) for c in columns].index("when")
        assert sum(c.get_render_width(table) for c in columns[:when + 1]) <= table.scrollable_content_region.width


async def test_the_palette_leaves_out_what_the_screen_does_not_offer_now(ws, app_factory, tmp_path, monkeypatch):
    """On Pipelines with no pipeline.toml the footer hides x, but the palette listed 'Run pipeline',
    and choosing it did nothing at all (Textual skips an action its screen does not offer)."""
    from textual.command import CommandPalette

    monkeypatch.chdir(tmp_path)
    app = app_factory(ws, start="pipelines")
    async with app.run_test(size=(100, 30)) as pilot:
        info = app.screen.query_one("#pipelines-info")
        await wait_for(pilot, lambda: "No pipeline.toml" in str(info.render()), what="the no-file state")
        await press_keys(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await type_text(pilot, "read file")
        hits = app.screen.query_one("CommandList")
        await wait_for(pilot, lambda: hits.option_count > 0, what="palette hits")
        shown = [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]
        assert any("Read file again" in p for p in shown), shown  # what it offers is there
        await press_keys(pilot, *["backspace"] * 9)
        await type_text(pilot, "pipeline")

        def prompts() -> list[str]:
            return [str(hits.get_option_at_index(i).prompt) for i in range(hits.option_count)]

        shown = await wait_for(pilot, lambda: any(p.startswith("Pipelines") for p in prompts()) and prompts(),
                               what="the hits for 'pipeline'")
        assert not any("Run pipeline" in p for p in shown), shown


@pytest.mark.parametrize(("query", "form", "field", "value"), [
    ("models: score", "FormScreen", "#field-target", "credit:3"),  # what s on Models offers
    ("datasets: new run", "LaunchScreen", "#field-dataset", "bikeshare:1"),
])
async def test_the_palette_runs_another_screens_action_on_what_that_screen_has_read(sample_ws, query, form, field,
                                                                                    value):
    """From Monitoring, 'Models: Score' opened the score form before the registry was read: its
    deployment or model blank, a required field. 'Datasets: New run' from Home said 'no dataset
    selected' beside a list of datasets. The palette waits for the screen's first read."""
    from textual.command import CommandPalette

    from tests.tui.helpers_screens import app_on, notes, registry_fixture

    registry_fixture(sample_ws)
    app = app_on(sample_ws, "monitoring")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.ready(), what="monitoring read")
        await press_keys(pilot, "ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), what="palette")
        await type_text(pilot, query)
        hits = app.screen.query_one("CommandList")
        await wait_for(pilot, lambda: hits.option_count and str(hits.get_option_at_index(0).prompt).lower()
                       .startswith(query), what="the hit")
        await press_keys(pilot, "enter")
        opened = await wait_for(pilot, lambda: type(app.screen).__name__ == form and app.screen, what=form)
        await pilot.pause()
        assert opened.query_one(field).value == value
        assert not [n for n in notes(app) if "no dataset selected" in n]
