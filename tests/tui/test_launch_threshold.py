"""The launch form's Threshold field: `tune --threshold-for` from the workbench."""

from __future__ import annotations

from tests.tui.conftest import wait_for
from tests.tui.test_datasets_runs import open_datasets, screen_name, texts


async def test_the_launch_form_passes_threshold_for_and_a_multiclass_target_is_refused(sample_ws, app_factory):
    from textual.widgets import Select

    app = app_factory(sample_ws, start="datasets")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_datasets(pilot, app, "penguins")
        await pilot.press("n")
        form = await wait_for(pilot, lambda: screen_name(app) == "LaunchScreen" and app.screen, what="launch form")
        assert form.values()["threshold_for"] == "0.5"  # the default: no --threshold-for
        form.query_one("#field-threshold_for", Select).value = "f1"
        form.query_one("#field-name").focus()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Threshold is for binary classifiers; Task is multiclass" in texts(app),
                       what="the refusal in the form's words")
        assert sample_ws.store.runs.list() == []
