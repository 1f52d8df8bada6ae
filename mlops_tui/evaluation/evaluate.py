"""Evaluation of a model on labelled rows, stored with its run or model.

`record_holdout` is the one entry point tuning calls after registering a model; `evaluate_model`
scores a registered model on another dataset version (`mlops-tui evaluate`). Both compute the
scalar metrics through :func:`mlops_tui.training.metrics.compute` (stored in the ``evaluations`` row, so
comparing runs reads no files) and the details (curves, confusion, importances, slices; see
:mod:`mlops_tui.evaluation.details`) into ``artifacts/reports/<eval_id>.json``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from mlops_tui.errors import UserError
from mlops_tui.evaluation.records import (  # re-exported: the reading side of evaluations
    META_KEYS,
    Details,
    details_for_run,
    holdout_evaluations,
    holdout_of_model,
    holdout_of_run,
    load_details,
)
from mlops_tui.results import Result
from mlops_tui.training.modelfile import atomic_write_bytes
from mlops_tui.training.signature import missing_named

if TYPE_CHECKING:
    import lightgbm as lgb
    import numpy as np

    from mlops_tui.store import Evaluation, ModelVersion
    from mlops_tui.training.metrics import Metrics
    from mlops_tui.training.signature import Signature
    from mlops_tui.workspace import Workspace

__all__ = ["META_KEYS", "check_frame", "details_for_run", "evaluate_frame", "evaluate_model",
           "holdout_evaluations", "holdout_of_model", "holdout_of_run", "labels_of", "load_details",
           "predict", "record_holdout"]



# -- scoring -------------------------------------------------------------------------------------
def check_frame(df: pl.DataFrame, sig: Signature, what: str) -> tuple[pl.DataFrame, list[str]]:
    """Refuse a frame without the target or features; drop unlabelled rows (with a warning)."""
    if sig.target not in df.columns:
        raise UserError(f"{what} has no target column {sig.target!r} (the model predicts it)")
    missing = [c for c in sig.source_columns if c not in df.columns]
    if missing:
        raise UserError(f"{what} is missing feature column(s) the model needs: "
                        f"{', '.join(missing_named(missing, df.schema, sig))}")
    warnings: list[str] = []
    unlabelled = df[sig.target].null_count()
    if unlabelled:
        df = df.filter(pl.col(sig.target).is_not_null())
        warnings.append(f"{unlabelled:,} row(s) without a {sig.target!r} value were left out")
    if df.height == 0:
        raise UserError(f"{what} has no rows with a {sig.target!r} value to evaluate on")
    return df, warnings


def labels_of(sig: Signature, target: pl.Series, what: str = "the data") -> np.ndarray:
    """Target values → class indices (classifiers, via the model's classes) or floats."""
    if sig.task == "regression":
        values = target.cast(pl.Float64, strict=False)
        if values.null_count() > target.null_count():
            bad = target.filter(values.is_null() & target.is_not_null())[0]
            raise UserError(f"target {sig.target!r} in {what} should be numeric but has {bad!r}")
        return values.to_numpy()
    import numpy as np

    lookup = {str(c): i for i, c in enumerate(sig.classes)}
    text = target.cast(pl.String).to_list()
    unknown = sorted({v for v in text if v not in lookup})
    if unknown:
        raise UserError(f"target {sig.target!r} in {what} has label(s) the model never saw: "
                        f"{', '.join(map(repr, unknown[:5]))} (model classes: {', '.join(lookup)})")
    return np.array([lookup[v] for v in text], dtype=np.int64)


def predict(booster: lgb.Booster, X: np.ndarray) -> np.ndarray:
    """Positive-class probability (binary), class probabilities (multiclass) or values."""
    import numpy as np

    return np.asarray(booster.predict(X))


def scalar_metrics(task: str, y: np.ndarray, pred: np.ndarray, classes: list[str],
                   threshold: float) -> Metrics:
    from mlops_tui.training import metrics

    return metrics.compute(task, y, pred, classes=classes or None, threshold=threshold)


# holdout_hash's scheme, its prefix: trained_rows.stable_hash, the same in every Polars version. A
# fingerprint without a prefix was made with Polars' hash_rows (the same within one Polars version):
# such old records are compared with one another only (:func:`same_holdout`).
HOLDOUT_STABLE = "s1:"


def holdout_hash(df: pl.DataFrame) -> str:
    """Order-independent fingerprint of the evaluated rows, all columns by name (same holdout → same
    hash, in any version of Polars): ``s1:`` and 16 hex digits."""
    import numpy as np

    from mlops_tui.training.trained_rows import stable_hash

    rows = np.sort(stable_hash(df.select(sorted(df.columns))).to_numpy())
    return HOLDOUT_STABLE + hashlib.sha256(rows.tobytes()).hexdigest()[:16]


def same_holdout(a: str | None, b: str | None) -> bool | None:
    """Whether two stored holdout fingerprints name the same rows; None when it cannot be told (one is
    missing, or they were made by different schemes: an old record's hash_rows one against a new one)."""
    if not a or not b or a.startswith(HOLDOUT_STABLE) != b.startswith(HOLDOUT_STABLE):
        return None
    return a == b


def evaluate_frame(
    booster: lgb.Booster, sig: Signature, df: pl.DataFrame, *, threshold: float = 0.5,
    time_column: str | None = None, journal: Any = None, study_name: str | None = None,
    what: str = "the evaluation data", seconds: float | None = None, pred: np.ndarray | None = None,
    primary: str | None = None,
) -> tuple[Metrics, Details]:
    """Score ``df`` (raw rows incl. the target) → (scalar metrics, details document).

    ``seconds``: what the SHAP importances may take (a run under `--timeout`; None: the full sample).
    ``pred``: ``booster``'s predictions of ``df``'s rows when the caller has them (a run's final
    model has just predicted its holdout for the metrics; with 10 fold models averaged into one,
    predicting again is not free). ``primary``: the model's primary metric, whose bootstrap interval
    the details keep on a holdout of up to :data:`details.INTERVAL_ROWS` rows (the gate weighs its
    no-skill level against it)."""
    from mlops_tui.evaluation import details as ed
    from mlops_tui.training.signature import check_numeric_text, encode

    df, warnings = check_frame(df, sig, what)
    check_numeric_text(df, sig)
    y = labels_of(sig, df[sig.target], what)
    feats, unseen = encode(df, sig)
    X = feats.to_numpy()
    if pred is None:
        pred = predict(booster, X)
    classes = [str(c) for c in sig.classes]
    metrics = scalar_metrics(sig.task, y, pred, classes, threshold)
    metrics.update(holdout_rows=df.height, holdout_hash=holdout_hash(df))
    if unseen:
        warnings.append("categories never seen in training: "
                        + ", ".join(f"{k} ({v} rows)" for k, v in unseen.items()))
    details: Details = {"task": sig.task, "target": sig.target, "rows": df.height,
                               "classes": classes, "warnings": warnings}

    def part(key: str, fn: Any, *args: Any, **kwargs: Any) -> None:
        # The details are evidence around the metrics: one that cannot be computed on odd data
        # is reported, never allowed to fail the run that is recording its evaluation.
        try:
            details[key] = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            warnings.append(f"could not compute {key}: {type(exc).__name__}: {exc}")

    if sig.task == "binary":
        details["threshold"] = threshold
        part("curves", ed.binary_curves, y, pred)
        part("confusion", ed.confusion, y, (pred >= threshold).astype(int), classes)
    elif sig.task == "multiclass":
        y_hat = pred.argmax(axis=1)
        part("confusion", ed.confusion, y, y_hat, classes)
        part("per_class", ed.per_class, y, y_hat, classes)
    else:
        part("regression", ed.regression_points, y, pred)
    if primary and metrics.get(primary) is not None and df.height <= ed.INTERVAL_ROWS:
        part("interval", ed.metric_interval, sig.task, primary, y, pred, classes, threshold)
    part("importance", ed.feature_importance, booster, X, sig.feature_names, sig.task, len(classes),
         seconds=seconds)
    # No time column chosen for the split: a date the model reads (as date parts) still is one.
    time_column = time_column or next((f.source for f in sig.features if f.transform), None)
    part("slices", ed.slices, df, sig, y, pred, threshold=threshold, time_column=time_column)
    if journal is not None and study_name:
        part("param_importances", ed.param_importances, journal, study_name)
    return metrics, details


# -- storing -------------------------------------------------------------------------------------
def _save_details(ws: Workspace, eval_id: str, details: Details) -> str:
    path = ws.artifacts / "reports" / f"{eval_id}.json"
    atomic_write_bytes(path, json.dumps(details, separators=(",", ":"), default=str).encode())
    return ws.relpath(path)


_FROM_RUN: Any = object()  # record_holdout's default: read the time column from the run record


def _time_column(ws: Workspace, run_id: str | None) -> str | None:
    if not run_id:
        return None
    try:
        run = ws.store.runs.get(run_id)
    except Exception:  # noqa: BLE001 - an evaluation without its run record still has metrics
        return None
    return run.config.get("time_column") or (run.prep or {}).get("time_column")


def record_holdout(
    ws: Workspace,
    *,
    run_id: str | None,
    model: ModelVersion,
    booster: lgb.Booster,
    signature: Signature,
    test_df: pl.DataFrame,
    metrics: dict[str, Any],
    kind: str = "holdout",
    time_column: Any = _FROM_RUN,
    seconds: float | None = None,
    pred: np.ndarray | None = None,
) -> Evaluation:
    """Store the evaluation of ``model`` on ``test_df`` (raw rows incl. the target).

    ``metrics`` (from tuning) win over the recomputed ones, so the run, the model and the
    evaluation show the same numbers; the details add curves, importances and slices.
    ``time_column`` (a name or None) when the caller knows the run's: saves reading the run.
    ``seconds``: the time the importances may take; ``pred``: the booster's predictions of
    ``test_df`` if the caller has them (see evaluate_frame).
    """
    eval_id = uuid.uuid4().hex[:12]
    threshold = float(metrics.get("threshold", 0.5) or 0.5)
    journal = ws.run_dir(run_id) / "optuna.journal" if run_id else None
    if time_column is _FROM_RUN:
        time_column = _time_column(ws, run_id)
    computed, details = evaluate_frame(
        booster, signature, test_df, threshold=threshold, time_column=time_column,
        journal=journal, study_name=run_id, what=f"the holdout of run {run_id}", seconds=seconds, pred=pred,
        primary=metrics.get("primary_metric"),
    )
    details.update(eval_id=eval_id, kind=kind, run_id=run_id, model=model.ref,
                   dataset=model.dataset, dataset_version=model.dataset_version)
    details_path = _save_details(ws, eval_id, details)
    return ws.store.runs.add_evaluation(
        eval_id=eval_id, run_id=run_id, model_name=model.name, model_version=model.version,
        dataset=model.dataset or "", dataset_version=model.dataset_version or 0, kind=kind,
        task=signature.task, metrics={**computed, **metrics}, details_path=details_path,
    )


def _load_dataset(ws: Workspace, ref: str) -> tuple[Any, pl.DataFrame]:
    """A registered dataset version and its rows (through the datasets service).

    Versions only: their snapshots were read from the user's file once, by ``dataset add``
    (:mod:`mlops_tui.data.readers`), so evaluation and training see the same values. A file path is
    refused with the command that registers it.
    """
    from pathlib import Path

    from mlops_tui.data import datasets, readers

    try:
        dv = datasets.resolve(ws, ref)
    except UserError:
        path = Path(ref).expanduser()
        if readers.kind_of(path) and path.is_file():
            raise UserError(f"{ref} is a file; evaluate takes a registered dataset version: register it "
                            f"first with `mlops-tui dataset add {ref}`, then pass NAME or NAME:VERSION") from None
        raise
    return dv, datasets.load(ws, dv)


@dataclass(frozen=True)
class Version(Result):
    name: str
    version: int


@dataclass(frozen=True)
class ModelEvaluation(Result):
    """:func:`evaluate_model`'s answer: metrics on the dataset and their deltas to the model's holdout."""

    eval_id: str
    model: Version
    dataset: Version
    task: str
    rows: int
    metrics: Metrics
    holdout_metrics: Metrics
    deltas: Metrics
    max_slice_gap: float | None
    details_path: str
    warnings: tuple[str, ...]
    learnt_rows: int | None  # labelled rows of the dataset the model learnt from (None: not recorded)
    excluded_rows: int  # of those, left out (``unseen``)
    # The measure ``max_slice_gap`` is a gap of (wape, relative_mae, scaled_mae, roc_auc, ...: see
    # details.slice_metric) and the feature whose groups differ that much; None when no gap.
    slice_metric: str | None = None
    max_slice_gap_feature: str | None = None
    # The groups of that feature at either end of the gap (Wage's maritl: '2. Married', '1. Never Married').
    max_slice_gap_best: str | None = None
    max_slice_gap_worst: str | None = None


def _gap_ends(slices: dict[str, Any]) -> tuple[str | None, str | None]:
    """The best and the worst group of the feature with the widest slice gap (as text)."""
    widest = next((f for f in slices.get("features") or [] if f["feature"] == slices.get("max_gap_feature")
                   and f["kind"] == "categorical"), None)
    if widest is None or widest.get("best") is None:
        return None, None
    return str(widest["best"]), str(widest["worst"])


def _learnt_rows(ws: Workspace, model: ModelVersion, df: pl.DataFrame, sig: Signature) -> pl.Series | None:
    """True for each row of ``df`` that ``model`` learnt from (its run recorded their keys); None when
    that cannot be known (no run, or trained before the rows were recorded)."""
    from mlops_tui.training import trained_rows

    return trained_rows.learnt(ws.run_dir(model.run_id), df, sig) if model.run_id else None


def evaluate_model(ws: Workspace, model_ref: str, dataset_ref: str, *,
                   threshold: float | None = None, unseen: bool = False) -> ModelEvaluation:
    """Score a registered model on a labelled dataset version and store the evaluation.

    Rows the model learnt from flatter it (a model scores its own training rows better than new
    ones): their count is reported, with a warning, and ``unseen`` leaves them out."""
    from mlops_tui.refs import resolve_model
    from mlops_tui.training.modelfile import load_model
    from mlops_tui.training.signature import Signature

    if threshold is not None and not 0 < threshold < 1:
        raise UserError(f"--threshold must be between 0 and 1 (exclusive), got {threshold:g}")
    model = resolve_model(ws, model_ref)
    dv, df = _load_dataset(ws, dataset_ref)
    sig = Signature.from_json(model.signature)
    what = f"dataset {dv.name}:{dv.version}"
    labelled, _ = check_frame(df, sig, what)  # clear message before loading the model
    learnt = _learnt_rows(ws, model, labelled, sig)
    n_learnt = None if learnt is None else int(learnt.sum())
    notes = []
    if unseen:
        if learnt is None:
            raise UserError(f"{model.ref} did not record the rows it learnt from (trained before they were kept): "
                            "--unseen cannot tell them apart; evaluate without it")
        if n_learnt == labelled.height:
            raise UserError(f"all {labelled.height} labelled rows of {what} are rows {model.ref} learnt from: "
                            "nothing unseen to evaluate on")
        df = labelled.filter(~learnt)
        if n_learnt:
            notes.append(f"{n_learnt:,} of {labelled.height:,} rows were rows {model.ref} learnt from: left out (--unseen)")
    elif n_learnt:
        notes.append(f"{n_learnt:,} of {labelled.height:,} rows are rows {model.ref} learnt from: these metrics overstate "
                     "how it does on new data (--unseen leaves them out)")
    booster, _ = load_model(ws.abspath(model.path), model.sha256)  # sha256 checked
    if threshold is None:
        threshold = float((model.metrics or {}).get("threshold", 0.5) or 0.5)
    metrics, details = evaluate_frame(booster, sig, df, threshold=threshold, what=what)
    eval_id = uuid.uuid4().hex[:12]
    details.update(eval_id=eval_id, kind="evaluate", run_id=model.run_id, model=model.ref,
                   dataset=dv.name, dataset_version=dv.version)
    details_path = _save_details(ws, eval_id, details)
    ev = ws.store.runs.add_evaluation(
        eval_id=eval_id, run_id=model.run_id, model_name=model.name, model_version=model.version,
        dataset=dv.name, dataset_version=dv.version, kind="evaluate", task=sig.task,
        metrics=metrics, details_path=details_path,
    )
    holdout = holdout_of_model(ws, model)  # the fuller record; the model's own metrics otherwise
    reference = {**(model.metrics or {}), **(holdout.metrics if holdout else {})}
    deltas = {k: v - reference[k] for k, v in metrics.items()
              if k not in META_KEYS and isinstance(v, int | float) and isinstance(reference.get(k), int | float)}
    slices = details.get("slices") or {}
    gap = slices.get("max_gap")
    result = ModelEvaluation(ev.eval_id, Version(model.name, model.version), Version(dv.name, dv.version), sig.task,
                             details["rows"], metrics, reference, deltas, gap,
                             details_path, tuple([*notes, *details["warnings"]]), n_learnt,
                             (n_learnt or 0) if unseen else 0, slices.get("metric") if gap is not None else None,
                             slices.get("max_gap_feature") if gap is not None else None,
                             *_gap_ends(slices) if gap is not None else (None, None))
    ws.store.audit.record("evaluate", f"model:{model.name}:{model.version}", "ok",
                          {"dataset": f"{dv.name}:{dv.version}", "eval_id": ev.eval_id})
    return result
