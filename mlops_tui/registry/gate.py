"""The validation gate: may this model version serve? Policy from the workspace's config.toml.

    [gate]
    min_metric = { roc_auc = 0.7 }   # per metric; lower bound for higher-is-better metrics,
                                     # upper bound for lower-is-better ones (rmse, log_loss, ...)
    max_drop = 0.01                  # largest allowed regression against the champion; or per
                                     # metric: { default = 0.01, rmse = 0.05 }
    max_slice_gap = 0.25             # largest gap of the metric between slices of a feature
    refuse_no_skill = true           # refuse a model whose primary metric shows no skill (below)
    require_win = false              # true: a model that would replace a champion must beat it

``max_drop`` reads by the metric (:func:`drop_limit`): for metrics in the target's units (rmse, mae)
it is a fraction of the champion's value (0.01: 1 % worse), because no one number of target units
fits prices and counts alike (0.01 meant "never worse at all" for an rmse of 3,000); for unitless
metrics (ROC AUC, accuracy, F1, log loss, Brier, R², MAPE) it is absolute points (0.01: one point of
AUC). Feedback's live comparison applies the same rule against the model's holdout value.

The slice gap comes from the details of the model's latest holdout evaluation
(:mod:`mlops_tui.evaluation.details`): per categorical feature a unitless metric (ROC AUC, accuracy
or WAPE) for each group big enough to measure, with an interval that holds for all the feature's
groups together (95 %, Bonferroni). A regression target where WAPE's sum |actual| is no scale (values
on both sides of zero) is sliced by each group's MAE relative to the holdout's MAE (``relative_mae``),
a small count by its MAE over the square root of its mean count, relative to the holdout's
(``scaled_mae``): vcd Bundesliga's HomeGoals (mean 1.9) was refused for a WAPE gap of 0.34 between
away teams, the mark of low scores, not of a worse model. The check then carries ``metric_note``
(why) and ``holdout_mae``, and the refusal names the measure.

A gap counts only between two groups whose intervals do not overlap: the widest raw gap among 20
small groups is large with nothing wrong (openintro birds: accuracy 0.474 apart between two of 285
operators), so the gate weighs it against the groups' noise. The spread across time periods is
reported there but not gated. A model without stored details is not refused for it; the check says
so. A champion's slice gap counts against a challenger's (see :func:`check`) only on the same measure.

Without a ``min_metric`` for the model's primary metric, the gate still refuses a model that is
certainly no better than one ignoring its inputs: its holdout value is at or past that metric's
no-skill level (:func:`no_skill_level`). No noise enters: a value at chance is no evidence of skill
however many rows measured it. A constant score on asaur pancreatic's 41 rows got ROC AUC 0.500 and
passed before. The levels: ROC AUC 0.5; R² 0; rmse the constant predictor's (the holdout mean's,
from its rmse and R²); PR AUC the holdout's positive rate, log loss and Brier the class prior's,
accuracy, F1 macro and weighted the majority class's, binary F1 that of calling every row positive
(from the holdout details' class shares, so a version without them is not refused for it). mae,
MAPE, precision and recall have none here (the median predictor's mae needs every holdout row;
calling every row positive has recall 1).

The champion is the version a model would replace (the deployment's, else ``production``). A
min_metric bound or a slice gap the champion fails too, at least as badly, does not refuse a model
that :func:`beats` it: refusing kept a champion deployed with --force serving although it was worse
(see :func:`check`). The no-skill level is not forgiven that way: beating a champion that was
forced past it proves nothing, and a model no better than a constant is no model to ship. A first
deployment, with no champion, is held to every check.

``require_win`` asks more of a model that would replace a champion than ``max_drop``: its primary
metric must be better than the champion's (on the rows both were scored on, when a retrain or a
pipeline's gate scored both), as `retrain` always asks before it promotes. Off by default, so that
rolling a deployment back to an older version stays one `deploy`; a pipeline that retrains on a
schedule sets it in its gate stage, and a challenger within ``max_drop`` but no better, 0.0084 ROC
AUC worse on 117 rows of AER CreditCard, no longer replaces the champion.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_tui.results import JsonDict, Result
from mlops_tui.training.metrics import LOWER_IS_BETTER, worse_by
from mlops_tui.training.metrics import better as better  # gate.better: part of the gate's API

if TYPE_CHECKING:
    from mlops_tui.store import Evaluation, ModelVersion
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
            op = op if c["ok"] and not c.get("champion_fails") else {"≤": ">", "≥": "<"}[op]
            out.append(f"{metric} {c['value']:.4g} {op} {c['bound']:g}{_too(c, 'badly')}")
        elif key == "max_drop":
            # past the allowance yet passed: the drop's interval reaches below it ('0.0084 > 0 but within
            # noise'; it read '0.0084 ≤ 0, within noise', a false inequality in a cron log)
            within = bool(c.get("noise")) and c["ok"] and c["drop"] > c["limit"]
            op = "≤" if c["ok"] and not within else ">"
            apart = f" (on {c['holdouts']})" if c.get("holdouts") else ""
            out.append(f"drop vs champion {c['drop']:.3g} {op} {_allowed(c['limit'], c.get('relative'))}"
                       f"{' but within noise' if within else ''}{apart}")
        elif key == "require_win":
            lower = c["metric"] in LOWER_IS_BETTER
            op = ("<" if lower else ">") if c["ok"] else ("≥" if lower else "≤")
            out.append(f"{c['metric']} {c['value']:.4g} {op} champion's {c['champion']:.4g} (a win required)")
        elif key == "no_skill":
            if c.get("level") is None:
                out.append(c["note"])
            else:
                op = "no better than" if not c["ok"] else ("<" if c["metric"] in LOWER_IS_BETTER else ">")
                out.append(f"{c['metric']} {c['value']:.4g} {op} no-skill {c['level']:.4g} ({c['what']})"
                           + _noise_of(c))
        elif key == "max_slice_gap":
            # the measure is named when it is not the task's usual one (relative MAE, not WAPE)
            of = f" of {c['metric']}" if c.get("metric_note") else ""
            if c.get("value") is None:
                out.append(c.get("note") or "no slice metrics recorded")
            elif c["value"] == 0 and c.get("observed"):
                out.append(f"no slice gap{of} beyond noise (widest {c['observed']:.3g}, {c.get('feature')}, "
                           "within the groups' intervals)")
            elif c.get("champion_fails"):
                out.append(f"slice gap{of} {c['value']:.3g} ({c.get('feature')}) > {c['limit']:g}{_too(c, 'widely')} "
                           f"({c['champion_feature']})")
            else:
                op = "≤" if c["ok"] else ">"
                # The raw widest gap (run show's slices table) when noise narrowed it: MplsStops' table said
                # preRace 0.219 and this line 0.206, with no word of why.
                widest = (f"; widest {c['observed']:.3g}" if c.get("observed") is not None
                          and f"{c['observed']:.3g}" != f"{c['value']:.3g}" else "")
                beyond = " beyond noise" if widest else ""
                out.append(f"slice gap{of}{beyond} {c['value']:.3g} ({c.get('feature')}{widest}) {op} {c['limit']:g}")
    return out


def _noise_of(c: dict[str, Any]) -> str:
    """', but within noise: ...' for a no-skill level inside the holdout figure's interval (MASS
    birthwt passed at ROC AUC 0.5224 on 38 rows with no word that they cannot tell it from chance). The
    interval's ends have the figures' 4 digits: ggplot2 economics' read 'rmse 1099 < no-skill 1198 ... 988 to 1.2e+03'."""
    if not c.get("within_noise"):
        return ""
    n = c["noise"]
    return (f", but within noise: its {n.get('confidence', 0.95):.0%} interval over {n['rows']} holdout rows, "
            f"{n['low']:.4g} to {n['high']:.4g}, holds the no-skill level; more rows would tell")


def shared_failures(checks: dict[str, Any]) -> list[str]:
    """The phrases of the checks a model passed only because its champion fails them as badly (see
    :func:`check`): a deploy or retrain that passed should still say the model misses them."""
    return explain({key: c for key, c in checks.items() if c.get("champion_fails")})


def _too(c: dict[str, Any], how: str) -> str:
    """', but the champion fails it too, ...' for a check not held against a winning model (see `check`)."""
    return f", but the champion fails it too, as {how} or more: {c['champion']:.4g}" if c.get("champion_fails") else ""


# Metrics in the target's units: their max_drop is relative to the reference value.
RELATIVE_DROP = frozenset({"rmse", "mae"})


def max_drop(policy: dict[str, Any], metric: str) -> float:
    """The gate's ``max_drop`` for ``metric`` as configured: one number for every metric, or a table
    per metric (``{ roc_auc = 0.02, rmse = 0.05 }``, with an optional ``default``)."""
    value = policy.get("max_drop", 0.0)
    if isinstance(value, dict):
        value = value.get(metric, value.get("default", 0.0))
    return float(value)


def _beyond(noise: DropNoise | None) -> str:
    """', beyond noise: ...' for a drop judged with its bootstrap interval."""
    if noise is None:
        return ""
    how = "paired bootstrap" if noise.paired else "bootstrap"
    return f", beyond noise ({how} over {noise.rows} rows: {noise.low:.4g} to {noise.high:.4g})"


def _allowed(limit: float, relative: float | None) -> str:
    """'2.5' or, for a relative max_drop, '0.3 (1 % of the champion's)'."""
    return f"{limit:.4g}" + (f" ({relative * 100:g} % of the champion's)" if relative is not None else "")


def drop_limit(policy: dict[str, Any], metric: str, reference: float) -> float:
    """How much worse than ``reference`` (the champion's or the holdout's value) ``metric`` may be,
    in the metric's own units: ``max_drop`` points, or for a metric in target units
    (:data:`RELATIVE_DROP`) that fraction of the reference."""
    limit = max_drop(policy, metric)
    return limit * abs(reference) if metric in RELATIVE_DROP else limit


@dataclass(frozen=True)
class DropNoise(Result):
    """How far a drop (how much worse, in the metric's units) could be from its measured value by the
    chance of which rows were measured: a 95 % bootstrap interval over ``rows`` rows (``paired``: both
    models scored on the same resampled rows, so only their difference varies)."""

    low: float
    high: float
    rows: int
    paired: bool


def beats(model: ModelVersion, champion: ModelVersion | None) -> bool:
    """``model``'s primary metric is better than ``champion``'s, as the two versions carry them: on
    the same rows when `retrain` or a pipeline's gate scored both, else each on its own holdout."""
    primary = (model.metrics or {}).get("primary_metric")
    if not primary or champion is None:
        return False
    ours, theirs = (model.metrics or {}).get(primary), (champion.metrics or {}).get(primary)
    return ours is not None and theirs is not None and better(primary, ours, theirs)


def check(ws: Workspace, model: ModelVersion, *, champion: ModelVersion | None = None,
          policy: dict[str, Any] | None = None, noise: DropNoise | None = None,
          shares: list[float] | None = None) -> Verdict:
    """Apply ``policy`` (default: the workspace's) to ``model``'s holdout metrics (and against ``champion``).

    ``noise``: when both were measured on the same rows (retrain), the paired bootstrap interval of
    the drop; the drop then refuses only when even its low end is past ``max_drop``: worse beyond
    noise, by more than the user allows. ``shares``: the class shares (by class index) of the rows
    ``model.metrics`` were measured on, when not its holdout (retrain): the no-skill levels of
    classification metrics (the majority class's accuracy, ...) are then those rows'.

    A check ``model`` fails does not refuse it when it :func:`beats` ``champion`` and the champion
    fails that check at least as badly: a ``min_metric`` bound (the champion's value no better), a
    slice gap (at least as wide, each from its own holdout's details). Refusing would keep the worse
    model serving with the same flaw: a champion deployed with --force below a min_metric neither
    reaches, or over its slice gap, blocked every better challenger. The check then passes, records
    the champion's figure (``champion``) and ``champion_fails``, and :func:`explain` says so. The
    no-skill level always applies: a model no better than ignoring its inputs is refused whatever
    the champion (one forced at ROC AUC 0.45 let a challenger at 0.5 pass). Without a champion (a
    first deployment) every check applies."""
    policy = ws.gate_policy() if policy is None else policy
    metrics = model.metrics or {}
    # the latest holdout evaluations and details of both: read once, and only if a check needs them
    holdout = functools.cache(lambda: _holdout_evaluation(ws, model))
    details = functools.cache(lambda: _details(ws, holdout()))
    champion_holdout = functools.cache(lambda: _holdout_evaluation(ws, champion) if champion else None)
    champion_details = functools.cache(lambda: _details(ws, champion_holdout()))
    rival = champion if beats(model, champion) else None  # a champion whose shared failures do not refuse
    reasons: list[str] = []
    checks: dict[str, Any] = {}
    for metric, bound in (policy.get("min_metric") or {}).items():
        value = metrics.get(metric)
        if value is None:
            continue
        ok = value <= bound if metric in LOWER_IS_BETTER else value >= bound
        key = f"min_metric.{metric}"
        checks[key] = {"value": value, "bound": bound, "ok": ok}
        if ok:
            continue
        theirs = (rival.metrics or {}).get(metric) if rival else None
        if theirs is not None and not better(metric, theirs, value):
            checks[key] |= {"ok": True, "champion": theirs, "champion_fails": True}
        else:
            cmp = "above" if metric in LOWER_IS_BETTER else "below"
            reasons.append(f"{metric} {value:.4g} is {cmp} the required {bound:g}")
    primary = metrics.get("primary_metric")
    if primary and policy.get("refuse_no_skill", True) and primary not in (policy.get("min_metric") or {}):
        skill = _no_skill_check(model, primary, details if shares is None else lambda: class_details(shares))
        if skill is not None:
            checks["no_skill"] = skill  # never forgiven for a champion's lack of skill (see `check`)
            if skill["ok"] is False:
                reasons.append(f"holdout {primary} {skill['value']:.3f} is no better than {skill['what']} "
                               f"({skill['level']:.4g})")
    if champion is not None and primary and champion.metrics and primary in champion.metrics:
        ours, theirs = metrics.get(primary), champion.metrics[primary]
        if ours is not None and theirs is not None:
            drop = worse_by(primary, ours, theirs)
            limit = drop_limit(policy, primary, theirs)
            ok = (noise.low if noise else drop) <= limit
            relative = max_drop(policy, primary) if primary in RELATIVE_DROP else None
            checks["max_drop"] = {"metric": primary, "value": ours, "champion": theirs, "drop": drop,
                                  "limit": limit, "relative": relative, "ok": ok}
            if noise:
                checks["max_drop"]["noise"] = noise.to_json()
            apart = None if noise else _apart(model, champion, holdout(), champion_holdout())
            if apart:
                checks["max_drop"]["holdouts"] = apart
            if policy.get("require_win"):
                won = better(primary, ours, theirs)
                checks["require_win"] = {"metric": primary, "value": ours, "champion": theirs, "ok": won}
                if not won:
                    reasons.append(f"{primary} {ours:.4g} does not beat champion {champion.ref} ({theirs:.4g}) "
                                   "and the policy requires a win (require_win)")
            if not ok:
                reasons.append(f"{primary} {ours:.4g} is worse than champion {champion.ref} ({theirs:.4g}) "
                               f"by {drop:.4g} > allowed {_allowed(limit, relative)}{_beyond(noise)}"
                               + (f" (measured on {apart}: part of the gap may be the rows; `retrain` "
                                  "compares both on one holdout, with noise)" if apart else ""))
    gap_limit = policy.get("max_slice_gap")
    if gap_limit is not None:
        gap = slice_gap(details())
        if gap is None:
            checks["max_slice_gap"] = {"value": None, "limit": float(gap_limit), "ok": None,
                                       "note": _no_gap(details())}
        else:
            ok = gap.gap <= float(gap_limit)
            checks["max_slice_gap"] = {**gap.to_json(), "value": gap.gap, "limit": float(gap_limit), "ok": ok}
            theirs_gap = slice_gap(champion_details()) if rival and not ok else None
            if theirs_gap is not None and theirs_gap.metric == gap.metric and theirs_gap.gap >= gap.gap:
                checks["max_slice_gap"] |= {"ok": True, "champion": theirs_gap.gap,
                                            "champion_feature": theirs_gap.feature, "champion_fails": True}
            elif not ok and gap.best_group and gap.worst_group:
                sure = (f"beyond the groups' noise: their {gap.confidence:.0%} intervals over {gap.groups} groups "
                        f"of >= {gap.min_rows} holdout rows do not overlap" if gap.confidence
                        else "no intervals recorded: re-evaluate to weigh noise")
                reasons.append(f"{gap.metric} differs by {gap.gap:.3g} between {_group(gap.feature, gap.best_group)} "
                               f"and {_group(gap.feature, gap.worst_group)}, {sure} (allowed {float(gap_limit):g})"
                               + _measure(gap))
    return Verdict(not reasons, tuple(reasons), checks)


@dataclass(frozen=True)
class Group(Result):
    """One group of a feature in a slice comparison: its value, rows, metric and interval."""

    value: Any
    n: int
    metric: float
    interval: list[float] | None


@dataclass(frozen=True)
class SliceGap(Result):
    """The widest gap of a unitless metric between two groups of a feature (``best``, ``worst``) that
    is beyond the groups' sampling noise: their intervals, which hold together at ``confidence`` over
    the feature's ``groups`` (those of at least ``min_rows`` holdout rows), do not overlap. ``gap`` is
    0 when no two groups are that far apart; ``observed`` is the widest gap seen, noise included."""

    gap: float
    metric: str | None
    feature: str
    best: Any
    worst: Any
    observed: float
    groups: int
    confidence: float | None
    best_group: Group | None
    worst_group: Group | None
    min_rows: int = 0
    metric_note: str | None = None     # why the metric is not the task's usual one (see below)
    holdout_mae: float | None = None   # the whole holdout's MAE (relative_mae, scaled_mae)


def _scored(feature: dict[str, Any], metric: str, min_rows: int) -> list[Group]:
    """The groups of a feature (a slices entry) big enough to measure and with the metric defined."""
    return [Group(g["value"], g["n"], g[metric], g.get("interval")) for g in feature.get("groups", [])
            if g["n"] >= min_rows and g.get(metric) is not None]


def _widest_apart(groups: list[Group], lower: bool) -> tuple[float, Group, Group] | None:
    """(gap, best, worst) of the widest-apart pair of ``groups`` whose intervals do not overlap; None
    when no pair is. A group without an interval (details recorded before intervals were) counts as
    its point value; ``lower``: lower values are better."""
    widest: tuple[float, Group, Group] | None = None
    for hi in groups:
        for lo in groups:
            hi_low = hi.interval[0] if hi.interval else hi.metric
            lo_high = lo.interval[1] if lo.interval else lo.metric
            if hi.metric > lo.metric and hi_low > lo_high and (widest is None or hi.metric - lo.metric > widest[0]):
                widest = (hi.metric - lo.metric, lo if lower else hi, hi if lower else lo)
    return widest


def _no_gap(details: dict[str, Any]) -> str:
    """Why a holdout evaluation has no slice gap to check: MASS birthwt's model (no text feature: race
    is coded 1..3) was told "no slice metrics recorded for this version", as if something were lost."""
    slices = details.get("slices")
    if not slices:
        return "no slice metrics recorded for this version"
    if not any(f["kind"] == "categorical" for f in slices.get("features", [])):
        return "no categorical feature to compare slices of"
    return f"no categorical feature has two groups of >= {slices.get('min_rows')} holdout rows to compare"


def slice_gap(details: dict[str, Any]) -> SliceGap | None:
    """The widest slice gap beyond noise in a holdout evaluation's ``details`` (over its
    categorical features), or None when no slice metrics were recorded."""
    from mlops_tui.evaluation.details import SLICE_CONFIDENCE, SLICE_LOWER_IS_BETTER

    slices = details.get("slices") or {}
    feature = slices.get("max_gap_feature")
    if slices.get("max_gap") is None or feature is None:
        return None
    metric, observed, min_rows = slices.get("metric") or "", float(slices["max_gap"]), int(slices.get("min_rows") or 0)
    chosen = {"metric_note": slices.get("metric_note"), "holdout_mae": slices.get("holdout_mae")}
    scored = {f["feature"]: _scored(f, metric, min_rows)
              for f in slices.get("features", []) if f["kind"] == "categorical"}
    confidence = SLICE_CONFIDENCE if any(g.interval for groups in scored.values() for g in groups) else None
    found = [(name, apart, len(groups)) for name, groups in scored.items()
             if (apart := _widest_apart(groups, metric in SLICE_LOWER_IS_BETTER))]
    if not found:
        entry: dict[str, Any] = next((f for f in slices.get("features", []) if f["feature"] == feature), {})
        return SliceGap(0.0, metric, feature, entry.get("best"), entry.get("worst"), observed,
                        len(scored.get(feature, [])), confidence, None, None, min_rows, **chosen)
    name, (gap, best, worst), groups = max(found, key=lambda item: item[1][0])
    return SliceGap(gap, metric, name, best.value, worst.value, observed, groups, confidence, best, worst, min_rows,
                    **chosen)


def _measure(gap: SliceGap) -> str:
    """'; relative_mae: a group's MAE over the holdout's MAE (0.96), as ...' for a slice metric that is
    not the task's usual one (:func:`mlops_tui.evaluation.details.slice_metric`)."""
    if not gap.metric_note:
        return ""
    mae = f" (MAE {gap.holdout_mae:.4g})" if gap.holdout_mae is not None else ""
    what = {"relative_mae": f" a group's MAE over the whole holdout's{mae},",
            "scaled_mae": f" a group's MAE over the root of its mean count, relative to the whole holdout's{mae},",
            }.get(gap.metric or "", "")
    return f"; {gap.metric}:{what} as {gap.metric_note}"


def _holdout_evaluation(ws: Workspace, model: ModelVersion) -> Evaluation | None:
    """``model``'s latest holdout evaluation, if one was stored."""
    from mlops_tui.evaluation import records as evaluation

    return evaluation.holdout_of_model(ws, model)


def _details(ws: Workspace, ev: Evaluation | None) -> dict[str, Any]:
    """The details of a holdout evaluation; empty when none were stored."""
    from mlops_tui.evaluation import records as evaluation

    return (evaluation.load_details(ws, ev) if ev else None) or {}


def _apart(model: ModelVersion, champion: ModelVersion, model_holdout: Evaluation | None,
           champion_holdout: Evaluation | None) -> str | None:
    """Which different holdouts the stored metrics of ``model`` and ``champion`` were measured on, or
    None when the same (or it cannot be told).

    Every run of a dataset version shares one holdout (its split seed is fixed per version), so two
    versions trained on one dataset version compare on the same rows unless a run chose another split
    (--split-seed, --time-column). A version trained on another dataset version (`tune` of a new
    version, `retrain`'s challenger deployed elsewhere later) was measured on other rows. Told by the
    evaluations' holdout hashes, else by the dataset versions."""
    hashes = [(ev.metrics or {}).get("holdout_hash") if ev else None for ev in (model_holdout, champion_holdout)]
    data = [f"{m.dataset}:{m.dataset_version}" if m.dataset else None for m in (model, champion)]
    from mlops_tui.evaluation.evaluate import same_holdout

    same = same_holdout(*hashes)  # None: a hash missing, or made by another scheme (an old record)
    if same:
        return None
    if same is None and (None in data or data[0] == data[1]):
        return None
    return f"the holdouts of {data[0]} and {data[1]}" if data[0] != data[1] else f"two different holdouts of {data[0]}"


def _prior_entropy(shares: list[float]) -> float:
    """The log loss of always predicting the class shares ``shares`` on rows with those shares."""
    return -sum(p * math.log(p) for p in shares if p > 0)


# Metrics whose no-skill level comes from the holdout's class shares (its details).
NEEDS_SHARES = frozenset({"pr_auc", "brier", "log_loss", "accuracy", "f1", "f1_macro", "f1_weighted"})


def no_skill_level(metric: str, metrics: dict[str, Any], details: dict[str, Any]) -> tuple[float, str] | None:
    """(level, what scores it) for ``metric``: what a model ignoring its inputs scores on the same
    holdout (see the module docstring); None when the metric has no such level or it is not known."""
    if metric == "roc_auc":
        return 0.5, "chance"
    if metric == "r2":
        return 0.0, "predicting the mean"
    if metric == "rmse":
        rmse, r2 = metrics.get("rmse"), metrics.get("r2")
        if rmse is None or r2 is None or r2 >= 1:
            return None
        return rmse / math.sqrt(1 - r2), "predicting the mean"  # r2 = 1 - mse / var(y)
    shares: list[float] = []
    base = ((details.get("curves") or {}).get("pr") or {}).get("base_rate")
    if base is not None:
        shares = [base, 1 - base]
    elif details.get("per_class"):
        support = [c["support"] for c in details["per_class"].values()]
        shares = [s / sum(support) for s in support] if sum(support) else []
    if not shares:
        return None
    majority = max(shares)
    if metric == "accuracy":
        return majority, "predicting the majority class"
    if metric in ("f1_macro", "f1_weighted"):  # the majority class's F1 (2p / (1 + p)), the others' 0
        f1 = 2 * majority / (1 + majority)
        return (f1 / len(shares) if metric == "f1_macro" else majority * f1), "predicting the majority class"
    if metric == "f1" and base is not None:
        return 2 * base / (1 + base), "calling every row positive"
    if metric == "pr_auc" and base is not None:
        return base, "the positive rate"
    if metric == "brier" and base is not None:
        return base * (1 - base), "predicting the positive rate"
    if metric == "log_loss":
        return _prior_entropy(shares), "predicting the class shares"
    return None


def class_details(shares: list[float]) -> dict[str, Any]:
    """The part of holdout details :func:`no_skill_level` reads, for rows with these class shares
    (by class index; of a binary task the second is the positive class's)."""
    out: dict[str, Any] = {"per_class": {str(i): {"support": share} for i, share in enumerate(shares)}}
    if len(shares) == 2:
        out["curves"] = {"pr": {"base_rate": shares[1]}}
    return out


def _no_skill_check(model: ModelVersion, metric: str, details: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """The ``no_skill`` check of ``model``'s holdout ``metric`` (``details``: its holdout details,
    read only for the metrics whose level needs them), or None when the metric has no level."""
    value = (model.metrics or {}).get(metric)
    if value is None:
        return None
    needs_details = metric in NEEDS_SHARES
    found = no_skill_level(metric, model.metrics or {}, details() if needs_details else {})
    if found is None:
        if not needs_details:
            return None
        return {"metric": metric, "value": value, "level": None, "ok": None,
                "note": f"no holdout class shares recorded: {metric}'s no-skill level unknown"}
    level, what = found
    eps = 1e-9 * max(1.0, abs(level))  # a constant score lands on the level up to rounding
    ok = value < level - eps if metric in LOWER_IS_BETTER else value > level + eps
    out = {"metric": metric, "value": value, "level": level, "what": what, "ok": ok}
    interval = details().get("interval") if ok else None
    if interval and interval.get("metric") == metric and interval.get("low") is not None \
            and interval.get("high") is not None and interval["low"] <= level <= interval["high"]:
        out["noise"] = {k: interval[k] for k in ("low", "high", "rows", "confidence") if k in interval}
        out["within_noise"] = True
    return out


def within_noise(checks: dict[str, Any]) -> list[str]:
    """The phrase of a no-skill check passed with its level inside the holdout figure's interval: a
    pass, and a warning that the holdout is too small to tell the model from one without skill."""
    return explain({k: c for k, c in checks.items() if k == "no_skill" and c.get("within_noise")})


def _group(feature: str, g: Group) -> str:
    interval = f", interval {g.interval[0]:.3g}–{g.interval[1]:.3g}" if g.interval else ""
    return f"{feature}={g.value!r} ({g.metric:.3g}{interval}, {g.n} rows)"


def check_versions(ws: Workspace, models: list[ModelVersion], *,
                   champion: ModelVersion | None = None) -> dict[str, Verdict]:
    """The verdict of every version in ``models`` by ref (``model show`` lists them all).

    A version is never measured against itself: the champion's own verdict omits the drop check.
    """
    return {m.ref: check(ws, m, champion=None if champion is None or champion.ref == m.ref else champion)
            for m in models}
