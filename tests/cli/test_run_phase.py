"""A run records what it is doing (its ``phase``): 'searching' while its trials run, 'training the
final model' after them, nothing once it has ended; `run show --json` says it (key "phase")."""

from __future__ import annotations

import time

import pytest

from tests.tuning_helpers import add_sample, space_file

pytestmark = pytest.mark.slow


def test_a_detached_run_records_its_phases_and_clears_them_when_it_ends(ws, cli, tmp_path):
    add_sample(ws, "default", rows=20000, target="default")
    res = cli("tune", "default", "--trials", 2, "--space", space_file(tmp_path), "--detach", "--json")
    assert res.code == 0, res.stderr
    run_id = res.json["run_id"]
    seen: list[str | None] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run = ws.store.runs.get(run_id)
        if not seen or seen[-1] != run.phase:
            seen.append(run.phase)
        if run.status not in ("queued", "running", "stopping"):
            break
        time.sleep(0.02)
    assert run.status == "completed", run.error
    # The supervisor's own order: searching, then the final model, then nothing.
    assert [p for p in seen if p] == ["searching", "training the final model"], seen
    shown = cli("run", "show", run_id, "--json")
    assert shown.code == 0 and shown.json["phase"] is None and shown.json["status"] == "completed"
    listed = cli("run", "list", "--json").json
    assert [r["phase"] for r in listed] == [None]


def test_a_foreground_run_says_searching_while_its_trials_run(ws, tmp_path):
    """`tune` without --detach is its own supervisor: its run is 'running' from the start and must
    say 'searching' too (the supervisor's start-up write, which sets it, is skipped then)."""
    from mlops_tui.training import tuning

    add_sample(ws, "default", rows=2000, target="default")
    phases: list[str | None] = []
    state: dict[str, str] = {}

    def on_start(run, *_args):
        state["run_id"] = run.run_id

    def on_trial(*_args):
        phases.append(ws.store.runs.get(state["run_id"]).phase)

    run = tuning.start(ws, tuning.TuneOptions(dataset="default", trials=2, jobs=1, space_file=str(space_file(tmp_path))),
                       detach=False, on_trial=on_trial, on_start=on_start)
    assert run.status == "completed", run.error
    assert phases and set(phases) == {"searching"}, phases
    assert ws.store.runs.get(run.run_id).phase is None
