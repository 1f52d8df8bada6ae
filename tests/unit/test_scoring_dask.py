"""`score --engine dask` on a real LocalCluster: the same rows, drift and failures as local scoring."""

from __future__ import annotations

import polars as pl
import pytest

from mlops_tui.errors import UserError
from mlops_tui.serving import scoring
from tests.dask_helpers import require_dask
from tests.monitor_helpers import register_dataset
from tests.scoring_helpers import credit_model, default_df

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask")]


@pytest.fixture(scope="module")
def scheduler():
    """One LocalCluster (two single-threaded worker processes on 127.0.0.1) for the module's jobs
    that name a scheduler; the first test lets the job start its own."""
    require_dask()
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def credit(ws, tmp_path):
    """The credit model with its training data registered (so drift is measured), and inputs that
    drift: a CSV and a Parquet file (scored as several partitions) with a shifted balance."""
    require_dask()
    register_dataset(ws, default_df(), "default", "default", "binary")
    model = credit_model(ws)
    df = default_df().with_columns(pl.col("balance") * 1.4)
    df.head(3000).write_csv(tmp_path / "a.csv")
    df.tail(7000).write_parquet(tmp_path / "b.parquet")
    return model, [str(tmp_path / "a.csv"), str(tmp_path / "b.parquet")]


def _rows(path) -> pl.DataFrame:
    return pl.read_parquet(path).drop("scored_at")


def _drift(ws, job) -> dict:
    return {r.feature: (r.status, r.psi, r.null_rate_cur, r.new_categories)
            for r in ws.store.jobs.drift([job.job_id])[job.job_id]}


def test_a_local_cluster_job_scores_like_local_score(ws, credit, tmp_path):
    """No scheduler given: a LocalCluster of two workers. The part files, read in order, hold the
    rows local scoring writes; drift (PSI, null rates, verdicts) and the job's counts are the same."""
    model, inputs = credit
    local = scoring.score(ws, model.ref, inputs, str(tmp_path / "local.parquet"))
    job = scoring.score(ws, model.ref, inputs, str(tmp_path / "dask.parquet"), engine="dask",
                        partition_rows=2000)
    out = tmp_path / "dask.parquet"
    # a.csv is one partition, b.parquet's 7,000 rows four: one part file each, nothing else.
    assert sorted(p.name for p in out.iterdir()) == [f"part-{i:05d}.parquet" for i in range(5)]
    assert _rows(out).equals(_rows(tmp_path / "local.parquet"))
    assert (job.status, job.rows_out, job.engine) == ("succeeded", 10_000, "dask")
    assert _drift(ws, job) == _drift(ws, local)
    assert (job.drift_status, job.prediction_drift) == (local.drift_status, local.prediction_drift)
    assert job.drift_status == "alert"  # the shifted balance: a verdict, not only equal noise
    assert job.cluster["scheduler"] == "local"
    assert sum(w["rows"] for w in job.cluster["workers"]) == 10_000
    assert sum(w["partitions"] for w in job.cluster["workers"]) == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no hidden leftovers


def test_a_second_job_replaces_an_earlier_output_whole(ws, credit, tmp_path, scheduler):
    model, inputs = credit
    out = tmp_path / "scores"
    first = scoring.score(ws, model.ref, inputs[:1], str(out / "x.parquet"), engine="dask", scheduler=scheduler)
    assert len(list((out / "x.parquet").iterdir())) == 1
    second = scoring.score(ws, model.ref, inputs, str(out / "x.parquet"), engine="dask", scheduler=scheduler,
                           partition_rows=2000)
    assert (first.rows_out, second.rows_out) == (3000, 10_000)
    assert pl.read_parquet(out / "x.parquet").height == 10_000
    assert [p.name for p in out.iterdir()] == ["x.parquet"]


def test_a_partition_that_fails_fails_the_job_with_the_local_message_and_no_output(ws, credit, tmp_path, scheduler):
    """An id far into a CSV that does not parse as the type its first rows gave: the worker's reader
    raises the one line local scoring raises; the other parts go with the hidden folder, and an
    earlier output at the path stays as it was."""
    model, inputs = credit
    ids = pl.int_range(pl.len())
    bad = pl.concat([default_df()] * 2).with_columns(pl.when(ids == 15_000).then(pl.lit("X-15000"))
                                    .otherwise(pl.col("customer_id").cast(pl.String)).alias("customer_id"))
    bad.write_csv(tmp_path / "late.csv")
    both = [inputs[1], str(tmp_path / "late.csv")]
    out = tmp_path / "out.parquet"
    out.write_bytes(b"earlier output")
    with pytest.raises(UserError) as local_error:
        scoring.score(ws, model.ref, both, str(tmp_path / "l.parquet"))
    with pytest.raises(UserError) as dask_error:
        scoring.score(ws, model.ref, both, str(out), engine="dask", scheduler=scheduler, partition_rows=2000)
    assert "late.csv" in str(local_error.value)
    assert str(dask_error.value).endswith(str(local_error.value).split(": ", 1)[1])
    assert "\n" not in str(dask_error.value)
    assert out.read_bytes() == b"earlier output"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    failed = ws.store.jobs.list()[0]
    assert (failed.status, failed.output, failed.engine) == ("failed", None, "dask")


def test_a_schema_problem_is_found_before_any_cluster_starts(ws, credit, tmp_path):
    model, _ = credit
    default_df().drop("balance").write_csv(tmp_path / "nobalance.csv")
    with pytest.raises(UserError, match="missing feature column.*balance"):
        scoring.score(ws, model.ref, [str(tmp_path / "nobalance.csv")], str(tmp_path / "o.parquet"),
                      engine="dask", scheduler="tcp://127.0.0.1:9")  # never contacted
    assert not list(tmp_path.glob("*o.parquet*"))


def test_an_unreachable_scheduler_is_one_line(ws, credit, tmp_path):
    model, inputs = credit
    with pytest.raises(UserError, match=r"^cannot reach the Dask scheduler at tcp://127.0.0.1:9: "):
        scoring.score(ws, model.ref, inputs, str(tmp_path / "o.parquet"), engine="dask",
                      scheduler="tcp://127.0.0.1:9")
    assert not [p for p in tmp_path.iterdir() if "o.parquet" in p.name]
    assert ws.store.jobs.list()[0].status == "failed"


def test_dask_warnings_do_not_reach_stderr(caplog):
    """A job's failure is one line: Dask's recovery warnings ("Couldn't gather 1 keys, rescheduling",
    logged by distributed.client, whose level Dask's own config sets) must not print beside it."""
    require_dask()
    import logging

    from mlops_tui.serving import dask_engine

    dask_engine.quiet_logs()
    with caplog.at_level(logging.WARNING):
        logging.getLogger("distributed.client").warning("Couldn't gather 1 keys, rescheduling")
        logging.getLogger("distributed.worker").warning("a warning")
        logging.getLogger("distributed.client").error("an error")
    assert [r.getMessage() for r in caplog.records] == ["an error"]
