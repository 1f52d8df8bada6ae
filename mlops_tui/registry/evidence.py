"""The evidence for choosing a run's model without a browser: importances, slice metrics, gate.

`run show` (and its ``--json``) adds what the HTML report and the TUI show, compactly, so a user
over SSH can judge a model: the holdout evaluation's feature importances (LightGBM gain and mean
|SHAP|), its slice metrics (per categorical feature and time period: the metric of each group and
the gap between best and worst), a classifier's precision, recall and rows per class (a rare class
it never finds hides behind accuracy and f1_weighted), and the gate's verdict on the registered
version against the champion `model show` uses (the ``production`` version). Nothing is recomputed: the importances and slices are the
details stored when the evaluation was recorded (:mod:`mlops_tui.evaluation.details`), the verdict
is :func:`mlops_tui.registry.gate.check` on stored metrics. Missing pieces (a run without a model,
an evaluation without details) are None, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.registry import gate
from mlops_tui.results import JsonDict, Result

if TYPE_CHECKING:
    from mlops_tui.store import Run
    from mlops_tui.workspace import Workspace

TOP_FEATURES = 10  # rows of importance a human sees; --json carries every feature


@dataclass(frozen=True)
class FeatureImportance(Result):
    feature: str
    gain: float | None
    gain_share: float
    split: int | None
    shap: float | None


@dataclass(frozen=True)
class SliceFeature(Result):
    """A feature's groups (``value``, ``n`` and the slice metric under its own name), gap, best, worst."""

    feature: str
    kind: str
    gap: float | None
    best: Any
    worst: Any
    groups: tuple[JsonDict, ...]


@dataclass(frozen=True)
class Slices(Result):
    metric: str
    min_rows: int | None
    max_gap: float | None
    max_gap_feature: str | None
    time_gap: float | None
    features: tuple[SliceFeature, ...]


@dataclass(frozen=True)
class GateEvidence(Result):
    """The gate's verdict on a run's model, against the champion `model show` uses, explained."""

    model: str
    champion: str | None
    passed: bool
    reasons: tuple[str, ...]
    checks: JsonDict
    explain: tuple[str, ...]


@dataclass(frozen=True)
class ClassScore(Result):
    """A classifier's holdout figures for one class; ``support``: the holdout rows of that class."""

    label: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


@dataclass(frozen=True)
class Evidence(Result):
    """What `run show` adds about a run's model; each part None when not recorded."""

    importance: tuple[FeatureImportance, ...] | None
    slices: Slices | None
    gate: GateEvidence | None
    per_class: tuple[ClassScore, ...] | None


def importance(details: JsonDict | None) -> tuple[FeatureImportance, ...] | None:
    """Every feature by gain: gain, its share of the total gain, split count, mean |SHAP|."""
    imp = (details or {}).get("importance")
    if not imp:
        return None
    total = sum(g or 0.0 for g in imp["gain"]) or 1.0
    return tuple(FeatureImportance(f, g, round((g or 0.0) / total, 4), s, sh)
                 for f, g, s, sh in zip(imp["features"], imp["gain"], imp["split"], imp["shap"], strict=True))


def slices(details: JsonDict | None) -> Slices | None:
    """The slice metric per group of each feature, its gap, best and worst group; the worst gap."""
    sl = (details or {}).get("slices")
    if not sl:
        return None
    metric = sl["metric"]
    features = tuple(SliceFeature(f["feature"], f["kind"], f["gap"], f["best"], f["worst"],
                                  tuple({"value": g["value"], "n": g["n"], metric: g.get(metric)} for g in f["groups"]))
                     for f in sl.get("features", []))
    return Slices(metric, sl.get("min_rows"), sl.get("max_gap"), sl.get("max_gap_feature"), sl.get("time_gap"), features)


def per_class(details: JsonDict | None) -> tuple[ClassScore, ...] | None:
    """Precision, recall, f1 and holdout rows of each class (None for regression)."""
    pc = (details or {}).get("per_class")
    if not pc:
        return None
    return tuple(ClassScore(str(label), c.get("precision"), c.get("recall"), c.get("f1"), int(c.get("support") or 0))
                 for label, c in pc.items())


def gate_verdict(ws: Workspace, run: Run) -> GateEvidence | None:
    """The gate's verdict on the run's registered model (as `model show` gives it), or None."""
    from mlops_tui.registry.models import champion_of
    from mlops_tui.store import NotFoundError

    if not run.model_name or run.model_version is None:
        return None
    try:
        model = ws.store.models.get(run.model_name, run.model_version)
    except NotFoundError:
        return None
    champion = champion_of(ws, model)
    verdict = gate.check(ws, model, champion=champion)
    return GateEvidence(model.ref, champion.ref if champion else None, verdict.passed, verdict.reasons,
                        verdict.checks, tuple(gate.explain(verdict.checks)))


def run_evidence(ws: Workspace, run: Run) -> Evidence:
    """``importance``, ``slices``, ``gate`` and ``per_class`` of a run (each None when not recorded)."""
    from mlops_tui.evaluation import records

    details = records.details_for_run(ws, run.run_id)
    return Evidence(importance(details), slices(details), gate_verdict(ws, run), per_class(details))
