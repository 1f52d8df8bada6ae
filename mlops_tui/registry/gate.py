"""The validation gate: may this model version serve? Policy from the workspace's config.toml.

    [gate]
    min_metric = { roc_auc = 0.7 }   # per metric; lower bound for higher-is-better metrics,
                                     # upper bound for lower-is-better ones (rmse, log_loss, ...)
    max_drop = 0.01                  # largest allowed regression against the champion; or per
                                     # metric: { default = 0.01, rmse = 0.05 }
    max_slice_gap = 0.25             # largest gap of the metric between slices of a feature

``max_drop`` reads by the metric (:func:`drop_limit`): for metrics in the target's units (rmse, mae)
it is a fraction of the champion's value (0.01: 1 % worse), because no one number of target units
fits prices and counts alike (0.01 meant "never worse at all" for an rmse of 3,000); for unitless
metrics (ROC AUC, accuracy, F1, log loss, Brier, R², MAPE) it is absolute points (0.01: one point of
AUC). Feedback's live comparison applies the same rule against the model's holdout value.

The slice gap comes from the details of the model's latest holdout evaluation
(:mod:`mlops_tui.evaluation.details`): per categorical feature the spread of a unitless metric (ROC AUC,
accuracy or WAPE) between groups big enough to measure; the spread across time periods is
reported there but not gated. A model without stored details is not refused for it; the check
says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_tui.results import JsonDict, Result
from mlops_tui.training.metrics import LOWER_IS_BETTER
from mlops_tui.training.metrics import better as better  # gate.better: part of the gate's API

if TYPE_CHECKING:
    from mlops_tui.store import ModelVersion
    from mlops_tui.workspace import Workspace



@dataclass(frozen=True)
class Verdict(Result):
    passed: bool
    reasons: tuple[str, ...] = ()
    checks: JsonDict = field(default_factory=dict)  # check name → its figures (see `explain`)


def explain(checks: dict[str, Any]) -> list[str]:
    """Each check of a verdict (``Verdict.checks``) as a short phrase: why a version passed, too."""
    out: list[str] = []
    for key, c in checks.items():
        if key.startswith("min_metric."):
            metric = key.split(".", 1)[1]
            op = "≤" if metric in LOWER_IS_BETTER else "≥"
            op = op if c["ok"] else {"≤": ">", "≥": "<"}[op]
            out.append(f"{metric} {c['value']:.4g} {op} {c['bound']:g}")
        elif key == "max_drop":
            op = "≤" if c["ok"] else ">"
            out.append(f"drop vs champion {c['drop']:.3g} {op} {_allowed(c['limit'], c.get('relative'))}")
        elif key == "max_slice_gap":
            if c.get("value") is None:
                out.append(c.get("note") or "no slice metrics recorded")
            else:
                op = "≤" if c["ok"] else ">"
                out.append(f"slice gap {c['value']:.3g} ({c.get('feature')}) {op} {c['limit']:g}")
    return out


# Metrics in the target's units: their max_drop is relative to the reference value.
RELATIVE_DROP = frozenset({"rmse", "mae"})


def max_drop(policy: dict[str, Any], metric: str) -> float:
    """The gate's ``max_drop`` for ``metric`` as configured: one number for every metric, or a table
    per metric (``{ roc_auc = 0.02, rmse = 0.05 }``, with an optional ``default``)."""
    value = policy.get("max_drop", 0.0)
    if isinstance(value, dict):
        value = value.get(metric, value.get("default", 0.0))
    return float(value)


def _allowed(limit: float, relative: float | None) -> str:
    """'2.5' or, for a relative max_drop, '0.3 (1 % of the champion's)'."""
    return f"{limit:.4g}" + (f" ({relative * 100:g} % of the champion's)" if relative is not None else "")


def drop_limit(policy: dict[str, Any], metric: str, reference: float) -> float:
    """How much worse than ``reference`` (the champion's or the holdout's value) ``metric`` may be,
    in the metric's own units: ``max_drop`` points, or for a metric in target units
    (:data:`RELATIVE_DROP`) that fraction of the reference."""
    limit = max_drop(policy, metric)
    return limit * abs(reference) if metric in RELATIVE_DROP else limit


def check(ws: Workspace, model: ModelVersion, *, champion: ModelVersion | None = None,
          policy: dict[str, Any] | None = None) -> Verdict:
    """Apply ``policy`` (default: the workspace's) to ``model``'s holdout metrics (and against ``champion``)."""
    policy = ws.gate_policy() if policy is None else policy
    metrics = model.metrics or {}
    reasons: list[str] = []
    checks: dict[str, Any] = {}
    for metric, bound in (policy.get("min_metric") or {}).items():
        value = metrics.get(metric)
        if value is None:
            continue
        ok = value <= bound if metric in LOWER_IS_BETTER else value >= bound
        checks[f"min_metric.{metric}"] = {"value": value, "bound": bound, "ok": ok}
        if not ok:
            cmp = "above" if metric in LOWER_IS_BETTER else "below"
            reasons.append(f"{metric} {value:.4g} is {cmp} the required {bound:g}")
    primary = metrics.get("primary_metric")
    if champion is not None and primary and champion.metrics and primary in champion.metrics:
        ours, theirs = metrics.get(primary), champion.metrics[primary]
        if ours is not None and theirs is not None:
            drop = (ours - theirs) if primary in LOWER_IS_BETTER else (theirs - ours)
            limit = drop_limit(policy, primary, theirs)
            ok = drop <= limit
            relative = max_drop(policy, primary) if primary in RELATIVE_DROP else None
            checks["max_drop"] = {"metric": primary, "value": ours, "champion": theirs, "drop": drop,
                                  "limit": limit, "relative": relative, "ok": ok}
            if not ok:
                reasons.append(f"{primary} {ours:.4g} is worse than champion {champion.ref} ({theirs:.4g}) "
                               f"by {drop:.4g} > allowed {_allowed(limit, relative)}")
    gap_limit = policy.get("max_slice_gap")
    if gap_limit is not None:
        gap = slice_gap(ws, model)
        if gap is None:
            checks["max_slice_gap"] = {"value": None, "limit": float(gap_limit), "ok": None,
                                       "note": "no slice metrics recorded for this version"}
        else:
            ok = gap.gap <= float(gap_limit)
            checks["max_slice_gap"] = {**gap.to_json(), "value": gap.gap, "limit": float(gap_limit), "ok": ok}
            if not ok:
                reasons.append(f"{gap.metric} differs by {gap.gap:.3g} between {gap.feature}="
                               f"{gap.best!r} and {gap.feature}={gap.worst!r} "
                               f"(allowed {float(gap_limit):g})")
    return Verdict(not reasons, tuple(reasons), checks)


@dataclass(frozen=True)
class SliceGap(Result):
    """The widest spread of a unitless metric between the groups (``best``, ``worst``) of a feature."""

    gap: float
    metric: str | None
    feature: str
    best: Any
    worst: Any


def slice_gap(ws: Workspace, model: ModelVersion) -> SliceGap | None:
    """The worst slice gap of ``model``'s latest holdout evaluation, or None when not recorded."""
    from mlops_tui.evaluation import records as evaluation

    ev = evaluation.holdout_of_model(ws, model)
    details = evaluation.load_details(ws, ev) if ev else None
    slices = (details or {}).get("slices") or {}
    feature = slices.get("max_gap_feature")
    if slices.get("max_gap") is None or feature is None:
        return None
    entry: dict[str, Any] = next((f for f in slices.get("features", []) if f["feature"] == feature), {})
    return SliceGap(float(slices["max_gap"]), slices.get("metric"), feature, entry.get("best"), entry.get("worst"))


def check_versions(ws: Workspace, models: list[ModelVersion], *,
                   champion: ModelVersion | None = None) -> dict[str, Verdict]:
    """The verdict of every version in ``models`` by ref (``model show`` lists them all).

    A version is never measured against itself: the champion's own verdict omits the drop check.
    """
    return {m.ref: check(ws, m, champion=None if champion is None or champion.ref == m.ref else champion)
            for m in models}
