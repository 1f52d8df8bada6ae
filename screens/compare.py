"""Compare screen: runs side by side (metrics with deltas and the best marked, differing parameters
first), overlaid curves and optimization histories, feature importances, slice metrics, and
"export HTML report".

One worker reads everything (``compare.compare`` + each run's evaluation details + trials) and posts
it; the tabs only render numbers. Runs are told apart by a marker character as well as a colour,
so the overlaid plots read under NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.screens.formatters import gain_shares
from mlops_tui.screens.modals import FormField, FormScreen
from mlops_tui.screens.nav import BaseScreen, show_tab
from mlops_tui.screens.plots import LazyPlot, best_so_far_steps, whole_xticks
from mlops_tui.screens.tables import Table, TextPane
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from mlops_tui.formatting import fmt

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

    from mlops_tui.evaluation.compare import ComparedRun, RunComparison
    from mlops_tui.evaluation.report import Report

MARKERS = ("•", "+", "x", "*", "o", "#")
TOP_FEATURES = 15
LIVE_REFRESH_S = 2.0


@dataclass(frozen=True)
class Comparison:
    data: RunComparison
    details: dict[str, dict[str, Any]]      # run_id → evaluation details (curves, importance, slices)
    trials: dict[str, list[Any]]            # run_id → trials


def short_ids(run_ids: list[str]) -> dict[str, str]:
    """Column headers: the shortest id prefix (≥ 6) that tells the runs apart."""
    for n in range(6, 33):
        heads = [i[:n] for i in run_ids]
        if len(set(heads)) == len(heads):
            return dict(zip(run_ids, heads, strict=True))
    return {i: i for i in run_ids}


def metric_rows(data: RunComparison) -> list[tuple[Any, ...]]:
    """One row per metric: value per run, delta to the first run, ★ on the best."""
    ids = [r.run_id for r in data.runs]
    lower = set(data.lower_is_better)
    rows: list[tuple[Any, ...]] = []
    for metric, values in data.metrics.items():
        cells: list[Any] = [metric + (" ↓" if metric in lower else "")]
        for i, run_id in enumerate(ids):
            value = values.get(run_id)
            cell = Text(fmt(value))
            delta = data.deltas.get(metric, {}).get(run_id)
            if i > 0 and delta is not None:
                cell.append(f" {delta:+.3g}", style="dim")
            if data.best.get(metric) == run_id:
                cell.append(" ★", style="bold green")
            cells.append(cell)
        rows.append(tuple(cells))
    return rows


def run_rows(data: RunComparison) -> list[tuple[Any, ...]]:
    """What each run is: name, data, model, trials, holdout size."""
    runs = data.runs
    fields: list[tuple[str, Callable[[ComparedRun], Any]]] = [
        ("name", lambda r: r.name), ("dataset", lambda r: f"{r.dataset}:{r.dataset_version}"),
        ("target", lambda r: f"{r.target} ({r.task})"), ("model", lambda r: r.model or "-"),
        ("trials", lambda r: r.trials_text), ("holdout", lambda r: fmt(r.holdout_rows))]
    return [(Text(label, style="dim"), *(get(r) for r in runs)) for label, get in fields]


def param_rows(data: RunComparison) -> list[tuple[Any, ...]]:
    """Parameters, the ones that differ first and marked ≠."""
    ids = [r.run_id for r in data.runs]
    differing = set(data.differing_params)
    rows = []
    for param, values in data.params.items():
        mark = "≠ " if param in differing else "  "
        rows.append((Text(mark + param, style="bold" if param in differing else ""),
                     *(fmt(values.get(i)) for i in ids)))
    return rows


def importance_rows(ids: list[str], details: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Share of total gain per feature and run (%), top features of the first run with details."""
    shares: dict[str, dict[str, float]] = {}
    order: list[str] = []
    for run_id in ids:
        shares[run_id] = gain_shares((details.get(run_id) or {}).get("importance"))
        order += [f for f in shares[run_id] if f not in order]
    return [(f, *(f"{shares[i][f]:.1f}%" if f in shares[i] else "-" for i in ids)) for f in order[:TOP_FEATURES]]


def param_importance_rows(ids: list[str], details: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    imps = {i: ((details.get(i) or {}).get("param_importances") or {}).get("importances") or {} for i in ids}
    names = list(dict.fromkeys(p for i in ids for p in imps[i]))
    return [(p, *(fmt(imps[i].get(p), 3) for i in ids)) for p in names]


def slice_rows(ids: list[str], details: dict[str, dict[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
    """(metric, rows): a gap row per feature, then one row per group with n and the metric per run."""
    metric = next((d["slices"]["metric"] for d in details.values() if (d or {}).get("slices")), "")
    per_run = {i: {f["feature"]: f for f in ((details.get(i) or {}).get("slices") or {}).get("features", [])}
               for i in ids}
    features = list(dict.fromkeys(f for i in ids for f in per_run[i]))
    rows: list[tuple[Any, ...]] = []
    for feature in features:
        gaps = [per_run[i].get(feature, {}).get("gap") for i in ids]
        rows.append((Text(f"{feature} (gap)", style="bold"), "", *(fmt(g, 3) for g in gaps)))
        groups: dict[str, dict[str, Any]] = {}
        for i in ids:
            for g in per_run[i].get(feature, {}).get("groups", []):
                groups.setdefault(str(g["value"]), {})[i] = g
        for value, by_run in groups.items():
            n = next(iter(by_run.values()))["n"]
            rows.append((f"  {feature}={value}", fmt(n), *(fmt(by_run.get(i, {}).get(metric), 3) for i in ids)))
    return metric, rows


class CompareScreen(BaseScreen):
    FIELD_WORDS = {"--output": "Output file"}  # the export form's field, as the report names it
    BINDINGS = [
        Binding("m", "tab('metrics')", "Metrics", show=False, id="compare.metrics"),
        Binding("p", "tab('params')", "Params", show=False, id="compare.params"),
        Binding("c", "tab('curves')", "Curves", show=False, id="compare.curves"),
        Binding("h", "tab('history')", "History", show=False, id="compare.history"),
        Binding("i", "tab('importance')", "Importances", show=False, id="compare.importance"),
        Binding("s", "tab('slices')", "Slices", show=False, id="compare.slices"),
        Binding("e", "export", "Export HTML", id="compare.export",
                tooltip="Export the comparison as an HTML report file"),
        Binding("r", "refresh", "Refresh", show=False, id="compare.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, comparison: Comparison, seq: int) -> None:
            super().__init__()
            self.comparison, self.seq = comparison, seq

    class Exported(Message):
        def __init__(self, result: Report) -> None:
            super().__init__()
            self.result = result

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = list(run_ids)
        self.comparison: Comparison | None = None
        self.load_seq = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-warnings")
        with TabbedContent(id="compare-tabs", initial="metrics"):
            with TabPane("Metrics m", id="metrics"):
                yield Table(id="compare-metrics")
            with TabPane("Params p", id="params"):
                yield Table(id="compare-params")
            with TabPane("Curves c", id="curves"):
                with Horizontal(classes="plots"):
                    yield LazyPlot("curve-left")
                    yield LazyPlot("curve-right")
                yield Static("", id="compare-curves-note")
            with TabPane("History h", id="history"):
                yield LazyPlot("compare-history")
            with TabPane("Importance i", id="importance"), TextPane():
                yield Static("Feature importance (share of gain)", classes="subtitle")
                yield Table(id="compare-importance")
                yield Static("Parameter importance (optuna)", classes="subtitle")
                yield Table(id="compare-param-importance")
            with TabPane("Slices s", id="slices"):
                yield Table(id="compare-slices")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "compare " + " · ".join(short_ids(self.run_ids).values())
        self.query_one("#compare-metrics", Table).loading = True
        self.load()

    def action_tab(self, tab: str) -> None:
        show_tab(self.query_one("#compare-tabs", TabbedContent), tab)

    def action_refresh(self) -> None:
        self.load()

    # -- data ---------------------------------------------------------------------------------
    def load(self) -> None:
        # Superseded thread workers still finish: only the latest read may update the screen.
        self.load_seq += 1
        self.load_comparison(self.load_seq)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare-load")
    def load_comparison(self, seq: int) -> None:
        ws = self.app.ws
        from mlops_tui.evaluation.compare import compare, with_details

        data, details = with_details(ws, compare(ws, self.run_ids))
        ids = [r.run_id for r in data.runs]
        self.post_message(self.Loaded(Comparison(data, details, ws.store.runs.trials_of(ids)), seq))

    def on_compare_screen_loaded(self, msg: Loaded) -> None:
        if msg.seq != self.load_seq:
            return
        self.comparison = c = msg.comparison
        ids = [r.run_id for r in c.data.runs]
        heads = short_ids(ids)
        cols = [f"{MARKERS[i % len(MARKERS)]} {heads[r]}" for i, r in enumerate(ids)]
        metrics = self.query_one("#compare-metrics", Table)
        metrics.loading = False
        metrics.fill(["", *cols], run_rows(c.data) + metric_rows(c.data))
        self.query_one("#compare-params", Table).fill(["parameter", *cols], param_rows(c.data))
        self.query_one("#compare-importance", Table).fill(["feature", *cols], importance_rows(ids, c.details))
        self.query_one("#compare-param-importance", Table).fill(["parameter", *cols],
                                                                param_importance_rows(ids, c.details))
        metric, rows = slice_rows(ids, c.details)
        self.query_one("#compare-slices", Table).fill([f"slice ({metric})", "n", *cols], rows)
        warnings = c.data.warnings
        box = self.query_one("#compare-warnings", Static)
        box.update(Text("\n".join(f"▲ {w}" for w in warnings)))
        box.display = bool(warnings)
        self._plot_curves(ids, heads, c.details)
        self._plot_history(ids, heads, c)
        if any(r.status in ("running", "queued") for r in c.data.runs):
            # a run still tuning: read again shortly (trials arrive, then its evaluation)
            self.set_timer(LIVE_REFRESH_S, self._reload_if_shown)

    def _reload_if_shown(self) -> None:
        if self.is_current:
            self.load()
        elif self.is_attached:
            self.set_timer(LIVE_REFRESH_S, self._reload_if_shown)

    # -- plots (textual-plotext is imported off the UI thread: screens.plots) ----------------------
    def on_lazy_plot_ready(self, _: LazyPlot.Ready) -> None:
        c = self.comparison
        if c is not None:
            ids = [r.run_id for r in c.data.runs]
            self._plot_curves(ids, short_ids(ids), c.details)
            self._plot_history(ids, short_ids(ids), c)

    def _mounted(self) -> dict[str, PlotextPlot]:
        """The plots mounted so far, by id."""
        return {lazy.plot_id: lazy.plot for lazy in self.query(LazyPlot) if lazy.plot is not None}

    def _plots(self) -> tuple[Any, Any] | None:
        """The two curve plots, cleared; None until both are mounted."""
        plots = self._mounted()
        left, right = plots.get("curve-left"), plots.get("curve-right")
        if left is None or right is None:
            return None
        for p in (left, right):
            p.plt.clear_data()
            p.plt.clear_figure()
        return left, right

    def _plot_curves(self, ids: list[str], heads: dict[str, str], details: dict[str, dict[str, Any]]) -> None:
        plots = self._plots()
        if plots is None:
            return
        left, right = plots
        tasks = {(details.get(i) or {}).get("task") for i in ids if details.get(i)}
        note = ""
        if not tasks:
            note = "○ no evaluation details yet (runs not finished?)"
        elif tasks == {"binary"}:
            left.plt.title("ROC (fpr → tpr)")
            right.plt.title("precision-recall")
            for n, i in enumerate(ids):
                curves = (details.get(i) or {}).get("curves") or {}
                marker = MARKERS[n % len(MARKERS)]
                if "roc" in curves:
                    left.plt.plot(curves["roc"]["fpr"], curves["roc"]["tpr"], marker=marker)
                if "pr" in curves:
                    right.plt.plot(curves["pr"]["recall"], curves["pr"]["precision"], marker=marker)
        elif tasks == {"regression"}:
            left.plt.title("predicted vs actual")
            right.plt.title("residuals")
            for n, i in enumerate(ids):
                reg = (details.get(i) or {}).get("regression") or {}
                marker = MARKERS[n % len(MARKERS)]
                if reg:
                    left.plt.scatter(reg["actual"], reg["predicted"], marker=marker)
                    edges, counts = reg["residual_hist"]["edges"], reg["residual_hist"]["counts"]
                    mids = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
                    right.plt.plot(mids, counts, marker=marker)
        elif tasks == {"multiclass"}:
            left.plt.title("recall per class")
            right.plt.title("precision per class")
            per = [(details.get(i) or {}).get("per_class") or {} for i in ids]
            classes = list(dict.fromkeys(c for p in per for c in p))
            xs = list(range(1, len(classes) + 1))
            for plot, key in ((left, "recall"), (right, "precision")):
                plot.plt.xticks(xs, classes)
                plot.plt.ylim(0, 1.05)
                for n, p in enumerate(per):
                    marker = MARKERS[n % len(MARKERS)]
                    plot.plt.plot(xs, [p.get(c, {}).get(key) or 0 for c in classes], marker=marker)
        else:
            note = f"▲ runs of different tasks ({', '.join(sorted(t or '?' for t in tasks))}): no common curves"
        # The key below the plots, not plotext legends: those sit in each canvas's top left corner,
        # over the start of a precision-recall curve and the best ROC curves.
        key = "  ".join(f"{MARKERS[n % len(MARKERS)]} {heads[i]}" for n, i in enumerate(ids))
        self.query_one("#compare-curves-note", Static).update(note or f"key: {key}")
        left.refresh()
        right.refresh()

    def _plot_history(self, ids: list[str], heads: dict[str, str], c: Comparison) -> None:
        plot = self._mounted().get("compare-history")
        if plot is None:
            return
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        runs = {r.run_id: r for r in c.data.runs}
        numbers: list[int] = []
        key: list[str] = []
        for n, i in enumerate(ids):
            done = sorted((t for t in c.trials.get(i, []) if t.value is not None and t.state.lower() == "complete"),
                          key=lambda t: t.number)
            if not done:
                continue
            numbers += [t.number for t in done]
            plt.plot(*best_so_far_steps([t.number for t in done], [t.value for t in done if t.value is not None],
                                        runs[i].direction == "minimize"), marker=MARKERS[n % len(MARKERS)])
            key.append(f"{MARKERS[n % len(MARKERS)]} {heads[i]}")
        # The key is in the title, not a plotext legend: that sits in the canvas's top left corner,
        # over the first trials (a minimized run starts there).
        metrics = sorted({runs[i].metric for i in ids})
        plt.title(f"best so far per trial ({', '.join(metrics)}): {'  '.join(key)}")
        whole_xticks(plt, numbers)
        plt.xlabel("trial")
        plot.refresh()

    # -- export -------------------------------------------------------------------------------
    def action_export(self) -> None:
        ws = self.app.ws
        default = ws.artifacts / "reports" / f"compare-{'-'.join(i[:6] for i in self.run_ids)}.html"

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["output"]:
                self.export(answer["output"])

        self.app.push_screen(FormScreen("Export HTML report", [FormField("output", "Output file", str(default), required=True)],
                                       help_text="One self-contained file: opens offline, no network."), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare-export")
    def export(self, output: str) -> None:
        from mlops_tui.evaluation import report
        self.post_message(self.Exported(report.write_report(self.app.ws, self.run_ids, output)))

    def on_compare_screen_exported(self, msg: Exported) -> None:
        self.notify(f"✓ report written: {msg.result.output}", timeout=8)
