"""The registry and deployments through the CLI: aliases, rollback, show, gate refusal, --force."""

from __future__ import annotations

import pytest

from tests.scoring_helpers import credit_model

pytestmark = pytest.mark.xdist_group("registry")


@pytest.fixture
def three_versions(ws):
    """credit:1..3 with rising scores (real boosters on sample_data/default.csv)."""
    return [credit_model(ws, rounds=3 + i, metrics={"score": 0.70 + 0.05 * i}) for i in range(3)]


def test_list_and_show_give_path_sha_and_lineage(cli, ws, three_versions):
    res = cli("model", "list", "--json")
    assert res.code == 0, res.stderr
    assert [(r["name"], r["version"]) for r in res.json] == [("credit", 3), ("credit", 2), ("credit", 1)]

    res = cli("model", "show", "credit:2", "--json")
    assert res.code == 0, res.stderr
    info = res.json
    assert info["version"] == 2
    assert info["sha256"] == three_versions[1].sha256
    assert info["path"] == str(ws.abspath(three_versions[1].path))
    assert info["dataset"] == "default:1"
    assert info["metrics"]["score"] == pytest.approx(0.75)
    assert info["gate"]["passed"] is True
    assert [v["version"] for v in info["versions"]] == [3, 2, 1]


def test_name_alone_means_latest_version(cli, three_versions):
    assert cli("model", "show", "credit", "--json").json["version"] == 3


def test_alias_moves_between_versions_and_rollback_restores(cli, ws, three_versions):
    assert cli("model", "promote", "credit:1", "--alias", "production").code == 0
    assert cli("model", "show", "credit@production", "--json").json["version"] == 1

    res = cli("model", "promote", "credit:3", "--alias", "production", "--json")
    assert res.code == 0 and res.json["previous_version"] == 1
    shown = cli("model", "show", "credit@production", "--json").json
    assert shown["version"] == 3 and shown["aliases"] == ["production"]
    # The alias left version 1: only one version holds it at a time.
    assert cli("model", "show", "credit:1", "--json").json["aliases"] == []

    res = cli("model", "rollback", "credit", "--alias", "production", "--json")
    assert res.code == 0, res.stderr
    assert cli("model", "show", "credit@production", "--json").json["version"] == 1
    history = cli("model", "show", "credit:1", "--json").json["alias_history"]
    assert [(h["version"], h["previous_version"]) for h in history] == [(1, None), (3, 1), (1, 3)]
    events = ws.store.audit.events(obj="model:credit")
    assert sum(e.command == "model promote" for e in events) == 3


def test_unknown_alias_or_version_is_exit_1_with_one_line(cli, three_versions):
    res = cli("model", "show", "credit@staging")
    assert res.code == 1 and "no alias 'staging'" in res.stderr
    res = cli("model", "show", "credit:9")
    assert res.code == 1 and "credit:9" in res.stderr
    assert "Traceback" not in res.stderr


def test_deploy_refused_by_gate_exits_3_and_force_is_recorded(cli, ws, three_versions):
    ws.config_path.write_text(ws.config_path.read_text().replace("min_metric = {}", "min_metric = { score = 0.74 }"))
    res = cli("deploy", "credit:1", "--name", "nightly", "--json")
    assert res.code == 3
    assert "score 0.7 is below the required 0.74" in res.stderr
    assert res.json["deployed"] is False and res.json["gate"]["passed"] is False
    assert ws.store.models.deployments() == []

    res = cli("deploy", "credit:1", "--name", "nightly", "--force", "--json")
    assert res.code == 0, res.stderr
    assert (res.json["deployment"], res.json["model"], res.json["version"], res.json["forced"]) == (
        "nightly", "credit", 1, True)
    dep = ws.store.models.deployment("nightly")
    assert dep.forced is True and dep.signature == three_versions[0].signature
    outcomes = [(e.command, e.outcome, (e.details or {}).get("forced")) for e in ws.store.audit.events(obj="deployment:nightly")]
    assert outcomes == [("deploy", "ok", True), ("deploy", "refused", None)]


def test_deploy_repoints_and_gate_compares_with_the_serving_version(cli, ws, three_versions):
    assert cli("deploy", "credit:3", "--name", "nightly").code == 0
    # credit:1 scores 0.70 vs the deployed 0.80: a drop beyond max_drop (0.01) → refused.
    res = cli("deploy", "credit:1", "--name", "nightly")
    assert res.code == 3 and "worse than champion credit:3" in res.stderr
    assert ws.store.models.deployment("nightly").model_version == 3
    res = cli("deploy", "credit:2", "--name", "nightly", "--force", "--json")
    assert res.code == 0 and res.json["version"] == 2
    dep = ws.store.models.deployment("nightly")
    assert dep.model_version == 2 and dep.output_dir == "artifacts/scores/nightly"


def test_deploy_follows_an_alias_at_deploy_time(cli, ws, three_versions):
    cli("model", "promote", "credit:2", "--alias", "production")
    res = cli("deploy", "credit@production", "--name", "prod", "--json")
    assert res.code == 0 and res.json["version"] == 2


def test_show_gives_every_versions_gate_verdict_and_why(cli, ws, three_versions):
    ws.config_path.write_text(ws.config_path.read_text().replace("min_metric = {}", "min_metric = { score = 0.74 }"))
    assert cli("model", "promote", "credit:2", "--alias", "production").code == 0
    res = cli("model", "show", "credit:3", "--json")
    assert res.code == 0, res.stderr
    verdicts = {v["version"]: v["gate"] for v in res.json["versions"]}
    assert verdicts[3]["passed"] is True and verdicts[2]["passed"] is True
    assert verdicts[1]["passed"] is False
    assert any("score 0.7 is below the required 0.74" in r for r in verdicts[1]["reasons"])
    text = cli("model", "show", "credit:3").stdout
    assert "refused: score 0.7 is below the required 0.74" in text


def test_show_says_why_a_version_passes_too(cli, ws, three_versions):
    ws.config_path.write_text(ws.config_path.read_text().replace("min_metric = {}", "min_metric = { score = 0.74 }"))
    text = cli("model", "show", "credit:3").stdout
    assert "gate      passed: score 0.8 ≥ 0.74" in text
    assert "refused: score 0.7 is below the required 0.74" in text  # version 1 in the versions table
    assert "pass: score 0.75 ≥ 0.74" in text


def test_promoting_a_version_the_gate_refuses_works_and_warns(cli, ws, three_versions):
    ws.config_path.write_text(ws.config_path.read_text().replace("min_metric = {}", "min_metric = { score = 0.74 }"))
    res = cli("model", "promote", "credit:1", "--alias", "production", "--json")
    assert res.code == 0 and res.json["version"] == 1 and res.json["gate"]["passed"] is False
    assert "does not pass the validation gate (score 0.7 is below the required 0.74)" in res.stderr
    assert cli("model", "show", "credit@production", "--json").json["version"] == 1
    res = cli("model", "promote", "credit:3", "--alias", "production")
    assert res.code == 0 and "warning" not in res.stderr
