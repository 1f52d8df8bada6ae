"""The statistics behind a drift status, and the rule that turns them into ok / warn / alert.

A status needs an effect big enough to matter *and* evidence that it is more than sampling noise:

* **Effect.** The PSI of the counts (decile bins of the training data, or categories plus a
  missing/unseen bucket) past ``psi_warn`` / ``psi_alert``. For a categorical feature also the share
  ratio: the PSI weighs a change by the category's size, so a category of 7 % whose share doubles
  scores only 0.06, although "twice as many applicants with a bad history" is drift anyone wants to
  hear of. A category holding at least ``MIN_SHARE`` of either side whose share moved by a factor of
  ``share_ratio_alert`` or more counts like a PSI past the alert line (:func:`share_shift`).
* **Evidence.** A job of n rows compared with N reference rows reaches a PSI of about
  (bins - 1) · (1/n + 1/N) by chance alone: 0.13 for a 28-category feature scored on 200 rows, past
  the warn line with nothing changed (ames' Neighborhood warned and alerted so). So a PSI warns only
  when the chi-square test of homogeneity on the same counts gives p below ``pvalue_noise``, and
  alerts only when a test is certain (KS or chi-square p below ``ks_pvalue_alert``). A share ratio
  is tested on the category's own share (Fisher, Bonferroni over categories); the null rate by a
  binomial test. Thresholds so hold at 200 rows and at 10 million alike: at small n the tests absorb
  the noise, at large n the effect lines keep certain but tiny shifts from alerting.

A certain difference on its own (a tiny effect on a large job) warns. Fewer than ``MIN_ROWS`` rows
never alert, and warn only on a test's evidence (a few rows leave no test: no warning). Figures: bench/drift_corpus.py over the real-data corpus (0 alerts and 0 warnings in
1,911 same-distribution checks, every shifted feature alerting). Tests are not calibrated exactly
(sparse cells, a reference that is itself a sample): simulated 200-row jobs of a 28-category feature
alert in about 0.3 % and warn in 2 % of cases; 10 categories: 0.05 % and 0.7 %.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

EPS = 1e-4
MIN_ROWS = 100  # below this, a job's drift can warn but never alert
MIN_SHARE = 0.05  # a category's share ratio counts when it holds this much of the reference or the job
DEFAULTS = {"psi_warn": 0.1, "psi_alert": 0.25, "ks_pvalue_alert": 0.001, "pvalue_noise": 0.01,
            "share_ratio_alert": 1.5, "null_rate_warn": 0.05, "null_rate_alert": 0.25}
ASYMPTOTIC_KS_ROWS = 500  # from this many rows a side, KS p-values come from the asymptotic distribution
RANK = {"ok": 0, "warn": 1, "alert": 2}


def limits(conf: dict[str, Any] | None) -> dict[str, float]:
    """The thresholds of ``[drift]`` in config.toml (``conf``), defaults for those it leaves out."""
    conf = conf or {}
    return {k: float(conf.get(k, v)) for k, v in DEFAULTS.items()}


def psi(ref: np.ndarray | Sequence[float], cur: np.ndarray | Sequence[float]) -> float | None:
    """Population stability index between two count (or proportion) vectors of the same bins."""
    r, c = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
    if r.sum() <= 0 or c.sum() <= 0:
        return None
    r = np.clip(r / r.sum(), EPS, None)
    c = np.clip(c / c.sum(), EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def ks_test(ref: list[float] | np.ndarray, cur: np.ndarray) -> tuple[float | None, float | None]:
    from scipy.stats import ks_2samp, kstwo

    r = np.asarray(ref, dtype=float)
    r, c = r[~np.isnan(r)], cur[~np.isnan(cur)]
    if r.size < 2 or c.size < 2:
        return None, None
    # scipy's "auto" computes the exact p-value up to 10,000 rows a side: O(n·m), 0.2 s per
    # feature at our 5,000-row samples (seconds per job on a wide model). From a few hundred rows
    # a side the asymptotic distribution is accurate far below the alert threshold.
    if min(r.size, c.size) < ASYMPTOTIC_KS_ROWS:
        res = ks_2samp(r, c)
        return float(res.statistic), float(res.pvalue)
    # ks_2samp(method="asymp")'s own steps, the same figures without its argument handling (a
    # third of the call: a job computes one per numeric feature, in its serial tail).
    r, c = np.sort(r), np.sort(c)
    both = np.concatenate([r, c])
    diffs = np.searchsorted(r, both, side="right") / r.size - np.searchsorted(c, both, side="right") / c.size
    d = max(float(np.clip(-diffs.min(), 0, 1)), float(diffs.max()))
    m, n = sorted([float(r.size), float(c.size)], reverse=True)
    return d, float(np.clip(kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))


def psi_noise(ref: np.ndarray | Sequence[float], n: int, draws: int = 200) -> float:
    """The mean PSI between the reference and ``n`` rows drawn from the reference distribution (the
    reference itself redrawn too, as it is a sample): what sampling noise alone scores, with the
    same bins and the same clipping of empty bins. Seeded: a job's status does not flicker."""
    r = np.asarray(ref, dtype=float)
    total = int(r.sum())
    if total <= 0 or n <= 0:
        return 0.0
    rng = np.random.default_rng(0)
    shares = r / total
    refs, curs = rng.multinomial(total, shares, size=draws), rng.multinomial(n, shares, size=draws)
    rs = np.clip(refs / total, EPS, None)
    cs = np.clip(curs / n, EPS, None)
    return float(np.mean(np.sum((cs - rs) * np.log(cs / rs), axis=1)))


def chi2_pvalue(ref: np.ndarray | Sequence[float], cur: np.ndarray | Sequence[float]) -> float | None:
    """p-value of the chi-square test that two count vectors of the same bins come from one
    distribution; None when no test is possible (an empty side, a single bin left)."""
    from scipy.special import chdtrc

    table = np.array([ref, cur], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) <= 0).any():
        return None
    # The test's approximation needs expected counts >= 5: sparse cells are pooled into one, and a
    # pool still too small joins the smallest of the others (a category of 0.1 % seen in 3 rows out
    # of 200 would otherwise weigh like a shift of the whole distribution).
    def expected(t: np.ndarray) -> np.ndarray:
        smallest: np.ndarray = (np.outer(t.sum(axis=1), t.sum(axis=0)) / t.sum()).min(axis=0)
        return smallest

    sparse = expected(table) < 5
    if sparse.all():  # a small sample over many bins: neighbours merged (see _merge_neighbours)
        table = _merge_neighbours(table)
    elif sparse.any():
        dense = table[:, ~sparse]
        pool = table[:, sparse].sum(axis=1)
        if expected(np.column_stack([dense, pool]))[-1] < 5:
            smallest = int(np.argmin(dense.sum(axis=0)))
            dense[:, smallest] += pool
            table = dense
        else:
            table = np.column_stack([dense, pool])
    if table.shape[1] < 2:
        return None
    # Pearson's statistic of the 2 x k table and its chi-square tail: what chi2_contingency (no
    # correction) computes, without its argument handling (a job computes one per feature).
    fitted = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    return float(chdtrc(table.shape[1] - 1, ((table - fitted) ** 2 / fitted).sum()))


def _merge_neighbours(table: np.ndarray) -> np.ndarray:
    """Adjacent bins of a 2 x k table merged, in order, until each holds enough rows for expected
    counts >= 5 on both sides (the rest joins the last). When every bin is sparse, pooling the
    sparse ones leaves nothing to compare, and testing the bins as they are wastes the test's power
    on degrees of freedom: the first 59 of 102 rows of openintro nyc_marathon (1970-1999 of
    1970-2020, 20 bins of year) scored p = 0.024 that way, 5e-5 merged."""
    need = 5 * table.sum() / table.sum(axis=1).min()
    merged: list[np.ndarray] = []
    pending = np.zeros(table.shape[0])
    for column in table.T:
        pending = pending + column
        if pending.sum() >= need:
            merged.append(pending)
            pending = np.zeros(table.shape[0])
    if merged:
        merged[-1] = merged[-1] + pending
    else:
        merged.append(pending)
    return np.column_stack(merged)


def null_pvalue(nulls: int, rows: int, ref_rate: float) -> float:
    """p-value of ``nulls`` missing values in ``rows`` where the reference had ``ref_rate``."""
    from scipy.stats import binomtest

    return float(binomtest(nulls, rows, min(max(ref_rate, 0.0), 1.0)).pvalue) if rows else 1.0


def share_shift(ref: np.ndarray | Sequence[float], cur: np.ndarray | Sequence[float],
                min_ratio: float) -> tuple[float, float] | None:
    """(largest share ratio, p-value) of a categorical feature's categories; None if a side is empty.

    The ratio is the largest factor by which a category's share moved, up or down, among categories
    holding at least MIN_SHARE of either side. The p-value is the smallest of the two-proportion
    exact tests of the categories that moved by ``min_ratio`` or more (1.0 when none did), times the
    number of categories tested (Bonferroni): picking the most changed of many categories must not
    turn noise into evidence. A change confined to one category of many is what the omnibus
    chi-square misses (mpg: dodge 14 % -> 32 % of 234 rows: chi-square p 0.04, this test 2e-4 after Bonferroni).
    """
    from scipy.stats import fisher_exact

    r, c = np.asarray(ref, dtype=float), np.asarray(cur, dtype=float)
    n_r, n_c = r.sum(), c.sum()
    if n_r <= 0 or n_c <= 0:
        return None
    pr, pc = r / n_r, c / n_c
    big = np.flatnonzero(np.maximum(pr, pc) >= MIN_SHARE)
    if big.size == 0:
        return 1.0, 1.0
    hi, lo = np.maximum(pr, pc)[big], np.minimum(pr, pc)[big]
    ratios = np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)
    # Fisher's exact test of the category's count against the rest, reference vs job: a normal
    # approximation understates the tail of a category of 10 expected rows and cried wolf.
    p = np.array([fisher_exact([[r[i], n_r - r[i]], [c[i], n_c - c[i]]]).pvalue if ratios[k] >= min_ratio
                  else 1.0 for k, i in enumerate(big)])
    p = np.minimum(1.0, p * big.size)
    return float(ratios.max()), float(p.min())


def verdict(lim: dict[str, float], rows: int, *, psi_value: float | None, p_same: float | None,
            p_certain: float | None = None, share: tuple[float, float] | None = None,
            null_change: float = 0.0, p_nulls: float = 1.0, noise: float = 0.0) -> str:
    """ok | warn | alert of one feature (see the module docstring for the why).

    ``p_same``: chi-square p of the counts the PSI is computed from (None: no test was possible, the
    PSI stands alone); ``p_certain``: the smallest p of the tests that may call a difference certain
    (KS and chi-square); ``share``: (ratio, p) of :func:`share_shift` for a categorical feature;
    ``null_change`` and ``p_nulls``: the change of the missing rate and its binomial p-value;
    ``noise``: :func:`psi_noise`, subtracted from the PSI before it meets the warn and alert lines.
    """
    # No test possible: the PSI stands alone on a job of MIN_ROWS or more; on fewer (an online window
    # of 3 requests, merged into one bin) it is no evidence (whickham's 3-row window warned at PSI 6).
    real = p_same < lim["pvalue_noise"] if p_same is not None else rows >= MIN_ROWS
    certain = p_certain is not None and p_certain < lim["ks_pvalue_alert"]
    psi_value = (psi_value or 0.0) - noise
    share_ratio, share_p = share or (1.0, 1.0)
    status = "ok"
    if (psi_value >= lim["psi_warn"] and real) or certain or (
            share_ratio >= lim["share_ratio_alert"] and share_p < lim["pvalue_noise"]):
        status = "warn"
    if (psi_value >= lim["psi_alert"] and certain) or (
            share_ratio >= lim["share_ratio_alert"] and share_p < lim["ks_pvalue_alert"]):
        status = "alert"
    if p_nulls < lim["pvalue_noise"] and null_change >= lim["null_rate_warn"]:
        status = "alert" if null_change >= lim["null_rate_alert"] or status == "alert" else "warn"
    if rows < MIN_ROWS and status == "alert":
        status = "warn"
    return status


# -- confidence intervals of a metric measured on a group of rows -------------------------------
def simultaneous_z(k: int, confidence: float = 0.95) -> float:
    """The z of two-sided intervals that hold together, with ``confidence``, for ``k`` estimates
    (Bonferroni): picking the widest gap among many groups must not turn noise into a finding."""
    from scipy.stats import norm

    return float(norm.ppf(1 - (1 - confidence) / (2 * max(k, 1))))


def wilson(p: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion ``p`` seen in ``n`` trials: honest at 0 % and 100 %
    (a group of 20 rows all classified right is not certain to be perfect)."""
    if n <= 0:
        return 0.0, 1.0
    zz = z * z / n
    centre = (p + zz / 2) / (1 + zz)
    half = z * float(np.sqrt(p * (1 - p) / n + zz / (4 * n))) / (1 + zz)
    return max(0.0, centre - half), min(1.0, centre + half)


def ratio_interval(num: np.ndarray, den: np.ndarray, z: float) -> tuple[float, float] | None:
    """Interval of ``sum(num) / sum(den)`` over rows (e.g. WAPE: absolute errors over absolute
    actuals) by the delta method; None when the denominator is zero or there are < 2 rows."""
    total = float(den.sum())
    if num.size < 2 or total == 0:
        return None
    ratio = float(num.sum()) / total
    se = float(np.sqrt(num.size * np.var(num - ratio * den, ddof=1))) / abs(total)
    return ratio - z * se, ratio + z * se


# -- how much a metric moves with the rows it was measured on ----------------------------------
BOOTSTRAP_ROWS = 2_000_000  # draws x rows per bootstrap: bounded cost whatever the sample size


def bootstrap_interval(statistic: Callable[[np.ndarray], float | None], n: int, *,
                       confidence: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Percentile interval of ``statistic(rows)`` over bootstrap resamples of ``n`` rows (each call
    gets an array of row indices drawn with replacement). 200 draws, fewer on large samples (at
    least 50) so draws x rows stays within BOOTSTRAP_ROWS; seeded, so a verdict does not flicker.
    None when fewer than 2 rows or no draw gave a value."""
    if n < 2:
        return None
    rng = np.random.default_rng(seed)
    draws = max(50, min(200, BOOTSTRAP_ROWS // n))
    values = [v for v in (statistic(rng.integers(0, n, n)) for _ in range(draws)) if v is not None]
    if not values:
        return None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)
