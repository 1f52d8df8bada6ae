"""Runs side by side: holdout metrics with deltas and the best marked, parameters, datasets.

Built for many runs: everything comes from a handful of bulk store reads (runs, their holdout
evaluations, the dataset versions involved), never one store open per run and never a file
read, so comparing 50 runs answers in milliseconds. The TUI's compare screen and ``run compare``
both call :func:`compare`; the HTML report (:mod:`mlops_tui.evaluation.report`) builds on its result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.evaluation.records import META_KEYS, Details, holdout_evaluations, read_details
from mlops_tui.results import Result
from mlops_tui.store import NotFoundError
from mlops_tui.training.metrics import LOWER_IS_BETTER, better

if TYPE_CHECKING:
    from mlops_tui.store import Evaluation, Run
    from mlops_tui.training.metrics import Metrics
    from mlops_tui.workspace import Workspace

# The order metrics are listed in (the rest follow alphabetically).
METRIC_ORDER = ("roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "precision", "recall", "f1",
                "best_f1", "f1_macro", "f1_weighted", "rmse", "mae", "r2", "mape")


def resolve_runs(ws: Workspace, refs: list[str]) -> list[Run]:
    """Run ids or unique prefixes → runs, in the order given (one bulk read for full ids)."""
    if not refs:
        raise UserError("name at least two runs to compare")
    found = {r.run_id: r for r in ws.store.runs.many(list(dict.fromkeys(refs)))}
    runs: list[Run] = []
    for ref in refs:
        run = found.get(ref)
        if run is None:
            try:
                run = ws.store.runs.resolve(ref)
            except NotFoundError as exc:
                raise UserError(str(exc)) from exc
        runs.append(run)
    seen: dict[str, str] = {}
    for ref, run in zip(refs, runs, strict=True):
        if run.run_id in seen:
            raise UserError(f"run {run.run_id} is named twice ({seen[run.run_id]!r} and {ref!r}); "
                            "comparing a run with itself shows nothing")
        seen[run.run_id] = ref
    return runs


def _metric_key(name: str) -> tuple[int, str]:
    return (METRIC_ORDER.index(name) if name in METRIC_ORDER else len(METRIC_ORDER), name)


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _metrics_of(run: Run, ev: Evaluation | None) -> Metrics:
    """The run's holdout metrics: its stored evaluation, else what tuning wrote on the run."""
    source = ev.metrics if ev is not None else (run.test_metrics or {})
    return {k: v for k, v in source.items() if k not in META_KEYS and _numeric(v)}


def _params_table(runs: list[Run]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """{param: {run_id: value}} with the parameters that differ first; and the differing names."""
    names = sorted({p for r in runs for p in (r.best_params or {})})
    table = {p: {r.run_id: (r.best_params or {}).get(p) for r in runs} for p in names}
    differing = [p for p in names if len({repr(v) for v in table[p].values()}) > 1]
    order = differing + [p for p in names if p not in differing]
    return {p: table[p] for p in order}, differing


@dataclass(frozen=True)
class ComparedRun(Result):
    """What a run is (data, model, holdout) in a comparison."""

    run_id: str
    name: str
    status: str
    task: str
    dataset: str
    dataset_version: int
    dataset_hash: str | None
    target: str
    metric: str
    direction: str
    best_value: float | None
    n_trials: int
    model: str | None
    eval_id: str | None
    details_path: str | None
    holdout_rows: int | None
    holdout_hash: str | None
    threshold: float | None
    best_f1_threshold: float | None
    created_at: datetime
    retrain_of: str | None = None  # a `retrain` run: the champion whose parameters it reused ('credit:1')

    @property
    def trials_text(self) -> str:
        """'12', or 'retrain (of credit:1)' for a retrain that ran no trials of its own (its 0 would
        read as a run that did nothing)."""
        return f"retrain (of {self.retrain_of})" if self.retrain_of and not self.n_trials else str(self.n_trials)


ByRun = dict[str, Any]
"""run id → a value of that run (a metric, a delta, a parameter): keyed by the runs compared."""


@dataclass(frozen=True)
class RunComparison(Result):
    """:func:`compare`'s answer; ``metrics``, ``deltas`` and ``params`` are by name, then by run id."""

    runs: tuple[ComparedRun, ...]
    metrics: dict[str, ByRun]
    deltas: dict[str, ByRun]
    best: dict[str, str | None]  # metric → the best run's id (None: a tie, or one run has it)
    lower_is_better: tuple[str, ...]
    params: dict[str, ByRun]
    differing_params: tuple[str, ...]
    warnings: tuple[str, ...]


def compare(ws: Workspace, run_refs: list[str]) -> RunComparison:
    """Compare runs (the README's CLI contract: ``runs``, ``metrics``, ``params``, ``warnings``).

    Deltas are against the first run named. Runs of different tasks may be compared: each metric
    lists the runs that have it, deltas and the best are taken within one task only, and a
    warning says the tasks differ.
    """
    if len(run_refs) < 2:
        raise UserError("name at least two runs to compare (e.g. `mlops-tui run compare a1b2 c3d4`)")
    return compare_runs(ws, resolve_runs(ws, run_refs))


def compare_runs(ws: Workspace, runs: list[Run]) -> RunComparison:
    """:func:`compare` on resolved runs (any number, one included: the report uses it that way)."""
    ids = [r.run_id for r in runs]
    evals = holdout_evaluations(ws.store.runs.evaluations_of(ids, kind="holdout"))
    hashes = _dataset_hashes(ws, runs)

    per_run = {r.run_id: _metrics_of(r, evals.get(r.run_id)) for r in runs}
    names = sorted({m for ms in per_run.values() for m in ms}, key=_metric_key)
    metrics = {m: {i: per_run[i].get(m) for i in ids} for m in names}
    first = ids[0]
    task = {r.run_id: r.task for r in runs}
    deltas: dict[str, dict[str, float | None]] = {}
    best: dict[str, str | None] = {}
    for m in names:
        # A log loss of a binary and of a multiclass model are different quantities: deltas and
        # "best" only among runs of one task (the first run's, else the first run having m).
        base = metrics[m][first]
        deltas[m] = {i: (v - base if v is not None and base is not None and task[i] == task[first] else None)
                     for i, v in metrics[m].items()}
        present = [(i, v) for i, v in metrics[m].items() if v is not None]
        if present:
            present = [(i, v) for i, v in present if task[i] == task[present[0][0]]]
        winner: tuple[str, Any] | None = None
        for i, v in present:
            if winner is None or better(m, v, winner[1]):
                winner = (i, v)
        # No "best" when fewer than two runs have the metric or they all tie.
        tied = len({v for _, v in present}) <= 1
        best[m] = winner[0] if winner and not tied else None
    params, differing = _params_table(runs)

    rows = []
    for r in runs:
        ev = evals.get(r.run_id)
        ev_meta = ev.metrics if ev else {}
        rows.append(ComparedRun(
            r.run_id, r.name, r.status, r.task, r.dataset, r.dataset_version,
            hashes.get((r.dataset, r.dataset_version)), r.target, r.metric, r.direction, r.best_value, r.n_trials,
            f"{r.model_name}:{r.model_version}" if r.model_name else None,
            ev.eval_id if ev else None, ev.details_path if ev else None, ev_meta.get("holdout_rows"),
            ev_meta.get("holdout_hash"), ev_meta.get("threshold"), ev_meta.get("best_f1_threshold"), r.created_at,
            str(r.config["retrain_of"]) if r.config.get("retrain_of") else None))
    return RunComparison(tuple(rows), metrics, deltas, best, tuple(m for m in names if m in LOWER_IS_BETTER),
                         params, tuple(differing), tuple(_warnings(runs, rows, per_run)))


def with_details(ws: Workspace, data: RunComparison) -> tuple[RunComparison, dict[str, Details]]:
    """The stored details of each compared run's holdout evaluation (run id → details), and the
    comparison with a warning for each details file that is missing or unreadable."""
    details: dict[str, Details] = {}
    missing: list[str] = []
    for row in data.runs:
        if row.details_path:
            found = read_details(ws, row.details_path)
            if found is None:
                missing.append(f"evaluation details of run {row.run_id} are missing or unreadable")
            else:
                details[row.run_id] = found
    return replace(data, warnings=data.warnings + tuple(missing)), details


def _dataset_hashes(ws: Workspace, runs: list[Run]) -> dict[tuple[str, int], str]:
    """Content hash of each dataset version the runs used (one read per dataset name)."""
    out: dict[tuple[str, int], str] = {}
    for name in dict.fromkeys(r.dataset for r in runs):
        for dv in ws.store.datasets.versions(name):
            out[(dv.name, dv.version)] = dv.hash
    return out


def _warnings(runs: list[Run], rows: list[ComparedRun], per_run: dict[str, dict[str, Any]]) -> list[str]:
    warnings: list[str] = []
    tasks = {r.task for r in runs}
    if len(tasks) > 1:
        warnings.append(f"runs solve different tasks ({', '.join(sorted(tasks))}): each metric is shown "
                        "only for the runs that have it and they are not comparable across tasks")
    datasets = {(r.dataset, r.dataset_version) for r in rows}
    if len({d for d, _ in datasets}) > 1:
        warnings.append("runs used different datasets: "
                        + ", ".join(sorted({f"{d}:{v}" for d, v in datasets})))
    elif len(datasets) > 1:
        warnings.append("runs used different versions of dataset "
                        f"{rows[0].dataset}: " + ", ".join(sorted({f"v{v}" for _, v in datasets})))
    from mlops_tui.evaluation.evaluate import same_holdout  # fingerprints of one scheme only

    hashed = [r for r in rows if r.holdout_hash]
    if any(same_holdout(a.holdout_hash, b.holdout_hash) is False or a.holdout_rows != b.holdout_rows
           for a in hashed for b in hashed):
        warnings.append("runs were evaluated on different holdouts (different rows), so their metrics "
                        "are not measured on the same data")
    targets = {r.target for r in runs}
    if len(targets) > 1:
        warnings.append(f"runs predict different targets: {', '.join(sorted(targets))}")
    missing = [r.run_id for r in runs if not per_run[r.run_id]]
    if missing:
        warnings.append(f"no holdout evaluation yet for {', '.join(missing)} "
                        "(run not finished or failed)")
    return warnings
