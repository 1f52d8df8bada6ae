"""`tune` and the `run` group: list, show, stop, resume, logs, compare, reproduce (see the README's CLI
contract). Thin: parse, call ``mlops_tui.training.tuning`` (compare: ``mlops_tui.evaluation``;
reproduce: ``mlops_tui.monitoring.retrain``), emit."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from mlops_tui.cli._common import (
    GROUPS,
    JsonFlag,
    emit,
    err,
    fmt,
    out,
    styled,
    table,
    threshold_line,
    workspace,
)


def _summary(run: Any) -> dict[str, Any]:
    model = {"name": run.model_name, "version": run.model_version} if run.model_name else None
    return {"run_id": run.run_id, "name": run.name, "dataset": run.dataset,
            "dataset_version": run.dataset_version, "target": run.target, "task": run.task,
            "status": run.status, "phase": run.phase, "metric": run.metric, "direction": run.direction,
            "best_value": run.best_value, "n_trials": run.n_trials,
            "n_trials_requested": run.n_trials_requested, "n_jobs": run.n_jobs, "seed": run.seed,
            "model": model, "pid": run.pid, "host": run.host, "error": run.error,
            "created_at": run.created_at, "started_at": run.started_at, "ended_at": run.ended_at}


def _hosts(trials: list[Any]) -> list[dict[str, Any]]:
    """Trials per host: how a study shared by several servers was spread."""
    by: dict[str, dict[str, Any]] = {}
    for t in trials:
        row = by.setdefault(t.host or "?", {"host": t.host or "?", "trials": 0, "COMPLETE": 0, "PRUNED": 0,
                                            "FAIL": 0, "RUNNING": 0})
        row["trials"] += 1
        row[t.state] = row.get(t.state, 0) + 1
    return [{k.lower(): v for k, v in row.items()} for row in by.values()]


def _details(ws: Any, run: Any) -> dict[str, Any]:
    trials = ws.store.runs.trials(run.run_id)
    workers = ws.store.runs.workers(run.run_id) if run.config.get("storage") else []
    return {**_summary(run), "storage": run.config.get("storage") or "journal",
            "hosts": _hosts(trials),
            "workers": [{"host": w.host, "pid": w.pid, "state": w.state, "alive": w.alive and run.status in
                         ("queued", "running", "stopping"), "trials": w.trials, "reason": w.reason,
                         "seen_at": w.seen_at} for w in workers],
            "best_params": run.best_params, "test_metrics": run.test_metrics,
            "prep": run.prep, "warnings": (run.prep or {}).get("warnings", []), "config": run.config,
            "log": str(_log_path(ws, run.run_id)), "protocol": _protocol(run.config),
            "trials": [{"number": t.number, "state": t.state, "value": t.value, "params": t.params,
                        "duration_s": t.duration_s, "pid": t.pid, "host": t.host,
                        "intermediate": t.intermediate, "ended_at": t.ended_at} for t in trials]}


def _protocol(config: dict[str, Any]) -> dict[str, Any]:
    """How the run measured its trials and why (issue 13); runs from before say 'holdout'."""
    protocol = config.get("protocol") or {"kind": "holdout", "folds": 1, "reason": "recorded before protocols"}
    return {**protocol, "group_column": config.get("group_column"),
            "split_seed": config.get("split_seed", config.get("seed")),
            "split_seed_source": config.get("split_seed_source", "--seed (recorded before split seeds)"),
            "holdout_share": float(config.get("test_size", 0.2)),
            "warm_start_trials": len(config.get("warm_start") or []), "workers": config.get("jobs"),
            "resources": config.get("resources")}


def _protocol_line(p: dict[str, Any]) -> str:
    kind = f"{p['folds']}-fold cross-validation" if p["kind"] == "cv" else "one validation split"
    groups = f"; rows sharing {p['group_column']!r} kept on one side" if p.get("group_column") else ""
    return (f"protocol: {kind} ({p['reason']}); holdout {p['holdout_share']:.0%} of the rows, split seed "
            f"{p['split_seed']} ({p['split_seed_source']}){groups}; {p['warm_start_trials']} warm-start trial(s)")


def _log_path(ws: Any, run_id: str) -> Any:
    from mlops_tui.training.tuning.worker import log_path

    return log_path(ws, run_id)


class _Bar:
    """Rich progress on stderr: trials done / total, best so far, elapsed, ETA.

    It appears only once the run exists (``begin``, the ``on_start`` hook): input refused by
    validation prints its one error line and nothing else."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.progress: Any = None
        self.task: Any = None

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def begin(self, run: Any) -> None:
        """Start the bar (and its clock) for ``run``; a resumed run starts at the trials it has."""
        if not self.enabled or self.progress is not None:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("best {task.fields[best]}"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=err, transient=False)
        self.progress.start()
        best = fmt(run.best_value) if run.best_value is not None else "—"
        self.task = self.progress.add_task(f"tuning {run.run_id}", total=run.n_trials_requested,
                                           completed=run.n_trials, best=best)

    def finish(self, run: Any) -> None:
        """The final count: trials of the other workers (--jobs) may end after this one's last."""
        if self.progress is not None:
            best = fmt(run.best_value) if run.best_value is not None else "—"
            self.progress.update(self.task, completed=run.n_trials, best=best)

    def __call__(self, study: Any) -> None:
        if self.progress is None:
            return
        from mlops_tui.training.tuning.study import finished

        done = finished(study)
        values = [t.value for t in done if t.state.name == "COMPLETE" and t.value is not None]
        maximize = study.direction.name == "MAXIMIZE"
        best = fmt((max if maximize else min)(values)) if values else "—"
        self.progress.update(self.task, completed=len(done), best=best)


def _render_result(payload: dict[str, Any]) -> None:
    status = payload["status"]
    out.print(f"run {payload['run_id']} {status}: {payload['n_trials']} trial(s), "
              f"best {payload['metric']} {fmt(payload['best_value'])}")
    for w in payload.get("warnings") or []:
        out.print(f"warning: {w}")
    if payload.get("model"):
        m = payload["model"]
        out.print(f"model {m['name']}:{m['version']} registered; holdout metrics:")
        metrics = payload.get("test_metrics") or {}
        out.print(table(None, ["metric", "value"], [[k, v] for k, v in metrics.items()
                                                    if isinstance(v, int | float)]))
        if line := threshold_line(metrics):
            out.print(line, markup=False)


def tune(
    ref: Annotated[str, typer.Argument(metavar="REF", help="Dataset NAME (latest) or NAME:VERSION.")],
    target: Annotated[str | None, typer.Option("--target", help="Column to predict [default: the dataset's].")] = None,
    task: Annotated[str, typer.Option("--task", help="auto | binary | multiclass | regression.")] = "auto",
    metric: Annotated[str | None, typer.Option("--metric", help="roc_auc, log_loss, rmse, f1, ... [default per task].")] = None,
    trials: Annotated[int | None, typer.Option("--trials", help="Number of trials [default: 20, or as many as --timeout allows].")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Wall-time budget of the whole run in seconds (trials, refit, evaluation).")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", help="Worker processes on this machine [default: one per core].")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the search (sampler and LightGBM); the holdout stays the version's.")] = 0,
    split_seed: Annotated[int | None, typer.Option("--split-seed", help="Draw the holdout with this seed instead of the version's fixed one.")] = None,
    time_column: Annotated[str | None, typer.Option("--time-column", help="Split by time; the holdout is the latest slice.")] = None,
    group_column: Annotated[str | None, typer.Option(
        "--group-column", help="Rows sharing this column's value (one case, several rows) stay on one side of the "
                               "holdout and of every cross-validation fold.")] = None,
    space: Annotated[str | None, typer.Option("--space", help="TOML file overriding the search space.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name [default: the dataset's].")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Run in the background; survives the terminal.")] = False,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="postgresql+psycopg://USER@HOST:PORT/DB: the study lives there and other servers "
                          "join it with `mlops-tui worker`; 'journal': this host only [default: config.toml's "
                          "[tuning] storage, else journal].")] = None,
    threshold_for: Annotated[str | None, typer.Option(
        "--threshold-for", help="Binary: label class 1 from the probability that maximises f1 or balanced_accuracy "
                                "on rows the model did not learn from (out-of-fold or validation) [default: 0.5].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Tune LightGBM with Optuna on a dataset version.

    It ends with a holdout-evaluated, registered model.

    Example: mlops-tui tune penguins --trials 30 --metric accuracy --detach
    """
    from mlops_tui.training import tuning

    ws = workspace()
    from mlops_tui.training.tuning.budget import process_start

    opts = tuning.TuneOptions(dataset=ref, target=target, task=task, metric=metric,
                              trials=trials if trials is not None or timeout is not None else 20,
                              timeout=timeout, jobs=jobs, seed=seed, split_seed=split_seed,
                              time_column=time_column, group_column=group_column, space_file=space, name=name,
                              storage=storage, threshold_for=threshold_for)
    started = time.monotonic()
    if detach:
        run = tuning.start(ws, opts, detach=True, started=process_start())
        payload = {**_summary(run), "log": str(_log_path(ws, run.run_id))}
        emit(payload, as_json, lambda: out.print(
            f"run {run.run_id} started in the background (pid {run.pid}); follow it with "
            f"`mlops-tui run show {run.run_id}` or `mlops-tui run logs {run.run_id}`"))
        return
    with _Bar(not as_json) as bar:
        run = tuning.start(ws, opts, detach=False, on_trial=bar, on_start=bar.begin, started=process_start())
        bar.finish(run)
    payload = {**_details(ws, run), "seconds": round(time.monotonic() - started, 2)}
    payload.pop("trials")
    emit(payload, as_json, lambda: _render_result(payload))


def list_(
    status: Annotated[str | None, typer.Option("--status", help="queued|running|stopping|stopped|completed|failed")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Tuning runs, newest first.

    Dead workers are detected and their runs marked failed first.

    Example: mlops-tui run list --status running --json
    """
    from mlops_tui.training import tuning

    ws = workspace()
    tuning.sweep(ws)
    items = [_summary(r) for r in ws.store.runs.list(status=status, dataset=dataset)]
    keys = ["run_id", "name", "dataset", "status", "metric", "best_value", "n_trials", "created_at"]
    emit(items, as_json, lambda: out.print(
        table(None, keys, [[d[k] for k in keys] for d in items]) if items else "no runs yet; try `mlops-tui tune DATASET`"))


def show(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id or a unique prefix.")],
    as_json: JsonFlag = False,
) -> None:
    """One run: trials, holdout metrics, importances, gate verdict.

    Also its preparation, slice metrics and per-class figures: everything the HTML report shows,
    in the terminal.

    Example: mlops-tui run show 3f9c
    """
    from mlops_tui.registry import evidence
    from mlops_tui.training import tuning

    ws = workspace()
    tuning.sweep(ws)
    run = tuning.get(ws, run_ref)
    payload = {**_details(ws, run), **evidence.run_evidence(ws, run).to_json()}

    def render() -> None:
        p = payload
        out.print(f"run {p['run_id']}  {p['status']}  {p['dataset']}:{p['dataset_version']} → {p['target']} "
                  f"({p['task']})  {p['metric']} {p['direction']}  best {fmt(p['best_value'])}")
        out.print(_protocol_line(p["protocol"]))
        if p["error"]:
            out.print(f"error: {p['error']}")
        for w in p["warnings"]:
            out.print(f"warning: {w}")
        out.print(table("trials", ["#", "state", "value", "seconds", "host", "pid"],
                        [[t["number"], t["state"], t["value"], t["duration_s"], t["host"], t["pid"]]
                         for t in p["trials"]]))
        if len(p["hosts"]) > 1 or p["workers"]:
            out.print(f"study: {p['storage']}", markup=False, highlight=False)
            out.print(table("trials per host", ["host", "trials", "complete", "pruned", "fail", "running"],
                            [[h["host"], h["trials"], h["complete"], h["pruned"], h["fail"], h["running"]]
                             for h in p["hosts"]]))
        if p["workers"]:
            out.print(table("workers", ["host", "pid", "alive", "trials", "state", "note"],
                            [[w["host"], w["pid"], "yes" if w["alive"] else "no", w["trials"], w["state"],
                              w["reason"] or ""] for w in p["workers"]]))
        if p["test_metrics"]:
            out.print(table("holdout", ["metric", "value"],
                            [[k, v] for k, v in p["test_metrics"].items() if isinstance(v, int | float)]))
            if line := threshold_line(p["test_metrics"]):
                out.print(line, markup=False)
        _render_evidence(p)

    emit(payload, as_json, render)


def _render_evidence(p: dict[str, Any]) -> None:
    """Importances (top features by gain), the slice gaps, each class's figures and the gate verdict."""
    from mlops_tui.registry.evidence import TOP_FEATURES

    if p["importance"]:
        top = p["importance"][:TOP_FEATURES]
        out.print(table(f"importance (top {len(top)} of {len(p['importance'])} by gain)",
                        ["feature", "gain %", "mean |SHAP|", "splits"],
                        [[f["feature"], f"{100 * f['gain_share']:.1f}", f["shap"], f["split"]] for f in top]))
    if p["slices"] and p["slices"]["features"]:
        sl, metric = p["slices"], p["slices"]["metric"]
        worst_first = sorted(sl["features"], key=lambda f: -1.0 if f["gap"] is None else -f["gap"])
        shown = worst_first[:TOP_FEATURES]

        def group(feature: dict[str, Any], value: Any) -> str:
            g = next((g for g in feature["groups"] if g["value"] == value), None)
            return "—" if g is None else f"{value} ({fmt(g[metric], 3)}, n={g['n']})"

        more = f"; {len(worst_first) - len(shown)} more in --json" if len(worst_first) > len(shown) else ""
        out.print(table(f"slices ({metric} per group of ≥ {sl['min_rows']} rows, widest gap first{more})",
                        ["feature", "groups", "gap", "best", "worst"],
                        [[f["feature"] + (" (time)" if f["kind"] == "time" else ""), len(f["groups"]),
                          fmt(f["gap"], 3), group(f, f["best"]), group(f, f["worst"])] for f in shown]))
    if p["per_class"]:
        missed = [c["label"] for c in p["per_class"] if c["support"] and not c["recall"]]
        note = f"; never found: {', '.join(missed)}" if missed else ""
        out.print(table(f"per class (holdout rows of each class{note})", ["class", "precision", "recall", "f1", "rows"],
                        [[c["label"], fmt(c["precision"], 3), fmt(c["recall"], 3), fmt(c["f1"], 3), c["support"]]
                         for c in p["per_class"]]))
    g = p["gate"]
    if g:
        verdict = ("passes", "green") if g["passed"] else ("refused", "red")
        against = f" against champion {g['champion']}" if g["champion"] else ""
        why = "; ".join(g["reasons"]) if g["reasons"] else " · ".join(g["explain"]) or "no [gate] policy set"
        out.print(styled(f"gate: {g['model']} ", verdict, f"{against}: {why}"))


def stop(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id or a unique prefix.")],
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for the run to end (0: don't).")] = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Stop a run gracefully; it can be resumed.

    The current trial finishes, then the run is 'stopped'.

    Example: mlops-tui run stop 3f9c --wait 120
    """
    from mlops_tui.training import tuning

    ws = workspace()
    run = tuning.stop(ws, run_ref, wait=wait)
    emit(_summary(run), as_json, lambda: out.print(f"run {run.run_id} {run.status}"))


def resume(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id or a unique prefix.")],
    trials: Annotated[int | None, typer.Option("--trials", help="More trials [default: the rest of the original number; a run limited by --timeout only: another --timeout].")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Continue in the background.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Continue the study of a stopped, failed or completed run.

    A killed run is failed; trial numbers continue.

    Example: mlops-tui run resume 3f9c --trials 10 --detach
    """
    from mlops_tui.training import tuning

    ws = workspace()
    if detach:
        run = tuning.resume(ws, run_ref, trials=trials, detach=True)
        emit(_summary(run), as_json, lambda: out.print(f"run {run.run_id} resumed in the background (pid {run.pid})"))
        return
    with _Bar(not as_json) as bar:
        run = tuning.resume(ws, run_ref, trials=trials, detach=False, on_trial=bar, on_start=bar.begin)
        bar.finish(run)
    payload = _details(ws, run)
    payload.pop("trials")
    emit(payload, as_json, lambda: _render_result(payload))


def logs(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id or a unique prefix.")],
    lines: Annotated[int, typer.Option("--lines", "-n", help="Last N lines (0: all).")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """The log of a run (worker output, trial results, errors).

    Example: mlops-tui run logs 3f9c -n 50
    """
    from mlops_tui.training import tuning

    ws = workspace()
    run = tuning.get(ws, run_ref)
    path = tuning.log_path(ws, run.run_id)
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    shown = text[-lines:] if lines > 0 else text
    payload = {"run_id": run.run_id, "status": run.status, "path": str(path), "lines": shown}
    emit(payload, as_json, lambda: out.print("\n".join(shown) if shown else f"(no log yet at {path})",
                                             markup=False, highlight=False, soft_wrap=True))


# -- compare / reproduce -----------------------------------------------------------------------
def _delta(v: float | None) -> str:
    return "" if v is None or v == 0 else f" ({v:+.4g})"


def _short(value: Any, key: str) -> Any:
    """Hashes cut to 12 characters for the table (``--json`` has them in full)."""
    return value[:12] if key.endswith("hash") and isinstance(value, str) else value


def compare(
    runs: Annotated[list[str], typer.Argument(metavar="RUN", help="Two or more run ids (unique prefixes work).")],
    as_json: JsonFlag = False,
) -> None:
    """Runs side by side: holdout metrics, parameters, datasets.

    Metrics show their deltas to the first run; the best is marked *.

    Example: mlops-tui run compare 3f2a 9c1d
    """
    from mlops_tui.evaluation import compare as cmp

    res = cmp.compare(workspace(), runs)

    def render() -> None:
        ids = [r.run_id for r in res.runs]
        short = [i[:8] for i in ids]
        out.print(table("runs", ["", *short], [
            (label, *(_short(getattr(r, key), key) for r in res.runs)) for label, key in (
                ("name", "name"), ("task", "task"), ("dataset", "dataset"), ("version", "dataset_version"),
                ("hash", "dataset_hash"), ("holdout rows", "holdout_rows"), ("trials", "trials_text"),
                ("model", "model"), ("status", "status"))]))
        rows: list[list[Any]] = []
        for m, values in res.metrics.items():
            cells = []
            for i in ids:
                v = values[i]
                mark = "*" if res.best.get(m) == i else ""
                cells.append("—" if v is None else f"{fmt(v)}{mark}{_delta(res.deltas[m][i])}")
            rows.append([m + (" ↓" if m in res.lower_is_better else ""), *cells])
        out.print(table("holdout metrics (Δ vs first, * best)", ["metric", *short], rows))
        out.print(table("parameters (differing first)", ["param", *short], [
            [p + (" ≠" if p in res.differing_params else ""), *(values[i] for i in ids)]
            for p, values in res.params.items()]))
        for w in res.warnings:
            err.print(f"warning: {w}", markup=False, soft_wrap=True)

    emit(res, as_json, render)


def reproduce(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id (a unique prefix is enough).")],
    as_json: JsonFlag = False,
) -> None:
    """Retrain a run's final model from its record.

    Its holdout predictions must be identical (exit 1 if not).

    Example: mlops-tui run reproduce 3f2a9c
    """
    from mlops_tui.monitoring import retrain as retraining

    res = retraining.reproduce(workspace(), run)

    def render() -> None:
        verdict = ("identical", "green") if res.identical else ("DIFFERENT", "bold red")
        out.print(styled(f"run {res.run_id} → {res.model}: holdout predictions ", verdict,
                         f" over {res.rows} rows (max abs diff {fmt(res.max_abs_diff)}); "
                         f"model file identical: {res.model_file_identical}"))

    emit(res, as_json, render)
    if not res.identical:
        raise typer.Exit(1)


def worker(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="Run id (or a unique prefix) of a study in --storage.")],
    storage: Annotated[str, typer.Option("--storage", help="The run's postgresql+psycopg://USER@HOST:PORT/DB "
                                                          "(password from PGPASSWORD or ~/.pgpass).")],
    data: Annotated[str | None, typer.Option("--data", help="A copy of the run's dataset snapshot (Parquet), checked "
                                                            "against the run's content hash [default: the "
                                                            "snapshot's path, on a shared filesystem].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Join a run's study from another server.

    Runs trials until the run's budget is spent or it stops.

    Needs no workspace: the run's settings come from the study. Trials appear in the launching
    host's `run show` and TUI; `run stop` there stops this worker after its current trial.

    Example: mlops-tui worker 3f9c --storage postgresql+psycopg://optuna@db1:5432/studies --data penguins.parquet
    """
    import logging
    import signal
    import threading

    from mlops_tui.training.tuning import remote

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # finish the current trial, then leave
    result = remote.join(storage, run_ref, data=data, stop=stop)
    emit(result, as_json, lambda: out.print(
        f"worker {result.host}:{result.pid} ran {result.trials} trial(s) of run {result.run_id}; {result.reason}"))


def register(app: typer.Typer) -> None:
    app.command("tune")(tune)
    app.command("worker")(worker)
    group = GROUPS["run"]
    group.command("list")(list_)
    group.command("show")(show)
    group.command("stop")(stop)
    group.command("resume")(resume)
    group.command("logs")(logs)
    group.command("compare")(compare)
    group.command("reproduce")(reproduce)
