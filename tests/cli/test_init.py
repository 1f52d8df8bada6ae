"""`mlops-tui init [--sample]`: the first command anyone runs (README's first command calls it)."""

from __future__ import annotations

import pytest
from mlops_tui.store import Store, migrations

from tests.conftest import CliResult, run_cli_subprocess

SAMPLE_ROWS = {"bikeshare": 8645, "penguins": 344, "default": 10000}
SAMPLE_TARGETS = {"bikeshare": "bikers", "penguins": "species", "default": "default"}


@pytest.fixture
def init(tmp_path, capsys, monkeypatch):
    """Run `mlops-tui --workspace <tmp>/ws init ARGS` in-process on a folder that does not exist yet."""
    from mlops_tui.cli import main

    monkeypatch.setenv("NO_COLOR", "1")
    root = tmp_path / "ws"

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        try:
            main(["--workspace", str(root), "init", *args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    run.root = root
    return run


def test_init_creates_the_store_config_and_artifact_folders(init):
    result = init("--json")
    assert result.code == 0, result.stderr
    root = init.root
    assert result.json == {"workspace": str(root), "datasets": []}
    assert (root / "store.duckdb").is_file()
    assert (root / "config.toml").read_text().startswith("# mlops-tui workspace configuration")
    for sub in ("datasets", "models", "reports", "scores"):
        assert (root / "artifacts" / sub).is_dir()
    assert Store.open(root / "store.duckdb").schema_version() == migrations.LATEST


def test_init_twice_keeps_the_users_config(init):
    init()
    config = init.root / "config.toml"
    config.write_text("[gate]\nmax_drop = 0.5\n")
    assert init("--json").code == 0
    assert config.read_text() == "[gate]\nmax_drop = 0.5\n"


def test_init_without_json_tells_people_where_the_workspace_is(init):
    result = init()
    assert result.code == 0
    assert str(init.root) in result.stdout.replace("\n", "")


@pytest.mark.slow
def test_init_sample_registers_the_three_sample_datasets_once(init):
    first = init("--sample", "--json")
    assert first.code == 0, first.stderr
    assert first.json["workspace"] == str(init.root)
    got = {d["name"]: d for d in first.json["datasets"]}
    assert {name: d["rows"] for name, d in got.items()} == SAMPLE_ROWS
    assert {name: d["target"] for name, d in got.items()} == SAMPLE_TARGETS
    assert all(d["version"] == 1 and d["new"] is True for d in got.values())

    again = init("--sample", "--json")
    assert again.code == 0, again.stderr
    assert [(d["name"], d["version"], d["new"]) for d in again.json["datasets"]] == [
        (name, 1, False) for name in SAMPLE_ROWS
    ]
    store = Store.open(init.root / "store.duckdb")
    assert {d.name: d.version for d in store.datasets.latest()} == {name: 1 for name in SAMPLE_ROWS}


def test_init_on_a_path_that_is_a_file_exits_1_with_one_line(tmp_path):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    result = run_cli_subprocess(target, "init", "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0 and str(target) in result.stderr
    assert target.read_text() == "not a folder"


def test_the_sample_s_description_stays_with_the_version_it_describes(init, tmp_path, capsys):
    """'bundled sample (default.csv)' was the dataset's: default:2, registered later from another file,
    showed it on the Datasets info line and in `dataset show`."""
    import polars as pl

    from tests.conftest import SAMPLE, run_cli

    assert init("--sample").code == 0
    later = tmp_path / "x.csv"
    pl.read_csv(SAMPLE / "default.csv").head(500).write_csv(later)
    assert run_cli(capsys, init.root, "dataset", "add", later, "--name", "default").code == 0
    shown = {v: run_cli(capsys, init.root, "dataset", "show", f"default:{v}", "--json").json for v in (1, 2)}
    assert shown[1]["description"] == "bundled sample (default.csv)"
    assert shown[2]["description"] is None
