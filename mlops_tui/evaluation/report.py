"""`mlops-tui report`: one self-contained HTML file with the evidence for choosing between runs.

The file opens offline: styles inline, plots as inline SVG (:mod:`mlops_tui.evaluation.report_svg`), no
script and no URL anywhere. Its content comes from :func:`mlops_tui.evaluation.compare.compare_runs`, the
runs' trials and the stored evaluation details, so writing a report never re-scores a model.

Sections: runs (with warnings), holdout metrics, parameters, optimization history, parameter
importances, curves (ROC / PR / calibration for binary runs; predicted vs actual and residuals for
regression; per-class metrics for multiclass), confusion matrices, feature importance (gain and
mean |SHAP|), slice metrics, and evaluations of the runs' models on other data (`evaluate`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_tui.errors import UserError
from mlops_tui.evaluation import report_svg as svg
from mlops_tui.evaluation.compare import ComparedRun, RunComparison, compare_runs, resolve_runs, with_details
from mlops_tui.evaluation.records import Details
from mlops_tui.results import Result
from mlops_tui.training.metrics import LOWER_IS_BETTER
from mlops_tui.training.modelfile import atomic_write_bytes

if TYPE_CHECKING:
    from mlops_tui.store import Evaluation, Trial
    from mlops_tui.workspace import Workspace

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:14px;margin:14px 0 6px} .muted{color:#777;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px} th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4} td.l,th.l{text-align:left} td.best{font-weight:700;background:#e6f4ea}
.delta{color:#777;font-size:11px} .warn{background:#fff4e5;border-left:4px solid #f0a030;padding:6px 10px;margin:4px 0;font-size:13px}
.grid-charts{display:flex;flex-wrap:wrap;gap:12px} .chart{background:#fff;border:1px solid #eee}
.chart .title{font-size:13px;font-weight:600} .chart .tick{font-size:10px;fill:#555} .chart .axis{font-size:11px;fill:#333}
.chart .legend{font-size:11px} .chart .frame{fill:none;stroke:#999} .chart .grid{stroke:#eee}
.chart .diag{stroke:#aaa;stroke-dasharray:4 4} .swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
nav a{margin-right:10px;font-size:13px} .gap{font-weight:600}
"""


def _f(v: Any, digits: int = 4) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "—"
        return f"{v:.{digits}g}"
    if isinstance(v, list | tuple):  # an interval
        return "[" + ", ".join(_f(x, digits) for x in v) + "]"
    return escape(str(v))


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Rows of pre-escaped cells; the first ``left`` columns are left-aligned."""
    th = "".join(f'<th class="{"l" if i < left else ""}">{h}</th>' for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(c if c.startswith("<td") else f'<td class="{"l" if i < left else ""}">{c}</td>'
                                     for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


class _Ctx:
    """What every section needs: the comparison, trials, details and a label/colour per run."""

    def __init__(self, data: RunComparison, trials: dict[str, list[Trial]], details: dict[str, Details],
                 others: list[Evaluation] | None = None) -> None:
        self.data, self.trials, self.details = data, trials, details
        self.others = others or []
        self.runs = data.runs
        self.ids = [r.run_id for r in self.runs]
        self.label = {r.run_id: f"{r.run_id[:8]} {r.name}"[:28] for r in self.runs}
        self.color = {i: svg.color(n) for n, i in enumerate(self.ids)}

    def head(self) -> list[str]:
        return [f'<span class="swatch" style="background:{self.color[i]}"></span>{escape(self.label[i])}'
                for i in self.ids]


# -- sections ------------------------------------------------------------------------------------
def _runs_section(c: _Ctx) -> str:
    fields = [("task", "task"), ("status", "status"), ("dataset", "dataset"), ("version", "dataset_version"),
              ("dataset hash", "dataset_hash"), ("target", "target"), ("tuned metric", "metric"),
              ("best trial value", "best_value"), ("trials", "trials_text"), ("model", "model"),
              ("holdout rows", "holdout_rows"), ("holdout hash", "holdout_hash"),
              ("decision threshold", "threshold"), ("F1-best threshold", "best_f1_threshold"),
              ("created", "created_at")]
    def cell(r: ComparedRun, key: str) -> str:
        v = getattr(r, key)
        if key.endswith("hash") and isinstance(v, str):
            return f'<span title="{escape(v)}">{escape(v[:12])}</span>'
        if key == "created_at" and isinstance(v, datetime):
            return v.strftime("%Y-%m-%d %H:%M")
        return _f(v)

    rows = [[escape(label), *(cell(r, key) for r in c.runs)] for label, key in fields]
    warns = "".join(f'<div class="warn">{escape(w)}</div>' for w in c.data.warnings)
    return _table(["", *c.head()], rows) + warns


def _metrics_section(c: _Ctx) -> str:
    if not c.data.metrics:
        return '<p class="muted">no holdout metrics recorded for these runs</p>'
    rows = []
    for m, values in c.data.metrics.items():
        cells = []
        for i in c.ids:
            v, d = values[i], c.data.deltas[m][i]
            delta = f' <span class="delta">({d:+.3g})</span>' if d not in (None, 0) and i != c.ids[0] else ""
            cls = "best" if c.data.best.get(m) == i else ""
            cells.append(f'<td class="{cls}">{_f(v)}{delta}</td>')
        arrow = " ↓" if m in LOWER_IS_BETTER else " ↑"
        rows.append([escape(m) + arrow, *cells])
    note = '<p class="muted">Δ against the first run; best in green; ↑ higher is better, ↓ lower is better.</p>'
    return note + _table(["metric", *c.head()], rows)


def _params_section(c: _Ctx) -> str:
    if not c.data.params:
        return '<p class="muted">no tuned parameters recorded</p>'
    differing = set(c.data.differing_params)
    rows = [[escape(p) + (" <b>≠</b>" if p in differing else ""), *(_f(values[i], 6) for i in c.ids)]
            for p, values in c.data.params.items()]
    return '<p class="muted">best trial parameters; the ones that differ (≠) first</p>' + _table(
        ["parameter", *c.head()], rows)


def _history_section(c: _Ctx) -> str:
    """One chart per tuned metric (runs tuned on different metrics do not share an axis)."""
    charts = []
    for metric in dict.fromkeys(r.metric for r in c.runs):
        chart = _history_chart(c, [r for r in c.runs if r.metric == metric], metric)
        if chart:
            charts.append(chart)
    return f'<div class="grid-charts">{"".join(charts)}</div>' if charts else ""


def _history_chart(c: _Ctx, runs: list[ComparedRun], metric: str) -> str:
    series = []
    for r in runs:
        done = [(t.number, t.value) for t in c.trials.get(r.run_id, []) if t.state == "COMPLETE" and t.value is not None]
        if not done:
            continue
        xs = [n for n, _ in done]
        ys = [v for _, v in done]
        best: list[float | None] = []
        running: float | None = None
        for v in ys:
            if running is None or (v < running if r.direction == "minimize" else v > running):
                running = v
            best.append(running)
        series.append(svg.Series("", xs, ys, c.color[r.run_id], mode="points"))
        series.append(svg.Series(c.label[r.run_id] + " best", xs, best, c.color[r.run_id], mode="step"))
    if not series:
        return ""
    direction = "lower" if runs[0].direction == "minimize" else "higher"
    chart = svg.Chart(f"{metric} per trial (points), best so far (line); {direction} is better",
                      "trial", metric, series, width=560, height=320, x_integer=True)
    unplotted = {}
    for r in runs:
        states = [t.state for t in c.trials.get(r.run_id, []) if t.state != "COMPLETE" or t.value is None]
        if states:
            unplotted[r.run_id] = ", ".join(f"{states.count(s)} {s.lower()}" for s in dict.fromkeys(states))
    note = "".join(f'<p class="muted">{escape(c.label[i])}: not plotted (no value): {escape(t)}</p>'
                   for i, t in unplotted.items())
    return f"<div>{svg.render(chart)}{note}</div>"


def _param_importance_section(c: _Ctx) -> str:
    charts = []
    for i in c.ids:
        pi = (c.details.get(i) or {}).get("param_importances") or {}
        imp = pi.get("importances")
        if imp:
            charts.append(svg.bars(f"{c.label[i]}", list(imp), list(imp.values()), fill=c.color[i]))
        elif pi.get("reason"):
            charts.append(f'<p class="muted">{escape(c.label[i])}: {escape(pi["reason"])}</p>')
    return f'<div class="grid-charts">{"".join(charts)}</div>' if charts else ""


def _curves_section(c: _Ctx) -> str:
    by_task: dict[str, list[str]] = {}
    for i in c.ids:
        if c.details.get(i):
            by_task.setdefault(c.details[i]["task"], []).append(i)
    out = []
    binary = [(i, c.details[i].get("curves", {})) for i in by_task.get("binary", [])]
    if binary:
        roc = [svg.Series(c.label[i], cv["roc"]["fpr"], cv["roc"]["tpr"], c.color[i]) for i, cv in binary if "roc" in cv]
        pr = [svg.Series(c.label[i], cv["pr"]["recall"], cv["pr"]["precision"], c.color[i]) for i, cv in binary if "pr" in cv]
        cal = [svg.Series(c.label[i], cv["calibration"]["mean_predicted"], cv["calibration"]["fraction_positive"],
                          c.color[i], mode="linepoints", notes=_bin_notes(cv["calibration"]),
                          sizes=_bin_sizes(cv["calibration"]))
               for i, cv in binary if "calibration" in cv]
        unit = (0.0, 1.0)
        out.append(svg.render(svg.Chart("ROC curve", "false positive rate", "true positive rate", roc, unit, unit, True)))
        out.append(svg.render(svg.Chart("Precision-recall curve", "recall", "precision", pr, unit, (0.0, 1.02))))
        out.append(svg.render(svg.Chart("Calibration (10 bins; dot area = rows in the bin)",
                                        "mean predicted probability", "fraction positive", cal, unit, unit, True)))
    reg = [(i, c.details[i]["regression"]) for i in by_task.get("regression", []) if "regression" in c.details[i]]
    if reg:
        pts = [svg.Series(c.label[i], d["actual"], d["predicted"], c.color[i], mode="points") for i, d in reg]
        out.append(svg.render(svg.Chart("Predicted vs actual (sample)", "actual", "predicted", pts, diagonal=True)))
        res = [svg.Series(c.label[i], d["predicted"], d["residual"], c.color[i], mode="points") for i, d in reg]
        out.append(svg.render(svg.Chart("Residuals vs predicted (sample)", "predicted", "actual − predicted", res)))
        hist = []
        for i, d in reg:
            edges, counts = d["residual_hist"]["edges"], d["residual_hist"]["counts"]
            mids = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
            hist.append(svg.Series(c.label[i], mids, counts, c.color[i]))
        out.append(svg.render(svg.Chart("Residual distribution", "actual − predicted", "rows", hist)))
    html = f'<div class="grid-charts">{"".join(out)}</div>' if out else ""
    for i in by_task.get("multiclass", []):
        per = c.details[i].get("per_class") or {}
        rows = [[escape(k), _f(v["precision"]), _f(v["recall"]), _f(v["f1"]), _f(v["support"])] for k, v in per.items()]
        html += f"<h3>{escape(c.label[i])}: per class</h3>" + _table(["class", "precision", "recall", "F1", "rows"], rows)
    return html


def _bin_notes(cal: dict[str, Any]) -> list[str] | None:
    """'n rows' per calibration point: a bin of 3 rows swings wildly and should be read as such."""
    counts = cal.get("bin_counts") or []
    if len(counts) != len(cal.get("mean_predicted") or []):
        return None  # written by an older version with another binning
    return [f"{n:,} rows" for n in counts]


def _bin_sizes(cal: dict[str, Any]) -> list[float] | None:
    """Dot radius per calibration bin, its area proportional to the bin's rows."""
    counts = cal.get("bin_counts") or []
    if not counts or len(counts) != len(cal.get("mean_predicted") or []):
        return None
    peak = max(counts) or 1
    return [2.0 + 6.0 * math.sqrt(n / peak) for n in counts]


def _confusion_section(c: _Ctx) -> str:
    parts = []
    for i in c.ids:
        conf = (c.details.get(i) or {}).get("confusion")
        if not conf:
            continue
        labels, m = conf["labels"], conf["matrix"]
        peak = max((v for row in m for v in row), default=0) or 1
        rows = []
        for lab, row in zip(labels, m, strict=False):
            cells = [f'<td style="background:rgba(31,119,180,{0.08 + 0.8 * v / peak:.2f})">{v}</td>' for v in row]
            rows.append([escape(str(lab)), *cells])
        thr = c.details[i].get("threshold")
        note = f" (threshold {thr:g})" if isinstance(thr, int | float) else ""
        parts.append(f"<div><h3>{escape(c.label[i])}{note}</h3><p class='muted'>rows: actual, columns: predicted</p>"
                     + _table(["actual \\ predicted", *(escape(str(x)) for x in labels)], rows) + "</div>")
    return f'<div class="grid-charts">{"".join(parts)}</div>' if parts else ""


def _importance_section(c: _Ctx, top: int = 15) -> str:
    charts = []
    for i in c.ids:
        imp = (c.details.get(i) or {}).get("importance")
        if not imp:
            continue
        total = sum(v or 0 for v in imp["gain"]) or 1.0
        charts.append(svg.bars(f"{c.label[i]}: gain share", imp["features"][:top],
                               [(v or 0) / total for v in imp["gain"][:top]], fill=c.color[i], value_fmt="{:.1%}"))
        order = sorted(range(len(imp["features"])), key=lambda k: -(imp["shap"][k] or 0))[:top]
        charts.append(svg.bars(f"{c.label[i]}: mean |SHAP|", [imp["features"][k] for k in order],
                               [imp["shap"][k] for k in order], fill=c.color[i]))
    return f'<div class="grid-charts">{"".join(charts)}</div>' if charts else ""


def _slices_section(c: _Ctx) -> str:
    html = ""
    for i in c.ids:
        sl = (c.details.get(i) or {}).get("slices")
        if not sl or not sl.get("features"):
            continue
        metric = sl["metric"]
        time_gap = f"; across time periods {_f(sl['time_gap'], 3)}" if sl.get("time_gap") is not None else ""
        html += (f"<h3>{escape(c.label[i])}: {escape(metric)} per group — largest gap between categories "
                 f"<span class='gap'>{_f(sl.get('max_gap'), 3)}</span> ({escape(str(sl.get('max_gap_feature')))})"
                 f"{time_gap}</h3>")
        if sl.get("metric_note"):
            html += f"<p class='muted'>{escape(metric)}: {escape(sl['metric_note'])}</p>"
        for feat in sl["features"]:
            keys = [k for k in feat["groups"][0] if k not in ("value", "n")] if feat["groups"] else []
            rows = []
            for g in feat["groups"]:
                mark = " ▲" if g["value"] == feat["best"] else " ▼" if g["value"] == feat["worst"] else ""
                rows.append([escape(str(g["value"])) + mark, _f(g["n"]), *(_f(g.get(k)) for k in keys)])
            period = f", by {feat['period']}" if feat.get("period") else ""
            html += (f"<p class='muted'>{escape(feat['feature'])} ({feat['kind']}{period}): gap {_f(feat['gap'], 3)}"
                     f" (groups under {sl['min_rows']} rows not counted)</p>"
                     + _table(["group", "rows", *map(escape, keys)], rows))
    return html


def _other_evaluations_section(c: _Ctx) -> str:
    """`mlops-tui evaluate` results: the runs' models measured on other labelled data."""
    if not c.others:
        return ""
    html = ""
    by_task: dict[str, list[Evaluation]] = {}
    for e in c.others:
        by_task.setdefault(e.task, []).append(e)
    for task, evals in by_task.items():
        # One table per task: a regression evaluation has none of a classifier's metric columns.
        names = [m for m in c.data.metrics if any(m in e.metrics for e in evals)][:8]
        rows = []
        for e in evals:
            run = f'<span class="swatch" style="background:{c.color.get(e.run_id or "", "#999")}"></span>' + escape(
                c.label.get(e.run_id or "", str(e.run_id)))
            rows.append([run, escape(f"{e.model_name}:{e.model_version}"), escape(f"{e.dataset}:{e.dataset_version}"),
                         _f(e.metrics.get("holdout_rows")), e.created_at.strftime("%Y-%m-%d %H:%M"),
                         *(_f(e.metrics.get(m)) for m in names)])
        title = f"<h3>{escape(task)}</h3>" if len(by_task) > 1 else ""
        html += title + _table(["run", "model", "dataset", "rows", "when", *map(escape, names)], rows, left=3)
    return html


SECTIONS = (
    ("runs", "Runs", _runs_section),
    ("metrics", "Holdout metrics", _metrics_section),
    ("params", "Parameters", _params_section),
    ("history", "Optimization history", _history_section),
    ("param-importance", "Parameter importances (Optuna)", _param_importance_section),
    ("curves", "Curves", _curves_section),
    ("confusion", "Confusion matrices", _confusion_section),
    ("importance", "Feature importance", _importance_section),
    ("slices", "Slice metrics", _slices_section),
    ("other-data", "Evaluations on other data", _other_evaluations_section),
)


def build_html(data: RunComparison, trials: dict[str, list[Trial]], details: dict[str, Details],
               others: list[Evaluation] | None = None) -> tuple[str, list[str]]:
    """The report document and the ids of the sections that had something to show."""
    c = _Ctx(data, trials, details, others)
    body, shown = [], []
    for sid, title, fn in SECTIONS:
        content = fn(c)
        if content:
            shown.append(sid)
            body.append(f'<section id="{sid}"><h2>{escape(title)}</h2>{content}</section>')
    nav = "".join(f'<a href="#{sid}">{escape(t)}</a>' for sid, t, _ in SECTIONS if sid in shown)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = "mlops-tui report: " + ", ".join(i[:8] for i in c.ids)
    doc = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
           f"<style>{CSS}</style></head><body><h1>{escape(title)}</h1>"
           f'<p class="muted">generated {stamp} · {len(c.ids)} run(s)</p><nav>{nav}</nav>{"".join(body)}</body></html>')
    return doc, shown


@dataclass(frozen=True)
class Report(Result):
    """A written report: where, for which runs, the sections that had something to show."""

    output: str
    runs: tuple[str, ...]
    sections: tuple[str, ...]
    bytes: int
    warnings: tuple[str, ...]


def write_report(ws: Workspace, run_refs: list[str], output: str | Path) -> Report:
    """Write the HTML report for ``run_refs`` to ``output`` (atomically); returns what was written."""
    if not run_refs:
        raise UserError("name at least one run for the report")
    path = Path(output).expanduser().resolve()
    if path.is_dir():
        raise UserError(f"--output {output} is a folder; give a file name like report.html")
    runs = resolve_runs(ws, run_refs)
    data, details = with_details(ws, compare_runs(ws, runs))
    trials = ws.store.runs.trials_of([r.run_id for r in runs])
    models: dict[tuple[str | None, int | None], str] = {
        (r.model_name, r.model_version): r.run_id for r in runs if r.model_name}
    # Attributed to the run that produced the model (the record may predate the link).
    others = [replace(e, run_id=models[(e.model_name, e.model_version)])
              for e in ws.store.runs.evaluations(kind="evaluate") if (e.model_name, e.model_version) in models]
    # In the order the runs were named (each run's by time), not the evaluations' own: the tables per
    # task followed whichever model happened to be evaluated first.
    place = {r.run_id: i for i, r in enumerate(runs)}
    others.sort(key=lambda e: place[e.run_id or ""])
    doc, shown = build_html(data, trials, details, others)
    atomic_write_bytes(path, doc.encode())
    # The temp file behind the atomic write is private (0600); a report is meant to be shared,
    # so it gets the permissions any new file of the user's would.
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(0o666 & ~umask)
    ws.store.audit.record("report", "runs:" + ",".join(r.run_id for r in runs), "ok",
                          {"output": str(path), "sections": shown})
    return Report(str(path), tuple(r.run_id for r in runs), tuple(shown), len(doc.encode()), data.warnings)
