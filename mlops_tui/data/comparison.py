"""Two versions of a dataset compared (`dataset diff`): columns added, removed and retyped, and
each common column's drift, judged by the noise-aware rule scoring's drift uses (:mod:`mlops_tui.stats`),
since both versions are samples.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui import stats
from mlops_tui.data import profiling
from mlops_tui.data.datasets import resolve, snapshot_path
from mlops_tui.formatting import as_stored, fmt_apart, year_like
from mlops_tui.results import Result, omitted_if_none

if TYPE_CHECKING:
    from mlops_tui.workspace import Workspace


def _drift_status(limits: dict[str, float], counts: profiling.Counts, ra: dict[str, Any], rb: dict[str, Any],
                  categories: int | None = None) -> tuple[float | None, str]:
    """(PSI, ok | warn | alert) of one column by scoring drift's noise-aware rule (:mod:`mlops_tui.stats`):
    version ``b`` against ``a`` as a job against its training data, since both are samples. The PSI
    of two 233-row halves over 20 bins is ~0.16 by chance alone, so it counts only above what
    sampling noise scores and when the chi-square test says the counts differ; a category's share
    (the first ``categories`` bins) is tested on its own, and the missing rate by a binomial test."""
    ref, cur = counts
    value = stats.psi(ref, cur)
    p_same = stats.chi2_pvalue(ref, cur)
    n_cur = sum(cur)
    share = None if categories is None else stats.share_shift(ref[:categories], cur[:categories],
                                                              limits["share_ratio_alert"])
    null_change, p_nulls = _null_change(ra, rb)
    status = stats.verdict(limits, min(sum(ref), n_cur), psi_value=value, p_same=p_same, p_certain=p_same,
                           share=share, noise=stats.psi_noise(ref, n_cur), null_change=null_change, p_nulls=p_nulls)
    return value, status


def _null_change(ra: dict[str, Any], rb: dict[str, Any]) -> tuple[float, float]:
    """(change of the missing rate, its binomial p-value) of version ``b``'s column against ``a``'s."""
    null_a, nulls_b, rows_b = float(ra["null_rate"]), int(rb["nulls"]), int(rb["count"]) + int(rb["nulls"])
    return abs(nulls_b / max(rows_b, 1) - null_a), stats.null_pvalue(nulls_b, rows_b, null_a)


def _missing_detail(limits: dict[str, float], ra: dict[str, Any], rb: dict[str, Any]) -> str | None:
    """'missing 76.0% → 16.2%' when the missing rate moved enough to set the status (the rule of
    :func:`mlops_tui.stats.verdict`): MplsStops' citationIssued alerted at PSI 0.0004 with an empty
    detail, its cause, a missing rate of 76 % falling to 16 %, in no column of the table."""
    change, p = _null_change(ra, rb)
    if p >= limits["pvalue_noise"] or change < limits["null_rate_warn"]:
        return None
    return f"missing {float(ra['null_rate']):.1%} → {float(rb['null_rate']):.1%}"


@dataclass(frozen=True)
class Retyped(Result):
    """A column both versions have, with another type in the second."""

    name: str
    from_: str
    to: str


@dataclass(frozen=True)
class ColumnDrift(Result):
    """One common column of a :func:`diff`: its PSI (None when it cannot be measured) and status.

    ``mean_a``/``mean_b`` exist for numeric columns, the category lists for text columns."""

    column: str
    kind: str
    psi: float | None
    null_rate_a: float | None
    null_rate_b: float | None
    _: KW_ONLY
    mean_a: float | None = omitted_if_none()
    mean_b: float | None = omitted_if_none()
    new_categories: tuple[str, ...] | None = omitted_if_none()
    vanished_categories: tuple[str, ...] | None = omitted_if_none()
    detail: str
    status: str


@dataclass(frozen=True)
class RowCounts(Result):
    a: int
    b: int


@dataclass(frozen=True)
class Renamed(Result):
    """A column of the first version that the second seems to hold under another name (as `dataset
    validate` asks: ISLR Wage's maritl written as marital was only 'added: marital   removed: maritl')."""

    from_: str
    to: str


@dataclass(frozen=True)
class Diff(Result):
    """Version ``b`` against version ``a``: columns added, removed, retyped; drift per common column."""

    a: str
    b: str
    rows: RowCounts
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[Retyped, ...]
    drift: tuple[ColumnDrift, ...]
    renamed: tuple[Renamed, ...] = ()


def _role_change(a: str, b: str, ref_b: str) -> str | None:
    """'role feature → ignored: tuning on REF leaves it out' when a column stops (or starts) being a
    feature: roles follow each version's rows (free text is a value for more than half of them), so
    seattlepets' animal_name, a feature of 24,000 licences, was free text in 6,000 of them, and a
    model retrained on those lost it with no word from diff."""
    learnt = ("feature", "category")
    if a == b or not {a, b} & set(learnt):
        return None
    if a in learnt and b in learnt:
        return f"role {a} → {b}: tuning on {ref_b} learns it as " + ("categories" if b == "category" else "numbers")
    return f"role {a} → {b}: tuning on {ref_b} " + ("leaves it out" if a in learnt else "uses it")


def diff(ws: Workspace, a: str, b: str) -> Diff:
    """Schema changes and per-column drift of version ``b`` against version ``a``.

    PSI over ``a``'s histogram bins for numbers (``b`` re-binned by one DuckDB pass over its
    snapshot), over the categories for text (new and vanished categories listed). Status: scoring
    drift's noise-aware rule with the workspace's ``[drift]`` thresholds (:func:`_drift_status`), so
    random halves of a small set are ok and a real shift alerts.
    """
    from mlops_tui.store import profiling as sql

    va, vb = resolve(ws, a), resolve(ws, b)
    sa = {e["name"]: e for e in va.schema}
    sb = {e["name"]: e for e in vb.schema}
    common = [c for c in sa if c in sb]
    # An id (customer_id, an export's rownames) is unique per row: new rows bring new ids by design, so
    # its "drift" would alarm on every appended month.
    ids = {c for c in common if "id" in (sa[c]["role"], sb[c]["role"])}
    pa, pb = va.profile, vb.profile
    numeric = {c: profiling.bin_spec(pa[c]["histogram"]["edges"]) for c in common
               if "histogram" in pa[c] and pb[c]["kind"] == "numeric" and c not in ids}
    # Text columns with too many values for a full count: both sides counted on the values either lists
    # as most frequent (see profiling.category_counts).
    listed = {c: sorted({str(v) for v, _ in [*pa[c].get("top", []), *pb[c].get("top", [])]}) for c in common
              if pa[c]["kind"] == pb[c]["kind"] == "categorical" and c not in ids
              and not (pa[c].get("top_complete") and pb[c].get("top_complete"))
              and (pa[c].get("top") or pb[c].get("top"))}
    counted_a = sql.counts_of(str(snapshot_path(ws, va)), listed)
    counted_b = sql.counts_of(str(snapshot_path(ws, vb)), listed)
    binned = sql.binned_counts(str(snapshot_path(ws, vb)), numeric)
    limits = stats.limits(ws.config.get("drift"))
    drift = []
    for c in common:
        ra, rb = pa[c], pb[c]
        psi, status, mean_a, mean_b, new, gone, shares = None, "n/a", None, None, None, None, None
        if c in ids:
            detail = "id column: not compared"
        elif c in numeric:
            psi, status = _drift_status(limits, profiling.numeric_counts(ra, binned[c]), ra, rb)
            mean_a, mean_b = ra.get("mean"), rb.get("mean")
            before, after = ((as_stored(mean_a), as_stored(mean_b)) if year_like(ra.get("min"), ra.get("max"))
                             else fmt_apart(mean_a, mean_b))
            detail = f"mean {before} → {after}"
        elif ra["kind"] == "categorical" and rb["kind"] == "categorical":
            counts, cats = profiling.category_counts(ra, rb, (counted_a.get(c, {}), counted_b.get(c, {})))
            psi, status = _drift_status(limits, counts, ra, rb, categories=len(cats))
            new = [v for v, n in zip(cats, counts[0], strict=False) if not n]
            gone = [v for v, n in zip(cats, counts[1], strict=False) if not n]
            detail = "; ".join(f"{what}: {', '.join(map(str, values[:5]))}"
                               for what, values in (("new", new), ("gone", gone)) if values)
            shares = _largest_share_change(counts, cats) if not detail and status in ("warn", "alert") else None
        elif ra["kind"] != rb["kind"]:
            detail = f"kind {ra['kind']} → {rb['kind']}"
        else:
            detail = f"range {ra.get('min')}..{ra.get('max')} → {rb.get('min')}..{rb.get('max')}"
        missing = _missing_detail(limits, ra, rb) if psi is not None else None
        detail = detail or ("" if missing else shares or "")  # the missing rate, when it moved, says why
        detail = "; ".join(filter(None, (_role_change(sa[c]["role"], sb[c]["role"], vb.ref), missing, detail)))
        drift.append(ColumnDrift(
            c, ra["kind"], psi, ra["null_rate"], rb["null_rate"], mean_a=mean_a, mean_b=mean_b,
            new_categories=None if new is None else tuple(new), vanished_categories=None if gone is None else tuple(gone),
            detail=detail, status=status))
    return Diff(
        va.ref, vb.ref, RowCounts(va.rows, vb.rows),
        added=tuple(c for c in sb if c not in sa), removed=tuple(c for c in sa if c not in sb),
        changed=tuple(Retyped(c, sa[c]["dtype"], sb[c]["dtype"]) for c in common if sa[c]["dtype"] != sb[c]["dtype"]),
        drift=tuple(drift), renamed=_renamed(sa, sb))


def _largest_share_change(counts: profiling.Counts, cats: list[str]) -> str:
    """'yes 29.5% → 50.4%': the category whose share of the rows moved most, for a drifted column
    that neither gained nor lost a category (carData Cowles' later volunteers alerted with no word
    of what changed)."""
    (a, b), n_a, n_b = counts, sum(counts[0]) or 1, sum(counts[1]) or 1
    i = max(range(len(cats)), key=lambda j: abs(b[j] / n_b - a[j] / n_a))
    return f"{cats[i]} {a[i] / n_a:.1%} → {b[i] / n_b:.1%}"


def _renamed(sa: dict[str, Any], sb: dict[str, Any]) -> tuple[Renamed, ...]:
    """Each removed column that an added one of a compatible type and a close name likely is."""
    from mlops_tui.data.validation import rename_of

    extra = {c: sb[c]["dtype"] for c in sb if c not in sa}
    found = ((c, rename_of(c, sa[c]["dtype"], extra)) for c in sa if c not in sb)
    return tuple(Renamed(c, to) for c, to in found if to)
