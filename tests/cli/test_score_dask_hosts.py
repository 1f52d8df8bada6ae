"""`mlops-tui score --engine dask --scheduler ...` against a Dask cluster on two "hosts".

The scheduler and each worker run in network namespaces of their own (tests.infra.netns, with
the blackhole route for the test subnet first); the CLI under test runs in a client namespace.
The filesystem is shared, as the engine requires. Everything is torn down, also on failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import polars as pl
import pytest

from mlops_tui.serving import scoring
from tests.dask_helpers import DaskHosts, require_dask
from tests.infra.netns import Network, require_root
from tests.monitor_helpers import register_dataset
from tests.scoring_helpers import credit_model, default_df, synthetic_model, write_synthetic_parquet

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dask")]


def _score_argv(ws, *args: str) -> list[str]:
    return [sys.executable, "-m", "mlops_tui", "--workspace", str(ws.root), "score", *map(str, args)]


@pytest.fixture
def hosts_ready():
    require_root()
    require_dask()


def _drift(ws, job_id: str) -> dict:
    return {r.feature: (r.status, r.psi, r.null_rate_cur, r.new_categories)
            for r in ws.store.jobs.drift([job_id])[job_id]}


def _kill_a_worker_mid_job(net, cluster, argv: list[str], tmp_path) -> tuple[int, str, str]:
    """Run the CLI in the client host; once a first part is written, kill -9 worker w1; wait."""
    proc = net.popen(cluster.client, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:  # a part written: mid-job
        if any(p.name.startswith("part-") for d in tmp_path.glob(".scores.parquet.*.tmp") for p in d.iterdir()):
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"the job ended before a worker could be killed: {proc.communicate()}"
    cluster.kill_worker("w1")
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout, stderr


def test_a_two_host_cluster_job_scores_like_local_score(ws, tmp_path, hosts_ready):
    register_dataset(ws, default_df(), "default", "default", "binary")
    model = credit_model(ws)
    df = default_df().with_columns(pl.col("balance") * 1.4)
    df.head(2000).write_csv(tmp_path / "a.csv")
    df.tail(8000).write_parquet(tmp_path / "b.parquet")
    inputs = [str(tmp_path / "a.csv"), str(tmp_path / "b.parquet")]
    local = scoring.score(ws, model.ref, inputs, str(tmp_path / "local.parquet"))
    out = tmp_path / "dask.parquet"
    with Network("dk") as net, DaskHosts(net, workers=("w1", "w2")) as cluster:
        proc = net.run(cluster.client, _score_argv(ws, model.ref, *inputs, "--output", out, "--engine", "dask",
                                                   "--scheduler", cluster.address, "--partition-rows", 1000,
                                                   "--json"), timeout=300, env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert (result["engine"], result["scheduler"], result["rows"]) == ("dask", cluster.address, 10_000)
    assert {w["host"] for w in result["workers"]} == {"w1", "w2"}  # both hosts scored partitions
    assert sum(w["partitions"] for w in result["workers"]) == 9  # a.csv whole, b.parquet in 8
    assert pl.read_parquet(out).drop("scored_at").equals(pl.read_parquet(tmp_path / "local.parquet").drop("scored_at"))
    job = ws.store.jobs.get(result["job_id"])
    assert (job.engine, job.cluster["scheduler"]) == ("dask", cluster.address)
    assert _drift(ws, job.job_id) == _drift(ws, local.job_id)
    assert (job.drift_status, job.prediction_drift) == (local.drift_status, local.prediction_drift) == \
        ("alert", local.prediction_drift)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_worker_killed_mid_job_fails_it_cleanly_with_no_output(ws, tmp_path, hosts_ready):
    """The scheduler gives no task a second worker (``allowed-failures: 0``, so Dask gives up on a
    partition whose worker died instead of rerunning it): the job fails with one line, the hidden
    folder is removed, and an earlier output at the path is left as it was."""
    model = synthetic_model(ws)
    write_synthetic_parquet(tmp_path / "big.parquet", 300_000)
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"yesterday's scores")
    with Network("dk") as net, DaskHosts(net, workers=("w1", "w2"),
                                         env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}) as cluster:
        code, stdout, stderr = _kill_a_worker_mid_job(
            net, cluster, _score_argv(ws, model.ref, tmp_path / "big.parquet", "--output", out, "--engine", "dask",
                                      "--scheduler", cluster.address, "--partition-rows", 5000, "--batch-size", 5000),
            tmp_path)
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "a Dask worker died while scoring" in lines[0] and "big.parquet rows" in lines[0]
    assert out.read_bytes() == b"yesterday's scores"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    job = ws.store.jobs.list()[0]
    assert (job.status, job.output, job.engine) == ("failed", None, "dask")
    assert "a Dask worker died" in job.error


def test_with_dasks_default_retries_a_killed_workers_partitions_rerun_elsewhere(ws, tmp_path, hosts_ready):
    """Dask's default (``allowed-failures: 3``): the partitions of a worker killed mid-job are
    scored again by the other one; the job succeeds with exactly local score's rows."""
    model = synthetic_model(ws)
    write_synthetic_parquet(tmp_path / "big.parquet", 300_000)
    local = scoring.score(ws, model.ref, [str(tmp_path / "big.parquet")], str(tmp_path / "local.parquet"))
    out = tmp_path / "scores.parquet"
    with Network("dk") as net, DaskHosts(net, workers=("w1", "w2")) as cluster:
        code, stdout, stderr = _kill_a_worker_mid_job(
            net, cluster, _score_argv(ws, model.ref, tmp_path / "big.parquet", "--output", out, "--engine", "dask",
                                      "--scheduler", cluster.address, "--partition-rows", 5000, "--batch-size", 5000,
                                      "--json"),
            tmp_path)
    assert code == 0, stderr
    assert json.loads(stdout)["rows"] == local.rows_out == 300_000
    assert pl.read_parquet(out).drop("scored_at").equals(pl.read_parquet(tmp_path / "local.parquet").drop("scored_at"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
