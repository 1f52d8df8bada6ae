"""bench/corpus.py writes real public data sets that `dataset add` registers with their target."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.corpus_helpers import corpus_module, corpus_sets


def test_materialised_sets_register_with_their_target_and_task(cli, tmp_path):
    corpus = corpus_module()
    sets = corpus_sets(tmp_path / "corpus", ["fgl", "hitters", "hmda"])
    assert [(s.name, s.path.name, s.target) for s in sets] == [
        ("fgl", "fgl.csv", "type"), ("hitters", "hitters.csv", "Salary"), ("hmda", "hmda.csv", "deny")]
    for s in sets:
        r = cli("dataset", "add", s.path, "--target", s.target, "--json")
        assert r.code == 0, r.stderr
        assert r.json["task"] == corpus.BY_NAME[s.name].task
    rows = {d["name"]: d["rows"] for d in cli("dataset", "list", "--json").json}
    assert rows == {"fgl": 214, "hitters": 322, "hmda": 2380}


def test_unknown_set_is_named():
    with pytest.raises(KeyError, match="unknown corpus set.*nope"):
        corpus_module().materialise("/nonexistent-never-written", ["nope"])


def test_cli_writes_once_and_lists_the_sets(tmp_path):
    corpus_module()
    cmd = [sys.executable, str(ROOT / "bench" / "corpus.py"), "--out", str(tmp_path), "--only", "mpg"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert first.stdout.split()[:6] == ["mpg", "234", "rows", "target", "class", str(tmp_path / "mpg.csv")]
    stamp = (tmp_path / "mpg.csv").stat().st_mtime_ns
    subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert (tmp_path / "mpg.csv").stat().st_mtime_ns == stamp  # an existing file is kept
