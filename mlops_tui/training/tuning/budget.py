"""`--timeout T` bounds the whole run: preparation, trials, the final refit, evaluation, registration.

The clock starts when the `tune` process started (or the detached supervisor was asked for), and
is an absolute wall-clock deadline shared by every worker process of the run on this host. Trials
end at a *cut-off* before the deadline that leaves room for the final step: a fixed part (holdout
evaluation, model file, store writes, the command's exit) plus the final model's training,
estimated from the best trial's fit time. The fixed part grows with how slow the start-up was (imports, store, data preparation: the same kind of work): ~2 s on an idle machine,
several times that on a busy one. A trial still training at the cut-off stops
there, keeping the best round it reached (its score stays honest: measured on its validation rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import optuna

FIXED_RESERVE_S = 1.0     # the final step without the refit (holdout details, model file, store)
STARTUP_SHARE = 0.15      # plus this share of the start-up's seconds (a busy machine slows both)
RESERVE_SHARE = 0.03      # plus this share of the budget, for the noise of a shared machine


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

    @classmethod
    def starting(cls, started: float, timeout_s: float | None, final_cost: float, startup_s: float) -> Budget:
        if timeout_s is None:
            return cls(final_cost=final_cost)
        return cls(deadline=started + timeout_s, total_s=timeout_s, final_cost=final_cost, startup_s=startup_s)

    def cutoff(self, study: optuna.Study | None) -> float | None:
        """When trials must end (None: not yet, or no time limit). Until a trial has completed
        there is no cut-off: when the start-up took the whole budget (a busy machine), the run
        still ends with a model that learnt to early stopping, not one cut after a round (measured:
        hitters R² 0.06 instead of ~0.5 when 37 s of a 30 s budget went to start-up)."""
        if self.deadline is None or self.total_s is None:
            return None
        best = _best(study)
        if best is None:
            return None
        seconds = best.user_attrs.get("fit_s")
        refit = float(seconds or 0.0) * self.final_cost
        return (self.deadline - FIXED_RESERVE_S - STARTUP_SHARE * self.startup_s - RESERVE_SHARE * self.total_s
                - refit)

    def over(self, study: optuna.Study | None) -> bool:
        cutoff = self.cutoff(study)
        return cutoff is not None and time.time() >= cutoff


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

    The cut-off moves as trials complete elsewhere (a new best trial changes the refit estimate), so
    it is asked again at most once a second: every worker then stops near the same moment."""

    order = 40

    def __init__(self, cutoff: Callable[[], float | None]) -> None:
        self.cutoff_of = cutoff
        self.cutoff = cutoff()
        self.asked = time.monotonic()
        self.best: tuple[int, float, Any] | None = None  # (iteration, score, evaluation list)

    def __call__(self, env: Any) -> None:
        import lightgbm as lgb

        results = env.evaluation_result_list or []
        if results:
            first = results[0]
            score, higher = first[2], first[3]
            if self.best is None or (score > self.best[1] if higher else score < self.best[1]):
                self.best = (env.iteration, score, results)
        if self.cutoff is None:
            return
        if time.monotonic() - self.asked > 1.0:
            self.cutoff, self.asked = self.cutoff_of(), time.monotonic()
        if self.cutoff is not None and time.time() >= self.cutoff:
            iteration, _, kept = self.best or (env.iteration, None, results)
            raise lgb.callback.EarlyStopException(iteration, kept)
