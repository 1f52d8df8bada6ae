"""How a run measures its trials and uses the machine: the split seed, the protocol, the workers.

Decided once when a run starts, recorded in its config (and shown by `run show`), so a resumed run,
a reproduction and a retrain follow the same rules:

* **One holdout per dataset version.** The holdout is drawn with a split seed derived from the
  version's content hash, so every run of that version is evaluated on the same rows whatever its
  ``--seed`` (which varies only the search). ``--split-seed`` or a time split opts out.
  ``--group-column`` keeps the rows of a group on one side of it and of every fold (training.groups).
* **A holdout sized by its rows.** It selects nothing (trials are compared by cross-validation or
  on the validation split): it is the final, honest evaluation and the gate's rows, whose precision
  depends on how many rows it has, not on its share. So it keeps 20 % of a version up to
  :data:`HOLDOUT_ROWS` rows, then those rows until they are 10 %, then 10 % (as AutoGluon's
  holdout shrinks with the data; its floor is 500 rows), and the model learns from the rest.
* **Cross-validation for small data.** Up to :data:`CV_MAX_ROWS` rows besides the holdout, each
  trial is scored by k-fold cross-validation over all of them (the holdout never enters a fold), and
  the final model is the best trial's k fold models at the rounds where the folds' mean curve was
  best, fitted over :data:`FINAL_DRAWS` draws of the k folds (the trials' own, then others; one
  draw for data wider than :data:`DRAWS_MAX_CELLS` cells) and averaged (train.fit_folds):
  together they learnt from every non-holdout row. Larger sets
  (or a time split) use one validation split: k times cheaper, and the validation score of
  thousands of rows is already steady.
* **Every core.** Trials run in one worker process per core with one LightGBM thread each.
  Measured here (bench/tune_cores.py): one LightGBM fit on two threads was never faster than on one
  on a busy 2-core machine (OpenMP threads wait for each other), while two workers doubled the trials
  per second from 300 to 60,000 rows. A trial's threads stay 1; ``--jobs`` overrides the workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.results import Result

if TYPE_CHECKING:
    import numpy as np

    from mlops_tui.store import DatasetVersion
    from mlops_tui.training.prep import Prepared

CV_MAX_ROWS = 10_000
CV_FOLDS = 5
# Draws of the k folds the final model of a cross-validated run averages, when the data has at most
# DRAWS_MAX_CELLS rows x features besides the holdout. Measured (the same trial histories, the
# external 25 % of bench/tune_quality.py): two draws (10 models) against the trials' folds alone
# (5) scored better on all 9 sets below that size (attrition AUC 0.829 -> 0.836, fgl log loss
# 0.769 -> 0.759) and on neither above it (caravan, 297k cells, 0.733 -> 0.731; ames, 128k, R²
# 0.8797 -> 0.8796), where a second draw costs seconds of a short budget; three draws: no better.
FINAL_DRAWS = 2
DRAWS_MAX_CELLS = 50_000


# The holdout's share (see the module doc): HOLDOUT_ROWS rows, within HOLDOUT_SHARES of the version.
# Measured (bench/tune_quality.py, the same trials, the external 25 %, mean over 3-4 split seeds):
# ames (2,197 rows) R² 0.8983 holding out 10 % against 0.8888 at 20 %, HMDA (1,785) ROC AUC 0.8866
# against 0.8833, Caravan (4,366) 0.7584 against 0.7550, attrition (1,102; 18 %) 0.8300 against 0.8234.
HOLDOUT_ROWS = 200
HOLDOUT_SHARES = (0.1, 0.2)


def holdout_share(rows: int) -> float:
    """Share of a version's ``rows`` its holdout keeps (recorded in a run's config as test_size)."""
    low, high = HOLDOUT_SHARES
    return max(low, min(high, HOLDOUT_ROWS / max(rows, 1)))


def cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_seed(dv: DatasetVersion, explicit: int | None, time_column: str | None) -> tuple[int, str]:
    """(seed of the holdout split, where it came from)."""
    if explicit is not None:
        return explicit, "--split-seed"
    if time_column:
        return 0, f"time split on {time_column} (the holdout is the latest slice)"
    return int(dv.hash[:8], 16) % 2**31, f"fixed for {dv.ref} (from its content hash)"


@dataclass(frozen=True)
class Protocol(Result):
    """How trials validate (``holdout`` or ``cv`` with ``folds``), and why; kept in the run's config."""

    kind: str
    folds: int
    reason: str
    final_draws: int = 1  # cv: the final model's draws of the k folds (k x final_draws models averaged)


def choose(prepared: Prepared, time_column: str | None) -> Protocol:
    """The trials' protocol for this data, with the reason given to the user."""
    fit_rows = prepared.train.height + prepared.valid.height
    if time_column:
        return Protocol("holdout", 1, "time split: trials validate on the slice just before the holdout")
    if fit_rows <= CV_MAX_ROWS:
        folds = min(CV_FOLDS, _max_folds(prepared))
        if folds >= 2:
            reason = (f"{fit_rows} rows besides the holdout (<= {CV_MAX_ROWS:,}): {folds}-fold cross-validation "
                      "uses them all for both training and validation")
            if prepared.report.get("group_column"):
                reason += f"; rows sharing {prepared.report['group_column']!r} stay in one fold"
            if fit_rows * len(prepared.signature.features) > DRAWS_MAX_CELLS:
                return Protocol("cv", folds, reason)
            return Protocol("cv", folds, reason + f"; the final model averages the best trial's fold models over "
                                                  f"{FINAL_DRAWS} draws of the folds (<= {DRAWS_MAX_CELLS:,} cells)",
                            FINAL_DRAWS)
    return Protocol("holdout", 1, f"{fit_rows} rows besides the holdout: one validation split of "
                                  f"{prepared.valid.height} rows is steady and {CV_FOLDS}x cheaper than folds")


def _max_folds(prepared: Prepared) -> int:
    """Stratified folds need every class in each one: no more folds than the rarest class has rows
    (nor than the groups, with a group column)."""
    import polars as pl

    from mlops_tui.training.prep import fitted_rows

    fit = fitted_rows(prepared)
    group = prepared.report.get("group_column")
    limits = [CV_FOLDS, fit[group].n_unique() if group else CV_FOLDS]
    if prepared.task != "regression":
        limits += fit[prepared.signature.target].cast(pl.String).value_counts()["count"].to_list()
    return min(limits)


def folds(config: dict[str, Any], prepared: Prepared, draws: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) row positions in train+valid (the rows prep.fitted_rows stacks).

    Holdout protocol: the prepared split itself. CV: stratified (classifiers) k folds seeded with
    the split seed, so every trial of a run, in every worker, sees the same folds; ``draws`` > 1
    (the final model) adds k folds per draw, seeded with the split seed + the draw's number. With a
    group column, each group's rows stay in one fold (training.groups)."""
    import numpy as np

    n_train, n_valid = prepared.train.height, prepared.valid.height
    protocol = config.get("protocol") or {"kind": "holdout"}
    if protocol["kind"] != "cv":
        return [(np.arange(n_train), np.arange(n_train, n_train + n_valid))]
    from sklearn.model_selection import KFold, StratifiedKFold

    from mlops_tui.training.prep import fitted_rows, labels

    seed = int(config.get("split_seed", config.get("seed", 0)))
    fit = fitted_rows(prepared)
    idx = np.arange(fit.height)
    y = None if prepared.task == "regression" else labels(prepared.signature, fit[prepared.signature.target])
    k = int(protocol["folds"])
    if config.get("group_column"):
        from mlops_tui.training import groups

        codes = groups.codes(fit, config["group_column"])
        return [f for draw in range(draws) for f in groups.folds(k, seed + draw, y, codes)]
    kind: Any = KFold if y is None else StratifiedKFold
    return [(a, b) for draw in range(draws)
            for a, b in kind(k, shuffle=True, random_state=seed + draw).split(idx, y)]


# Metrics that are not averages over rows: a trial's score is the mean of its folds' (trial_score).
RANK_METRICS = ("roc_auc", "pr_auc")


def trial_score(task: str, metric: str, y: np.ndarray, preds: list[np.ndarray],
                folds: list[tuple[np.ndarray, np.ndarray]], classes: list[str]) -> float | None:
    """A trial's score from its out-of-fold predictions (``preds[i]`` on the validation rows of
    ``folds[i]``; ``y``: the labels of prep.fitted_rows).

    A rank metric (ROC AUC, PR AUC) is the mean of the folds' own values, as LightGBM's early
    stopping measures it: pooled, the folds' predictions are ranked against each other, so the fold
    models' different score scales count as errors that the final model, their average, does not
    make. Measured on the corpus at the same trials (bench/tune_quality.py, 6 binary sets x 2 trial
    counts): configurations chosen by the folds' mean scored better on the external 25 % in 8 of 12
    pairs, equal in 1 (swisslabor 0.719 -> 0.728, attrition 0.819 -> 0.825, caravan 0.727 -> 0.732;
    worst biopsy 0.9899 -> 0.9883). Other metrics, averages over rows, take the pooled predictions;
    so does a rank metric when a fold has one class only (a group split), which has no AUC."""
    import numpy as np

    from mlops_tui.training import metrics as mx

    if metric in RANK_METRICS and len(folds) > 1:
        values = [mx.score(task, metric, y[valid], pred, classes=classes)
                  for pred, (_, valid) in zip(preds, folds, strict=True)]
        if all(v is not None for v in values):
            return float(np.mean([v for v in values if v is not None]))
    rows = np.concatenate([valid for _, valid in folds])
    return mx.score(task, metric, y[rows], np.concatenate(preds), classes=classes)


# A running run's phase (runs.phase), written by its supervisor (worker.supervise): the run head and
# `run show` read it; the supervisor's log line names the final one too (older runs' heads read that).
SEARCHING = "searching"
FINAL_MODEL = "training the final model"


def final_fit(config: dict[str, Any]) -> str:
    """How the run's final model is made, in words: the best trial's fold models averaged (CV), or
    one refit on train+valid."""
    cv = (config.get("protocol") or {}).get("kind") == "cv"
    return "its fold models, averaged" if cv else "one refit on train+valid"


def final_draws(config: dict[str, Any]) -> int:
    """Draws of the folds the run's final model averages (1 for runs recorded before draws)."""
    return int((config.get("protocol") or {}).get("final_draws", 1))


def final_cost(config: dict[str, Any]) -> float:
    """The final model's training time in units of the best trial's fit (the budget reserves it):
    CV refits the trial's fold models once per draw; one split refits on train+valid (1.5x rows);
    ``threshold_for`` refits the trial's fold models once more, for their unseen rows' predictions."""
    chosen = 1.0 if config.get("threshold_for") else 0.0
    return chosen + (float(final_draws(config)) if (config.get("protocol") or {}).get("kind") == "cv" else 1.5)


def resources(jobs: int | None, trials: int | None, timeout: float | None) -> tuple[int, int, str]:
    """(worker processes, LightGBM threads per trial, why). A worker costs ~1 s of imports and data
    preparation: a few trials without a time budget are not worth one each (4 trials a worker)."""
    n = cores()
    if jobs is not None:
        return jobs, 1, f"--jobs {jobs}"
    if timeout is None and trials is not None and trials < 4 * n:
        k = max(1, trials // 4)
        return k, 1, f"{trials} trial(s): {k} worker(s) of 4+ trials, one thread each"
    return n, 1, f"{n} core(s): one worker per core, one thread each (bench/tune_cores.py)"
