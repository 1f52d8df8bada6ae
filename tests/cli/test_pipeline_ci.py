"""The example CI workflow (examples/ci/pipeline.yml) runs as written: its `mlops-tui` commands are
read from the YAML and run, in order, in a project made of examples/pipeline.toml and the sample data,
so the README's example and the workflow cannot drift from what the CLI accepts."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, SAMPLE

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("pipeline")]

WORKFLOW = ROOT / "examples" / "ci" / "pipeline.yml"


def workflow_commands() -> list[str]:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["pipeline"]["steps"]
    return [s["run"] for s in steps if s.get("run", "").startswith("mlops-tui ")]


def test_the_workflow_runs_the_pipeline_on_changes_to_data_or_the_pipeline_file():
    on = yaml.safe_load(WORKFLOW.read_text())[True]  # YAML 1.1 reads the key `on` as True
    assert set(on["push"]["paths"]) == {"data/**", "pipeline.toml"}
    assert workflow_commands()[-1].startswith("mlops-tui pipeline run")


def test_the_workflows_commands_run_the_example_pipeline(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(SAMPLE / "penguins.csv", tmp_path / "data" / "penguins.csv")
    shutil.copy(ROOT / "examples" / "pipeline.toml", tmp_path / "pipeline.toml")
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("MLOPS_WORKSPACE", None)
    for attempt in (1, 2):  # the second push: nothing changed, every stage skipped
        for command in workflow_commands():
            words = shlex.split(command.split(">")[0])
            proc = subprocess.run([sys.executable, "-m", "mlops_tui", *words[1:]], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
            assert proc.returncode == 0, (command, proc.stderr)
        stages = {s["name"]: s["status"] for s in json.loads(proc.stdout)["stages"]}
        assert set(stages.values()) == ({"ran"} if attempt == 1 else {"skipped"}), stages
    assert (tmp_path / "scores" / "penguins.parquet").exists()
