"""`deploy --engine compiled`: the model is compiled once, checked against LightGBM, recorded in the
deployment; missing extras and bad engines are one line on stderr with exit 1."""

from __future__ import annotations

import sys

import pytest
from mlops_tui.store import NotFoundError

from tests.compiled_helpers import holes, tiny_model

pytestmark = pytest.mark.xdist_group("compiled")


def test_deploy_compiled_records_the_engine_and_its_check(ws, cli, tmp_path):
    model, _ = tiny_model(ws, tmp_path, "multiclass")
    result = cli("deploy", model.ref, "--name", "p", "--engine", "compiled", "--json")
    assert result.code == 0, result.stderr
    got = result.json
    assert got["engine"] == "compiled" and got["max_abs_diff"] <= 1e-9
    info = got["engine_info"]
    assert info["backend"] == "lleaves" and info["model_sha256"] == model.sha256 and not info["cached"]
    assert (ws.root / info["artifact"]).exists()
    assert "compiling multiclass:1 to native code with lleaves" in result.stderr
    assert "checking the compiled multiclass:1 against LightGBM" in result.stderr
    dep = ws.store.models.deployment("p")
    assert (dep.engine, dep.engine_info["check"]["passed"]) == ("compiled", True)

    # Repointing without --engine keeps it, from the cache; people get one summary line.
    again = cli("deploy", model.ref, "--name", "p")
    assert again.code == 0, again.stderr
    assert "engine compiled (lleaves, cached; max abs diff" in again.stdout
    assert ws.store.models.deployment("p").engine_info["cached"] is True
    local = cli("deploy", model.ref, "--name", "p", "--engine", "local", "--json")
    assert (local.json["engine"], local.json["max_abs_diff"]) == ("local", None)


def test_the_workspace_default_engine_applies_to_new_deployments(ws, cli, tmp_path):
    model, _ = tiny_model(ws, tmp_path, "binary")
    config = ws.config_path.read_text()
    assert 'engine = "local"' in config  # a new workspace says which engine new deployments get
    ws.config_path.write_text(config.replace('engine = "local"', 'engine = "compiled"'))
    result = cli("deploy", model.ref, "--name", "b", "--json")
    assert result.code == 0, result.stderr
    assert result.json["engine"] == "compiled"

    ws.config_path.write_text(ws.config_path.read_text().replace('engine = "compiled"', 'engine = "fast"'))
    from mlops_tui.workspace import Workspace

    bad = cli("deploy", model.ref, "--name", "c")
    assert bad.code == 1 and bad.stderr.strip().count("\n") == 0
    assert "[deploy] engine = 'fast'; choose one of local, compiled" in bad.stderr
    assert Workspace.open(ws.root).store.models.deployments()[0].name == "b"


def test_without_the_extra_deploy_names_it_in_one_line_and_deploys_nothing(ws, cli, tmp_path, monkeypatch):
    model, _ = tiny_model(ws, tmp_path, "binary")
    monkeypatch.setitem(sys.modules, "lleaves", None)  # what an install without the extra looks like
    result = cli("deploy", model.ref, "--name", "b", "--engine", "compiled")
    assert result.code == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "needs the optional extra 'compiled'" in result.stderr
    assert "pip install 'mlops-tui[compiled]'" in result.stderr
    with pytest.raises(NotFoundError):
        ws.store.models.deployment("b")


def test_an_unknown_engine_is_refused(ws, cli, tmp_path):
    model, _ = tiny_model(ws, tmp_path, "binary")
    result = cli("deploy", model.ref, "--name", "b", "--engine", "gpu")
    assert result.code == 1 and "unknown engine 'gpu'; choose one of local, compiled" in result.stderr


def test_score_with_the_compiled_engine_matches_lightgbm_and_the_job_says_which_engine(ws, cli, tmp_path):
    import numpy as np
    import polars as pl

    model, frame = tiny_model(ws, tmp_path, "binary")
    rows = tmp_path / "rows.parquet"
    holes(frame, seed=5, share=0.2, keep=("customer_id",)).write_parquet(rows)
    assert cli("deploy", model.ref, "--name", "credit", "--engine", "compiled").code == 0
    fast = cli("score", "credit", rows, "--output", tmp_path / "fast.parquet", "--json")
    assert fast.code == 0, fast.stderr
    slow = cli("score", "credit", rows, "--output", tmp_path / "slow.parquet", "--engine", "local", "--json")
    assert slow.code == 0, slow.stderr
    assert (fast.json["engine"], slow.json["engine"]) == ("compiled", "local")
    assert ws.store.jobs.get(fast.json["job_id"]).engine == "compiled"
    a, b = pl.read_parquet(tmp_path / "fast.parquet"), pl.read_parquet(tmp_path / "slow.parquet")
    assert a["customer_id"].to_list() == b["customer_id"].to_list()
    assert a["prediction"].to_list() == b["prediction"].to_list()
    assert np.abs(a["proba_Yes"].to_numpy() - b["proba_Yes"].to_numpy()).max() <= 1e-9
    people = cli("score", "credit", rows, "--output", tmp_path / "again.parquet")
    assert "rows with binary:1 (compiled) in" in people.stdout


def test_score_compiles_a_model_on_first_use_and_says_so(ws, cli, tmp_path):
    model, frame = tiny_model(ws, tmp_path, "regression")
    rows = tmp_path / "rows.csv"
    frame.write_csv(rows)
    first = cli("score", model.ref, rows, "--output", tmp_path / "a.parquet", "--engine", "compiled", "--json")
    assert first.code == 0, first.stderr
    assert first.json["engine"] == "compiled"
    assert "compiling regression:1 to native code" in first.stderr
    second = cli("score", model.ref, rows, "--output", tmp_path / "b.parquet", "--engine", "compiled")
    assert second.code == 0 and "compiling" not in second.stderr
