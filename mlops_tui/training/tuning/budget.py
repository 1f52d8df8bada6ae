"""`--timeout T` bounds the whole run: preparation, trials, the final refit, evaluation, registration.

The clock starts when the `tune` process started (or the detached supervisor was asked for), and
is an absolute wall-clock deadline shared by every worker process of the run on this host. Trials
end at a *cut-off* before the deadline that leaves room for the final step: a fixed part (holdout
evaluation, model file, store writes, the command's exit) plus the final model's training,
estimated from the best trial's fit time up to its best round. The fixed part grows with how slow
the start-up was (imports, store, data preparation: the same kind of work) and with the rows: ~2 s
on an idle machine and small data, several times that on a busy one or on a million rows. A trial
still training at the cut-off stops there, keeping the best round it reached (its score stays
honest: measured on its validation rows).

A trial in flight prices the final model from its own pace too (it may become the best): its
seconds per round times its best round so far; the earlier cut-off wins. Before any trial has
completed it is the only price. Without it the first trial ran to early stopping whatever the
budget: MASS Pima resampled to 1.2M rows, `--timeout 120`, took 169 s, 112 of them in the first
trial (268 rounds, best 28). The first trial is never cut before it had :data:`FIRST_TRIAL_SHARE`
of the budget to learn, counted from its first round (after LightGBM has binned its rows), so a
start-up that took the whole budget (a busy machine) still ends with a model that learnt for a
while, not one cut after a round (measured before this rule existed: hitters R² 0.06 instead of
~0.5 when 37 s of a 30 s budget went to start-up). Counted from the trial's start instead, the
binning of a large set ate the share: diamonds resampled to 6M rows, `--timeout 90`, binned for
20 s, was cut after one round and registered a one-round model (R² 0.19) in 50 s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("mlops_tui.training.tuning")

FIXED_RESERVE_S = 1.0     # the final step without the refit (holdout details, model file, store)
# plus this per row of the data: predicting and evaluating the holdout, hashing the fitted rows, the
# drift reference (measured 2.2 us a row at 1.2M rows on a busy machine: 2.6 s; doubled for a busier one)
FINAL_ROW_S = 4e-6
STARTUP_SHARE = 0.15      # plus this share of the start-up's seconds (a busy machine slows both)
RESERVE_SHARE = 0.03      # plus this share of the budget, for the noise of a shared machine
FIRST_TRIAL_SHARE = 0.2   # the first trial runs at least this share of the budget before a cut


def process_start() -> float:
    """When the command started (time.time()): in the `mlops-tui` process itself, the process's
    start, so `--timeout` counts the interpreter's start-up and imports too (the user waits for
    them); called in-process by something else (a test, a script), now."""
    import sys

    import psutil

    if not getattr(sys.modules.get("mlops_tui.entry"), "LAUNCHED_AS_COMMAND", False):
        return time.time()
    try:
        return float(psutil.Process().create_time())
    except psutil.Error:
        return time.time()


@dataclass(frozen=True)
class Budget:
    deadline: float | None = None  # time.time() by which the whole run should have ended
    total_s: float | None = None
    final_cost: float = 1.0  # the final model's training, in best-trial fits (protocol.final_cost)
    startup_s: float = 0.0  # from the start to the first trial of the supervisor
    rows: int = 0  # the run's labelled rows (the final step's evaluation and hashing grow with them)

    @classmethod
    def starting(cls, started: float, timeout_s: float | None, final_cost: float, startup_s: float,
                 rows: int = 0) -> Budget:
        if timeout_s is None:
            return cls(final_cost=final_cost)
        return cls(deadline=started + timeout_s, total_s=timeout_s, final_cost=final_cost, startup_s=startup_s,
                   rows=rows)

    def cutoff(self, study: optuna.Study | None, running: tuple[float, float] | None = None) -> float | None:
        """When trials must end (None: no time limit, or no trial completed nor ``running``).

        The final model is priced by a trial's fit time up to its best round (the final model
        trains that many rounds; the patience rounds after it are not refitted: on 1.2M rows they
        were 240 of a 268-round, 45 s trial, and pricing them left 56 s of a 120 s budget unused):
        the best completed trial's, and ``running`` = (when the trial in flight started, its fit's
        cost so far up to its best round; "started" is when its first round ended, its rows binned),
        which may become the best (mpg: a 14 s second trial of
        96 leaves, priced by the 2 s first one, left a 29 s final step in 8 s). The earlier cut-off
        wins; with no completed trial, it is no earlier than :data:`FIRST_TRIAL_SHARE` of the
        budget into the trial."""
        if self.deadline is None or self.total_s is None:
            return None
        best = _best(study)
        if best is None:
            if running is None:
                return None
            return max(self._before_final(running[1]), running[0] + FIRST_TRIAL_SHARE * self.total_s)
        cutoff = self._before_final(_fit_to_best_round(best))
        return cutoff if running is None else min(cutoff, self._before_final(running[1]))

    def _before_final(self, fit_s: float) -> float:
        """The deadline less the final step: its fixed part, its part per row and the final model's
        training (``fit_s``: a trial's fit to its best round)."""
        assert self.deadline is not None and self.total_s is not None
        return (self.deadline - FIXED_RESERVE_S - FINAL_ROW_S * self.rows - STARTUP_SHARE * self.startup_s
                - RESERVE_SHARE * self.total_s - fit_s * self.final_cost)

    def over(self, study: optuna.Study | None) -> bool:
        cutoff = self.cutoff(study)
        return cutoff is not None and time.time() >= cutoff


def _fit_to_best_round(trial: optuna.trial.FrozenTrial) -> float:
    """A completed trial's fit time up to its best round (all of it for trials recorded before
    ``fit_rounds``)."""
    fit_s, rounds = float(trial.user_attrs.get("fit_s") or 0.0), trial.user_attrs.get("fit_rounds")
    return fit_s * min(1.0, trial.user_attrs.get("best_iteration", 0) / rounds) if rounds else fit_s


def _best(study: optuna.Study | None) -> optuna.trial.FrozenTrial | None:
    if study is None:
        return None
    try:
        return study.best_trial
    except ValueError:  # no trial completed yet
        return None


class TimeGuard:
    """A LightGBM callback that ends training at the cut-off, keeping the best round reached so far
    (lgb.train and lgb.cv both truncate to it). Runs after early stopping (order 30).

    ``cutoff`` is asked with the trial's own pace (see Budget.cutoff) at most once a second: the
    cut-off moves as trials complete elsewhere (a new best trial changes the refit estimate), and
    every worker then stops near the same moment."""

    order = 40

    def __init__(self, cutoff: Callable[[tuple[float, float] | None], float | None]) -> None:
        self.cutoff_of = cutoff
        self.started = time.time()
        self.cutoff = cutoff(None)
        self.asked = time.monotonic()
        self.best: tuple[int, float, Any] | None = None  # (iteration, score, evaluation list)
        self.rounds = 0  # rounds trained so far
        self.learning_since: float | None = None  # the end of the first round: its rows binned

    def __call__(self, env: Any) -> None:
        import lightgbm as lgb

        results = env.evaluation_result_list or []
        if results:
            first = results[0]
            score, higher = first[2], first[3]
            if self.best is None or (score > self.best[1] if higher else score < self.best[1]):
                self.best = (env.iteration, score, results)
        self.rounds = env.iteration - env.begin_iteration + 1
        if self.learning_since is None:
            self.learning_since = time.time()
        if time.monotonic() - self.asked > 1.0:
            best_round = (self.best[0] if self.best else env.iteration) - env.begin_iteration + 1
            # The first round's time holds the binning (the worker's first trial bins the rows, a later one
            # only takes its folds' subsets); the final model reuses the bins: priced on the safe side.
            fit_s = (time.time() - self.started) / self.rounds * best_round
            self.cutoff, self.asked = self.cutoff_of((self.learning_since, fit_s)), time.monotonic()
        if self.cutoff is not None and time.time() >= self.cutoff:
            iteration, _, kept = self.best or (env.iteration, None, results)
            log.info("trial cut at the time budget's cut-off after %d round(s) (best round %d kept)",
                     self.rounds, iteration - env.begin_iteration + 1)
            raise lgb.callback.EarlyStopException(iteration, kept)
