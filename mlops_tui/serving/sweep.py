"""Scoring jobs whose process died: found and settled wherever jobs are listed.

Light on purpose (no polars, no LightGBM): `sql`, `monitor`, `lineage` and the TUI's job lists
call :func:`sweep_jobs` (the TUI through :func:`recent_jobs`) before they read jobs, so a job killed with kill -9 never shows as running.
A job killed after its output was renamed into place (the commit's last gap, see
:mod:`mlops_tui.serving.scoring`) is marked succeeded; any other dead job failed.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_tui.processes import alive

if TYPE_CHECKING:
    from mlops_tui.store import ScoringJob
    from mlops_tui.workspace import Workspace


JOB_ID_KEY = b"mlops_tui.job_id"  # Parquet footer key: the job that wrote a scoring output


def temp_path(path: Path, job_id: str) -> Path:
    """Where job ``job_id`` writes its output before renaming it to ``path`` (hidden, same folder)."""
    return path.parent / f".{path.name}.{job_id}.tmp"


def audit_object(deployment: str | None, model_name: str, model_version: int) -> str:
    return f"deployment:{deployment}" if deployment else f"model:{model_name}:{model_version}"


def written_by(path: Path) -> str | None:
    """The job id in the footer of the Parquet file at ``path``, or of the first part of a Dask
    job's folder there (None: no file, or not ours)."""
    if path.is_dir() and not path.is_symlink():
        path = path / "part-00000.parquet"
    if not path.is_file():
        return None
    import pyarrow.parquet as pq  # only when a dead job's output is there to look at

    try:
        meta = pq.read_schema(path).metadata or {}
    except Exception:  # noqa: BLE001 - anything unreadable was not written by that job
        return None
    job = meta.get(JOB_ID_KEY)
    return job.decode() if job else None


def sweep_jobs(ws: Workspace) -> list[str]:
    """Settle the running jobs whose scoring process died on this host (kill -9, the OOM killer);
    returns the ids of those failed. One store read when nothing died.

    A job whose output is in place (its footer names the job) died after the rename that commits
    it, with every figure already recorded: it is marked succeeded. Any other is failed, with
    error "scoring process died (pid N)", and the hidden temp output it left is deleted. Only
    the temp file named after the job (:func:`temp_path`) is removed, and only once its process
    is gone, so a live job's file and anything else in the folder are never touched.
    """
    host = socket.gethostname()
    died: list[str] = []
    for job in ws.store.jobs.running():
        if not job.pid or job.host not in (None, host) or alive(job.pid):
            continue  # jobs of older stores have no pid; another host's processes are not ours to judge
        obj = audit_object(job.deployment, job.model_name, job.model_version)
        if job.output:
            out = Path(job.output) if Path(job.output).is_absolute() else ws.abspath(job.output)
            if written_by(out) == job.job_id:
                if ws.store.jobs.succeed_running(job.job_id):
                    ws.store.audit.record("score sweep", obj, "ok", {"job_id": job.job_id,
                                                                     "note": "output in place when its process died"})
                continue
            tmp = temp_path(out, job.job_id)
            with contextlib.suppress(OSError):  # the job is failed all the same
                if tmp.is_dir() and not tmp.is_symlink():  # a Dask job's hidden folder of parts
                    shutil.rmtree(tmp)
                elif tmp.is_file() or tmp.is_symlink():
                    tmp.unlink()
        error = f"scoring process died (pid {job.pid})"
        if ws.store.jobs.fail_running(job.job_id, error):
            ws.store.audit.record("score sweep", obj, "failed", {"job_id": job.job_id, "error": error})
            died.append(job.job_id)
    return died


def recent_jobs(ws: Workspace, limit: int) -> list[ScoringJob]:
    """The latest scoring jobs, newest first. When one is listed as running, jobs whose process
    died (kill -9) are failed first, as the CLI does (the sweep's own read is skipped when none runs)."""
    jobs = ws.store.jobs.list(limit=limit)
    if any(j.status == "running" for j in jobs) and sweep_jobs(ws):
        jobs = ws.store.jobs.list(limit=limit)
    return jobs
