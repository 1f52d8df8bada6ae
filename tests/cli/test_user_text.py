"""User text is printed as typed: never read as Rich markup or emoji; bad paths named in one line."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli_subprocess
from tests.scoring_helpers import SAMPLE, credit_model

pytestmark = pytest.mark.xdist_group("score_cli")


def test_a_bad_reference_is_echoed_exactly(ws):
    res = run_cli_subprocess(ws.root, "model", "show", "a:b:c")
    assert res.code == 1
    assert res.stderr.strip() == "error: bad model reference 'a:b:c': expected NAME, NAME:VERSION or NAME@ALIAS", res.stderr


@pytest.mark.parametrize(("args", "line"), [
    (["deploy", "default@1", "--name", "d"], "model 'default' has no alias '1' (for version 1 write default:1)"),
    (["deploy", "default@", "--name", "d"], "bad model reference 'default@': expected NAME, NAME:VERSION or NAME@ALIAS"),
    (["model", "promote", "default:v1", "--alias", "x"],
     "bad model reference 'default:v1': expected NAME, NAME:VERSION or NAME@ALIAS"),
    (["dataset", "show", "default@1"], "bad dataset reference 'default@1': expected NAME or NAME:VERSION; "
                                       "aliases like @production are for models (for version 1 write default:1)"),
    (["tune", "default", "--trials", "1", "--name", "credit:v2"],
     "bad model name 'credit:v2': use letters, digits, '_', '-' or '.' (no ':' or '@', which references use)"),
])
def test_a_wrong_reference_form_names_the_forms_that_work(cli, args, line):
    res = cli(*args)
    assert res.code == 1
    assert res.stderr.strip() == f"error: {line}", res.stderr


def test_names_and_values_with_brackets_print_as_they_are(cli, tmp_path):
    data = tmp_path / "prices.csv"
    data.write_text("price[usd],note,y\n1.5,[/],0\n2.5,:b: [bold]x[/],1\n3.5,plain,0\n")
    assert cli("dataset", "add", str(data), "--name", "prices", "--target", "y").code == 0
    head = cli("dataset", "head", "prices")
    assert head.code == 0, head.stderr
    assert "price[usd]" in head.stdout and "[/]" in head.stdout and ":b: [bold]x[/]" in head.stdout
    show = cli("dataset", "show", "prices")
    assert show.code == 0, show.stderr
    assert "price[usd]" in show.stdout


def test_an_output_under_a_regular_file_is_named_not_a_traceback(cli, ws, tmp_path):
    credit_model(ws)
    assert cli("deploy", "credit", "--name", "nightly").code == 0
    blocker = tmp_path / "some.csv"
    blocker.write_text("not a folder\n")
    jobs_before = ws.store.jobs.list()
    res = cli("score", "nightly", str(SAMPLE / "default.csv"), "--output", str(blocker / "out.parquet"))
    assert res.code == 1
    assert res.stderr.strip() == (f"error: --output {blocker / 'out.parquet'}: {blocker} is a file, "
                                  "so nothing can be written under it"), res.stderr
    assert ws.store.jobs.list() == jobs_before
    assert blocker.read_text() == "not a folder\n"
