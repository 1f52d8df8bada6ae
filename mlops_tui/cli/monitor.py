"""`monitor`, `feedback` and `retrain`: a deployment's life after it scores (see the README's CLI contract).

Thin: parse, call ``mlops_tui.monitoring``, emit JSON or a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from mlops_tui.cli._common import JsonFlag, emit, err, fmt, out, styled, table, workspace
from mlops_tui.formatting import fmt_p
from mlops_tui.serving.sweep import sweep_jobs

if TYPE_CHECKING:
    from mlops_tui.monitoring.monitor import Performance
    from mlops_tui.monitoring.retrain import Retrained

STATUS_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red", None: "dim"}


def _status(value: str | None) -> Text:
    return Text(value or "—", style=STATUS_STYLE.get(value, "dim"))


# -- monitor / feedback -------------------------------------------------------------------------
BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None]) -> str:
    """Unicode bars scaled to the largest value; a gap for unmeasured points."""
    known = [v for v in values if v is not None]
    top = max(known, default=0.0) or 1.0
    return "".join(" " if v is None else BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1)))] for v in values)


def _perf_text(perf: Performance | None) -> str:
    if not perf:
        return "—"
    cmp = perf.metrics.get("comparison") or {}  # as stored by feedback
    value = f"{cmp.get('metric')}={fmt(cmp.get('live'))} " if cmp.get("metric") else ""
    return f"{value}{_status(perf.status)}"


def _name(feature: str) -> str:
    return "(prediction)" if feature == "__prediction__" else feature


def _mean(value: float | None) -> str:
    """A feature mean people can read: 4,185 and 2,008 rather than 4.19e+03 and 2.01e+03."""
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def monitor(
    deployment: Annotated[str, typer.Argument(metavar="DEP", help="Deployment name.")],
    limit: Annotated[int, typer.Option("--limit", min=1, help="Most recent jobs to show.")] = 20,
    job: Annotated[str | None, typer.Option("--job", help="Show the features of this job (id or unique "
                                            "prefix) instead of the latest one.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Drift and live performance of a deployment's scoring jobs.

    Worst features first.

    Example: mlops-tui monitor bikes-prod --json
    """
    from mlops_tui.monitoring import monitor as monitoring

    ws = workspace()
    sweep_jobs(ws)
    res = monitoring.monitor(ws, deployment, limit=limit)
    detail = monitoring.pick_job(res, job) if job else next((j for j in res.jobs if j.drift), None)

    def render() -> None:
        jobs = res.jobs
        alerted = sum(j.status == "alert" for j in jobs)
        history = f" (latest job; {alerted} of {len(jobs)} alerted)" if alerted else ""
        out.print(styled((res.deployment, "bold"), f" → {res.model}:{res.version}   drift ",
                         _status(res.status), f"{history}   performance ", _status(res.performance_status)))
        if not jobs:
            out.print(f"no scoring jobs yet; `mlops-tui score {res.deployment} FILE` runs one")
            return
        trend = [j.prediction_drift for j in reversed(jobs)]
        out.print(f"prediction drift (PSI, oldest → newest) {sparkline(trend)}  "
                  f"thresholds warn {fmt(res.thresholds['psi_warn'])} / alert {fmt(res.thresholds['psi_alert'])}")
        t = table(None, ["scored", "job", "model", "rows", "drift", "pred PSI", "worst features", "perf"], [])
        for j in jobs:
            worst = [_name(f.feature) for f in j.drift if f.status in ("warn", "alert") and f.kind != "prediction"]
            t.add_row(j.created_at.strftime("%m-%d %H:%M") if j.created_at else "—",
                      j.job_id[:8] + (" online" if j.kind == "online" else ""),
                      j.model, fmt(j.rows),
                      _status(j.status) if j.job_status == "succeeded" else Text(j.job_status, style="red"),
                      fmt(j.prediction_drift, 2), ", ".join(worst[:3]) + (" …" if len(worst) > 3 else "") or "—",
                      _perf_text(j.performance))
        out.print(t)
        if detail and not detail.drift:
            out.print(f"job {detail.job_id}: drift not measured")
        elif detail:
            ft = table(f"features of job {detail.job_id}, worst first",
                       ["feature", "kind", "drift", "PSI", "p", "nulls", "new", "mean"], [])
            for f in detail.drift:
                nulls = "—" if f.null_rate_ref is None else f"{f.null_rate_ref:.0%}→{f.null_rate_cur:.0%}"
                mean = "—" if f.ref_mean is None else f"{_mean(f.ref_mean)}→{_mean(f.cur_mean)}"
                kind = {"numeric": "num", "categorical": "cat", "prediction": "pred"}.get(f.kind, f.kind)
                ft.add_row(_name(f.feature), kind, _status(f.status), fmt(f.psi, 3),
                           fmt_p(f.pvalue, missing="—"), nulls, fmt(f.new_categories), mean)
            out.print(ft)
            for f in detail.drift:
                if f.note:
                    out.print(f"{f.feature}: {f.note}", markup=False, soft_wrap=True)

    emit(res, as_json, render)


def feedback(
    deployment: Annotated[str, typer.Argument(metavar="DEP", help="Deployment name.")],
    labels: Annotated[str, typer.Argument(metavar="LABELS", help="CSV/Parquet file with the id column and the true label.")],
    id_column: Annotated[str, typer.Option("--id-column", help="Column joining labels to scored rows.")],
    label_column: Annotated[str | None, typer.Option("--label-column", help="Label column [default: the model's target].")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 3 when live performance alerts (for cron).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Join labels that arrived later to scored rows.

    Live metrics per job, against the holdout figure.

    Example: mlops-tui feedback credit-prod labels.csv --id-column customer_id
    """
    from mlops_tui.errors import PolicyRefused
    from mlops_tui.monitoring import monitor as monitoring

    res = monitoring.feedback(workspace(), deployment, labels, id_column=id_column, label_column=label_column)
    for w in res.warnings:
        err.print(f"warning: {w}", markup=False, soft_wrap=True)

    cmp = res.comparison

    def render() -> None:
        unlabelled = f" ({res.unlabelled:,} row(s) of the file had no label)" if res.unlabelled else ""
        out.print(f"{res.labels_matched:,} of {res.labels:,} labels matched {res.rows_matched:,} scored rows in "
                  f"{res.jobs_matched} job(s) of {res.deployment}{unlabelled}: {_status(res.status)}")
        if not res.metrics:
            out.print(f"no labelled row was scored by {res.model} (the deployed model) yet: figures per job only")
        if cmp and cmp.metric:
            noise = (f"; over {cmp.noise.rows:,} resampled rows the drop is {fmt(cmp.noise.low)} to {fmt(cmp.noise.high)}"
                     if cmp.noise else "")
            out.print(f"{cmp.metric} live {fmt(cmp.live)} vs holdout {fmt(cmp.holdout)} "
                      f"(drop {fmt(cmp.drop)}, allowed {fmt(cmp.limit)}{noise})")
        out.print(table(None, ["job", "model", "rows", "metric", "live", "holdout", "status"], [
            (j.job_id, j.model, j.rows_matched, j.comparison.metric, j.comparison.live,
             j.comparison.holdout, j.status) for j in res.jobs]))

    if strict and res.status == "alert":
        raise PolicyRefused(f"live performance of {res.deployment} alerts: {cmp and cmp.metric} "
                            f"{fmt(cmp and cmp.live)} vs holdout {fmt(cmp and cmp.holdout)}", res)
    emit(res, as_json, render)


# -- retrain ----------------------------------------------------------------------------------------
def retrain(
    deployment: Annotated[str, typer.Argument(metavar="DEP", help="Deployment whose model is the champion.")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="New dataset version: NAME (latest) or NAME:V.")],
    trials: Annotated[int | None, typer.Option("--trials", min=1, help="Re-tune N trials, starting from the "
                                               "champion's parameters [default: reuse them as they are].")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Challenger vs champion on the new data's holdout.

    The challenger replaces the champion only if the gate passes and it wins (else exit 3).

    Cron-friendly: never prompts; one summary line (or --json); exit 0 promoted, 3 kept the champion,
    1 bad input.

    Example: mlops-tui retrain bikes-prod --dataset bikeshare --trials 10
    """
    from mlops_tui.errors import PolicyRefused
    from mlops_tui.monitoring import retrain as retraining

    try:
        res = retraining.retrain(workspace(), deployment, dataset, trials=trials)
    except PolicyRefused as exc:
        if not as_json:  # the summary line goes to stderr as the error; show the comparison too
            _comparison(exc.payload)
        raise

    def render() -> None:
        out.print(res.summary, markup=False)
        _comparison(res)
        for note in res.warnings:
            err.print(f"warning: {note}", markup=False)

    emit(res, as_json, render)


def _comparison(res: Retrained) -> None:
    if not res.metrics:
        return
    # untitled: the summary line above it names the rows the figures are on
    out.print(table(None, ["metric", f"champion {res.champion.ref}", f"challenger {res.challenger.ref}"],
                    [(k, v.champion, v.challenger) for k, v in res.metrics.items()]))


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
    app.command("feedback")(feedback)
    app.command("retrain")(retrain)
