"""How drift statistics become a status: sampling noise of small jobs is not drift, a doubled
category is, whatever its size (mlops_tui.stats)."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_tui.stats import DEFAULTS, chi2_pvalue, psi, psi_noise, share_shift, verdict


def _status(ref, cur, rows=None):
    ref, cur = np.asarray(ref), np.asarray(cur)
    p = chi2_pvalue(ref, cur)
    n = int(rows or cur.sum())
    return verdict(DEFAULTS, n, psi_value=psi(ref, cur), p_same=p, p_certain=p, noise=psi_noise(ref, n),
                   share=share_shift(ref, cur, DEFAULTS["share_ratio_alert"]))


def test_two_hundred_rows_of_a_28_category_feature_pass_the_psi_line_by_chance_and_stay_ok():
    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.full(28, 3.0))
    ref = rng.multinomial(2400, shares)
    noisy = [rng.multinomial(200, shares) for _ in range(50)]
    assert np.mean([psi(ref, c) >= 0.1 for c in noisy]) > 0.3  # the PSI alone would warn often
    statuses = [_status(ref, c) for c in noisy]
    assert "alert" not in statuses and statuses.count("warn") <= 0.05 * len(statuses)


def test_a_small_category_whose_share_doubles_alerts_though_its_psi_is_small():
    ref, cur = [9300, 700], [1720, 280]  # 7 % -> 14 %
    assert psi(ref, cur) < 0.1
    assert share_shift(ref, cur, 1.5)[0] == pytest.approx(2.0)
    assert _status(ref, cur) == "alert"


def test_one_category_of_many_moving_is_found_by_its_own_share():
    ref = [26] + [161 // 14] * 14   # mpg: dodge 14 % of ~187 fitted rows, 14 other makes
    cur = [74] + [160 // 14] * 14   # dodge doubled in 234 rows
    assert chi2_pvalue(ref, cur) > 0.001  # the omnibus test alone is not sure
    assert _status(ref, cur) == "alert"


def test_the_same_ratio_on_too_few_rows_to_tell_stays_quiet():
    assert _status([50, 50], [7, 3]) == "ok"  # 10 rows: 70 % vs 50 % is noise


def test_three_rows_leave_no_test_and_no_warning():
    """An online window of 3-4 requests (hreal6's tour: mosaicData Whickham, datasets airquality) over
    ten decile bins: merged into one bin, no chi-square test is possible, and its PSI of 5-8 warned
    alone, turning the whole deployment's status to warn."""
    ref = [100] * 10
    assert chi2_pvalue(ref, [0] * 8 + [1, 2]) is None
    assert _status(ref, [0] * 8 + [1, 2]) == "ok"
    assert _status(ref, [3] + [0] * 9) == "ok"


def test_a_large_certain_but_tiny_shift_only_warns():
    ref, cur = [500_000, 500_000], [505_000, 495_000]  # 50.5 %: certain, too small to matter
    assert chi2_pvalue(ref, cur) < 1e-6
    assert _status(ref, cur) == "warn"


def test_sparse_cells_are_pooled_so_a_rare_category_seen_once_is_not_evidence():
    ref = [5000, 4990, 10]  # a category of 0.1 %
    assert chi2_pvalue(ref, [100, 97, 3]) > 0.01  # 3 rows of it in 200: pooled, not a shift of the whole
    assert _status(ref, [100, 97, 3]) == "ok"


def test_a_small_sample_over_many_bins_is_merged_so_a_missing_third_is_seen():
    # openintro nyc_marathon: two winners a year 1970-2020 (102 rows, 20 bins of year) against its
    # first 59 rows (1970-1999): every bin is sparse for 59 rows; tested bin by bin p was 0.024, "ok"
    ref = [6, 4] * 10
    cur = [6, 4] * 5 + [6, 3] + [0] * 8
    assert chi2_pvalue(ref, cur) < 1e-4
    assert _status(ref, cur) == "warn"  # (an alert needs more than 59 rows: MIN_ROWS)


def test_samples_of_the_same_distribution_over_sparse_bins_stay_ok():
    rng = np.random.default_rng(1)
    ref = rng.multinomial(102, np.full(20, 0.05))
    statuses = [_status(ref, rng.multinomial(59, np.full(20, 0.05))) for _ in range(100)]
    assert "alert" not in statuses and statuses.count("warn") <= 5
