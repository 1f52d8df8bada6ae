"""The time budget's cut-off for the first trial of a run (training/tuning/budget.py)."""

from __future__ import annotations

import time

import lightgbm as lgb
import pytest

from mlops_tui.training.tuning.budget import FIRST_TRIAL_SHARE, Budget, TimeGuard


def _round(guard: TimeGuard, iteration: int) -> None:
    """One boosting round's callback, as lgb.cv calls it (LightGBM's own CallbackEnv)."""
    guard(lgb.callback.CallbackEnv(model=None, params={}, iteration=iteration, begin_iteration=0, end_iteration=1000,
                                   evaluation_result_list=[("valid", "rmse", 100.0 - iteration, False, 0.0)]))


def test_the_first_trial_learns_for_its_share_counted_from_its_first_round_not_from_the_binning():
    """diamonds resampled to 6M rows, `tune --timeout 90`: LightGBM binned the trial's rows for 20 s
    before its first round, the first trial's share of the budget (18 s) was spent by then, and the
    trial was cut after one round: a one-round model, R² 0.19, registered in 50 s of the 90. The
    share now counts from the first round: here a 10 s budget whose first round ends 2 s in (the
    binning), priced so that the final model takes the rest, is not cut until 2 s later."""
    budget = Budget.starting(time.time(), 10.0, final_cost=5.0, startup_s=0.0)
    guard = TimeGuard(lambda running: budget.cutoff(None, running))
    time.sleep(2.0)  # LightGBM bins the rows: the first round's callback comes late
    _round(guard, 0)  # its final model priced at 2 s x 5: past the deadline less the final step
    first_round = guard.learning_since
    assert first_round is not None and guard.cutoff == pytest.approx(first_round + FIRST_TRIAL_SHARE * 10.0)
    for i in range(1, 4):
        _round(guard, i)  # no EarlyStopException: the trial goes on learning
    time.sleep(max(0.0, guard.cutoff - time.time()) + 0.05)
    with pytest.raises(lgb.callback.EarlyStopException) as cut:
        _round(guard, 4)
    assert cut.value.best_iteration == 4
