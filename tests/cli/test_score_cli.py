"""`deploy` + `score` through the CLI: headless success/failure, default outputs, kill -9, memory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import run_cli_subprocess
from tests.scoring_helpers import SAMPLE, credit_model, synthetic_model, write_synthetic_parquet

pytestmark = pytest.mark.xdist_group("score_cli")


@pytest.fixture
def deployed(ws, cli):
    credit_model(ws)
    assert cli("deploy", "credit", "--name", "nightly").code == 0
    return "nightly"


def test_score_a_deployment_json_summary(cli, ws, deployed, tmp_path):
    out = tmp_path / "today.parquet"
    res = cli("score", deployed, str(SAMPLE / "default.csv"), "--output", str(out), "--json")
    assert res.code == 0, res.stderr
    doc = res.json
    assert {k: doc[k] for k in ("rows", "output", "model", "version", "deployment", "status")} == {
        "rows": 10_000, "output": str(out), "model": "credit", "version": 1, "deployment": "nightly",
        "status": "succeeded"}
    assert doc["seconds"] > 0 and len(doc["job_id"]) == 12
    assert out.exists()


def test_without_output_a_deployment_writes_to_its_folder(cli, ws, deployed):
    res = cli("score", deployed, str(SAMPLE / "default.csv"), "--json")
    assert res.code == 0, res.stderr
    out = res.json["output"]
    assert out.startswith(str(ws.root / "artifacts" / "scores" / "nightly")) and os.path.exists(out)


def test_failure_is_exit_1_with_the_reason_and_a_failed_job(cli, ws, deployed, tmp_path):
    (tmp_path / "bad.csv").write_text("customer_id,student\n1,No\n")
    res = cli("score", deployed, str(tmp_path / "bad.csv"), "--output", str(tmp_path / "o.parquet"), "--json")
    assert res.code == 1
    assert res.stdout == ""
    assert "missing feature column(s): balance, income" in res.stderr
    assert res.stderr.startswith(f"error: {tmp_path / 'bad.csv'}: input does not match credit:1's signature")
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    (job,) = ws.store.jobs.list(deployment="nightly")
    assert job.status == "failed"


def test_an_output_named_csv_is_csv_with_the_rows_a_parquet_output_has(cli, ws, deployed, tmp_path):
    import polars as pl

    parquet, csv = tmp_path / "scores.parquet", tmp_path / "scores.csv"
    assert cli("score", deployed, str(SAMPLE / "default.csv"), "--output", str(parquet)).code == 0
    res = cli("score", deployed, str(SAMPLE / "default.csv"), "--output", str(csv), "--json")
    assert res.code == 0, res.stderr
    assert res.json["output"] == str(csv) and res.json["rows"] == 10_000
    header = csv.read_text().splitlines()[0]
    assert header.startswith('"customer_id","prediction","proba_No","proba_Yes"')
    got, expected = pl.read_csv(csv), pl.read_parquet(parquet)
    assert got.select("customer_id", "prediction").equals(expected.select("customer_id", "prediction"))
    assert (got["proba_Yes"] - expected["proba_Yes"]).abs().max() < 1e-12  # numbers written in full
    # feedback reads a CSV output like a Parquet one (both jobs match every label)
    fb = cli("feedback", deployed, str(SAMPLE / "default.csv"), "--id-column", "customer_id", "--json")
    assert fb.code == 0, fb.stderr
    assert (fb.json["rows_matched"], fb.json["jobs_matched"]) == (20_000, 2)


def test_an_output_neither_csv_nor_parquet_is_refused_in_one_line(cli, ws, deployed, tmp_path):
    out = tmp_path / "scores.txt"
    res = cli("score", deployed, str(SAMPLE / "default.csv"), "--output", str(out))
    assert res.code == 1 and res.stdout == ""
    assert res.stderr.strip() == f"error: --output {out}: unsupported output type .txt; name it .parquet or .csv"
    assert not out.exists() and ws.store.jobs.list() == []
    # a kept list column fits Parquet, not CSV: one line naming it, no file
    import polars as pl

    tagged = tmp_path / "tagged.parquet"
    pl.read_csv(SAMPLE / "default.csv").with_columns(pl.concat_list("customer_id").alias("tags")).write_parquet(tagged)
    res = cli("score", deployed, str(tagged), "--keep", "tags", "--output", str(tmp_path / "s.csv"))
    assert res.code == 1
    assert res.stderr.strip() == "error: --output s.csv: CSV cannot hold the nested column(s) tags; write .parquet"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tagged.parquet", "ws"]


def test_a_csv_job_failing_midway_leaves_no_partial_file_and_keeps_the_earlier_one(cli, ws, deployed, tmp_path):
    import polars as pl

    from tests.scoring_helpers import default_df

    df = pl.concat([default_df()] * 3)  # 30,000 rows: an id turning into text at row 25,000, past
    late = (pl.col("customer_id").cast(pl.String) + pl.when(pl.int_range(pl.len()) == 25_000)  # what types
            .then(pl.lit("X")).otherwise(pl.lit("")))                                          # are read from
    df.drop("default").with_columns(late.alias("customer_id")).write_csv(tmp_path / "late.csv")
    out = tmp_path / "scores.csv"
    out.write_text("yesterday's scores\n")
    res = cli("score", deployed, str(tmp_path / "late.csv"), "--output", str(out), "--batch-size", "5000")
    assert res.code == 1 and "late.csv" in res.stderr, res.stderr
    assert out.read_text() == "yesterday's scores\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.csv", "scores.csv", "ws"]


def _with_pid(tmp_path):
    """The sample with a key of the scoring file's own (`pid`) that the model never saw."""
    import polars as pl

    df = pl.read_csv(SAMPLE / "default.csv").with_columns((pl.col("customer_id") * 7 + 3).alias("pid"))
    path = tmp_path / "incoming.csv"
    df.drop("default").write_csv(path)
    df.select("pid", "default").write_csv(tmp_path / "labels.csv")
    return path


def test_keep_carries_a_column_the_model_never_saw_and_feedback_joins_on_it(cli, ws, deployed, tmp_path):
    import polars as pl

    incoming = _with_pid(tmp_path)
    res = cli("score", deployed, str(incoming), "--keep", "pid", "--output", str(tmp_path / "a.parquet"), "--json")
    assert res.code == 0, res.stderr
    assert res.json["kept"] == ["customer_id", "pid"]
    first = pl.read_parquet(tmp_path / "a.parquet")
    assert first.columns[:3] == ["customer_id", "pid", "prediction"]
    assert first["pid"].to_list() == (first["customer_id"] * 7 + 3).to_list()

    # Remembered by the deployment: the next job keeps pid without being told.
    res = cli("score", deployed, str(incoming), "--output", str(tmp_path / "b.parquet"), "--json")
    assert res.json["kept"] == ["customer_id", "pid"]
    assert "pid" in pl.read_parquet(tmp_path / "b.parquet").columns

    res = cli("feedback", deployed, str(tmp_path / "labels.csv"), "--id-column", "pid", "--json")
    assert res.code == 0, res.stderr
    assert res.json["rows_matched"] == 20_000 and res.json["labels_matched"] == 10_000
    assert res.json["metrics"]["roc_auc"] > 0.9

    # --keep '' forgets it.
    res = cli("score", deployed, str(incoming), "--keep", "", "--output", str(tmp_path / "c.parquet"), "--json")
    assert res.json["kept"] == ["customer_id"]
    assert ws.store.models.deployment(deployed).keep == ()


def test_keep_of_an_unknown_column_is_one_line_and_exit_1(cli, ws, deployed, tmp_path):
    incoming = _with_pid(tmp_path)
    out = tmp_path / "o.parquet"
    out.write_bytes(b"yesterday's scores")
    res = cli("score", deployed, str(incoming), "--keep", "pid,order_id", "--output", str(out), "--json")
    assert res.code == 1 and res.stdout == ""
    assert res.stderr.strip() == (
        "error: --keep column(s) 'order_id' not in incoming.csv (its columns: customer_id, student, balance, "
        "income, pid)")
    assert out.read_bytes() == b"yesterday's scores"
    assert ws.store.jobs.list()[0].status == "failed"
    assert ws.store.models.deployment(deployed).keep == ()  # a failed job teaches the deployment nothing


def test_a_remembered_keep_column_a_new_file_lacks_names_the_deployment_not_an_option_never_given(
        cli, ws, deployed, tmp_path):
    """A deployment remembers --keep; a later file without that column was refused as "--keep column(s)
    'pid' not in ..." though that command had no --keep (seattlepets' customer_ref, real-data tour 8)."""
    res = cli("score", deployed, str(_with_pid(tmp_path)), "--keep", "pid", "--output", str(tmp_path / "a.parquet"))
    assert res.code == 0, res.stderr
    res = cli("score", deployed, str(SAMPLE / "default.csv"), "--output", str(tmp_path / "b.parquet"))
    assert res.code == 1
    assert res.stderr.strip() == (
        "error: deployment nightly keeps column(s) 'pid' (an earlier --keep) but default.csv has none (its "
        "columns: customer_id, default, student, balance, income); --keep COLS changes them, --keep '' forgets them")
    assert ws.store.models.deployment(deployed).keep == ("pid",)


def test_a_category_none_of_whose_values_the_model_learnt_is_a_warning_naming_what_it_learnt(
        cli, ws, deployed, tmp_path):
    """A new export writes `student` as true/false where the model learnt No/Yes (Sacramento's zip as
    95838 for z95838, real-data tour 8): every row scored with the feature missing, said only in a
    note among the unseen-value counts."""
    import polars as pl

    export = tmp_path / "export.csv"
    pl.read_csv(SAMPLE / "default.csv").with_columns(
        pl.col("student").replace_strict({"No": "false", "Yes": "true"})).write_csv(export)
    res = cli("score", deployed, str(export), "--output", str(tmp_path / "s.parquet"), "--json")
    assert res.code == 0, res.stderr
    assert res.json["warnings"] == [
        "column 'student': none of its 10,000 values is one the model learnt ('No', 'Yes'): all scored as "
        "missing; is the column written differently?"]
    res = cli("score", deployed, str(SAMPLE / "default.csv"), "--output", str(tmp_path / "t.parquet"), "--json")
    assert res.json["warnings"] == []


def test_feedback_on_a_column_no_output_carries_says_to_keep_it(cli, ws, deployed, tmp_path):
    incoming = _with_pid(tmp_path)
    assert cli("score", deployed, str(incoming), "--output", str(tmp_path / "a.parquet")).code == 0
    res = cli("feedback", deployed, str(tmp_path / "labels.csv"), "--id-column", "pid")
    assert res.code == 1
    assert "carries the id column 'pid'; score files that include it with --keep pid" in res.stderr


def test_cron_style_run_in_a_child_process_never_prompts(ws, deployed, tmp_path):
    res = run_cli_subprocess(ws.root, "score", deployed, str(SAMPLE / "default.csv"), "--output",
                             str(tmp_path / "o.parquet"), "--json")
    assert res.code == 0, res.stderr
    assert res.json["rows"] == 10_000


@pytest.fixture
def slow_setup(ws, tmp_path):
    """A model and file big enough that scoring takes seconds (so a kill lands mid-job)."""
    synthetic_model(ws, name="synth", rounds=150, num_leaves=63)
    data = write_synthetic_parquet(tmp_path / "big.parquet", 1_500_000)
    return data


def _start_score(ws, data, out):
    cmd = [sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), "score", "synth", str(data),
           "--output", str(out), "--batch-size", "20000", "--json"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)


def _kill_when_writing(proc, out, deadline_s: float = 90) -> None:
    """SIGKILL as soon as the job's temp output holds data (i.e. mid-job), never after it ends."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        tmps = list(out.parent.glob(f".{out.name}.*.tmp"))
        if tmps and tmps[0].exists() and tmps[0].stat().st_size > 0:
            break
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_mid_job_leaves_no_output_and_keeps_an_earlier_one(ws, cli, slow_setup, tmp_path):
    fresh = tmp_path / "fresh.parquet"
    first = _start_score(ws, slow_setup, fresh)
    _kill_when_writing(first, fresh)
    assert not fresh.exists()

    earlier = tmp_path / "earlier.parquet"
    earlier.write_bytes(b"yesterday's scores")
    second = _start_score(ws, slow_setup, earlier)
    _kill_when_writing(second, earlier)
    assert earlier.read_bytes() == b"yesterday's scores"

    # The killed jobs do not stay 'running' for ever: the next listing finds their processes dead,
    # fails them naming the pid and deletes the hidden temp files they left (nothing else).
    res = cli("sql", "SELECT status, error, output FROM v_jobs ORDER BY created_at", "--json")
    assert res.code == 0, res.stderr
    assert res.json["rows"] == [["failed", f"scoring process died (pid {p.pid})", None] for p in (first, second)]
    assert sorted(f.name for f in tmp_path.iterdir()) == ["big.parquet", "earlier.parquet", "ws"]


def _peak_rss_mb(ws, data, out) -> float:
    """Peak RSS of one `score` child, measured by a fresh wrapper so nothing else is counted."""
    code = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, r.returncode)")
    cmd = [sys.executable, "-c", code, sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root),
           "score", "synth", str(data), "--output", str(out), "--batch-size", "50000"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    mb, rc = res.stdout.split()
    assert rc == "0", res.stderr
    return float(mb)


@pytest.fixture(scope="module")
def memory_inputs(tmp_path_factory):
    """One model and the two input files (200k and 800k rows), shared by both output formats: each
    measurement is of a `score` child alone, so they need not be made again for the second."""
    from mlops_tui.workspace import Workspace

    folder = tmp_path_factory.mktemp("peak_memory")
    ws = Workspace.open(folder / "ws", create=True)
    synthetic_model(ws, name="synth", rounds=10)
    small = write_synthetic_parquet(folder / "small.parquet", 200_000)
    big = write_synthetic_parquet(folder / "big.parquet", 800_000)
    return ws, small, big


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_peak_memory_is_flat_in_the_number_of_rows(memory_inputs, tmp_path, suffix):
    ws, small, big = memory_inputs
    rss_small = _peak_rss_mb(ws, small, tmp_path / f"s.{suffix}")
    rss_big = _peak_rss_mb(ws, big, tmp_path / f"b.{suffix}")
    # 4x the rows (about 70 MB more data) must not grow the peak by more than 20 %.
    assert rss_big <= 1.2 * rss_small, (rss_small, rss_big)


def _kill_right_after_rename(proc, out, deadline_s: float = 120) -> None:
    """SIGKILL the moment ``out`` is replaced (its inode changes): the rename that commits the job
    has happened; whatever the job still does after it is cut off."""
    before = out.stat().st_ino
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if out.stat().st_ino != before:
                break
        except FileNotFoundError:  # between unlink and rename on other platforms; not with os.replace
            pass
        assert proc.poll() is None, f"the job ended before the kill: {proc.stderr.read().decode()}"
        time.sleep(0.0005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def test_kill_9_right_after_the_output_rename_leaves_a_succeeded_job(ws, cli, tmp_path):
    """Issue 11 item 9: the rename is the commit's last step but one; a job killed after it is
    settled by the sweep as succeeded, with its figures, not failed under a new output."""
    import pyarrow.parquet as pq

    from tests.monitor_helpers import register_dataset
    from tests.scoring_helpers import signature_for, synthetic, train_register

    train = synthetic(5000)
    register_dataset(ws, train, "synth", "y", "regression")  # drift measured: the old code's gap was longest
    sig = signature_for(train, "y", "regression", id_columns=("id",))
    train_register(ws, train, sig, name="synth", rounds=50, dataset="synth")
    data = write_synthetic_parquet(tmp_path / "in.parquet", 400_000)
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"yesterday's scores")
    proc = _start_score(ws, data, out)
    _kill_right_after_rename(proc, out)

    res = cli("sql", "SELECT job_id, status, error, rows_out, output, drift_status FROM v_jobs", "--json")
    assert res.code == 0, res.stderr
    [(job_id, status, error, rows_out, output, drift_status)] = res.json["rows"]
    assert (status, error, rows_out, output) == ("succeeded", None, 400_000, str(out))
    assert drift_status == "ok"
    assert pq.read_metadata(out).num_rows == 400_000
    assert pq.read_schema(out).metadata[b"mlops_tui.job_id"] == job_id.encode()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["in.parquet", "scores.parquet", "ws"]
