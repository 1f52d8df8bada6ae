"""What each kind of stage does: the existing commands, called with the stage's options.

Each function takes the workspace, the pipeline, the stage and the outputs of the stages it
refers to (``up``: stage name -> outputs), and returns the stage's own outputs: the objects it
made, by reference (dataset version, run id, model version, deployment, job id). Those outputs
feed the next stages and, recorded, let a later run skip this one. Heavy libraries load only here,
inside the functions, so a run that skips every stage never pays for them.

A stage fails with :class:`UserError` (the command's own one-line message) and is refused with
:class:`PolicyRefused` (the gate said no).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import PolicyRefused, UserError

if TYPE_CHECKING:
    from mlops_tui.pipelines.spec import Pipeline, Stage
    from mlops_tui.registry.gate import Verdict
    from mlops_tui.store import ModelVersion, PipelineStage, Run
    from mlops_tui.workspace import Config, Workspace

Outputs = dict[str, Any]
Upstream = dict[str, Outputs]


def _model(stage: Stage, up: Upstream) -> str:
    return str(up[stage.refs("model")[0]]["model"])


def _data(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    """Register the file as a dataset version, after checking it against the latest version's contract."""
    from mlops_tui.data import datasets, validation

    o = s.options
    path = str(p.path(o["path"]))
    name = o.get("name") or datasets.default_name(path)
    warnings: list[str] = []
    if ws.store.datasets.versions(name):
        check = validation.validate(ws, name, path)
        if not check.ok:
            more = f" (+{len(check.problems) - 1} more)" if len(check.problems) > 1 else ""
            raise UserError(f"{o['path']} does not match {check.ref}: {check.problems[0]}{more}")
        warnings = [f"{o['path']}: {w}" for w in check.warnings]
    cats = o.get("categorical")
    dv, _, added = datasets.add_with_warnings(ws, path, name=name, target=o.get("target"),
                                              description=o.get("description"),
                                              categorical=[cats] if isinstance(cats, str) else cats)
    # What `dataset validate` and `dataset add` would have warned a person of (a column 14 % missing
    # where the last version had none) reaches a cron job's JSON and log too, not only the terminal.
    return {"dataset": dv.ref, "rows": dv.rows, **({"warnings": warnings + added} if warnings or added else {})}


def _tune(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    from mlops_tui.training import tuning

    o = s.options
    trials = o.get("trials", None if "timeout" in o else 20)
    opts = tuning.TuneOptions(dataset=up[o["data"]]["dataset"], target=o.get("target"), task=o.get("task"),
                              metric=o.get("metric"), trials=trials, timeout=o.get("timeout"), jobs=o.get("jobs"),
                              seed=o.get("seed", 0), split_seed=o.get("split_seed"),
                              time_column=o.get("time_column"), group_column=o.get("group_column"),
                              space_file=str(p.path(o["space"])) if "space" in o else None, name=o.get("name"),
                              threshold_for=o.get("threshold_for"))
    return _tune_outputs(tuning.start(ws, opts, detach=False))


def _tune_outputs(run: Run) -> Outputs:
    if run.status != "completed" or not run.model_name:
        raise UserError(f"tuning run {run.run_id} ended {run.status}" + (f": {run.error}" if run.error else ""))
    return {"run_id": run.run_id, "model": f"{run.model_name}:{run.model_version}", "metric": run.metric,
            "best_value": run.best_value}


def _resume_tune(ws: Workspace, p: Pipeline, s: Stage, up: Upstream, cut: PipelineStage) -> Outputs | None:
    """The tuning run a killed tune stage left (this host, the stage's process, its dataset, made after
    the stage started), continued rather than begun again: its trials are kept (the study goes on, trial
    numbers continue) and no dead run is left beside a new one. A run that had completed hands on its
    model. None when there is no such run (killed before it was made): the stage then starts afresh."""
    import socket

    from mlops_tui.training import tuning

    tuning.sweep(ws)  # the dead process's run: failed, so it can be resumed
    dataset = up[s.options["data"]]["dataset"]
    left = [r for r in ws.store.runs.list(dataset=dataset.rsplit(":", 1)[0])
            if r.pid == cut.pid and r.host == socket.gethostname() and f"{r.dataset}:{r.dataset_version}" == dataset
            and cut.started_at is not None and r.created_at >= cut.started_at]
    if not left:
        return None
    run = left[0]  # newest first
    if run.status == "completed" and run.model_name:
        return {**_tune_outputs(run), "resumed": True}
    if run.status not in ("failed", "stopped"):
        return None
    return {**_tune_outputs(tuning.resume(ws, run.run_id, detach=False)), "resumed": True}


def _evaluate(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    from mlops_tui.evaluation.evaluate import evaluate_model

    model = _model(s, up)
    results = []
    for ref in s.refs("data"):
        res = evaluate_model(ws, model, up[ref]["dataset"])
        primary = res.holdout_metrics.get("primary_metric")
        results.append({"dataset": up[ref]["dataset"], "eval_id": res.eval_id, "metric": primary,
                        "value": res.metrics.get(primary) if primary else None})
    return {"model": model, "evaluations": results}


def gate_policy(ws: Workspace, s: Stage) -> Config:
    """A gate stage's thresholds merged over the workspace's [gate] policy (light: no gate import,
    so fingerprinting a gate stage stays cheap)."""
    return ws.gate_policy({k: v for k, v in s.options.items() if k not in ("model", "after")})


def _deployment_of(p: Pipeline, s: Stage) -> str | None:
    """The deployment a deploy stage of the same model makes (the gate's champion is what it serves)."""
    return next((d.options["name"] for d in p.stages if d.kind == "deploy" and d.refs("model") == s.refs("model")),
                None)


def verdict(ws: Workspace, model: ModelVersion, deployment: str | None, policy: Config) -> Verdict:
    """The gate on ``model`` against its champion (the deployment's model, else ``production``).

    Both are scored on the rows of the model's holdout the champion never learnt from, as `retrain`
    compares them: their stored holdout figures come from different rows once the data changed (a
    332-row MASS Pima.te model's 67 holdout rows said 0.89 AUC; on rows it never saw it scored 0.85),
    so a pipeline refused nearly every model of a grown dataset. The stored figures serve only when
    there are no such rows (no holdout file, the champion's run or rows unknown, a class it never saw)."""
    import dataclasses

    from mlops_tui.monitoring.retrain import lost_classes
    from mlops_tui.registry.models import champion_of

    champion = champion_of(ws, model, deployment=deployment)
    judged = _verdict(ws, model, champion, policy)
    if champion is not None and (lost := lost_classes(champion, model)):  # what `retrain` refuses too
        return dataclasses.replace(judged, passed=False, reasons=(*judged.reasons, lost))
    return judged


def _verdict(ws: Workspace, model: ModelVersion, champion: ModelVersion | None, policy: Config) -> Verdict:
    from mlops_tui.registry import gate

    holdout = ws.run_dir(model.run_id) / "holdout.parquet" if model.run_id else None
    metric = (model.metrics or {}).get("primary_metric")
    if champion is not None and champion.run_id and holdout is not None and holdout.exists() and metric:
        import polars as pl

        from mlops_tui.monitoring import retrain
        from mlops_tui.store import NotFoundError

        try:
            run = ws.store.runs.get(champion.run_id)
            rows, unknown = retrain.unseen_by(ws, champion, run, pl.read_parquet(holdout))
            if unknown is None and rows.height:
                return retrain.judge(ws, model, champion, rows, metric, policy=policy).verdict
        except (UserError, NotFoundError):  # a class or run the champion lacks: its stored figures then
            pass
    return gate.check(ws, model, champion=champion, policy=policy)


def _gate(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    from mlops_tui.refs import resolve_model
    from mlops_tui.registry import gate

    model = resolve_model(ws, _model(s, up))
    policy = gate_policy(ws, s)
    # Against the model a deploy stage of it will replace, so the gate and the deploy never disagree.
    judged = verdict(ws, model, _deployment_of(p, s), policy)
    if not judged.passed:
        raise PolicyRefused(f"gate refused {model.ref}: {'; '.join(judged.reasons)}")
    # The rows both models were scored on, or None when their stored holdout figures were compared.
    shared = (judged.checks.get("max_drop", {}).get("noise") or {}).get("rows")
    return {"model": model.ref, "passed": True, "checks": gate.explain(judged.checks), "policy": policy,
            "compared_rows": shared}


def _promote(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    from mlops_tui.registry import models as registry

    res = registry.promote(ws, _model(s, up), s.options.get("alias", "production"))
    return {"model": f"{res.name}:{res.version}", "alias": res.alias}


def _deploy(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    """Deploy past the same policy its gate stage applied (the workspace's when it has none)."""
    from mlops_tui.refs import resolve_model
    from mlops_tui.registry import models as registry

    o = s.options
    policy = next((up[g]["policy"] for g in s.after if "policy" in up.get(g, {})), None)
    model = resolve_model(ws, _model(s, up))
    judged = verdict(ws, model, o["name"], ws.gate_policy() if policy is None else policy)
    dep = registry.deploy(ws, model.ref, o["name"], engine=o.get("engine"), verdict=judged,
                          output_dir=str(p.path(o["output_dir"])) if "output_dir" in o else None)
    return {"deployment": dep.name, "model": f"{dep.model_name}:{dep.model_version}", "engine": dep.engine}


def _score(ws: Workspace, p: Pipeline, s: Stage, up: Upstream) -> Outputs:
    from mlops_tui.serving import scoring

    o = s.options
    inputs = [str(p.path(i)) for i in ([o["inputs"]] if isinstance(o["inputs"], str) else o["inputs"])]
    keep = None if "keep" not in o else [o["keep"]] if isinstance(o["keep"], str) else list(o["keep"])
    job = scoring.score(ws, up[o["deployment"]]["deployment"], inputs, str(p.path(o["output"])), keep=keep)
    if job.status != "succeeded":
        raise UserError(f"scoring job {job.job_id} {job.status}: {job.error}")
    return {"job_id": job.job_id, "output": job.output, "rows": job.rows_out,
            "model": f"{job.model_name}:{job.model_version}"}


RUN: dict[str, Callable[[Workspace, Pipeline, Stage, Upstream], Outputs]] = {
    "data": _data, "tune": _tune, "evaluate": _evaluate, "gate": _gate, "promote": _promote,
    "deploy": _deploy, "score": _score}
# Per kind: continue what a stage killed mid-way left (its record ``cut``), or None to run it afresh.
RESUME: dict[str, Callable[[Workspace, Pipeline, Stage, Upstream, PipelineStage], Outputs | None]] = {
    "tune": _resume_tune}


INPUT_KEY = {"data": "path", "tune": "space", "score": "inputs"}  # the option naming a stage's input files


def input_files(p: Pipeline, s: Stage) -> list[tuple[str, list[str]]]:
    """(as written, matching files) for each file a stage reads: its content is part of its fingerprint."""
    import glob

    written: list[str] = []
    if s.kind == "data":
        written = [s.options["path"]]
    elif s.kind == "tune" and "space" in s.options:
        written = [s.options["space"]]
    elif s.kind == "score":
        written = [s.options["inputs"]] if isinstance(s.options["inputs"], str) else list(s.options["inputs"])
    out = []
    for text in written:
        full = str(p.path(text))
        out.append((text, sorted(glob.glob(full)) if any(c in text for c in "*?[") else [full]))
    return out


def output_files(p: Pipeline, s: Stage, outputs: Outputs) -> list[tuple[str, Path]]:
    """(as written, path) of the files a stage's last run made, from its declared options, so a
    moved or copied project checks its own copy: a score stage's output (the file its job named
    inside it when ``output`` is a folder). A stage whose output is gone runs again."""
    if s.kind != "score" or not outputs.get("output"):
        return []
    written, made = str(s.options["output"]), Path(outputs["output"]).name
    path = p.path(written)
    # As scoring reads --output: a folder gets a file named by the job (a Dask job's output is
    # itself a folder, named as written).
    if written.endswith(("/", os.sep)) or (path.is_dir() and made != path.name):
        return [(os.path.join(written, made), path / made)]
    return [(written, path)]
