"""`pipeline run` / `pipeline status` (issue 17) on a real project: a pipeline.toml, a CSV file, a real
workspace, real LightGBM tuning (2 trials, 40 rounds) on the sample penguins.

The first run is made once per module (in a child process, as a user would) and each test works on
its own copy of the project, so every test starts from "everything ran once".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import SAMPLE, run_cli, run_cli_subprocess
from tests.corpus_helpers import corpus_sets
from tests.tuning_helpers import FAST_SPACE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pipeline")]

PIPELINE = """\
[pipelines.penguins.stages.prepare]
kind = "data"
path = "data/penguins.csv"
name = "penguins"
target = "species"

[pipelines.penguins.stages.train]
kind = "tune"
data = "prepare"
trials = {trials}
jobs = 1
space = "space.toml"

[pipelines.penguins.stages.check]
kind = "gate"
model = "train"
min_metric = {{ accuracy = {accuracy} }}
max_drop = 1.0

[pipelines.penguins.stages.ship]
kind = "deploy"
model = "train"
name = "penguins-prod"

[pipelines.penguins.stages.nightly]
kind = "score"
deployment = "ship"
inputs = "data/penguins.csv"
output = "scores/penguins.parquet"
"""
STAGES = ["prepare", "train", "check", "ship", "nightly"]


def write_project(root: Path, *, trials: int = 2, accuracy: float = 0.5) -> Path:
    (root / "data").mkdir(parents=True, exist_ok=True)
    if not (root / "data" / "penguins.csv").exists():
        shutil.copy(SAMPLE / "penguins.csv", root / "data" / "penguins.csv")
    (root / "space.toml").write_text(FAST_SPACE)
    (root / "pipeline.toml").write_text(PIPELINE.format(trials=trials, accuracy=accuracy))
    return root / "pipeline.toml"


@pytest.fixture(scope="module")
def ran_once(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline") / "project"
    write_project(root)
    result = run_cli_subprocess(root / ".mlops", "pipeline", "run", "--file", str(root / "pipeline.toml"),
                                "--json", timeout=300)
    assert result.code == 0, result.stderr
    return root, result


@pytest.fixture
def project(ran_once, tmp_path, capsys, monkeypatch):
    """A copy of the project after its first run, and `mlops-tui ARGS` run in this process on it."""
    monkeypatch.setenv("NO_COLOR", "1")
    root = tmp_path / "project"
    shutil.copytree(ran_once[0], root)

    def cli(*args):
        return run_cli(capsys, root / ".mlops", *args)

    return root, cli


def statuses(document: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in document["stages"]}


def test_the_first_run_runs_every_stage_in_order_and_deploys_the_model(ran_once):
    root, result = ran_once
    doc = result.json
    assert [s["name"] for s in doc["stages"]] == STAGES
    assert statuses(doc) == dict.fromkeys(STAGES, "ran")
    assert doc["status"] == "ok" and doc["pipeline"] == "penguins"
    outputs = {s["name"]: s["outputs"] for s in doc["stages"]}
    assert outputs["prepare"]["dataset"] == "penguins:1"
    assert outputs["ship"] == {"deployment": "penguins-prod", "model": outputs["train"]["model"], "engine": "local"}
    assert (root / "scores" / "penguins.parquet").exists()


def test_a_second_run_with_nothing_changed_skips_every_stage(project):
    root, cli = project
    result = cli("pipeline", "run", "--file", root / "pipeline.toml", "--json")
    assert result.code == 0, result.stderr
    assert statuses(result.json) == dict.fromkeys(STAGES, "skipped")
    assert all(s["reason"].startswith("unchanged since run") for s in result.json["stages"])
    # the skipped stages hand on what they made the first time
    assert result.json["stages"][3]["outputs"]["deployment"] == "penguins-prod"


def test_a_run_that_skips_everything_imports_no_ml_library(project):
    root, _ = project
    probe = ("import json, sys\nfrom mlops_tui.cli import main\ncode = 0\ntry:\n    main(sys.argv[1:])\n"
             "except SystemExit as exc:\n    code = exc.code\n"
             "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
             "{'lightgbm', 'sklearn', 'optuna', 'polars', 'textual', 'scipy'})\n"
             "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n")
    proc = subprocess.run([sys.executable, "-c", probe, "--workspace", str(root / ".mlops"), "pipeline", "run",
                           "--file", str(root / "pipeline.toml"), "--json"],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}
    assert statuses(json.loads(proc.stdout)) == dict.fromkeys(STAGES, "skipped")


def test_a_changed_data_file_reruns_from_the_data_stage(project):
    root, cli = project
    df = pl.read_csv(root / "data" / "penguins.csv")
    df.head(300).write_csv(root / "data" / "penguins.csv")
    status = cli("pipeline", "status", "--file", root / "pipeline.toml", "--json")
    assert status.code == 0
    assert status.json["stages"][0]["status"] == "stale"
    assert status.json["stages"][0]["reason"] == "file data/penguins.csv changed"
    result = cli("pipeline", "run", "--file", root / "pipeline.toml", "--json")
    assert result.code == 0, result.stderr
    assert statuses(result.json) == dict.fromkeys(STAGES, "ran")
    assert result.json["stages"][0]["outputs"]["dataset"] == "penguins:2"
    assert result.json["stages"][1]["reason"] == "upstream prepare has new outputs"


def test_only_a_changed_gate_threshold_reruns_from_the_gate(project):
    root, cli = project
    write_project(root, accuracy=0.6)
    status = cli("pipeline", "status", "--file", root / "pipeline.toml", "--json")
    assert status.json["stages"][2]["reason"] == "option min_metric changed"
    result = cli("pipeline", "run", "--file", root / "pipeline.toml", "--json")
    assert result.code == 0, result.stderr
    got = statuses(result.json)
    assert (got["prepare"], got["train"], got["check"]) == ("skipped", "skipped", "ran")


def test_a_refusing_gate_exits_3_and_deploys_nothing_after_it(project):
    root, cli = project
    write_project(root, trials=3, accuracy=1.01)  # a new model (more trials) that cannot pass
    deployed = json.loads(cli("model", "list", "--json").stdout)
    result = cli("pipeline", "run", "--file", root / "pipeline.toml", "--json")
    assert result.code == 3
    assert statuses(result.json) == {"prepare": "skipped", "train": "ran", "check": "refused",
                                     "ship": "not run", "nightly": "not run"}
    assert "accuracy" in result.json["stages"][2]["reason"]
    assert result.stderr.strip().splitlines()[-1].startswith("refused: pipeline penguins: stage check refused")
    new_model = result.json["stages"][1]["outputs"]["model"]
    dep = run_json(cli, "model", "show", new_model)
    assert dep["deployments"] == []  # the refused model serves nowhere
    assert len(json.loads(cli("model", "list", "--json").stdout)) == len(deployed) + 1


def run_json(cli, *args):
    result = cli(*args, "--json")
    assert result.code == 0, result.stderr
    return result.json


def test_status_away_from_the_project_finds_the_file_of_the_latest_run(project, tmp_path, monkeypatch):
    root, cli = project
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no pipeline.toml here nor in the workspace: cron ran it in its folder
    result = cli("pipeline", "status", "--json")
    assert result.code == 0, result.stderr
    assert result.json["pipeline"] == "penguins"
    assert statuses(result.json) == dict.fromkeys(STAGES, "fresh")


def test_dry_run_says_what_would_run_and_writes_nothing(project):
    root, cli = project
    write_project(root, accuracy=0.6)
    store = root / ".mlops" / "store.duckdb"
    before = hashlib.md5(store.read_bytes()).hexdigest()
    result = cli("pipeline", "run", "--dry-run", "--force", "train", "--file", root / "pipeline.toml", "--json")
    assert result.code == 0, result.stderr
    assert statuses(result.json) == {"prepare": "fresh", "train": "stale", "check": "stale", "ship": "fresh",
                                     "nightly": "fresh"}
    assert result.json["stages"][1]["reason"] == "forced (--force)"
    assert hashlib.md5(store.read_bytes()).hexdigest() == before


def test_status_for_people_is_a_table_with_the_reason(project):
    root, cli = project
    result = cli("pipeline", "status", "--file", root / "pipeline.toml")
    assert result.code == 0
    assert "prepare" in result.stdout and "fresh" in result.stdout and "unchanged since run" in result.stdout


def test_a_stage_whose_output_was_deleted_is_stale_and_runs_again(project):
    root, cli = project
    output = root / "scores" / "penguins.parquet"
    output.unlink()
    status = cli("pipeline", "status", "--file", root / "pipeline.toml", "--json")
    assert status.code == 0, status.stderr
    assert status.json["status"] == "stale"
    assert statuses(status.json) == {**dict.fromkeys(STAGES, "fresh"), "nightly": "stale"}
    assert status.json["stages"][4]["reason"] == "output scores/penguins.parquet is missing"
    result = cli("pipeline", "run", "--file", root / "pipeline.toml", "--json")
    assert result.code == 0, result.stderr
    assert statuses(result.json) == {**dict.fromkeys(STAGES, "skipped"), "nightly": "ran"}
    assert pl.read_parquet(output).height == pl.read_csv(root / "data" / "penguins.csv").height


def test_an_input_is_hashed_again_only_when_its_size_or_mtime_changes(project):
    root, cli = project
    data, cache = root / "data" / "penguins.csv", root / ".mlops" / "pipeline-hashes.json"
    assert cli("pipeline", "status", "--file", root / "pipeline.toml").code == 0
    assert os.path.realpath(data) in json.loads(cache.read_text())  # this copy's files are hashed and remembered
    before = data.stat()
    # Same size, same mtime, other content: as with dvc, the remembered hash stands (the file is not read).
    text = data.read_bytes()
    data.write_bytes(text.replace(b"Adelie", b"Adelia", 1))
    os.utime(data, ns=(before.st_atime_ns, before.st_mtime_ns))
    fresh = cli("pipeline", "status", "--file", root / "pipeline.toml", "--json")
    assert statuses(fresh.json)["prepare"] == "fresh"
    os.utime(data)  # a new mtime: read again, and the change is seen
    stale = cli("pipeline", "status", "--file", root / "pipeline.toml", "--json")
    assert stale.json["stages"][0]["reason"] == "file data/penguins.csv changed"


def test_a_run_killed_during_tuning_resumes_keeping_the_finished_stages(project):
    root, cli = project
    write_project(root, trials=6)
    df = pl.read_csv(root / "data" / "penguins.csv")
    df.head(320).write_csv(root / "data" / "penguins.csv")
    runs_before = set((root / ".mlops" / "runs").iterdir())
    child = subprocess.Popen([sys.executable, "-m", "mlops_tui", "--workspace", str(root / ".mlops"), "pipeline",
                              "run", "--file", str(root / "pipeline.toml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while set((root / ".mlops" / "runs").iterdir()) == runs_before:  # the tune stage created its run
            assert child.poll() is None and time.monotonic() < deadline, "the pipeline ended before tuning"
            time.sleep(0.05)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    killed = run_json(cli, "sql", "SELECT stage, status FROM v_pipeline_stages WHERE run_id = "
                      "(SELECT run_id FROM v_pipeline_runs ORDER BY started_at DESC LIMIT 1) ORDER BY position")
    assert killed["rows"][:2] == [["prepare", "ran"], ["train", "running"]]
    result = cli("pipeline", "run", "--file", root / "pipeline.toml", "--json")
    assert result.code == 0, result.stderr
    got = statuses(result.json)
    assert (got["prepare"], got["train"]) == ("skipped", "ran")
    assert result.json["stages"][1]["reason"].startswith("interrupted in run")
    assert result.json["stages"][0]["outputs"]["dataset"] == "penguins:2"


@pytest.mark.parametrize("budget", ["trials = 20", "timeout = 6"])
def test_a_tune_stage_killed_mid_study_continues_its_run(project, budget):
    """kill -9 once the tune stage's study has finished a trial (penguins v2, 320 rows): the next run
    continues that tuning run, keeping its trials, instead of leaving it failed ('worker died') beside
    a second study that starts from nothing. A run limited by time stays limited by time alone.

    The kill waits for the first finished trial, which every session has (the budget never cuts the
    first trial), and lands while the final model is still to train: waiting for a second trial
    raced the 6 s budget, which a loaded machine spent on start-up before trial 1 (hleft2's flake)."""
    root, cli = project
    file = write_project(root)
    file.write_text(file.read_text().replace("trials = 2", budget))
    df = pl.read_csv(root / "data" / "penguins.csv")
    df.head(320).write_csv(root / "data" / "penguins.csv")
    runs_before = set((root / ".mlops" / "runs").iterdir())
    child = subprocess.Popen([sys.executable, "-m", "mlops_tui", "--workspace", str(root / ".mlops"), "pipeline",
                              "run", "--file", str(file)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:  # a trial of the tune stage's study finished
            new = set((root / ".mlops" / "runs").iterdir()) - runs_before
            log = next(iter(new)) / "run.log" if new else None
            if log is not None and log.exists() and "Trial 0 finished" in log.read_text(errors="replace"):
                break
            assert child.poll() is None and time.monotonic() < deadline, "the pipeline ended before tuning"
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    killed = next(iter(new)).name
    before = len(re.findall(r"Trial \d+ (?:finished|pruned)", log.read_text(errors="replace")))
    assert run_json(cli, "run", "show", killed)["status"] != "completed", "killed after its run had ended"
    result = cli("pipeline", "run", "--file", file, "--json")
    assert result.code == 0, result.stderr
    train = result.json["stages"][1]
    assert train["status"] == "ran" and train["outputs"]["run_id"] == killed and train["outputs"]["resumed"]
    assert train["reason"].endswith(f"; continued its run {killed}")
    assert set((root / ".mlops" / "runs").iterdir()) - runs_before == new  # no second study
    run = run_json(cli, "run", "show", killed)
    model = run["model"]
    assert run["status"] == "completed" and f"{model['name']}:{model['version']}" == train["outputs"]["model"]
    numbers = [t["number"] for t in run["trials"]]
    assert sorted(numbers) == list(range(len(numbers))) and len(numbers) > before  # trial numbers went on
    assert run["n_trials_requested"] == (20 if budget.startswith("trials") else None)
    assert result.json["stages"][3]["outputs"]["model"] == train["outputs"]["model"]


def test_a_second_cron_run_while_the_first_runs_is_skipped_with_exit_0(project):
    """Two real processes: cron starts the pipeline again while its last run is still tuning. The
    second exited 1 ('already running (run ..., pid ...)'), so every long tune made cron report a
    failure; now it exits 0, status skipped (as --when-drift without drift), every stage naming the
    run in progress, and the first run ends as it would have."""
    root, cli = project
    file = write_project(root)
    file.write_text(file.read_text().replace("trials = 2", "timeout = 8"))
    pl.read_csv(root / "data" / "penguins.csv").head(320).write_csv(root / "data" / "penguins.csv")
    runs_before = set((root / ".mlops" / "runs").iterdir())
    first = subprocess.Popen([sys.executable, "-m", "mlops_tui", "--workspace", str(root / ".mlops"), "pipeline",
                              "run", "--file", str(file), "--json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while set((root / ".mlops" / "runs").iterdir()) == runs_before:  # the first is tuning
            assert first.poll() is None and time.monotonic() < deadline, "the pipeline ended before tuning"
            time.sleep(0.05)
        second = run_cli_subprocess(root / ".mlops", "pipeline", "run", "--file", file, "--json")
        assert first.poll() is None, "the first run ended before the second started: no overlap tested"
        out, err = first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert second.code == 0, second.stderr
    assert first.returncode == 0, err
    ran = json.loads(out)
    assert second.json["status"] == "skipped" and second.json["run_id"] != ran["run_id"]
    assert {s["reason"] for s in second.json["stages"]} == {
        f"pipeline penguins is already running (run {ran['run_id']}, pid {first.pid})"}
    assert set(statuses(second.json).values()) == {"skipped"}
    assert ran["status"] == "ok" and statuses(ran)["train"] == "ran"


def test_when_drift_runs_only_once_the_deployment_drifts(project):
    root, cli = project
    df = pl.read_csv(root / "data" / "penguins.csv")
    df.head(300).write_csv(root / "data" / "penguins.csv")  # new data waits for a reason to retrain
    calm = cli("pipeline", "run", "--when-drift", "penguins-prod", "--file", root / "pipeline.toml", "--json")
    assert calm.code == 0, calm.stderr
    assert {s["reason"] for s in calm.json["stages"]} == {"no drift on penguins-prod"}
    assert set(statuses(calm.json).values()) == {"skipped"}
    shifted = root / "shifted.csv"
    df.with_columns(pl.col("bill_length_mm") * 3, pl.col("flipper_length_mm") * 3).write_csv(shifted)
    scored = run_json(cli, "score", "penguins-prod", shifted, "--output", root / "scores" / "shifted.parquet")
    assert scored["drift_status"] == "alert"
    drifted = cli("pipeline", "run", "--when-drift", "penguins-prod", "--file", root / "pipeline.toml", "--json")
    assert drifted.code == 0, drifted.stderr
    assert statuses(drifted.json)["prepare"] == "ran"
    assert statuses(drifted.json)["ship"] == "ran"


def test_when_drift_on_a_new_project_deploys_its_first_model(tmp_path, capsys, monkeypatch):
    """The README's cron line from its first hour: the deployment does not exist yet. It failed with
    'unknown deployment' every hour, so nothing was ever deployed; now the pipeline runs (its deploy
    stage makes that deployment), and a name no deploy stage makes is one line, exit 1."""
    monkeypatch.setenv("NO_COLOR", "1")
    file = write_project(tmp_path / "project")
    ws = tmp_path / "project" / ".mlops"
    typo = run_cli(capsys, ws, "pipeline", "run", "--when-drift", "penguins-prd", "--file", file, "--json")
    assert typo.code == 1 and typo.stdout == ""
    assert typo.stderr.strip() == ("error: --when-drift penguins-prd: unknown deployment, and no deploy stage of "
                                   "pipeline penguins makes it (its deploy stages make: penguins-prod)")
    first = run_cli(capsys, ws, "pipeline", "run", "--when-drift", "penguins-prod", "--file", file, "--json")
    assert first.code == 0, first.stderr
    assert statuses(first.json) == dict.fromkeys(STAGES, "ran")
    assert first.json["stages"][3]["outputs"]["deployment"] == "penguins-prod"
    calm = run_cli(capsys, ws, "pipeline", "run", "--when-drift", "penguins-prod", "--file", file, "--json")
    assert calm.code == 0 and {s["reason"] for s in calm.json["stages"]} == {"no drift on penguins-prod"}


def test_runs_and_stages_appear_in_audit_and_lineage(project):
    root, cli = project
    first = json.loads(cli("sql", "SELECT run_id FROM v_pipeline_runs", "--json").stdout)["rows"][0][0]
    events = run_json(cli, "audit", "--object", "pipeline:penguins")
    assert {e["command"] for e in events} == {"pipeline run", "pipeline stage"}
    assert {e["object"] for e in events if e["command"] == "pipeline stage"} == {
        f"pipeline:penguins/{s}" for s in STAGES}
    graph = run_json(cli, "lineage", f"pipeline:{first}")
    created = {e["to"].split(":")[0] for e in graph["edges"] if e["from"] == f"pipeline:{first}"}
    assert created == {"dataset", "run", "model", "deployment", "job"}
    model = run_json(cli, "lineage", "penguins-prod")
    assert f"pipeline:{first}" in {n["id"] for n in model["nodes"]}


BAD = {
    "unknown kind": ('[pipelines.p.stages.a]\nkind = "train"\n', "stage a, key kind: unknown kind 'train'"),
    "cycle": ('[pipelines.p.stages.d]\nkind = "data"\npath = "x.csv"\nafter = "e"\n'
              '[pipelines.p.stages.e]\nkind = "data"\npath = "y.csv"\nafter = ["d"]\n',
              "stage d, key after: references form a cycle d -> e -> d"),
    "wrong kind of reference": ('[pipelines.p.stages.t]\nkind = "tune"\ndata = "t"\n',
                                "stage t, key data: stage 't' is a tune stage, not a data stage"),
    "missing reference": ('[pipelines.p.stages.t]\nkind = "tune"\ndata = "prepare"\n',
                          "stage t, key data: no stage named 'prepare'"),
    "missing option": ('[pipelines.p.stages.d]\nkind = "data"\n', "stage d, key path: missing"),
    "bad type": ('[pipelines.p.stages.d]\nkind = "data"\npath = "x.csv"\n[pipelines.p.stages.t]\nkind = "tune"\n'
                 'data = "d"\ntrials = "many"\n', "stage t, key trials: must be an integer, not 'many'"),
    "not a boolean": ('[pipelines.p.stages.d]\nkind = "data"\npath = "x.csv"\n[pipelines.p.stages.t]\nkind = "tune"\n'
                      'data = "d"\n[pipelines.p.stages.g]\nkind = "gate"\nmodel = "t"\nrequire_win = "yes"\n',
                      "stage g, key require_win: must be true or false, not 'yes'"),
    "unknown option": ('[pipelines.p.stages.d]\nkind = "data"\npath = "x.csv"\nrows = 3\n',
                       "stage d, key rows: unknown option of a data stage"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_malformed_pipeline_file_is_one_line_naming_the_problem(tmp_path, capsys, monkeypatch, case):
    monkeypatch.setenv("NO_COLOR", "1")
    text, expected = BAD[case]
    file = tmp_path / "pipeline.toml"
    file.write_text(text)
    result = run_cli(capsys, tmp_path / "ws", "pipeline", "run", "--file", file)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.strip().startswith(f"error: {file}: pipeline p, {expected}")
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert not (tmp_path / "ws").exists()  # nothing written, not even a workspace


def test_status_and_dry_run_on_a_new_project_say_every_stage_would_run_and_write_nothing(tmp_path, capsys, monkeypatch):
    """A new user writes pipeline.toml and asks what would run, as after `dvc status`: both said
    "error: no workspace at ...; run `mlops-tui init`", though `pipeline run` makes the workspace."""
    monkeypatch.setenv("NO_COLOR", "1")
    file = write_project(tmp_path / "project")
    for args in (["pipeline", "status"], ["pipeline", "run", "--dry-run"]):
        result = run_cli(capsys, tmp_path / "ws", *args, "--file", file, "--json")
        assert result.code == 0, result.stderr
        assert [(s["name"], s["status"], s["reason"]) for s in result.json["stages"]] == [
            (name, "stale", "never run") for name in STAGES]
        assert not (tmp_path / "ws").exists()  # nothing written, not even a workspace


def test_a_missing_data_file_is_one_line_before_anything_is_written(tmp_path, capsys, monkeypatch):
    """A cron user whose data file is not there (a typo in `path`, or a glob nothing matches yet):
    the run used to create the workspace, record a failed run and its `not run` stages, and only then
    say the file was missing; now it is one line naming the file, stage and key, and nothing is written."""
    monkeypatch.setenv("NO_COLOR", "1")
    file = write_project(tmp_path / "project")
    for path, expected in (("data/penguin.csv", "no such file data/penguin.csv"),
                           ("data/*.parquet", "no file matches data/*.parquet")):
        file.write_text(file.read_text().replace('path = "data/penguins.csv"', f'path = "{path}"'))
        result = run_cli(capsys, tmp_path / "ws", "pipeline", "run", "--file", file, "--json")
        assert result.code == 1 and result.stdout == ""
        assert result.stderr.strip() == f"error: {file}: pipeline penguins, stage prepare, key path: {expected}" + (
            f" ({tmp_path / 'project' / path})" if "*" not in path else "")
        assert not (tmp_path / "ws").exists()  # nothing written, not even a workspace
        file.write_text(file.read_text().replace(f'path = "{path}"', 'path = "data/penguins.csv"'))


def test_a_score_input_gone_before_the_next_run_records_nothing(project):
    """The project ran once; its nightly input (data/penguins.csv, also the data stage's) is moved
    away: the run stops on one line before recording a run, and the store keeps its one run."""
    root, cli = project
    (root / "data" / "penguins.csv").rename(root / "penguins.csv")
    file = root / "pipeline.toml"
    file.write_text(file.read_text().replace('path = "data/penguins.csv"', 'path = "penguins.csv"'))
    result = cli("pipeline", "run", "--file", file, "--json")
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.strip() == (f"error: {file}: pipeline penguins, stage nightly, key inputs: "
                                     f"no such file data/penguins.csv ({root / 'data' / 'penguins.csv'})")
    runs = json.loads(cli("sql", "SELECT count(*) FROM v_pipeline_runs", "--json").stdout)["rows"][0][0]
    assert runs == 1


def test_a_data_stage_passes_on_what_validation_warned_of(tmp_path, capsys, monkeypatch):
    """The penguins grow by a file whose island is blank in one row of seven: it matches the contract
    (missing values are allowed), so the data stage runs, but `dataset validate` warns that the last
    version had none. A cron job saw nothing of it; now the stage's outputs and stderr carry it."""
    monkeypatch.setenv("NO_COLOR", "1")
    root = tmp_path / "project"
    (root / "data").mkdir(parents=True)
    shutil.copy(SAMPLE / "penguins.csv", root / "data" / "penguins.csv")
    file = root / "pipeline.toml"
    file.write_text('[pipelines.p.stages.prepare]\nkind = "data"\npath = "data/penguins.csv"\ntarget = "species"\n')
    first = run_cli(capsys, root / ".mlops", "pipeline", "run", "--file", file, "--json")
    assert first.code == 0 and "warnings" not in first.json["stages"][0]["outputs"]
    df = pl.read_csv(root / "data" / "penguins.csv")
    blanked = df.with_columns(pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("island"))
                              .alias("island"))
    blanked.write_csv(root / "data" / "penguins.csv")
    result = run_cli(capsys, root / ".mlops", "pipeline", "run", "--file", file, "--json")
    assert result.code == 0, result.stderr
    missing = blanked["island"].null_count()
    outputs = result.json["stages"][0]["outputs"]
    assert outputs["dataset"] == "penguins:2"
    assert any(w.startswith(f"data/penguins.csv: column 'island' has {missing} missing value(s)") and
               w.endswith("penguins:1 has none") for w in outputs["warnings"])
    assert f"warning: p: prepare: data/penguins.csv: column 'island' has {missing} missing" in result.stderr


def test_deploy_waits_for_the_gate_of_its_model_whatever_the_file_order(tmp_path):
    from mlops_tui.pipelines import spec

    file = tmp_path / "pipeline.toml"
    file.write_text('[pipelines.p.stages.s]\nkind = "score"\ndeployment = "ship"\ninputs = "x.csv"\noutput = "o"\n'
                    '[pipelines.p.stages.ship]\nkind = "deploy"\nmodel = "t"\nname = "x"\n'
                    '[pipelines.p.stages.t]\nkind = "tune"\ndata = "d"\n[pipelines.p.stages.d]\nkind = "data"\n'
                    'path = "x.csv"\n[pipelines.p.stages.g]\nkind = "gate"\nmodel = "t"\n')
    assert [s.name for s in spec.load(file).stages] == ["d", "t", "g", "ship", "s"]


GROWING = """\
[pipelines.p.stages.prepare]
kind = "data"
path = "data/{name}.csv"
target = "{target}"

[pipelines.p.stages.train]
kind = "tune"
data = "prepare"
trials = 2
jobs = 1
space = "space.toml"
{tune}
[pipelines.p.stages.check]
kind = "gate"
model = "train"
{gate}
[pipelines.p.stages.ship]
kind = "deploy"
model = "train"
name = "prod"
"""


def growing_project(root: Path, capsys, name: str, target: str, first: pl.DataFrame, *, tune: str = "",
                    gate: str = ""):
    """A project whose data file starts as ``first``; returns `pipeline run --json` on it."""
    (root / "data").mkdir(parents=True)
    first.write_csv(root / "data" / f"{name}.csv")
    (root / "space.toml").write_text(FAST_SPACE)
    (root / "pipeline.toml").write_text(GROWING.format(name=name, target=target, tune=tune, gate=gate))
    return lambda: run_cli(capsys, root / ".mlops", "pipeline", "run", "--file", root / "pipeline.toml", "--json")


def test_a_grown_dataset_is_gated_on_rows_both_models_are_scored_on(tmp_path, capsys, monkeypatch):
    """MASS Pima.te (332 rows), then with Pima.tr's 200 added: each version draws its own holdout, so
    the models' stored holdout figures come from different rows (the first model's from 67 of them).
    The gate scores both on the new holdout's rows the first model never learnt from, judging the
    drop with its paired interval, and the deploy stage reaches the same verdict."""
    monkeypatch.setenv("NO_COLOR", "1")
    te, tr = corpus_sets(tmp_path / "corpus", ["pima", "pima_tr"])
    root, first = tmp_path / "project", pl.read_csv(te.path)
    run = growing_project(root, capsys, "pima", "type", first)
    assert run().code == 0
    pl.concat([first, pl.read_csv(tr.path).with_columns(pl.col("row_id") + 1000)]).write_csv(root / "data" / "pima.csv")
    result = run()
    assert result.code == 0, result.stderr
    assert statuses(result.json) == dict.fromkeys(["prepare", "train", "check", "ship"], "ran")
    holdout = pl.read_parquet(root / ".mlops" / "runs" / result.json["stages"][1]["outputs"]["run_id"] / "holdout.parquet")
    new_to_first = holdout.filter(pl.col("row_id") > 1000).height
    # the first model learnt from every old row outside its own holdout; the shared rows are the rest
    assert new_to_first <= result.json["stages"][2]["outputs"]["compared_rows"] < holdout.height
    assert result.json["stages"][3]["outputs"]["model"] == "pima:2"


def test_a_model_of_later_years_is_not_refused_for_its_holdout_of_larger_values(tmp_path, capsys, monkeypatch):
    """ggplot2 txhousing, `volume` held out by `date`: the model of 2000-2011 has a holdout rmse on
    2009-2011's sales, the model of every year one on 2012-2015's, when Texan home sales were larger.
    The gate compared those two figures and refused the new model (worse by ~1e8, allowed ~3e5); on
    the 2012-2015 rows, which the first never learnt from, the new model is the better one."""
    monkeypatch.setenv("NO_COLOR", "1")
    (tx,) = corpus_sets(tmp_path / "corpus", ["txhousing"])
    root, years = tmp_path / "project", pl.read_csv(tx.path)
    run = growing_project(root, capsys, "tx", "volume", years.filter(pl.col("year") <= 2011),
                          tune='time_column = "date"\n', gate="max_slice_gap = 100\n")  # small cities' WAPE
    assert run().code == 0
    years.write_csv(root / "data" / "tx.csv")
    result = run()
    assert result.code == 0, result.stderr
    assert statuses(result.json) == dict.fromkeys(["prepare", "train", "check", "ship"], "ran")
    assert result.json["stages"][2]["outputs"]["compared_rows"] > 0
    assert result.json["stages"][3]["outputs"]["model"] == "tx:2"


def test_a_gate_passes_a_model_that_beats_a_champion_below_the_same_min_metric(tmp_path, capsys, monkeypatch):
    """AER HMDA, a bound (ROC AUC 0.99) no model of the data reaches: the first model is refused (no
    champion to compare with) and deployed with --force; the model of the grown data beats it on the
    rows it never saw, so the gate passes it, saying the champion fails the bound too, and ships it."""
    monkeypatch.setenv("NO_COLOR", "1")
    (hmda,) = corpus_sets(tmp_path / "corpus", ["hmda"])
    root, full = tmp_path / "project", pl.read_csv(hmda.path)
    run = growing_project(root, capsys, "hmda", "deny", full.head(800), gate="min_metric = { roc_auc = 0.99 }\n")
    refused = run()
    assert refused.code == 3 and "roc_auc" in refused.json["stages"][2]["reason"]
    assert run_cli(capsys, root / ".mlops", "deploy", "hmda:1", "--name", "prod", "--force").code == 0
    full.write_csv(root / "data" / "hmda.csv")
    result = run()
    assert result.code == 0, result.stderr
    gate = result.json["stages"][2]["outputs"]
    assert gate["compared_rows"] > 0
    assert any(c.startswith("roc_auc 0.") and "< 0.99, but the champion fails it too" in c for c in gate["checks"])
    assert result.json["stages"][3]["outputs"]["model"] == "hmda:2"
