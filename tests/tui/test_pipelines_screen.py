"""The Pipelines screen (issue 17): stages fresh/stale with the reason and the last outcome, and `x`
runs the selected pipeline in a worker while the table shows each stage live. A real pipeline file,
real workspace; the pipeline here has only a data stage (no training: the screen is under test, the
runner is tested in tests/cli/test_pipeline.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.tui.conftest import wait_for
from tests.tui.helpers_screens import app_on, settle

pytestmark = pytest.mark.xdist_group("tui-pipelines")

PIPELINE = """\
[pipelines.penguins.stages.prepare]
kind = "data"
path = "penguins.csv"
target = "species"

[pipelines.penguins.stages.more]
kind = "data"
path = "default.csv"
name = "credit"
"""


@pytest.fixture
def project(ws):
    from tests.conftest import SAMPLE

    shutil.copy(SAMPLE / "penguins.csv", ws.root / "penguins.csv")
    shutil.copy(SAMPLE / "default.csv", ws.root / "default.csv")
    (ws.root / "pipeline.toml").write_text(PIPELINE)  # <workspace>/pipeline.toml
    return ws


def rows(table) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(r)] for r in range(table.row_count)]


async def test_stages_show_stale_then_run_live_with_a_key(project, monkeypatch):
    monkeypatch.chdir(project.root.parent)  # no ./pipeline.toml there: the workspace's is used
    app = app_on(project, "pipelines")
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert rows(app.screen.query_one("#pipelines-table"))[0][:2] == ["penguins", "▲ stale"]
        stages = rows(app.screen.query_one("#stages-table"))
        assert [s[:3] + s[5:] for s in stages] == [["prepare", "data", "▲ stale", "—", "", "never run"],
                                                   ["more", "data", "▲ stale", "—", "", "never run"]]
        await pilot.press("x")
        await wait_for(pilot, lambda: rows(app.screen.query_one("#stages-table"))[1][2] == "✓ fresh",
                       what="the stages fresh after the run")
        stages = rows(app.screen.query_one("#stages-table"))
        assert [s[3] for s in stages] == ["✓ ran", "✓ ran"]  # what the run did, kept after it ended
        assert stages[0][5] == "ran" and stages[0][7].startswith("unchanged since run")
        # what each stage made, as `pipeline status` shows it: which version or model cron left behind
        assert [s[6] for s in stages] == ["penguins:1", "credit:1"]
        await wait_for(pilot, lambda: rows(app.screen.query_one("#pipelines-table"))[0][3] == "ok",
                       what="the pipeline's last run: how the run ended, not how a stage did")
    assert sorted(d.name for d in project.store.datasets.latest()) == ["credit", "penguins"]


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
def test_pipelines_screen_snapshot(project, snap_compare, size, monkeypatch):
    monkeypatch.chdir(project.root.parent)
    assert snap_compare(app_on(project, "pipelines"), terminal_size=size, run_before=settle)


async def test_without_a_pipeline_file_the_screen_says_how_to_add_one_uncut_at_80_columns(ws, tmp_path, monkeypatch):
    """It said '... or in the workspace /tmp/...; pass --file' (a CLI option) cut at the edge, and
    the example it pointed to was past it."""
    monkeypatch.chdir(tmp_path)
    app = app_on(ws, "pipelines")
    async with app.run_test(size=(80, 24)) as pilot:
        info = app.screen.query_one("#pipelines-info")
        await wait_for(pilot, lambda: "No pipeline.toml" in str(info.render()), what="the no-file state")
        await pilot.pause()
        assert str(info.render()).endswith("(example: examples/pipeline.toml), then press r.")
        assert info.size.height == 2 and info.virtual_size.height <= info.size.height  # wrapped, all shown


async def test_running_a_pipeline_that_cron_is_running_says_so(project, monkeypatch):
    """`x` while another process (cron) runs the pipeline: the run is skipped, and the notification
    names the run in progress instead of a bare 'skipped' (it was an error before: 'already running').
    The last-run column says 'running' while that process lives, 'interrupted' once it died (it read
    'running' for good after a kill -9)."""
    import socket
    import subprocess

    from tests.tui.helpers_screens import notes

    monkeypatch.chdir(project.root.parent)
    cron = subprocess.Popen(["sleep", "60"])  # a live process on this host, holding the run
    try:
        project.store.pipelines.start(run_id="cronrun001", pipeline="penguins", file=str(project.root / "pipeline.toml"),
                                      trigger="manual", pid=cron.pid, host=socket.gethostname())
        app = app_on(project, "pipelines")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("x")
            expected = f"pipeline penguins: skipped: pipeline penguins is already running (run cronrun001, pid {cron.pid})"
            await wait_for(pilot, lambda: expected in notes(app), what="the skip and why")
            last_run = lambda: rows(app.screen.query_one("#pipelines-table"))[0][3]  # noqa: E731
            # the run in progress, not the skipped attempt recorded after it
            await wait_for(pilot, lambda: last_run() == "running", what="last run: running")
            cron.kill()
            cron.wait()
            await pilot.press("r")
            await wait_for(pilot, lambda: last_run() == "interrupted", what="a dead run: interrupted, not running")
    finally:
        cron.kill()
        cron.wait()
    assert project.store.datasets.latest() == []  # nothing ran


async def test_the_footer_offers_x_only_with_a_pipeline_to_run(ws, tmp_path, monkeypatch):
    """With no pipeline.toml the footer offered 'x Run pipeline', which could only say there was
    none; a broken file was one fading note, then an empty screen still offering x. Now x shows
    with a pipeline to run, r (read the file again) always, and a broken file's line stays."""
    from tests.tui.helpers_screens import screen_text

    monkeypatch.chdir(tmp_path)
    app = app_on(ws, "pipelines")
    async with app.run_test(size=(80, 24)) as pilot:
        info = app.screen.query_one("#pipelines-info")
        await wait_for(pilot, lambda: "No pipeline.toml" in str(info.render()), what="the no-file state")
        await pilot.pause()
        footer = screen_text(app)[-1]
        assert "Run pipeline" not in footer and "r Read file again" in footer, footer
        (tmp_path / "pipeline.toml").write_text(PIPELINE.replace('kind = "data"', 'kind = "dta"', 1))
        await pilot.press("r")
        await wait_for(pilot, lambda: "unknown kind" in str(info.render()) or "dta" in str(info.render()),
                       what="the broken file's line")
        assert str(info.render()).endswith("fix it, then press r.")
        await pilot.pause()
        assert "Run pipeline" not in screen_text(app)[-1]
        (tmp_path / "pipeline.toml").write_text(PIPELINE)
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.query_one("#pipelines-table").row_count == 1, what="the pipeline")
        await wait_for(pilot, lambda: "x Run pipeline" in screen_text(app)[-1], what="x offered")
        assert str(info.render()).startswith("x runs the selected pipeline")


async def test_a_running_stage_shows_its_time_counting_and_x_waits_for_the_run(project, monkeypatch):
    """A stage running for minutes (a tune) showed '● running' and an empty time, and nothing on
    screen moved; the footer still offered x, which could only say the pipeline was running."""
    import threading

    import mlops_tui.pipelines as pipelines
    from tests.tui.helpers_screens import screen_text

    monkeypatch.chdir(project.root.parent)
    release = threading.Event()
    real_run = pipelines.run

    def held_run(ws, pipeline, on_stage=None):  # the real runner, held while stage 'more' runs
        def progress(stage):
            on_stage(stage)
            if stage.name == "more" and stage.status == "running":
                release.wait(30)
        return real_run(ws, pipeline, on_stage=progress)

    monkeypatch.setattr(pipelines, "run", held_run)
    app = app_on(project, "pipelines")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        stages = app.screen.query_one("#stages-table")
        await pilot.press("x")
        try:
            await wait_for(pilot, lambda: rows(stages)[1][4] == "0 s…", what="the clock of the running stage")
            await wait_for(pilot, lambda: rows(stages)[1][4] in ("1 s…", "2 s…"), what="the clock moving")
            assert rows(app.screen.query_one("#pipelines-table"))[0][1] == "● running"
            assert "Run pipeline" not in screen_text(app)[-1]
        finally:
            release.set()
        await wait_for(pilot, lambda: rows(stages)[1][3] == "✓ ran", what="the run's end")
        assert rows(stages)[1][4].endswith(" s") and "…" not in rows(stages)[1][4]
        await wait_for(pilot, lambda: "x Run pipeline" in screen_text(app)[-1], what="x offered again")
