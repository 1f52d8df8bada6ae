"""Running a pipeline like `dvc repro`: each stage runs only when its inputs changed.

A stage's inputs are its kind and options, the workbench version, the content (sha256) of the
files it reads (cached per size and mtime: :mod:`~mlops_tui.pipelines.hashes`), the outputs of the
stages it waits for, and for a gate the policy it applies. Their hash is the stage's fingerprint.
A stage whose last successful record (ran or skipped) has the same fingerprint is skipped and its
recorded outputs feed the next stages, unless its output file is gone; ``--force STAGE`` runs one
anyway. The recorded inputs say *why* a stage is stale (:func:`plan`, `pipeline status`).

Stages run in order; after a refused gate or a failed stage nothing else runs (``not run``).
Every stage's record is written when it starts (running, with the pid) and when it ends, so a run
killed with kill -9 keeps its finished stages: the next run skips them and runs the interrupted one
again, continuing what it left where its kind can (``stages.RESUME``: a tune stage's tuning run). Nothing here imports the ML libraries: a run that skips everything stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui import __version__
from mlops_tui.errors import PolicyRefused, UserError
from mlops_tui.pipelines import stages as kinds
from mlops_tui.pipelines.hashes import FileHashes
from mlops_tui.processes import alive
from mlops_tui.results import JsonDict, Result

if TYPE_CHECKING:
    from mlops_tui.pipelines.spec import Pipeline, Stage
    from mlops_tui.store import PipelineRun, PipelineStage
    from mlops_tui.workspace import Workspace

@dataclass(frozen=True)
class StageResult(Result):
    """One stage as a run decided it (``status`` ran | skipped | refused | failed | not run) or as
    :func:`plan` sees it (``status`` fresh | stale, ``last``: how its latest record ended)."""

    name: str
    kind: str
    status: str
    reason: str
    seconds: float | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    last: str | None = None


MAIN_OUTPUT = {"data": "dataset", "tune": "model", "evaluate": "model", "gate": "model", "promote": "model",
               "deploy": "deployment", "score": "job_id"}


def made(outputs: dict[str, Any], kind: str | None = None) -> str:
    """What a stage made, for a table: 'dataset cards:2', 'model cards:2  deployment prod'; with
    ``kind``, only the value of that kind's main object ('cards:2', 'prod'), for narrow tables."""
    if kind is not None:
        return str(outputs.get(MAIN_OUTPUT[kind]) or "")
    keys = ("dataset", "run_id", "model", "deployment", "job_id", "alias")
    return "  ".join(f"{k} {outputs[k]}" for k in keys if outputs.get(k) is not None)


@dataclass(frozen=True)
class PipelineResult(Result):
    pipeline: str
    file: str
    run_id: str | None  # None: nothing was recorded (status, --dry-run)
    status: str  # ok | skipped | refused | failed; for plans: fresh | stale
    stages: list[StageResult]


# -- fingerprints ----------------------------------------------------------------------------------
def inputs_of(ws: Workspace, p: Pipeline, s: Stage, up: dict[str, dict[str, Any]],
              hashes: FileHashes) -> JsonDict:
    """What ``s``'s fingerprint is made of, given its upstream stages' outputs (file contents by
    their sha256, from ``hashes`` while a file's size and mtime are unchanged)."""
    files: dict[str, str | None] = {}
    for written, matches in kinds.input_files(p, s):
        if not matches:
            files[written] = None  # nothing there: the stage will say so when it runs
        for m in matches:
            files[written if len(matches) == 1 else os.path.relpath(m, p.base)] = hashes.sha256(m)
    inputs: dict[str, Any] = {"kind": s.kind, "options": s.options, "version": __version__, "files": files,
                              "upstream": {name: up.get(name) for name in s.after}}
    if s.kind == "gate":
        inputs["policy"] = kinds.gate_policy(ws, s)
    return inputs


def fingerprint(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def why_changed(old: dict[str, Any], new: dict[str, Any]) -> str:
    """Which input changed between a stage's last success and now, in words."""
    if old.get("version") != new["version"]:
        return f"workbench version {old.get('version')} -> {new['version']}"
    changed = sorted(k for k in {*old.get("options", {}), *new["options"]}
                     if old.get("options", {}).get(k) != new["options"].get(k))
    if changed:
        return f"option {', '.join(changed)} changed"
    for path in sorted({*old.get("files", {}), *new["files"]}):
        before, now = old.get("files", {}).get(path), new["files"].get(path)
        if before != now:
            return f"file {path} " + ("is missing" if now is None else "is new" if before is None else "changed")
    for name in new["upstream"]:
        if old.get("upstream", {}).get(name) != new["upstream"][name]:
            return f"upstream {name} has new outputs"
    if old.get("policy") != new.get("policy"):
        return "gate policy changed (workspace config.toml)"
    return "inputs changed"


# -- deciding ----------------------------------------------------------------------------------------
@dataclass
class _History:
    """Per stage: its latest record and its latest successful one (newest first from the store)."""

    latest: dict[str, PipelineStage] = field(default_factory=dict)
    done: dict[str, PipelineStage] = field(default_factory=dict)

    @classmethod
    def of(cls, ws: Workspace, pipeline: str) -> _History:
        from mlops_tui.store.pipelines import DONE

        h = cls()
        for rec in ws.store.pipelines.history(pipeline):
            h.latest.setdefault(rec.stage, rec)
            if rec.status in DONE and rec.fingerprint:
                h.done.setdefault(rec.stage, rec)
        return h

    def last(self, stage: str) -> str | None:
        rec = self.latest.get(stage)
        if rec is None:
            return None
        if rec.status == "running" and not alive(rec.pid):
            return "interrupted"
        return rec.status


def decide(h: _History, p: Pipeline, s: Stage, inputs: dict[str, Any], forced: bool) -> tuple[bool, str]:
    """(fresh, why) for stage ``s`` with these inputs. Like `dvc repro`, a stage whose output file
    is gone is stale even when its inputs did not change."""
    done, fp = h.done.get(s.name), fingerprint(inputs)
    if forced:
        return False, "forced (--force)"
    if done is not None and done.fingerprint == fp:
        missing = [written for written, path in kinds.output_files(p, s, done.outputs) if not path.exists()]
        if missing:
            return False, f"output {missing[0]} is missing"
        return True, f"unchanged since run {done.run_id}"
    latest = h.latest.get(s.name)
    if latest is not None and latest.fingerprint == fp:
        if latest.status == "running" and not alive(latest.pid):
            return False, f"interrupted in run {latest.run_id} (process {latest.pid} died)"
        if latest.status in ("failed", "refused"):
            return False, f"{latest.status} last time: {latest.reason}"
    return False, "never run" if done is None else why_changed(done.inputs, inputs)


def plan(ws: Workspace, p: Pipeline, *, force: str | None = None) -> PipelineResult:
    """Each stage fresh or stale and why, without running or writing anything (`pipeline status`,
    `--dry-run`). A stage after a stale one is judged on its recorded upstream outputs when they
    exist; the stale stage may well produce them again."""
    _check_force(p, force)
    h = _History.of(ws, p.name)
    hashes = FileHashes(ws.root)
    up: dict[str, dict[str, Any]] = {}
    results = []
    unsure: list[str] = []  # stale stages and the stages after them: they may run again
    for s in p.stages:
        inputs = inputs_of(ws, p, s, up, hashes)
        fresh, why = decide(h, p, s, inputs, s.name == force)
        waits = [u for u in s.after if u in unsure]
        if fresh and waits:
            why = f"{why}; may re-run after upstream {', '.join(waits)}"
        elif waits and why.startswith("upstream"):
            why = f"upstream {', '.join(waits)} is stale"
        if not fresh or waits:
            unsure.append(s.name)
        done = h.done.get(s.name)
        up[s.name] = done.outputs if done else {}
        results.append(StageResult(s.name, s.kind, "fresh" if fresh else "stale", why,
                                   outputs=done.outputs if done else {}, last=h.last(s.name)))
    hashes.save()
    status = "stale" if any(r.status == "stale" for r in results) else "fresh"
    return PipelineResult(p.name, str(p.file), None, status, results)


def _check_force(p: Pipeline, force: str | None) -> None:
    if force is not None and force not in [s.name for s in p.stages]:
        raise UserError(f"--force {force}: pipeline {p.name} has no stage {force!r} "
                        f"(stages: {', '.join(s.name for s in p.stages)})")


# -- running -----------------------------------------------------------------------------------------
def drift_reason(ws: Workspace, deployment: str, p: Pipeline | None = None) -> str | None:
    """Why ``deployment`` needs a new model (its latest job's drift is in alert, or its live metric
    dropped past the gate's max_drop), or None. The verdicts are `monitor`'s (monitoring.monitor).

    A deployment that does not exist yet but that a deploy stage of ``p`` makes needs its first model:
    the README's cron line (`--when-drift DEP` from the first hour) used to fail with 'unknown
    deployment' every hour, so nothing was ever deployed."""
    from mlops_tui.monitoring.monitor import monitor
    from mlops_tui.store import NotFoundError

    try:
        ws.store.models.deployment(deployment)
    except NotFoundError:
        makers = [s.name for s in (p.stages if p else []) if s.kind == "deploy" and s.options["name"] == deployment]
        if makers:
            return f"no deployment {deployment} yet (stage {makers[0]} makes it)"
        named = sorted({str(s.options["name"]) for s in (p.stages if p else []) if s.kind == "deploy"})
        raise UserError(f"--when-drift {deployment}: unknown deployment, and no deploy stage of "
                        f"pipeline {p.name if p else '?'} makes it"
                        + (f" (its deploy stages make: {', '.join(named)})" if named else "")) from None

    summary = monitor(ws, deployment)
    if summary.status == "alert":
        return f"drift alert on {deployment}"
    if summary.performance_status == "alert":
        return f"live {summary.primary_metric} of {deployment} dropped past the gate"
    return None


Progress = Callable[[StageResult], None]


def _live(runs: list[PipelineRun]) -> list[PipelineRun]:
    """The runs recorded as running whose process is alive on this host (another host's cannot be checked)."""
    host = socket.gethostname()
    return [r for r in runs if r.status == "running" and r.host == host and alive(r.pid)]


def _holder(running: list[PipelineRun]) -> PipelineRun | None:
    """The run of another live process on this host among runs recorded as running: it holds the pipeline."""
    return next((r for r in _live(running) if r.pid != os.getpid()), None)


def _already_running(p: Pipeline, holder: PipelineRun) -> str:
    return f"pipeline {p.name} is already running (run {holder.run_id}, pid {holder.pid})"


def last_status(ws: Workspace, name: str) -> str | None:
    """How pipeline ``name``'s latest run ended, None when it never ran. A run recorded as running
    reads ``running`` while its process lives (or on another host, which cannot be checked) and
    ``interrupted`` once it died (it read 'running' for good after a kill -9); runs skipped after it
    (cron's next hours while it ran) do not hide it."""
    runs = ws.store.pipelines.list(name, limit=50)
    if not runs:
        return None
    held = next((r for r in runs if r.status != "skipped"), None)
    if held is not None and held.status == "running":
        return "running" if held.host != socket.gethostname() or alive(held.pid) else "interrupted"
    return runs[0].status


def run(ws: Workspace, p: Pipeline, *, force: str | None = None, when_drift: str | None = None,
        on_stage: Progress | None = None) -> PipelineResult:
    """Run ``p``: skip what is fresh, stop at a refusal or a failure; everything is recorded."""
    _check_force(p, force)
    store = ws.store.pipelines
    active = store.list(p.name, status="running")
    host = socket.gethostname()
    trigger = "when-drift" if when_drift is not None else "manual"
    holder = _holder(active)
    if holder:  # cron started it again before the last run ended: that run brings the stages up to date
        return _skipped(ws, p, _already_running(p, holder), trigger)
    drifted = None
    if when_drift is not None:
        drifted = drift_reason(ws, when_drift, p)
        if drifted is None:
            return _skipped(ws, p, f"no drift on {when_drift}", "when-drift")
    check_inputs(p)
    run_id = uuid.uuid4().hex[:10]
    obj = f"pipeline:{p.name}"
    # _holder is asked again where one process writes at a time: of two started at once, one runs
    holder = store.start(
        run_id=run_id, pipeline=p.name, file=str(p.file), trigger="when-drift" if drifted else "manual",
        pid=os.getpid(), host=host, unless=_holder,
        interrupted=tuple(r.run_id for r in active if r.host == host and not alive(r.pid)),
        audit=("pipeline run", obj, "started", {"run_id": run_id, "file": str(p.file), "force": force,
                                               "when_drift": drifted}))
    if holder:
        return _skipped(ws, p, _already_running(p, holder), trigger)
    h = _History.of(ws, p.name)
    hashes = FileHashes(ws.root)
    up: dict[str, dict[str, Any]] = {}
    results: list[StageResult] = []
    stopped: str | None = None
    try:
        for position, s in enumerate(p.stages):
            record: dict[str, Any] = {"run_id": run_id, "stage": s.name, "kind": s.kind, "position": position}
            if stopped:
                res = StageResult(s.name, s.kind, "not run", f"after {stopped}")
                store.put_stage(**record, status=res.status, reason=res.reason)
            else:
                res = _one(ws, p, s, h, hashes, up, record, force, on_stage)
                up[s.name] = res.outputs
                if res.status in ("refused", "failed"):
                    stopped = f"{s.name} {res.status}"
            results.append(res)
            if on_stage:
                on_stage(res)
    except BaseException:  # Ctrl-C or a bug: the run is over; its finished stages stay recorded
        store.finish(run_id, "failed", ("pipeline run", obj, "failed", {"run_id": run_id}))
        raise
    finally:
        hashes.save()
    status = next((r.status for r in results if r.status in ("refused", "failed")), "ok")
    store.finish(run_id, status, ("pipeline run", obj, status,
                                  {"run_id": run_id, "stages": {r.name: r.status for r in results}}))
    return PipelineResult(p.name, str(p.file), run_id, status, results)


def _one(ws: Workspace, p: Pipeline, s: Stage, h: _History, hashes: FileHashes, up: dict[str, dict[str, Any]],
         record: dict[str, Any], force: str | None, on_stage: Progress | None) -> StageResult:
    """Skip or run one stage, recording it before and after."""
    store = ws.store.pipelines
    inputs = inputs_of(ws, p, s, up, hashes)
    fp = fingerprint(inputs)
    fresh, why = decide(h, p, s, inputs, s.name == force)
    if fresh:
        kept = h.done[s.name].outputs
        store.put_stage(**record, status="skipped", reason=why, fingerprint=fp, inputs=inputs, outputs=kept)
        return StageResult(s.name, s.kind, "skipped", why, outputs=kept)
    store.put_stage(**record, status="running", reason=why, fingerprint=fp, inputs=inputs, pid=os.getpid(),
                    started=True)
    if on_stage:
        on_stage(StageResult(s.name, s.kind, "running", why))
    started = time.monotonic()
    outputs: dict[str, Any] = {}
    cut = h.latest.get(s.name)
    if not (why.startswith("interrupted in run") and cut is not None and cut.fingerprint == fp):
        cut = None
    try:
        resumed = kinds.RESUME[s.kind](ws, p, s, up, cut) if cut is not None and s.kind in kinds.RESUME else None
        outputs = resumed if resumed is not None else kinds.RUN[s.kind](ws, p, s, up)
        status, reason = "ran", why if resumed is None else f"{why}; continued its run {resumed.get('run_id')}"
    except PolicyRefused as exc:
        status, reason = "refused", str(exc)
    except UserError as exc:
        status, reason = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - a stage's unexpected error fails the stage, in one line
        status, reason = "failed", f"{type(exc).__name__}: {exc}"
    except BaseException:
        store.put_stage(**record, status="failed", reason="interrupted", fingerprint=fp, inputs=inputs,
                        pid=os.getpid(), ended=True)
        raise
    seconds = round(time.monotonic() - started, 3)
    outcome = {"ran": "ok"}.get(status, status)
    store.put_stage(**record, status=status, reason=reason, fingerprint=fp, inputs=inputs, outputs=outputs,
                    pid=os.getpid(), ended=True,
                    audit=("pipeline stage", f"pipeline:{p.name}/{s.name}", outcome,
                           {"run_id": record["run_id"], "kind": s.kind, "reason": reason, "outputs": outputs,
                            "seconds": seconds}))
    return StageResult(s.name, s.kind, status, reason, seconds, outputs)


def _skipped(ws: Workspace, p: Pipeline, reason: str, trigger: str) -> PipelineResult:
    """A run with nothing to do (--when-drift without drift, or the pipeline already running): one run
    record (so cron's checks show in `audit`), no stage ran, status ``skipped``."""
    run_id = uuid.uuid4().hex[:10]
    store = ws.store.pipelines
    store.start(run_id=run_id, pipeline=p.name, file=str(p.file), trigger=trigger, pid=os.getpid(),
                host=socket.gethostname())
    store.finish(run_id, "skipped", ("pipeline run", f"pipeline:{p.name}", "skipped",
                                     {"run_id": run_id, "reason": reason}))
    return PipelineResult(p.name, str(p.file), run_id, "skipped",
                          [StageResult(s.name, s.kind, "skipped", reason) for s in p.stages])


def check_inputs(p: Pipeline) -> None:
    """Refuse a run whose declared input files are not there, before anything is recorded: a data
    stage's ``path`` (or a glob that matches nothing), a tune stage's ``space``, a score stage's
    ``inputs`` (unless another score stage of the pipeline writes it). One line naming the file,
    pipeline, stage and key, as for any other problem of the file."""
    made = {str(p.path(str(s.options["output"]))) for s in p.stages if s.kind == "score"}
    for s in p.stages:
        for written, matches in kinds.input_files(p, s):
            full = str(p.path(written))
            if full in made or (matches and all(os.path.exists(m) for m in matches)):
                continue
            what = f"no file matches {written}" if not matches else f"no such file {written} ({full})"
            raise UserError(f"{p.file}: pipeline {p.name}, stage {s.name}, key {kinds.INPUT_KEY[s.kind]}: {what}")


def load(ws_root: Path, file: str | None, name: str | None) -> Pipeline:
    """Find and check the pipeline file (see :mod:`mlops_tui.pipelines.spec`)."""
    from mlops_tui.pipelines import spec

    return spec.load(spec.find_file(ws_root, file, last_run=lambda: last_file(ws_root)), name)


def last_file(ws_root: Path) -> str | None:
    """The pipeline file of the workspace's latest pipeline run, if it ran one."""
    from mlops_tui.workspace import Workspace

    ws = Workspace(ws_root)
    if not ws.store_path.exists():
        return None
    runs = ws.store.pipelines.list(limit=1)
    return runs[0].file if runs else None
