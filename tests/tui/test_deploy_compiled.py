"""Deploying with the compiled engine from the models screen: the compile runs in a worker, its
steps show in the deploy row, and the deployment records the engine and its check."""

from __future__ import annotations

import pytest

from tests.compiled_helpers import tiny_model
from tests.tui.conftest import wait_for
from tests.tui.helpers_screens import app_on, notes, settle

pytestmark = pytest.mark.xdist_group("compiled")


async def test_deploy_compiled_from_the_form_shows_its_steps_and_records_the_engine(ws, tmp_path, monkeypatch):
    from mlops_tui.screens.models import ModelsScreen

    model, _ = tiny_model(ws, tmp_path, "binary")
    steps: list[str | None] = []
    shown = ModelsScreen.on_models_screen_deploy_stage

    def watch(self, msg):  # observe what the deploy row is told, then show it as usual
        steps.append(msg.text)
        shown(self, msg)

    monkeypatch.setattr(ModelsScreen, "on_models_screen_deploy_stage", watch)
    app = app_on(ws, "models")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause()
        form = app.screen
        assert form.query_one("#field-name").value == "binary"
        assert form.query_one("#field-engine").value == "local"  # the workspace default
        form.query_one("#field-engine").value = "compiled"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: any("now serves binary:1, compiled" in n for n in notes(app)),
                              timeout=120, what="the compiled deploy (a native compile, ~30 s)")
        await settle(pilot)
        assert not app.screen.query_one("#deploy-row").has_class("active")
    assert any(s and s.startswith("compiling binary:1 to native code") for s in steps)
    assert steps[-1] is None
    dep = ws.store.models.deployment("binary")
    assert dep.engine == "compiled" and dep.engine_info["check"]["max_abs_diff"] <= 1e-9
    assert dep.engine_info["model_sha256"] == model.sha256
