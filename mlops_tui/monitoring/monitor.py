"""Watching deployments: drift per scoring job and live performance from late labels.

* :func:`monitor` — a deployment's jobs over time, each with its drift status and features worst
  first (the statistics are measured while scoring, :mod:`mlops_tui.serving.drift`), plus the live
  performance recorded by :func:`feedback`.
* :func:`feedback` — joins labels that arrived later to the rows a deployment scored (by an id
  column the scoring output carried through: the model's id columns or any ``score --keep``
  column), computes the task's metrics per job and alerts when the primary metric is worse than
  the model's holdout figure by more than the gate's ``max_drop`` allows.

Retraining a deployment's model on new data is :mod:`mlops_tui.monitoring.retrain`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.errors import UserError
from mlops_tui.registry import models as registry
from mlops_tui.registry.gate import DropNoise, drop_limit
from mlops_tui.results import JsonDict, Result
from mlops_tui.serving.drift import sort_worst, thresholds
from mlops_tui.training.metrics import Metrics
from mlops_tui.training.signature import Signature

if TYPE_CHECKING:
    import numpy as np

    from mlops_tui.store import DriftResult, Feedback, ModelVersion, ScoringJob
    from mlops_tui.workspace import Workspace


@dataclass(frozen=True)
class FeatureDrift(Result):
    """One feature (or ``__prediction__``) of a scoring job against the model's reference."""

    feature: str
    kind: str
    status: str
    psi: float | None
    ks_stat: float | None
    ks_pvalue: float | None
    null_rate_ref: float | None
    null_rate_cur: float | None
    new_categories: int | None
    ref_mean: float | None
    cur_mean: float | None
    note: str | None = None  # a date part compared where the job's window of time falls (serving.drift_calendar)
    # The smallest p of the tests that may call the difference certain (KS, the chi-square of the bins or
    # categories): the figure behind a status. MplsStops' later stops warned on long with a KS p of 0.12
    # shown beside it; the bins' chi-square (p < 0.001 over 11,148 rows) had decided.
    pvalue: float | None = None


@dataclass(frozen=True)
class Performance(Result):
    """The latest feedback of a job: live metrics (with their ``comparison`` as stored)."""

    status: str
    rows_matched: int
    metrics: JsonDict
    at: datetime


@dataclass(frozen=True)
class JobHealth(Result):
    """A scoring job of a deployment: drift status, features worst first, live performance."""

    job_id: str
    kind: str
    created_at: datetime
    model: str
    job_status: str
    rows: int | None
    status: str | None
    prediction_drift: float | None
    drift: tuple[FeatureDrift, ...]
    worst: tuple[str, ...]
    performance: Performance | None
    warnings: tuple[str, ...]
    error: str | None


@dataclass(frozen=True)
class FeatureAlerts(Result):
    feature: str
    jobs: int


@dataclass(frozen=True)
class DeploymentHealth(Result):
    """:func:`monitor`'s answer: the deployment's model, latest statuses, and its jobs newest first."""

    deployment: str
    model: str
    version: int
    holdout_metrics: Metrics
    primary_metric: str | None
    status: str | None
    performance_status: str | None
    thresholds: dict[str, float]
    alerting_features: tuple[FeatureAlerts, ...]
    jobs: tuple[JobHealth, ...]


def _drift_row(r: DriftResult, unseen: dict[str, int]) -> FeatureDrift:
    new = r.new_categories
    if r.kind == "categorical" and r.feature in unseen:
        new = unseen[r.feature]  # the scorer's exact count beats the tracker's estimate
    return FeatureDrift(r.feature, r.kind, r.status, r.psi, r.ks_stat, r.ks_pvalue, r.null_rate_ref,
                        r.null_rate_cur, new, r.details.get("ref_mean"), r.details.get("cur_mean"),
                        r.details.get("note"),
                        min((p for p in (r.ks_pvalue, r.details.get("chi2_pvalue")) if p is not None), default=None))


def _performance(fb: Feedback | None) -> Performance | None:
    if fb is None:
        return None
    return Performance(fb.status, fb.rows_matched, fb.metrics, fb.created_at)


def monitor(ws: Workspace, deployment: str, *, limit: int = 50) -> DeploymentHealth:
    """Jobs of ``deployment`` newest first with drift (worst features first) and live performance."""
    dep = registry.get_deployment(ws, deployment)
    model = ws.store.models.get(dep.model_name, dep.model_version)
    jobs = ws.store.jobs.list(deployment=dep.name, limit=limit)
    drift = ws.store.jobs.drift([j.job_id for j in jobs]) if jobs else {}
    latest_fb: dict[str, Feedback] = {}
    for fb in ws.store.jobs.feedback(dep.name):  # oldest first: later feedback wins
        if fb.job_id:
            latest_fb[fb.job_id] = fb
    rows: list[JobHealth] = []
    alerts: Counter[str] = Counter()
    for j in jobs:
        results = sort_worst(drift.get(j.job_id, []))
        features = tuple(_drift_row(r, j.unseen) for r in results)
        for r in results:
            if r.status == "alert":
                alerts[r.feature] += 1
        rows.append(JobHealth(
            j.job_id, j.kind, j.created_at, f"{j.model_name}:{j.model_version}", j.status, j.rows_out,
            j.drift_status, j.prediction_drift, features,
            tuple(f.feature for f in features if f.status in ("warn", "alert"))[:5],
            _performance(latest_fb.get(j.job_id)), tuple(j.warnings), j.error))
    measured = [r for r in rows if r.status]
    perf = [r.performance for r in rows if r.performance]
    return DeploymentHealth(
        dep.name, model.name, model.version, model.metrics or {}, (model.metrics or {}).get("primary_metric"),
        status=measured[0].status if measured else None,
        performance_status=perf[0].status if perf else None,
        thresholds=thresholds(ws),
        alerting_features=tuple(FeatureAlerts(f, n) for f, n in alerts.most_common()),
        jobs=tuple(rows))


def pick_job(summary: DeploymentHealth, prefix: str) -> JobHealth:
    """The job of a :func:`monitor` summary whose id starts with ``prefix`` (UserError otherwise)."""
    found = [j for j in summary.jobs if j.job_id.startswith(prefix)]
    if len(found) == 1:
        return found[0]
    if found:
        raise UserError(f"job id prefix {prefix!r} is ambiguous ({len(found)} jobs of {summary.deployment!r})")
    raise UserError(f"no job {prefix!r} among the {len(summary.jobs)} latest job(s) of {summary.deployment!r}")


# -- feedback --------------------------------------------------------------------------------------
def _prediction_columns(sig: Signature) -> list[str]:
    if sig.task == "regression":
        return ["prediction"]
    return [f"proba_{c}" for c in sig.classes]


def _pred_array(frame: pl.DataFrame, sig: Signature) -> Any:
    if sig.task == "regression":
        return frame["prediction"].to_numpy()
    if sig.task == "binary":
        return frame[f"proba_{sig.classes[1]}"].to_numpy()
    return frame.select(_prediction_columns(sig)).to_numpy()


@dataclass(frozen=True)
class Comparison(Result):
    """The live primary metric against the model's holdout figure: ``alert`` when the live metric is
    worse than the gate's max_drop allows beyond the noise of the live sample (``noise``: the
    bootstrap interval of the drop over the labelled rows; the drop's low end must be past ``limit``)."""

    metric: str | None
    live: float | None
    holdout: float | None
    drop: float | None
    limit: float
    status: str
    noise: DropNoise | None = None
    too_few: bool = False  # fewer than MIN_LABELLED rows: a drop past the limit is not an alert


# Fewer labelled rows than this cannot tell a model's drop from chance: the bootstrap resamples the
# same handful (carData Arrests: 3 rows served, one misordered pair, roc_auc 0.0 "vs holdout 0.73"
# and an interval of [0.73, 0.73]) and the deployment's feedback alerted on them.
MIN_LABELLED = 20


@dataclass(frozen=True)
class JobFeedback(Result):
    job_id: str
    model: str
    rows_matched: int
    metrics: Metrics
    comparison: Comparison
    status: str


@dataclass(frozen=True)
class FeedbackReport(Result):
    """:func:`feedback`'s answer: what matched, metrics over the rows the deployment's current model
    scored (with their ``comparison`` to its holdout; empty and None when no job of it matched) and
    per job (each against the holdout of the model that scored it)."""

    deployment: str
    model: str
    rows_matched: int
    labels: int
    labels_matched: int
    unlabelled: int  # rows of the labels file without a label (not counted in ``labels``)
    jobs_matched: int
    metrics: Metrics
    comparison: Comparison | None
    status: str
    jobs: tuple[JobFeedback, ...]
    warnings: tuple[str, ...] = ()


def _compare(model: ModelVersion, sig: Signature, y: np.ndarray, pred: np.ndarray, metrics: Metrics,
             policy: JsonDict) -> Comparison:
    """The live metric (``metrics``, of predictions ``pred`` for labels ``y``) against the holdout's.

    A batch of 200 labelled rows measures an rmse or AUC with an error of its own: without allowing
    for it, any same-distribution batch alerted about half the time. The drop is bootstrapped over the
    live rows, and alerts only when even its low end is past the gate's max_drop."""
    from mlops_tui import stats
    from mlops_tui.training import metrics as mx

    holdout = model.metrics or {}
    primary = holdout.get("primary_metric")
    live, ref = metrics.get(primary) if primary else None, holdout.get(primary) if primary else None
    if primary is None or live is None or ref is None:
        return Comparison(primary, live, ref, None, 0.0, "ok")
    limit = drop_limit(policy, primary, ref)  # the gate's rule: relative for metrics in target units
    threshold = mx.decision_threshold(holdout)
    if len(y) < MIN_LABELLED:
        return Comparison(primary, live, ref, mx.worse_by(primary, live, ref), limit, "ok", too_few=True)

    def drop_on(rows: np.ndarray) -> float | None:
        value = mx.score(sig.task, primary, y[rows], pred[rows], list(sig.classes), threshold)
        return None if value is None else mx.worse_by(primary, value, ref)

    bounds = stats.bootstrap_interval(drop_on, len(y))
    noise = None if bounds is None else DropNoise(bounds[0], bounds[1], len(y), paired=False)
    drop = mx.worse_by(primary, live, ref)
    return Comparison(primary, live, ref, drop, limit, "alert" if (noise.low if noise else drop) > limit else "ok",
                      noise)


def _too_few(what: str, cmp: Comparison, rows: int) -> list[str]:
    """The note of a drop past the limit that too few rows measured (none for a live figure as good)."""
    if not cmp.too_few or cmp.drop is None or cmp.drop <= cmp.limit:
        return []
    return [f"{what}: {cmp.metric} {cmp.live:.4g} vs {cmp.holdout:.4g} on the holdout, on {rows} labelled row(s): "
            f"too few to tell from chance, so not an alert (at least {MIN_LABELLED})"]


def _labels(path: str, id_column: str, label_column: str) -> tuple[pl.DataFrame, int]:
    """(``__id`` (text) and ``__label`` of every labelled row, the last label of an id winning;
    how many rows had no label).

    Read like ``dataset add`` reads a file (:func:`mlops_tui.data.readers.collect`): an id column that
    turns into text past the rows its type was inferred from is read again with every row inferred.
    """
    from mlops_tui.data import readers

    def query(lf: pl.LazyFrame) -> pl.LazyFrame:
        names = lf.collect_schema().names()
        for col, what in ((id_column, "id column"), (label_column, "label column")):
            if col not in names:
                raise UserError(f"labels file {path} has no {what} {col!r} (columns: {', '.join(names)})")
        return lf.select(pl.col(id_column).cast(pl.String).alias("__id"), pl.col(label_column).alias("__label"))

    rows = readers.collect(path, query)
    labelled = (rows.filter(pl.col("__id").is_not_null() & pl.col("__label").is_not_null())
                .unique("__id", keep="last", maintain_order=True))
    return labelled, rows["__label"].null_count()


def _latest_requests(joined: pl.DataFrame, job: ScoringJob, id_column: str) -> tuple[pl.DataFrame, str | None]:
    """The matched rows of an online window with an id requested again with other values kept at
    its latest request, and a warning saying so (None when no id was).

    A service's client sends a case again once its values changed (a corrected form, an updated
    application); the label that arrives later is about the case as it was last scored. Refusing
    instead (as :func:`_check_rows_named` must for a batch file) blocked `feedback` for the whole
    deployment for good: a served window cannot be scored again with another --keep."""
    outputs = [c for c in joined.columns if c not in ("__id", "__label")]
    differ = (joined.group_by("__id").agg(pl.any_horizontal(pl.col(outputs).n_unique() > 1).alias("__differ"))
              .filter(pl.col("__differ"))["__id"])
    if differ.len() == 0:
        return joined, None
    again = pl.col("__id").is_in(differ.implode())
    kept = pl.concat([joined.filter(~again), joined.filter(again).unique("__id", keep="last", maintain_order=True)])
    example = joined.filter(again)["__id"][0]
    return kept, (f"online window {job.job_id}: {differ.len():,} {id_column} value(s) were requested again with "
                  f"other values (e.g. {example!r}); each is labelled at its latest request")


def _check_rows_named(joined: pl.DataFrame, job: ScoringJob, id_column: str) -> None:
    """UserError when matched rows of one job that share an id were scored differently: they are
    different cases, a label cannot say which of them it is about, and giving it to all of them
    scores the model on made-up labels (gt pizzaplace's order `id`, 1 to 28 pizzas per order: 3,000
    scored pizzas labelled by order read accuracy 0.95 and alerted, where the pizza-by-pizza labels
    give 1.0). The same row scored twice (a repeated row, a retried request) shares its label."""
    outputs = [c for c in joined.columns if c not in ("__id", "__label")]
    shared = (joined.group_by("__id", maintain_order=True)
              .agg(pl.len().alias("__rows"), pl.any_horizontal(pl.col(outputs).n_unique() > 1).alias("__differ"))
              .filter(pl.col("__differ")))
    if shared.height:
        example, rows = shared["__id"][0], shared["__rows"][0]
        raise UserError(f"{id_column!r} does not tell rows apart: {shared['__rows'].sum():,} of the {joined.height:,} "
                        f"labelled rows of job {job.job_id} share their {id_column} with a row scored differently "
                        f"(e.g. {example!r}, {rows} rows); join on a column with one value per row (score --keep it)")


def _scored(ws: Workspace, job: ScoringJob, id_column: str, sig: Signature) -> pl.LazyFrame | None:
    if job.status != "succeeded" or not job.output:
        return None
    path = Path(job.output) if Path(job.output).is_absolute() else ws.abspath(job.output)
    if not path.exists():
        return None
    # A CSV output (`score --output x.csv`) is read as written: ids as text, like a Parquet output's
    # ids cast to text.
    lf = pl.scan_csv(path, infer_schema=False) if path.suffix.lower() == ".csv" else pl.scan_parquet(path)
    names = lf.collect_schema().names()
    cols = _prediction_columns(sig)
    if id_column not in names or any(c not in names for c in cols):
        return None
    return lf.select(pl.col(id_column).cast(pl.String).alias("__id"),
                     *(pl.col(c).cast(pl.Float64) for c in cols))


def feedback(ws: Workspace, deployment: str, labels_path: str, *, id_column: str,
             label_column: str | None = None) -> FeedbackReport:
    """Join labels to every scored job of ``deployment``; metrics per job and over all matched rows."""
    from mlops_tui.training import metrics as task_metrics
    from mlops_tui.training.prep import labels as encode_labels

    dep = registry.get_deployment(ws, deployment)
    current = ws.store.models.get(dep.model_name, dep.model_version)
    sig = Signature.from_json(current.signature)
    label_column = label_column or sig.target
    lab, unlabelled = _labels(labels_path, id_column, label_column)
    if lab.height == 0:
        raise UserError(f"labels file {labels_path} has no rows with both {id_column!r} and {label_column!r}")
    if sig.task == "regression" and lab.schema["__label"] == pl.String:  # a value that is not a number
        numbers = lab["__label"].str.strip_chars().cast(pl.Float64, strict=False)
        text = lab.filter(numbers.is_null())
        if text.height:
            raise UserError(f"labels file {labels_path}: {label_column!r} should hold numbers but has text, "
                            f"e.g. {text['__label'][0]!r} ({id_column} {text['__id'][0]})")
        lab = lab.with_columns(numbers.alias("__label"))
    elif sig.task != "regression":
        lab = lab.with_columns(pl.col("__label").cast(pl.String))
        known = {str(c) for c in sig.classes}
        unknown = lab.filter(~pl.col("__label").is_in(list(known)))
        if unknown.height:
            raise UserError(f"labels file {labels_path}: {label_column!r} has values the model does not know, "
                            f"e.g. {unknown['__label'][0]!r} (classes: {', '.join(sorted(known))})")
    policy = ws.gate_policy()
    jobs = ws.store.jobs.list(deployment=dep.name)
    per_job: list[JobFeedback] = []
    pooled: list[pl.DataFrame] = []
    matched_ids: set[str] = set()  # a label can match rows of several jobs (a file scored twice)
    warnings: list[str] = []
    usable = 0
    for job in reversed(jobs):  # oldest first
        model = ws.store.models.get(job.model_name, job.model_version)
        jsig = Signature.from_json(model.signature)
        scored = _scored(ws, job, id_column, jsig)
        if scored is None:
            continue
        usable += 1
        joined = scored.join(lab.lazy(), on="__id", how="inner", maintain_order="left").collect()
        if joined.height == 0:
            continue
        if job.kind == "online":
            joined, note = _latest_requests(joined, job, id_column)
            warnings += [note] if note else []
        _check_rows_named(joined, job, id_column)
        matched_ids.update(joined["__id"].to_list())
        y, pred = encode_labels(jsig, joined["__label"]), _pred_array(joined, jsig)
        m = task_metrics.compute(jsig.task, y, pred, list(jsig.classes), task_metrics.decision_threshold(model.metrics))
        cmp = _compare(model, jsig, y, pred, m, policy)
        per_job.append(JobFeedback(job.job_id, model.ref, joined.height, m, cmp, cmp.status))
        warnings += _too_few(f"job {job.job_id} ({model.ref})", cmp, joined.height)
        # Only the current model's rows measure it: another version's predictions against its holdout
        # alerted on airquality after a retrain (rmse 21.4 of version 1 "vs holdout 12.3" of version 2).
        if model.ref == current.ref:
            pooled.append(joined)
    if usable == 0:
        raise UserError(f"no scoring output of deployment {dep.name!r} carries the id column {id_column!r}; "
                        f"score files that include it with --keep {id_column} (the deployment keeps: "
                        f"{', '.join(dep.keep) or 'nothing'}; the model's id columns: {', '.join(sig.id_columns) or 'none'})")
    rows_matched = sum(j.rows_matched for j in per_job)
    if rows_matched == 0:
        raise UserError(f"no label in {labels_path} matched a scored row of {dep.name!r} on {id_column!r} "
                        f"({lab.height} labels, {usable} job output(s))")
    overall: Metrics = {}
    comparison = None
    if pooled:
        allrows = pl.concat(pooled)
        y, pred = encode_labels(sig, allrows["__label"]), _pred_array(allrows, sig)
        overall = task_metrics.compute(sig.task, y, pred, list(sig.classes), task_metrics.decision_threshold(current.metrics))
        comparison = _compare(current, sig, y, pred, overall, policy)
        warnings += _too_few(f"{current.ref} (the deployed model)", comparison, allrows.height)
    for j in per_job:  # written only once everything was computed: bad input leaves no trace
        ws.store.jobs.add_feedback(feedback_id=uuid.uuid4().hex[:12], deployment=dep.name, job_id=j.job_id,
                                   rows_matched=j.rows_matched, metrics={**j.metrics, "comparison": j.comparison.to_json()},
                                   status=j.status)
    alert = any(j.status == "alert" for j in per_job) or (comparison is not None and comparison.status == "alert")
    result = FeedbackReport(dep.name, current.ref, rows_matched, lab.height, len(matched_ids), unlabelled,
                            len(per_job), overall, comparison, "alert" if alert else "ok", tuple(per_job),
                            tuple(warnings))
    ws.store.audit.record("feedback", f"deployment:{dep.name}", "ok",
                          {"labels": str(labels_path), "rows_matched": rows_matched, "status": result.status})
    return result

