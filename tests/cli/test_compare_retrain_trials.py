"""`run compare`'s table and the HTML report's runs section say a `retrain` run reused its
champion's parameters ('retrain (of m-binary:1)') instead of 'trials 0', as the TUI's compare
screen does (ComparedRun.trials_text)."""

from __future__ import annotations

from tests.eval_helpers import make_run


def _retrain_beside_a_tuned_run(ws):
    model, ev = make_run(ws, "binary", "aaaa1111")  # 3 trials
    ws.store.runs.create(
        run_id="bbbb2222",
        name="retrain-bbbb2222",
        dataset=model.dataset,
        dataset_version=1,
        target="default",
        task="binary",
        metric="roc_auc",
        direction="maximize",
        seed=0,
        config={"retrain_of": model.ref},
        status="completed",
    )
    ws.store.runs.update("bbbb2222", test_metrics=ev.metrics)
    return model


def test_compare_table_says_retrain_not_trials_0(cli, ws):
    model = _retrain_beside_a_tuned_run(ws)
    res = cli("run", "compare", "aaaa1111", "bbbb2222")
    assert res.code == 0, res.stderr
    trials = next(line for line in res.stdout.splitlines() if line.split("│")[0].strip() == "trials")
    assert [c.strip() for c in trials.split("│")] == ["trials", "3", f"retrain (of {model.ref})"]


def test_report_runs_section_says_retrain_not_trials_0(cli, ws, tmp_path):
    model = _retrain_beside_a_tuned_run(ws)
    assert cli("report", "aaaa1111", "bbbb2222", "--output", tmp_path / "r.html").code == 0
    html = (tmp_path / "r.html").read_text()
    runs = html.split('<td class="l">trials</td>')[1].split("</tr>")[0]
    assert runs == f'<td class="">3</td><td class="">retrain (of {model.ref})</td>'
