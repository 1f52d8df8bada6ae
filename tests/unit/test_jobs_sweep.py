"""The scoring-job sweep: a job whose process died (kill -9) is failed, naming the pid, and only its own
hidden temp output is deleted. Dead processes are real children killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from mlops_tui.serving import io as scoring_io
from mlops_tui.serving import scoring
from mlops_tui.serving import sweep as job_sweep
from tests.scoring_helpers import credit_model


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    return proc.pid


def _start(ws, job_id: str, output, *, pid: int | None, host: str | None = None, deployment: str | None = None):
    ws.store.jobs.start(job_id=job_id, model_name="credit", model_version=1, inputs=[{"path": "in.csv"}],
                        deployment=deployment, output=str(output), pid=pid,
                        host=host if host is not None else socket.gethostname())


def _tmp(output, job_id: str):
    return scoring_io.AtomicParquet(output, job_id).tmp


def test_a_job_whose_process_died_is_failed_and_only_its_temp_file_removed(ws, tmp_path):
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"yesterday's scores")
    pid = _dead_pid()
    _start(ws, "dead0000job1", out, pid=pid)
    _start(ws, "live0000job2", out, pid=os.getpid())  # a job still running in a live process
    mine, theirs = _tmp(out, "dead0000job1"), _tmp(out, "live0000job2")
    mine.write_bytes(b"partial")
    theirs.write_bytes(b"partial too")
    neighbours = [tmp_path / "other.parquet", tmp_path / f".{out.name}.tmp", tmp_path / "dead0000job1.txt"]
    for f in neighbours:
        f.write_bytes(b"keep")

    assert job_sweep.sweep_jobs(ws) == ["dead0000job1"]

    dead = ws.store.jobs.get("dead0000job1")
    assert (dead.status, dead.error, dead.output) == ("failed", f"scoring process died (pid {pid})", None)
    assert dead.ended_at is not None
    assert not mine.exists()
    assert ws.store.jobs.get("live0000job2").status == "running" and theirs.read_bytes() == b"partial too"
    assert out.read_bytes() == b"yesterday's scores" and all(f.read_bytes() == b"keep" for f in neighbours)
    (event,) = [e for e in ws.store.audit.events() if e.command == "score sweep"]
    assert (event.object, event.outcome, event.details["job_id"]) == ("model:credit:1", "failed", "dead0000job1")
    assert job_sweep.sweep_jobs(ws) == []  # done once


def test_a_job_output_relative_to_the_workspace_has_its_temp_file_found(ws):
    out = ws.root / "artifacts" / "scores" / "nightly" / "a.parquet"
    out.parent.mkdir(parents=True)
    _start(ws, "reljob000001", "artifacts/scores/nightly/a.parquet", pid=_dead_pid())
    _tmp(out, "reljob000001").write_bytes(b"partial")
    assert job_sweep.sweep_jobs(ws) == ["reljob000001"]
    assert list(out.parent.iterdir()) == []


@pytest.mark.parametrize(("pid", "host"), [(None, None), ("dead", "another-host")],
                         ids=["no pid (written before the store had one)", "another host"])
def test_jobs_the_sweep_cannot_judge_stay_running(ws, tmp_path, pid, host):
    out = tmp_path / "o.parquet"
    _start(ws, "unjudged0001", out, pid=_dead_pid() if pid == "dead" else None, host=host)
    _tmp(out, "unjudged0001").write_bytes(b"partial")
    assert job_sweep.sweep_jobs(ws) == []
    assert ws.store.jobs.get("unjudged0001").status == "running"
    assert _tmp(out, "unjudged0001").exists()


def test_failing_a_job_is_a_compare_and_set(ws, tmp_path):
    """A job that ended between the sweep's read and its write keeps its outcome."""
    _start(ws, "finished0001", tmp_path / "o.parquet", pid=_dead_pid())
    ws.store.jobs.finish("finished0001", status="succeeded", output="o.parquet", rows_out=5)
    assert ws.store.jobs.fail_running("finished0001", "scoring process died (pid 1)") is False
    job = ws.store.jobs.get("finished0001")
    assert (job.status, job.error, job.output, job.rows_out) == ("succeeded", None, "o.parquet", 5)


def test_a_scoring_job_records_its_process_and_a_failed_one_no_output(ws, tmp_path):
    credit_model(ws)
    (tmp_path / "bad.csv").write_text("customer_id,student\n1,No\n")
    with pytest.raises(Exception, match="missing feature"):
        scoring.score(ws, "credit", [str(tmp_path / "bad.csv")], str(tmp_path / "o.parquet"))
    (job,) = ws.store.jobs.list()
    assert (job.status, job.pid, job.host, job.output) == ("failed", os.getpid(), socket.gethostname(), None)
    assert job_sweep.sweep_jobs(ws) == []


def test_monitor_lineage_and_sql_show_a_killed_job_as_failed(ws, cli, tmp_path):
    credit_model(ws)
    assert cli("deploy", "credit", "--name", "nightly").code == 0
    _start(ws, "killed000001", tmp_path / "o.parquet", pid=_dead_pid(), deployment="nightly")
    (job,) = cli("monitor", "nightly", "--json").json["jobs"]
    assert (job["job_id"], job["job_status"]) == ("killed000001", "failed")

    _start(ws, "killed000002", tmp_path / "o.parquet", pid=_dead_pid(), deployment="nightly")
    lineage = cli("lineage", "job:killed000002", "--json").json
    (node,) = [n for n in lineage["nodes"] if n["id"] == "job:killed000002"]
    assert node["status"] == "failed"

    pid = _dead_pid()
    _start(ws, "killed000003", tmp_path / "o.parquet", pid=pid, deployment="nightly")
    res = cli("sql", "SELECT status, error FROM v_jobs WHERE job_id = 'killed000003'", "--json")
    assert res.code == 0, res.stderr
    assert res.json["rows"] == [["failed", f"scoring process died (pid {pid})"]]


def _parquet_by(path, job_id: str) -> None:
    """A scoring output as AtomicParquet writes it: the footer names the job."""
    import pyarrow as pa

    out = scoring_io.AtomicParquet(path, job_id)
    out.write(pa.table({"prediction": [0.1, 0.2]}))
    out.close()
    out.commit()


def test_a_dead_job_whose_output_is_in_place_is_succeeded_not_failed(ws, tmp_path):
    """Killed after the rename that commits it (its figures were recorded before the rename)."""
    committed, other = tmp_path / "committed.parquet", tmp_path / "other.parquet"
    _start(ws, "gone0000job1", committed, pid=_dead_pid())
    ws.store.jobs.finish("gone0000job1", rows_in=2, rows_out=2, seconds=1.0)  # status stays running
    _parquet_by(committed, "gone0000job1")
    _start(ws, "gone0000job2", other, pid=_dead_pid())  # died before its rename: someone else's file
    _parquet_by(other, "someone0else")

    assert job_sweep.sweep_jobs(ws) == ["gone0000job2"]

    ok = ws.store.jobs.get("gone0000job1")
    assert (ok.status, ok.error, ok.output, ok.rows_out) == ("succeeded", None, str(committed), 2)
    failed = ws.store.jobs.get("gone0000job2")
    assert (failed.status, failed.output) == ("failed", None)
    assert committed.exists() and other.exists()
    outcomes = {e.details["job_id"]: e.outcome for e in ws.store.audit.events() if e.command == "score sweep"}
    assert outcomes == {"gone0000job1": "ok", "gone0000job2": "failed"}


def test_a_dead_dask_jobs_hidden_folder_of_parts_is_removed(ws, tmp_path):
    """A Dask job writes its parts into a hidden folder: its client killed with kill -9, the
    sweep fails the job and removes that folder (and only that one)."""
    out = tmp_path / "scores.parquet"
    _start(ws, "dead0000dask", out, pid=_dead_pid())
    folder = job_sweep.temp_path(out, "dead0000dask")
    folder.mkdir()
    (folder / "part-00000.parquet").write_bytes(b"a part")
    other = job_sweep.temp_path(out, "someotherjob")
    other.mkdir()

    assert job_sweep.sweep_jobs(ws) == ["dead0000dask"]
    assert not folder.exists() and other.is_dir()


def test_a_dead_dask_job_whose_folder_is_in_place_is_marked_succeeded(ws, tmp_path):
    """Killed between the rename of its folder and its last status write: the first part's
    footer names the job, so the sweep settles it as succeeded."""
    out = tmp_path / "scores.parquet"
    _start(ws, "dead0001dask", out, pid=_dead_pid())
    out.mkdir()
    part = scoring_io.AtomicParquet(out / "part-00000.parquet", "dead0001dask")
    import pyarrow as pa

    part.write(pa.table({"prediction": [0.5]}))
    part.close()
    part.commit()

    assert job_sweep.sweep_jobs(ws) == []
    assert ws.store.jobs.get("dead0001dask").status == "succeeded"
