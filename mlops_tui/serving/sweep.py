"""Scoring jobs whose process died: found and failed wherever jobs are listed.

Light on purpose (no polars, no LightGBM): `sql`, `monitor`, `lineage` and the TUI's job lists
call :func:`sweep_jobs` before they read jobs, so a job killed with kill -9 never shows as running.
"""

from __future__ import annotations

import contextlib
import socket
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_tui.workspace import Workspace


def temp_path(path: Path, job_id: str) -> Path:
    """Where job ``job_id`` writes its output before renaming it to ``path`` (hidden, same folder)."""
    return path.parent / f".{path.name}.{job_id}.tmp"


def audit_object(deployment: str | None, model_name: str, model_version: int) -> str:
    return f"deployment:{deployment}" if deployment else f"model:{model_name}:{model_version}"


def sweep_jobs(ws: Workspace) -> list[str]:
    """Fail the running jobs whose scoring process died on this host (kill -9, the OOM killer),
    with error "scoring process died (pid N)", and delete the hidden temp output each left beside
    its output path; returns their ids. One store read when nothing died.

    Only the temp file named after the job (:func:`temp_path`) is removed, and only once its
    process is gone, so a live job's file and anything else in the folder are never touched.
    """
    from mlops_tui.training.tuning.control import alive  # the same liveness test as the tuning sweep

    host = socket.gethostname()
    died: list[str] = []
    for job in ws.store.jobs.running():
        if not job.pid or job.host not in (None, host) or alive(job.pid):
            continue  # jobs of older stores have no pid; another host's processes are not ours to judge
        if job.output:
            tmp = temp_path(Path(job.output) if Path(job.output).is_absolute() else ws.abspath(job.output), job.job_id)
            if tmp.is_file() or tmp.is_symlink():
                with contextlib.suppress(OSError):  # the job is failed all the same
                    tmp.unlink()
        error = f"scoring process died (pid {job.pid})"
        if ws.store.jobs.fail_running(job.job_id, error):
            ws.store.audit.record("score sweep", audit_object(job.deployment, job.model_name, job.model_version),
                                  "failed", {"job_id": job.job_id, "error": error})
            died.append(job.job_id)
    return died
