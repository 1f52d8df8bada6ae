"""Every bad input of issue 2: exit 1, one line naming the problem, no traceback, store and snapshots unchanged."""

from __future__ import annotations

import os

import polars as pl
import pytest

from tests.conftest import SAMPLE, run_cli_subprocess


def _write(path, data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return str(path)


def _garbage() -> bytes:
    return bytes(range(256)) * 8 + os.urandom(512)


CASES = {
    # name: (builder(tmp_path) -> argv after "dataset add", expected text in the message)
    "missing path": (lambda t: [str(t / "nope.csv")], "no such file"),
    "directory": (lambda t: [str(t)], "is a directory"),
    "empty file": (lambda t: [_write(t / "empty.csv", "")], "file is empty"),
    "blank text": (lambda t: [_write(t / "blank.csv", "\n\n  \n")], "file is empty"),
    "header only": (lambda t: [_write(t / "header.csv", "a,b,c\n")], "no data rows"),
    "duplicate columns": (lambda t: [_write(t / "dup.csv", "a,b,a\n1,2,3\n")],
                          "duplicate column name 'a' in the header: columns 1 and 3; rename one"),
    # MASS survey with one header written "Wr.Hnd " said only "duplicate column name 'Wr.Hnd'"
    "names differing in spaces": (lambda t: [_write(t / "dup2.csv", "Wr.Hnd,Sex,Wr.Hnd \n1,F,3\n")],
                                  "columns 1 and 3 (written 'Wr.Hnd' and 'Wr.Hnd '); rename one"),
    "binary garbage": (lambda t: [_write(t / "garbage.csv", _garbage())], "binary content"),
    "ragged rows": (lambda t: [_write(t / "ragged.csv", "a,b,c\n1,2,3\n4,5\n")], "line 3 has 2 fields"),
    "unknown extension": (lambda t: [_write(t / "data.xlsx", "a,b\n1,2\n")], "unsupported file type .xlsx"),
    "corrupt parquet": (lambda t: [_write(t / "bad.parquet", b"PAR1" + os.urandom(300))], "not a readable Parquet"),
    "non-utf8 text": (lambda t: [_write(t / "latin1.csv", "name,city\nJos\xe9,Paris\n".encode("latin-1"))],
                      "not UTF-8 text at line 2"),
    "utf-16 text": (lambda t: [_write(t / "unicode.csv", "name,city\nJos\xe9,Paris\n".encode("utf-16"))],
                    "UTF-16 text"),
    "CR-only line endings": (lambda t: [_write(t / "mac.csv", "a,b\r1,2\r3,4\r")], "lines end in CR only"),
    "target not a column": (lambda t: [str(SAMPLE / "penguins.csv"), "--target", "weight"],
                            "target 'weight' is not a column"),
    "glob matching nothing": (lambda t: [str(t / "parts" / "*.parquet")], "no files match"),
    "bad name": (lambda t: [str(SAMPLE / "penguins.csv"), "--name", "a:b"], "bad dataset name"),
    "parquet without rows": (lambda t: [_parquet(t / "none.parquet", pl.DataFrame({"a": []}, schema={"a": pl.Int64}))],
                             "has columns but no rows"),
    "glob of different schemas": (lambda t: [_parts(t)], "a glob needs one schema"),
    "glob matching csv": (lambda t: [_write(t / "x.csv", "a\n1\n") and str(t / "*.csv")], "only match Parquet"),
}


def _parquet(path, df) -> str:
    df.write_parquet(path)
    return str(path)


def _parts(folder) -> str:
    _parquet(folder / "a.parquet", pl.DataFrame({"a": [1, 2]}))
    _parquet(folder / "b.parquet", pl.DataFrame({"a": ["x"]}))
    return str(folder / "*.parquet")


def _state(ws) -> tuple:
    """Everything a failed command must leave untouched."""
    _, rows = ws.store.query("SELECT (SELECT count(*) FROM dataset_versions), (SELECT count(*) FROM datasets), "
                             "(SELECT count(*) FROM audit_events)")
    return rows[0], sorted(os.listdir(ws.artifacts / "datasets"))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_1_with_one_line_and_changes_nothing(case, cli, ws, tmp_path):
    cli("dataset", "add", SAMPLE / "penguins.csv")  # a store with something in it
    before = _state(ws)
    build, expected = CASES[case]
    data = tmp_path / "data"
    data.mkdir()
    r = cli("dataset", "add", *build(data), "--json")
    assert r.code == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert _state(ws) == before


@pytest.mark.parametrize(("args", "expected"), [
    (["show", "nope"], "unknown dataset 'nope'"),
    (["show", "penguins:9"], "unknown dataset version penguins:9"),
    (["head", "penguins:x"], "bad dataset reference"),
    (["show", "penguins@production"], "aliases like @production are for models"),
])
def test_unknown_dataset_or_version(cli, args, expected):
    cli("dataset", "add", SAMPLE / "penguins.csv")
    r = cli("dataset", *args)
    assert r.code == 1 and expected in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_bad_input_in_a_real_process_has_no_traceback(ws, tmp_path):
    bad = _write(tmp_path / "ragged.csv", "a,b\n1,2\n3\n")
    r = run_cli_subprocess(ws.root, "dataset", "add", bad)
    assert r.code == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"error: {bad}: line 3 has 1 fields, expected 2 (ragged rows; delimiter ',')"


def test_bad_input_does_not_create_a_workspace(tmp_path, capsys):
    from mlops_tui.cli import main

    root = tmp_path / "never"
    bad = _write(tmp_path / "dup.csv", "a,a\n1,2\n")
    try:
        main(["--workspace", str(root), "dataset", "add", bad])
    except SystemExit as exc:
        assert exc.code == 1
    assert "duplicate column name" in capsys.readouterr().err
    assert not root.exists()
