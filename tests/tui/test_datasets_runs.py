"""Datasets and runs screens driven by keys: schema, paged preview, register/validate/diff, the launch
form, a real detached run watched to completion, marks and compare, run detail."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.tui.conftest import SAMPLE, SEEN_AT, add_samples, fake_runs, settled, type_text, wait_for
from tests.tui.helpers_screens import screen_text, settle


def texts(app) -> list[str]:
    return [n.message for n in app._notifications]


def screen_name(app) -> str:
    return type(app.screen).__name__


async def open_datasets(pilot, app, name: str):
    """On the datasets screen, move the cursor to dataset ``name`` by keys."""
    table = await wait_for(pilot, lambda: app.screen.query_one("#datasets").row_count
                           and app.screen.query_one("#datasets"), what="datasets list")
    names = [table.get_row_at(i)[0] for i in range(table.row_count)]
    table.focus()
    # From where the cursor is (on a dataset just registered), step by step: a cursor the screen
    # places once it has read the store may move after the first look (a CI run pressed j from a
    # row the cursor had already left, and never reached the dataset).
    for _ in range(2 * len(names) + 10):
        if app.screen.current == f"{name}:1":
            break
        steps = names.index(name) - table.cursor_row
        if steps:
            await pilot.press("j" if steps > 0 else "k")
        else:
            await pilot.pause(0.1)  # on the row: the screen's selection follows
    await wait_for(pilot, lambda: app.screen.current == f"{name}:1", what=f"{name} selected")
    return table


async def test_schema_shows_roles_and_histograms_and_preview_pages_to_the_end(sample_ws, app_factory):
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_datasets(pilot, app, "penguins")
        schema = app.screen.query_one("#schema-table")
        rows = {schema.get_row_at(i)[0]: schema.get_row_at(i) for i in range(schema.row_count)}
        assert rows["species"][2] == "target"
        assert any(ch in rows["body_mass_g"][5] for ch in "▁▂▃▄▅▆▇█")   # histogram sparkline
        assert "Biscoe" in rows["island"][6]                             # top values
        await open_datasets(pilot, app, "bikeshare")
        rows = {schema.get_row_at(i)[0]: schema.get_row_at(i) for i in range(schema.row_count)}
        # whole values, '…' for the rest: it read 'clear, cloudy/misty, lig'
        assert rows["weathersit"][6] == "clear, cloudy/misty, …"
        await open_datasets(pilot, app, "penguins")
        await pilot.press("p")
        preview = app.screen.query_one("#preview-table")
        await wait_for(pilot, lambda: preview.row_count > 0, what="first page")
        await pilot.press("G")
        await wait_for(pilot, lambda: preview.first_row > 0, what="last page")
        assert preview.first_row + preview.row_count == 344
        assert str(preview.rows[preview.coordinate_to_cell_key((preview.cursor_row, 0)).row_key].label) == "344"
        await pilot.press("g")
        await wait_for(pilot, lambda: preview.first_row == 0, what="back to the start")


async def test_esc_in_a_datasets_detail_goes_back_to_the_list_then_home(sample_ws, app_factory):
    """p (or s, h) moves the keys into the detail; Esc there went Home, not back to the list."""
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_datasets(pilot, app, "bikeshare")
        await pilot.press("p")
        preview = app.screen.query_one("#preview-table")
        await wait_for(pilot, lambda: app.focused is preview and preview.row_count > 0, what="the preview")
        await pilot.press("escape")
        assert app.current_mode == "datasets" and app.focused is table
        await pilot.press("j")
        await wait_for(pilot, lambda: app.screen.current == "penguins:1", what="the list takes j again")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.current_mode == "home", what="home")


async def test_p_while_the_preview_still_reads_its_rows_gives_it_the_keys_once_they_are_in(sample_ws, app_factory):
    """A table still loading takes no focus: p pressed then left the keys with the list (j moved to
    the next dataset instead of the next row)."""
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_datasets(pilot, app, "bikeshare")
        preview = app.screen.query_one("#preview-table")
        await wait_for(pilot, lambda: preview.row_count > 0 and not preview.loading, what="the first page")
        preview.loading = True  # as while a page is read (held here: the read is fast)
        await pilot.press("p")
        assert app.focused is not table
        app.screen.load_page(0, 0)
        await wait_for(pilot, lambda: app.focused is preview, what="the preview takes the keys")
        await pilot.press("j")
        assert preview.cursor_row == 1 and app.screen.current == "bikeshare:1"


async def test_the_list_pane_counts_the_datasets_it_has_no_room_to_show(ws, app_factory):
    """At 80x24 the list pane shows 3 rows: a workspace of 20 datasets looked like one of 3."""
    from mlops_tui.data import datasets

    for name in ("ames", "boston", "credit", "diamonds", "elections"):
        datasets.add(ws, str(SAMPLE / "penguins.csv"), name=name, target="species")
    app = app_factory(ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.screen.query_one("#ds-list")
        await wait_for(pilot, lambda: app.screen.query_one("#datasets").row_count == 5, what="the list")
        assert pane.border_title == "Datasets (latest versions) · 5"


async def test_a_dataset_registered_elsewhere_shows_when_the_user_comes_back(ws, app_factory):
    """The list was read once, when the screen first opened: coming back to 2 after `mlops-tui
    dataset add` in another terminal still showed the old list (and 'added 33s ago' an hour on)."""
    add_samples(ws, "penguins")
    app = app_factory(ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.screen.query_one("#datasets")
        await wait_for(pilot, lambda: table.row_count == 1, what="the list")
        add_samples(ws, "bikeshare")  # as the CLI would, while the user looks elsewhere
        await pilot.press("1")
        await pilot.press("2")
        await wait_for(pilot, lambda: table.row_count == 2, what="the dataset registered meanwhile")
        assert app.screen.query_one("#ds-list").border_title == "Datasets (latest versions) · 2"
        assert app.focused is table


async def test_coming_back_to_datasets_reads_the_versions_again_too(frozen_clock, ws, app_factory, monkeypatch):
    """Coming back read the list again ('1h ago') but not the versions of the dataset under the
    cursor: its Versions tab still said 'added 5m ago'."""
    from mlops_tui.screens import formatters

    add_samples(ws, "penguins")  # written under the frozen clock: 'now' is 5 minutes on
    app = app_factory(ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("h")
        versions = app.screen.query_one("#versions-table")
        await wait_for(pilot, lambda: versions.row_count and str(versions.get_row_at(0)[-1]) == "5m ago",
                       what="the versions' added time")
        monkeypatch.setattr(formatters, "now", lambda: SEEN_AT + timedelta(hours=1))
        await pilot.press("1")
        await pilot.press("2")
        await wait_for(pilot, lambda: str(versions.get_row_at(0)[-1]) == "1h ago", what="the versions read again")


async def test_register_a_file_from_the_form_then_a_bad_one_is_one_line(sample_ws, app_factory, tmp_path):
    good = tmp_path / "tiny.csv"
    good.write_text("id,x,y\n1,0.5,a\n2,1.5,b\n3,2.5,a\n4,3.5,b\n")
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        table = await open_datasets(pilot, app, "bikeshare")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="register form")
        await type_text(pilot, str(good))
        await pilot.press("tab", *"tiny", "tab", "y", "ctrl+s")
        await wait_for(pilot, lambda: table.row_count == 3, what="third dataset")
        assert sample_ws.store.datasets.get("tiny").target == "y"
        assert any("registered tiny:1" in t for t in texts(app))
        # the new dataset is the one shown (the cursor stayed on bikeshare, its schema under it)
        await wait_for(pilot, lambda: app.screen.current == "tiny:1", what="tiny selected")
        assert table.selected_key() == "tiny:1"
        assert str(app.screen.query_one("#ds-info").render()).startswith("tiny:1  4 rows × 3 cols  target y")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="register form again")
        await type_text(pilot, str(good))
        await pilot.press("tab", *"tiny2", "tab", *"nope", "enter")
        await wait_for(pilot, lambda: any("'nope' is not a column" in t for t in texts(app)), what="error note")
        assert [d.name for d in sample_ws.store.datasets.latest()] == ["bikeshare", "penguins", "tiny"]
        # the form again, as typed: the target is corrected, not the whole form typed over
        form = await wait_for(pilot, lambda: screen_name(app) == "FormScreen" and app.screen, what="the form again")
        assert [form.query_one(f"#field-{f}").value for f in ("source", "name", "target")] == [str(good), "tiny2", "nope"]
        assert form.focused.id == "field-target"  # the field the refusal names (it was File)
        target = form.query_one("#field-target")
        target.value = "y"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: table.row_count == 4, what="tiny2 registered")
        await wait_for(pilot, lambda: app.screen.current == "tiny2:1", what="tiny2 selected")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="register form again")
        await type_text(pilot, str(tmp_path / "missing.csv"))
        await pilot.press("tab", *"target", "enter")
        await wait_for(pilot, lambda: any("missing.csv" in t for t in texts(app)), what="error note")
        assert [d.name for d in sample_ws.store.datasets.latest()] == ["bikeshare", "penguins", "tiny", "tiny2"]
        # no such file: back on File (the name typed, 'target', is no word of the refusal)
        form = await wait_for(pilot, lambda: screen_name(app) == "FormScreen" and app.screen, what="the form again")
        assert form.focused.id == "field-source"


async def test_register_and_validate_show_their_warnings(sample_ws, app_factory, tmp_path):
    """The TUI registered with datasets.add, which drops the warnings `dataset add` prints (dslabs
    reported_heights: a height column made text by "5'7"), and validate showed problems only (a
    category the version never had)."""
    heights = tmp_path / "heights.csv"
    values = [str(60 + i % 15) for i in range(45)] + ["5'7", "165cm", "5'7"]
    heights.write_text("id,sex,height\n" + "".join(f"{i},{'MF'[i % 2]},{h}\n" for i, h in enumerate(values)))
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        table = await open_datasets(pilot, app, "bikeshare")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="register form")
        await type_text(pilot, str(heights))
        await pilot.press("tab", "tab", *"sex", "ctrl+s")
        await wait_for(pilot, lambda: table.row_count == 3, what="third dataset")
        await wait_for(pilot, lambda: any("column 'height' is text" in t for t in texts(app)), what="warning")
        heights.write_text(heights.read_text().replace(",M,", ",X,", 1))
        await open_datasets(pilot, app, "heights")
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="validate form")
        await type_text(pilot, str(heights))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "TextScreen", what="validation result")
        assert "▲ column 'sex' has values heights:1 never had: X" in str(app.screen.body)


async def test_validate_and_diff_show_their_results(sample_ws, app_factory, tmp_path):
    import polars as pl

    changed = tmp_path / "penguins2.csv"
    pl.read_csv(SAMPLE / "penguins.csv").drop("year").head(200).write_csv(changed)
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="validate form")
        await type_text(pilot, str(changed))
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "TextScreen", what="validation result")
        body = str(app.screen.body)
        assert body.startswith("✗") and "year" in body
        await pilot.press("escape")
        await pilot.press("d")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="diff form")
        await pilot.press(*"penguins:1", "enter")
        await wait_for(pilot, lambda: screen_name(app) == "TextScreen", what="diff result")
        body = str(app.screen.body)  # readable lines, not the result's fields as key=value
        assert body.startswith("penguins:1 → penguins:") and "rows 344 → " in body
        assert "  ✓ island: ok  categorical  PSI " in body and "null_rate_a=" not in body


async def test_validate_of_a_file_that_cannot_be_read_gives_the_form_back_with_the_path(sample_ws, app_factory,
                                                                                        tmp_path):
    """A mistyped path showed a result of one problem ('…: no such file'); Esc, v, and the path was
    to type again. Now the line is said and the form is back with the path as typed."""
    missing = str(tmp_path / "penguins-2025.csv")
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("v")
        await wait_for(pilot, lambda: screen_name(app) == "FormScreen", what="validate form")
        await type_text(pilot, missing)
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(n.message == f"{missing}: no such file" for n in app._notifications),
                       what="the line")
        field = await wait_for(pilot, lambda: screen_name(app) == "FormScreen" and app.screen.query_one("#field-path"),
                               what="the form again")
        assert field.value == missing and app.screen.focused is field


async def test_launch_form_is_prefilled_from_the_dataset_version(sample_ws, app_factory):
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", what="launch form")
        values = app.screen.values()
        assert values["dataset"] == "penguins:1"
        assert values["target"] == "species"
        assert values["task"] == "multiclass"
        await pilot.press("tab", "tab", "tab", "tab", "ctrl+u", *"zero", "ctrl+s")
        await wait_for(pilot, lambda: any("trials: 'zero'" in t for t in texts(app)), what="bad trials")
        assert sample_ws.store.runs.list() == []


async def test_the_launch_forms_target_hint_says_when_the_dataset_has_none(sample_ws, app_factory, tmp_path):
    """Its placeholder said '(default: the dataset's)' for a dataset registered with no target: there
    was no default, and the run was refused on submit."""
    from mlops_tui.data import datasets

    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n1,x\n2,y\n3,x\n")
    datasets.add(sample_ws, str(plain))
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "plain")
        await pilot.press("n")
        form = await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen" and app.screen, what="launch form")
        target = form.query_one("#field-target")
        await wait_for(pilot, lambda: "required" in target.placeholder, what="the hint")
        assert target.placeholder == "required: plain:1 has no target column set" and target.value == ""
        await pilot.press("ctrl+u", *"penguins")  # a dataset with one: blank means its target
        await wait_for(pilot, lambda: target.value == "species", what="penguins' target")
        assert target.placeholder == "target column (default: species)"


async def test_launch_form_follows_a_dataset_typed_into_it(sample_ws, app_factory):
    """Opened on bikeshare, the form kept bikeshare's target and 'regression' when the user typed
    penguins into its dataset field: the run would have tuned the wrong task on a wrong column."""
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "bikeshare")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", what="launch form")
        assert app.screen.values()["target"] == "bikers"
        await pilot.press("ctrl+u", *"penguins")
        await wait_for(pilot, lambda: app.screen.values()["target"] == "species", what="penguins' target")
        assert app.screen.values()["task"] == "multiclass"
        await pilot.press("tab", "ctrl+u", *"island", "shift+tab", "end", *":1")  # the user's own target stays
        await wait_for(pilot, lambda: app.screen.values()["dataset"] == "penguins:1", what="penguins:1")
        await settle(pilot)
        assert app.screen.values()["target"] == "island"


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_launch_form_says_how_to_submit_and_cancel_on_a_small_terminal(sample_ws, app_factory, size):
    """At 80x24 the launch form's 11 fields fill the screen and scroll: the line saying Enter or
    ctrl+s starts the run and Esc cancels was below them, out of sight, and a form has no footer."""
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=size) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", what="launch form")
        await pilot.pause()
        shown = "\n".join(screen_text(app))
        assert "ctrl+s submit · Esc cancel" in shown, shown


async def test_launch_form_takes_a_group_column_and_names_a_wrong_one(sample_ws, app_factory):
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", what="launch form")
        await pilot.press(*["tab"] * 9, *"nope")
        assert app.screen.values()["group_column"] == "nope"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("group column 'nope' is not in the dataset" in t for t in texts(app)),
                       what="the column named")
        assert sample_ws.store.runs.list() == []


async def test_a_refused_launch_puts_the_cursor_on_the_field_it_names(sample_ws, app_factory):
    """A refusal named Target or Trials and left the cursor where it was (or nowhere: the form,
    greyed while the run started, gave its focus up): the field had to be found with Tab."""
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("n")
        form = await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen" and app.screen, what="launch form")
        await settle(pilot)
        form.query_one("#field-target").value = "nope"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("'nope'" in t for t in texts(app)), what="the target refused")
        await wait_for(pilot, lambda: not form.query_one("#form-box").disabled, what="the form again")
        assert form.focused.id == "field-target"
        form.query_one("#field-target").value = "species"
        form.query_one("#field-trials").value = "zero"
        form.query_one("#field-dataset").focus()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: any("trials: 'zero'" in t for t in texts(app)), what="bad trials")
        assert form.focused.id == "field-trials"
        assert sample_ws.store.runs.list() == []


@pytest.mark.slow
async def test_launch_a_detached_run_and_watch_it_complete(sample_ws, app_factory):
    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("n")
        await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen", what="launch form")
        await pilot.press("tab", "tab", "tab", "tab", "ctrl+u", "3", "ctrl+s")
        # (the screen is current a moment before its table is mounted: a busy machine shows the gap)
        table = await wait_for(pilot, lambda: screen_name(app) == "RunsScreen" and app.screen.query_one("#runs-table"),
                               timeout=60, what="runs list")

        def finished_row():
            return table.row_count and str(table.get_row_at(0)[0]) in ("✓ completed", "✗ failed", "▲ stopped")

        await wait_for(pilot, finished_row, timeout=240, what="run finished in the list")
        run = sample_ws.store.runs.list()[0]
        assert (run.status, run.error) == ("completed", None)
        assert str(table.get_row_at(0)[0]) == "✓ completed"
        assert str(table.get_row_at(0)[4]).startswith("3/3")
        assert run.model_name == "penguins"
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen_name(app) == "RunDetailScreen", what="run detail")
        trials = await wait_for(pilot, lambda: app.screen.query_one("#trials-table").row_count == 3
                                and app.screen.query_one("#trials-table"), what="three trials")
        assert {str(trials.get_row_at(i)[1]) for i in range(3)} <= {"✓ complete", "▲ pruned"}
        await pilot.press("i")
        await wait_for(pilot, lambda: "Parameter importance" in str(app.screen.query_one("#importance-text").render()),
                       timeout=30, what="importances")


async def test_space_marks_two_runs_and_c_opens_compare(ws, app_factory):
    ids = fake_runs(ws)
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 3
                               and app.screen.query_one("#runs-table"), what="runs")
        table.focus()
        await pilot.press("c")
        await wait_for(pilot, lambda: any("mark at least two" in t for t in texts(app)), what="hint")
        await pilot.press("space", "space")
        assert app.screen.marked == [ids[2], ids[1]]  # newest first in the list
        assert str(table.get_row_at(0)[1]).startswith("▶ ")
        await pilot.press("c")
        await wait_for(pilot, lambda: screen_name(app) == "CompareScreen"
                       or any("compare screen" in t for t in texts(app)), what="compare or notice")
        if screen_name(app) == "CompareScreen":
            assert list(app.screen.run_ids) == [ids[2], ids[1]]


async def test_the_marked_line_tells_runs_of_one_name_apart(ws, app_factory):
    """Runs take their dataset's name: marking two runs of penguins read '2 marked: penguins, penguins'."""
    ids = ["a1b2c3d4e5f60718", "f6e5d4c3b2a10987"]
    for run_id in ids:
        ws.store.runs.create(run_id=run_id, name="penguins", dataset="penguins", dataset_version=1,
                             target="species", task="multiclass", metric="log_loss", direction="minimize",
                             seed=0, config={}, n_trials_requested=5)
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 2
                               and app.screen.query_one("#runs-table"), what="runs")
        table.focus()
        first, second = (table.coordinate_to_cell_key((r, 0)).row_key.value[:6] for r in range(2))
        await pilot.press("space", "space")
        info = str(app.screen.query_one("#runs-info").render())
        assert info.startswith(f"2 marked: penguins·{first}, penguins·{second}  · c compares them"), info


async def test_run_detail_shows_trials_best_and_outcome(ws, app_factory):
    ids = fake_runs(ws)
    # As a real run records them: the primary metric's name beside the values (the header names it).
    ws.store.runs.update(ids[0], test_metrics={"accuracy": 0.97, "log_loss": 0.11, "primary_metric": "log_loss"})
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        from mlops_tui.screens.run_detail import RunDetailScreen

        await app.push_screen(RunDetailScreen(ids[0]))
        trials = await wait_for(pilot, lambda: app.screen.query_one("#trials-table").row_count == 5
                                and app.screen.query_one("#trials-table"), what="trials")
        cells = [str(trials.get_row_at(i)[2]) for i in range(5)]
        assert "0.1800★" in cells
        assert "▲ pruned" in {str(trials.get_row_at(i)[1]) for i in range(5)}
        await pilot.press("o")
        text = str(app.screen.query_one("#outcome-text").render())
        assert "accuracy" in text and "num_leaves" in text
        assert "primary_metric" not in text  # a note about the values, not one of them


async def test_the_history_draws_the_best_so_far_as_steps(ws, app_factory):
    """The best-so-far line joined trial to trial: from trial 1 (best 0.31) it slanted down to trial 3
    (0.18) across pruned trial 2, as if the best had improved between them. It holds, then steps."""
    ids = fake_runs(ws)  # trials 0.42, 0.31, pruned, 0.18, 0.25 (minimize)
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        from mlops_tui.screens.run_detail import RunDetailScreen

        await app.push_screen(RunDetailScreen(ids[0]))
        await pilot.press("h")
        lazy = app.screen.query_one("LazyPlot")
        plot = await wait_for(pilot, lambda: lazy.plot, what="the history plot")
        drawn: list[tuple[list, list]] = []
        original = plot.plt.plot
        plot.plt.plot = lambda xs, ys, **kw: (drawn.append((list(xs), list(ys))), original(xs, ys, **kw))[1]
        app.screen.refresh_run()
        await wait_for(pilot, lambda: drawn, what="the history drawn")
        assert drawn[-1] == ([0, 1, 1, 3, 3, 4], [0.42, 0.42, 0.31, 0.31, 0.18, 0.18])


async def test_run_detail_shows_before_the_plotting_code_is_imported(ws, app_factory, held_plotext):
    """The first open of a run's detail imported textual-plotext (42-52 ms) in compose, on the UI
    thread, so nothing showed until it was done. With that import held back here, the head and the
    trials still show; the History plot comes once the import is let go, drawn with the trials."""
    ids = fake_runs(ws)
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        from mlops_tui.screens.run_detail import RunDetailScreen

        await app.push_screen(RunDetailScreen(ids[0]))
        await wait_for(pilot, lambda: app.screen.query_one("#trials-table").row_count == 5, what="trials")
        assert "best trial 0.18" in str(app.screen.query_one("#run-head").render())
        assert not app.screen.query("#history-plot") and not held_plotext.held_out
        held_plotext.release.set()
        await pilot.press("h")
        plot = await wait_for(pilot, lambda: app.screen.query("#history-plot").first(), what="history plot")
        drawn = await wait_for(pilot, lambda: "optimization history" in str(plot.render()) and str(plot.render()),
                               what="drawn plot")
        assert "best so far" in drawn
    assert not held_plotext.held_out


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_datasets_snapshot(frozen_clock, ws, snap_compare, app_factory, size):
    add_samples(ws, "penguins", "bikeshare")

    async def loaded(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#schema-table").row_count > 0
                       and pilot.app.focused is pilot.app.screen.query_one("#datasets"), what="schema")
        await settled(pilot, "#datasets", "#schema-table")

    assert snap_compare(app_factory(ws, start="datasets"), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_runs_snapshot(frozen_clock, ws, snap_compare, app_factory, size):
    fake_runs(ws)

    async def loaded(pilot):
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#runs-table").row_count == 3
                       and pilot.app.focused is pilot.app.screen.query_one("#runs-table"), what="runs")
        await settled(pilot, "#runs-table")

    assert snap_compare(app_factory(ws, start="runs"), terminal_size=size, run_before=loaded)


def test_run_detail_snapshot(frozen_clock, ws, snap_compare, app_factory):
    ids = fake_runs(ws)

    async def loaded(pilot):
        from mlops_tui.screens.run_detail import RunDetailScreen

        await pilot.app.push_screen(RunDetailScreen(ids[0]))
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#trials-table").row_count == 5, what="trials")
        await settled(pilot, "#trials-table")

    assert snap_compare(app_factory(ws, start="runs"), terminal_size=(80, 24), run_before=loaded)


@pytest.mark.slow
async def test_stop_then_resume_from_the_run_detail_keys(sample_ws, app_factory):
    from mlops_tui.screens.run_detail import RunDetailScreen

    from mlops_tui.training import tuning

    run = tuning.start(sample_ws, tuning.TuneOptions(dataset="penguins", trials=300, seed=0), detach=True)
    status = lambda: sample_ws.store.runs.get(run.run_id).status  # noqa: E731
    try:
        app = app_factory(sample_ws, start="runs")
        async with app.run_test(size=(80, 24)) as pilot:
            await app.push_screen(RunDetailScreen(run.run_id))
            await wait_for(pilot, lambda: app.screen.run is not None and app.screen.run.n_trials >= 1,
                           timeout=120, what="first trial")
            await pilot.press("s")
            await wait_for(pilot, lambda: status() == "stopped", timeout=120, what="stopped")
            await wait_for(pilot, lambda: "▲ stopped" in str(app.screen.query_one("#run-head").render()),
                           what="stopped shown")
            done = sample_ws.store.runs.get(run.run_id).n_trials
            await pilot.press("R")  # the resume form: blank runs the rest of the run's 300 trials
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FormScreen", what="resume form")
            await pilot.press("enter")
            await wait_for(pilot, lambda: sample_ws.store.runs.get(run.run_id).n_trials > done, timeout=120,
                           what="more trials after resume")
            assert status() in ("queued", "running", "stopping")
    finally:
        if status() in ("queued", "running", "stopping"):
            tuning.stop(sample_ws, run.run_id, wait=60)
    assert status() == "stopped"


async def test_a_runs_log_opens_at_its_newest_lines(ws, app_factory):
    """l opened the log at its first lines (study created, trial 0 ...): what the run does now
    (e.g. 'training the final model') was pages below, and nothing said how to close or scroll."""
    from mlops_tui.training import tuning

    completed, running, _ = fake_runs(ws)
    log = tuning.log_path(ws, running)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"trial {n} finished\n" for n in range(200)) + "training the final model\n")
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(80, 24)) as pilot:
        from mlops_tui.screens.run_detail import RunDetailScreen

        await app.push_screen(RunDetailScreen(running))
        await wait_for(pilot, lambda: app.screen.run is not None, what="the run")
        await pilot.press("l")
        await wait_for(pilot, lambda: screen_name(app) == "TextScreen", what="the log")
        shown = await wait_for(pilot, lambda: "training the final model" in "\n".join(screen_text(app))
                               and screen_text(app), what="the newest line on screen")
        assert not any("trial 0 finished" in line for line in shown)
        assert any("Esc close" in line for line in shown)


async def test_run_detail_of_a_shared_study_shows_trials_per_host_and_live_workers(ws, app_factory):
    """A run whose study is in PostgreSQL: the coordinator mirrored trials from three hosts and the
    workers it saw (written straight to the store here; the real flow is tests/cli/test_shared_study)."""
    run_id = "5hared0study01"
    ws.store.runs.create(run_id=run_id, name="default", dataset="default", dataset_version=1, target="default",
                         task="binary", metric="roc_auc", direction="maximize", seed=0, n_trials_requested=6,
                         config={"storage": "postgresql+psycopg://optuna@db1:5432/studies"}, status="running")
    hosts = ["coord", "w1", "w1", "w2", "coord", "w2"]
    ws.store.runs.record_trials(run_id, [
        {"number": n, "state": "RUNNING" if n == 5 else "COMPLETE", "value": None if n == 5 else 0.9,
         "params": {"num_leaves": 8 + n}, "host": host, "pid": 100 + n} for n, host in enumerate(hosts)],
        workers=[{"host": "coord", "pid": 100, "state": "running", "trials": 2, "alive": True},
                 {"host": "w1", "pid": 200, "state": "exited", "trials": 2, "alive": False, "reason": "the run ended"},
                 {"host": "w2", "pid": 300, "state": "running", "trials": 2, "alive": True}])
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(100, 30)) as pilot:
        from mlops_tui.screens.run_detail import RunDetailScreen

        await app.push_screen(RunDetailScreen(run_id))
        head = await wait_for(pilot, lambda: "hosts" in str(app.screen.query_one("#run-head").render())
                              and str(app.screen.query_one("#run-head").render()), what="hosts line")
        assert "hosts coord 2 · w1 2 · w2 2 · workers alive 2 of 3" in head


async def test_run_detail_footer_offers_stop_only_while_the_run_is_active(ws, app_factory):
    """A completed run's footer listed 's Stop', which only answered 'is not running'."""
    from mlops_tui.screens.run_detail import RunDetailScreen

    completed, running, _ = fake_runs(ws)
    app = app_factory(ws)
    async with app.run_test(size=(100, 30)) as pilot:
        for run_id, shown, hidden in ((completed, "R", "s"), (running, "s", "R")):
            await app.push_screen(RunDetailScreen(run_id))
            keys = lambda: [k.key for k in app.screen.query("FooterKey")]  # noqa: E731
            # the footer is refreshed after the run loads: wait for both (the old code never hid either)
            await wait_for(pilot, lambda shown=shown, hidden=hidden: app.screen.run is not None
                           and shown in keys() and hidden not in keys(),
                           what=f"{shown} in the footer and {hidden} not")
            await pilot.press(hidden)  # a hidden key does nothing either
            await pilot.pause()
            assert not any("is not running" in n.message or "already running" in n.message
                           for n in app._notifications)
            app.pop_screen()


async def test_runs_footer_follows_the_run_under_the_cursor(ws, app_factory):
    """The list offered 's Stop' on completed and failed runs too."""
    fake_runs(ws)  # newest first: failed, running, completed
    app = app_factory(ws, start="runs")
    async with app.run_test(size=(100, 30)) as pilot:
        keys = lambda: [k.key for k in app.screen.query("FooterKey")]  # noqa: E731
        await wait_for(pilot, lambda: app.screen.query_one("#runs-table").row_count == 3, what="runs")
        table = app.screen.query_one("#runs-table")
        for row in range(3):
            table.move_cursor(row=row)
            running = str(table.get_row_at(row)[0]).endswith("running")
            shown, hidden = ("s", "R") if running else ("R", "s")
            await wait_for(pilot, lambda shown=shown, hidden=hidden: shown in keys() and hidden not in keys(),
                           timeout=10, what=f"{shown} offered and {hidden} not, row {row}")


async def test_the_sample_data_and_one_more_dataset_all_show_at_80x24(ws, app_factory):
    """The list pane took 30% of the screen: 3 rows, so the 4th dataset of a new user's workspace
    (the samples + their own) was hidden below the fold with no sign but a scrollbar."""
    from mlops_tui.sample_data import SAMPLES

    from mlops_tui.data import datasets

    add_samples(ws, *SAMPLES)
    datasets.add(ws, str(SAMPLE / "penguins.csv"), name="carseats", target="species")
    app = app_factory(ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#datasets").row_count == 4, what="the list")
        await wait_for(pilot, lambda: app.screen.query_one("#schema-table").row_count > 0, what="the schema")
        await settled(pilot, "#datasets", "#schema-table")
        rows = screen_text(app)
        names = ["bikeshare", "carseats", "default", "penguins"]
        shown = [name for name in names if any(r.startswith(f"│ {name} ") for r in rows)]
        assert shown == names, "\n".join(rows)
        assert any(r.startswith(" season ") for r in rows), "\n".join(rows)  # the schema keeps its rows
