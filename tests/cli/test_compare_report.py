"""`run compare`, `report` and `evaluate` through the CLI, on runs with real LightGBM models."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
import pytest
from sklearn import metrics as skm

from tests.eval_helpers import make_run
from tests.scoring_helpers import SAMPLE

pytestmark = pytest.mark.xdist_group("compare-report")  # shares one module-scoped workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """One workspace for the module: two binary runs differing only in num_leaves, one multiclass."""
    from mlops_tui.workspace import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("cmp") / "ws", create=True)
    make_run(ws, "binary", "aaaa1111", num_leaves=7, name="credit")
    make_run(ws, "binary", "bbbb2222", num_leaves=31, name="credit")
    make_run(ws, "multiclass", "cccc3333", name="peng", journal=False)
    return ws


def test_compare_two_runs_differing_in_one_parameter(cli, ws):
    res = cli("run", "compare", "aaaa1111", "bbbb2222", "--json")
    assert res.code == 0, res.stderr
    out = res.json
    assert [r["run_id"] for r in out["runs"]] == ["aaaa1111", "bbbb2222"]
    assert out["differing_params"] == ["num_leaves"]
    assert list(out["params"])[0] == "num_leaves"
    assert out["params"]["num_leaves"] == {"aaaa1111": 7, "bbbb2222": 31}
    assert out["params"]["learning_rate"] == {"aaaa1111": 0.1, "bbbb2222": 0.1}
    stored = {e.run_id: e.metrics for e in ws.store.runs.evaluations(kind="holdout")}
    for m in ("roc_auc", "log_loss", "f1", "brier"):
        assert out["metrics"][m] == {"aaaa1111": stored["aaaa1111"][m], "bbbb2222": stored["bbbb2222"][m]}
        assert out["deltas"][m]["bbbb2222"] == pytest.approx(stored["bbbb2222"][m] - stored["aaaa1111"][m])
    auc = out["metrics"]["roc_auc"]
    assert out["best"]["roc_auc"] == max(auc, key=auc.get)
    loss = out["metrics"]["log_loss"]
    assert out["best"]["log_loss"] == min(loss, key=loss.get)  # lower is better
    assert "threshold" not in out["metrics"] and "holdout_rows" not in out["metrics"]
    assert out["warnings"] == []  # same dataset, same holdout rows


def test_compare_text_marks_differences_and_accepts_prefixes(cli, ws):
    res = cli("run", "compare", "aaaa", "bbbb")
    assert res.code == 0, res.stderr
    assert "num_leaves ≠" in res.stdout and "roc_auc" in res.stdout and "*" in res.stdout


def test_compare_runs_of_different_tasks_warns_and_keeps_each_runs_metrics(cli, ws):
    res = cli("run", "compare", "aaaa1111", "cccc3333", "--json")
    assert res.code == 0, res.stderr
    out = res.json
    assert out["metrics"]["roc_auc"]["cccc3333"] is None and out["metrics"]["roc_auc"]["aaaa1111"] > 0.5
    assert out["metrics"]["f1_macro"]["aaaa1111"] is None and out["metrics"]["f1_macro"]["cccc3333"] > 0.5
    # log_loss exists for both, but a binary and a multiclass log loss are not comparable.
    assert out["deltas"]["log_loss"]["cccc3333"] is None and out["best"]["log_loss"] is None
    text = " ".join(out["warnings"])
    assert "different tasks" in text and "different datasets" in text and "different holdouts" in text


@pytest.mark.parametrize(("args", "message"), [
    (("aaaa1111", "aaaa1111"), "comparing a run with itself"),
    (("aaaa1111", "aaaa"), "comparing a run with itself"),
    (("aaaa1111", "zzzz9999"), "unknown run 'zzzz9999'"),
    (("aaaa1111",), "at least two runs"),
])
def test_compare_bad_input_is_one_clear_line(cli, ws, args, message):
    res = cli("run", "compare", *args)
    assert res.code == 1
    assert message in res.stderr and "Traceback" not in res.stderr


def test_report_is_self_contained_with_every_section(cli, ws, tmp_path):
    target = tmp_path / "out" / "report.html"
    res = cli("report", "aaaa1111", "bbbb2222", "cccc3333", "--output", target, "--json")
    assert res.code == 0, res.stderr
    assert res.json["output"] == str(target)
    html = target.read_text()
    for section in ("runs", "metrics", "params", "history", "param-importance", "curves", "confusion",
                    "importance", "slices"):
        assert f'<section id="{section}">' in html, section
    for title in ("ROC curve", "Precision-recall curve", "Calibration", "roc_auc per trial", "log_loss per trial", "mean |SHAP|",
                  "gain share", "per class"):
        assert title in html, title
    assert html.count("<svg") >= 8
    # Opens offline: nothing to fetch, no URL of any kind.
    assert not re.search(r"(?i)https?:|<script|<link|<img|@import|src=", html)
    assert "num_leaves <b>≠</b>" in html


def test_report_of_one_regression_run_has_residual_plots(cli, ws, tmp_path):
    make_run(ws, "regression", "dddd4444", name="bikes", journal=False, time_column="date")
    res = cli("report", "dddd", "--output", tmp_path / "r.html")
    assert res.code == 0, res.stderr
    html = (tmp_path / "r.html").read_text()
    assert "Predicted vs actual" in html and "Residual distribution" in html and "2011-03" in html
    assert cli("report", "nope", "--output", tmp_path / "x.html").code == 1
    assert not (tmp_path / "x.html").exists()


def test_evaluate_a_model_on_another_dataset_version(cli, ws):
    from mlops_tui.data import datasets
    from mlops_tui.registry import models as registry
    from mlops_tui.training.signature import Signature, encode

    datasets.add(ws, str(SAMPLE / "default.csv"), name="default", target="default")
    res = cli("evaluate", "credit:2", "default", "--json")
    assert res.code == 0, res.stderr
    out = res.json
    model = ws.store.models.get("credit", 2)
    booster, _ = registry.load(ws, model)
    df = pl.read_csv(SAMPLE / "default.csv")
    sig = Signature.from_json(model.signature)
    p = booster.predict(encode(df, sig)[0].to_numpy())
    y = (df["default"] == "Yes").to_numpy().astype(int)
    assert out["rows"] == 10_000
    assert out["metrics"]["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p))
    assert out["metrics"]["f1"] == pytest.approx(skm.f1_score(y, (p >= 0.5).astype(int)))
    (holdout,) = ws.store.runs.evaluations(model_name="credit", model_version=2, kind="holdout")
    assert out["holdout_metrics"]["roc_auc"] == holdout.metrics["roc_auc"]
    assert out["deltas"]["roc_auc"] == pytest.approx(out["metrics"]["roc_auc"] - holdout.metrics["roc_auc"])
    (ev,) = ws.store.runs.evaluations(kind="evaluate")
    assert ev.model_name == "credit" and ev.dataset == "default" and ev.eval_id == out["eval_id"]
    assert np.isfinite(out["max_slice_gap"])


def test_evaluate_on_data_without_target_or_features_is_refused(cli, ws, tmp_path):
    from mlops_tui.data import datasets

    df = pl.read_csv(SAMPLE / "default.csv")
    df.drop("default").write_csv(tmp_path / "nolabel.csv")
    df.drop("income").write_csv(tmp_path / "nofeat.csv")
    datasets.add(ws, str(tmp_path / "nolabel.csv"), name="nolabel")
    datasets.add(ws, str(tmp_path / "nofeat.csv"), name="nofeat")
    before = len(ws.store.runs.evaluations())
    res = cli("evaluate", "credit", "nolabel")
    assert res.code == 1 and "no target column 'default'" in res.stderr
    res = cli("evaluate", "credit", "nofeat")
    assert res.code == 1 and "missing feature column(s) the model needs: income" in res.stderr
    assert cli("evaluate", "nomodel", "default").code == 1
    assert len(ws.store.runs.evaluations()) == before


def test_report_lists_evaluations_on_other_data(cli, ws, tmp_path):
    if not ws.store.runs.evaluations(kind="evaluate"):
        from mlops_tui.data import datasets
        from mlops_tui.evaluation import evaluate as evaluation

        datasets.add(ws, str(SAMPLE / "default.csv"), name="default", target="default")
        evaluation.evaluate_model(ws, "credit:2", "default")
    res = cli("report", "bbbb2222", "--output", tmp_path / "r.html", "--json")
    assert res.code == 0, res.stderr
    assert "other-data" in res.json["sections"]
    html = (tmp_path / "r.html").read_text()
    section = html.split('<section id="other-data">')[1]
    assert "credit:2" in section and "default:1" in section and "10000" in section


def test_compare_and_report_with_a_run_that_has_no_evaluation(cli, ws, tmp_path):
    ws.store.runs.create(run_id="eeee5555", name="broken", dataset="default", dataset_version=1,
                         target="default", task="binary", metric="roc_auc", direction="maximize",
                         seed=0, config={}, status="failed")
    res = cli("run", "compare", "aaaa1111", "eeee5555", "--json")
    assert res.code == 0, res.stderr
    assert res.json["metrics"]["roc_auc"]["eeee5555"] is None
    assert any("no holdout evaluation yet for eeee5555" in w for w in res.json["warnings"])
    res = cli("report", "aaaa1111", "eeee5555", "--output", tmp_path / "r.html", "--json")
    assert res.code == 0, res.stderr
    assert "no holdout evaluation yet for eeee5555" in (tmp_path / "r.html").read_text()


def test_chart_legends_sit_above_the_plot_never_over_the_data():
    """A legend box in the plot's corner hid the points under it (seen in a rendered report)."""
    from mlops_tui.evaluation import report_svg as svg

    series = [svg.Series(f"run {i} with a long label", [0, 1, 2], [0.1 * i, 0.5, 0.99], svg.color(i))
              for i in range(6)]
    out = svg.render(svg.Chart("t", "x", "y", series, width=460))
    frame = re.search(r'<rect x="(\d+)" y="(\d+)" width="\d+" height="(\d+)" class="frame"/>', out)
    frame_top = int(frame.group(2))
    legend_ys = [float(y) for y in re.findall(r'<text x="[\d.]+" y="([\d.]+)" class="legend">', out)]
    assert len(legend_ys) == 6 and max(legend_ys) < frame_top
    assert len(set(legend_ys)) > 1  # six long labels do not fit one row: they wrap
    h = int(re.search(r'<svg[^>]* height="(\d+)"', out).group(1))
    assert h - frame_top - int(frame.group(3)) == 44  # the plot keeps its size; the chart grows


def test_report_calibration_shows_rows_per_bin_and_history_names_unplotted_trials(cli, ws, tmp_path):
    make_run(ws, "binary", "ffff6666", name="credit", journal=False)  # its own run: the others stay as they are
    ws.store.runs.upsert_trial(run_id="ffff6666", number=3, state="PRUNED", value=None,
                               params={"num_leaves": 9}, duration_s=0.1)
    target = tmp_path / "r.html"
    assert cli("report", "ffff6666", "--output", target).code == 0
    html = target.read_text()
    cal = html[html.index("Calibration"):]
    cal = cal[:cal.index("</svg>")]
    ev = next(e for e in ws.store.runs.evaluations(kind="holdout") if e.run_id == "ffff6666")
    counts = json.loads(ws.abspath(ev.details_path).read_text())["curves"]["calibration"]["bin_counts"]
    assert re.findall(r"<title>([\d,]+) rows</title>", cal) == [f"{c:,}" for c in counts]
    assert cal.count("<circle") >= 2
    assert "not plotted (no value): 1 pruned" in html


def test_report_file_is_readable_like_any_new_file(cli, ws, tmp_path):
    import os
    import stat

    target = tmp_path / "shared.html"
    assert cli("report", "aaaa1111", "--output", target).code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_evaluations_on_other_data_of_runs_of_different_tasks_each_show_their_metrics(cli, ws, tmp_path):
    from mlops_tui.data import datasets
    from mlops_tui.evaluation import evaluate as evaluation

    make_run(ws, "regression", "gggg7777", name="bikes2", journal=False)
    datasets.add(ws, str(SAMPLE / "bikeshare.csv"), name="bikes-fresh", target="bikers")
    evaluation.evaluate_model(ws, "bikes2", "bikes-fresh")
    if not any(e.model_name == "credit" for e in ws.store.runs.evaluations(kind="evaluate")):
        datasets.add(ws, str(SAMPLE / "default.csv"), name="default", target="default")
        evaluation.evaluate_model(ws, "credit:2", "default")
    assert cli("report", "bbbb2222", "gggg7777", "--output", tmp_path / "r.html").code == 0
    section = (tmp_path / "r.html").read_text().split('<section id="other-data">')[1].split("</section>")[0]
    assert "<h3>binary</h3>" in section and "<h3>regression</h3>" in section
    regression = section.split("<h3>regression</h3>")[1]
    assert "rmse" in regression and "roc_auc" not in regression
    assert regression.count("<td class=\"\">—</td>") == 0  # every regression metric has its value


def test_evaluations_on_other_data_follow_the_order_the_runs_were_named(cli, ws, tmp_path):
    """The tables per task came in the order the models happened to be evaluated (the test above
    failed when run alone: the regression model was evaluated first there)."""
    from mlops_tui.data import datasets
    from mlops_tui.evaluation import evaluate as evaluation

    make_run(ws, "regression", "hhhh8888", name="bikes3", journal=False)
    datasets.add(ws, str(SAMPLE / "bikeshare.csv"), name="bikes-fresh", target="bikers")
    evaluation.evaluate_model(ws, "bikes3", "bikes-fresh")
    datasets.add(ws, str(SAMPLE / "default.csv"), name="default", target="default")
    evaluation.evaluate_model(ws, "credit:1", "default")
    for runs, first in ((["aaaa1111", "hhhh8888"], "binary"), (["hhhh8888", "aaaa1111"], "regression")):
        assert cli("report", *runs, "--output", tmp_path / "r.html").code == 0
        section = (tmp_path / "r.html").read_text().split('<section id="other-data">')[1]
        assert re.findall(r"<h3>(\w+)</h3>", section.split("</section>")[0])[0] == first
