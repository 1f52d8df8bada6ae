"""Monitoring screen: per deployment, drift and live-performance status, running HTTP services and
their request rate, scoring jobs (batch jobs and online windows) over time and the drift of each
feature for the job under the cursor; record late labels (feedback); retrain the deployment's
model on new data (challenger vs champion, promoted only if the gate passes).

A worker calls ``monitoring.monitor`` for every deployment (short store reads) and posts the
result; moving the cursor only re-renders what was already read. While the screen is shown it
refreshes every few seconds, so a scoring job started elsewhere (CLI, cron) appears on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_tui.screens.formatters import ago, clip_middle, status_text
from mlops_tui.screens.modals import FormField, FormScreen, TextScreen, field_named, form_int
from mlops_tui.screens.nav import BaseScreen, NavBar
from mlops_tui.screens.tables import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Sparkline, Static
from textual.worker import Worker, WorkerState

from mlops_tui.formatting import fmt

if TYPE_CHECKING:
    from mlops_tui.monitoring.monitor import DeploymentHealth, FeatureDrift, FeedbackReport
    from mlops_tui.monitoring.retrain import Retrained

REFRESH_S = 5.0


def perf_text(summary: DeploymentHealth) -> Text:
    """The latest live performance: status and the primary metric, or ○ when no labels arrived."""
    perf = next((j.performance for j in summary.jobs if j.performance), None)
    if perf is None:
        return Text("○ no labels", style="dim")
    metric = summary.primary_metric
    text = status_text(perf.status)
    value = perf.metrics.get(metric) if metric else None
    if value is not None:
        text.append(f" {metric} {fmt(value)}")
    return text


def serving_text(services: list[Any]) -> Text:
    """Running HTTP services of a deployment and their request rate (from the last heartbeats)."""
    if not services:
        return Text("-", style="dim")
    rate = sum(s.rate for s in services)
    text = Text("● ", style="green")
    text.append(f"{rate:.1f} req/s" + (f" ×{len(services)}" if len(services) > 1 else ""))
    return text


def feature_label(feature: str) -> str:
    """A feature as the monitor command names it: the prediction's own drift is '(prediction)'."""
    return "(prediction)" if feature == "__prediction__" else feature


def psi_text(value: float | None) -> str:
    """A PSI with three decimals, in every pane alike: significant digits gave the Jobs pane '1'
    beside the drift pane's 1.046 for one job, and a trend of '2.8e-05 … 0.34'."""
    return "-" if value is None else f"{value:.3f}"


def drift_cells(row: FeatureDrift) -> tuple[str, str, str]:
    """A feature's drift figures as three short cells: PSI, the p-value that set its status, and what
    else changed (new categories, null rate). One 'measure' cell of them all ('psi 2.83 · ks p <0.001 ·
    nulls 0%→1%') was cut at 80 columns, where the pane shows 46 characters.

    The p is `monitor`'s (FeatureDrift.pvalue: the smaller of KS and the bins' chi-square): the KS p
    alone put 'ks p 0.12' beside a 'warn' the chi-square had decided, and none beside a category."""
    psi = psi_text(row.psi)
    # "1.5e-141" cut to "1." by a narrow pane read as p = 1
    p = row.pvalue
    ks = "-" if p is None else "<0.001" if p < 0.001 else fmt(p, 2)
    other = []
    if row.new_categories:
        other.append(f"new {row.new_categories}")
    ref, cur = row.null_rate_ref, row.null_rate_cur
    if ref is not None and cur is not None and abs(cur - ref) >= 0.005:
        other.append(f"nulls {ref:.0%}→{cur:.0%}")
    if row.note:  # a date part compared within the job's window ('time moved: ...')
        other.append(row.note)
    return psi, ks, " · ".join(other)


class MonitoringScreen(BaseScreen):
    # Feedback's messages name `score --keep` (here: the Score form's Keep field, on 4 Models).
    FIELD_WORDS = {"(score --keep it)": "(keep it when scoring: the Keep field of 4 Models → s)",
                   "with --keep": "with the Keep field (4 Models → s) set to", "--trials": "Trials"}
    BINDINGS = [
        Binding("r", "refresh", "Refresh", id="monitoring.refresh"),
        Binding("f", "feedback", "Feedback", id="monitoring.feedback",
                tooltip="Add labels (ground truth) for scored rows: live metrics"),
        Binding("t", "retrain", "Retrain", id="monitoring.retrain",
                tooltip="Retrain on new data: challenger against the champion"),
    ]

    class Loaded(Message):
        def __init__(self, summaries: list[DeploymentHealth], services: dict[str, list[Any]], seq: int) -> None:
            super().__init__()
            self.summaries, self.services, self.seq = summaries, services, seq

    class FeedbackDone(Message):
        def __init__(self, result: FeedbackReport) -> None:
            super().__init__()
            self.result = result

    class RetrainDone(Message):
        def __init__(self, result: Retrained) -> None:
            super().__init__()
            self.result = result

    def __init__(self) -> None:
        super().__init__()
        self.summaries: dict[str, DeploymentHealth] = {}
        self.load_seq = 0
        self.busy: tuple[str, float] | None = None  # what runs in the background (retrain, feedback), since when
        self.retrain_typed: dict[str, dict[str, str]] = {}  # deployment → its retrain form as last filled
        self.retraining = ""  # the deployment of the last retrain started

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("monitoring")
        deps = Table(id="deployments-table", classes="pane")
        deps.border_title = "Deployments"
        yield deps
        with Horizontal(id="mon-trend"):
            yield Static("", id="mon-trend-label")
            yield Sparkline([], id="mon-sparkline")
        with Horizontal(id="mon-bottom"):
            jobs = Table(id="mon-jobs-table", classes="pane")
            jobs.border_title = "Jobs"
            yield jobs
            with Vertical(id="mon-drift-table", classes="pane") as pane:
                pane.border_title = "Drift by feature (worst first)"
                yield Table(id="mon-drift")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "monitoring"
        self.query_one("#deployments-table", Table).loading = True
        self.refresh_data()
        self.set_interval(REFRESH_S, self._tick)
        self.set_interval(1.0, self._show_busy)

    def _tick(self) -> None:
        if self.is_current and not self.still_loading("monitoring-load"):
            self.refresh_data()

    def on_screen_resume(self) -> None:
        self.refresh_data()

    def action_refresh(self) -> None:
        self.refresh_data()

    # -- data ---------------------------------------------------------------------------------
    def refresh_data(self) -> None:
        # Superseded thread workers still finish: only the latest read may update the screen.
        self.load_seq += 1
        self.load_summaries(self.load_seq)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitoring-load")
    def load_summaries(self, seq: int) -> None:
        ws = self.app.ws
        from mlops_tui.monitoring import monitor as monitoring
        from mlops_tui.serving import service
        summaries = [monitoring.monitor(ws, d.name) for d in ws.store.models.deployments()]
        running = service.services(ws)
        serving = {s.deployment: [svc for svc in running if svc.deployment == s.deployment] for s in summaries}
        self.post_message(self.Loaded(summaries, serving, seq))

    def on_monitoring_screen_loaded(self, msg: Loaded) -> None:
        if msg.seq != self.load_seq:
            return
        self.summaries = {s.deployment: s for s in msg.summaries}
        table = self.query_one("#deployments-table", Table)
        table.loading = False
        rows = []
        for s in msg.summaries:
            alerting = ", ".join(feature_label(f.feature) for f in s.alerting_features[:3]) or "-"
            jobs = f"{fmt(len(s.jobs))} · {ago(s.jobs[0].created_at)}" if s.jobs else "0"
            rows.append((status_text(s.status), clip_middle(s.deployment, 22), perf_text(s), jobs,
                         f"{s.model}:{s.version}", alerting, serving_text(msg.services[s.deployment])))
        # The verdicts and when the latest job ran first, open-ended lists last: at 80 columns the
        # table shows 78 characters, and 'last job' (then at the far end) was cut off.
        table.fill(["drift", "deployment", "performance", "jobs", "model", "alerting", "serving"], rows,
                   [s.deployment for s in msg.summaries])
        # With none, the hint takes the sparkline's room: squeezed into the label's 34 columns it
        # wrapped to three lines beside an empty sparkline's baseline.
        self.query_one("#mon-trend").set_class(not msg.summaries, "empty")
        if not msg.summaries:
            self.query_one("#mon-trend-label", Static).update(
                Text("No deployments yet: 4 Models → d deploys a model; scoring jobs then appear here.",
                     style="dim"))
        self._show_deployment()

    def _selected(self) -> DeploymentHealth | None:
        key = self.query_one("#deployments-table", Table).selected_key()
        return self.summaries.get(key) if key else None

    def _chosen(self) -> DeploymentHealth | None:
        """The deployment an action applies to, or None after asking the user to select one."""
        s = self._selected()
        if s is None:
            self.notify("Select a deployment first", severity="warning")
        return s

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "deployments-table":
            self._show_deployment()
        elif event.data_table.id == "mon-jobs-table":
            self._show_drift()

    def _show_deployment(self) -> None:
        s = self._selected()
        jobs_table = self.query_one("#mon-jobs-table", Table)
        if s is None:
            jobs_table.fill(["", "job", "when"], [])
            self._show_drift()
            return
        jobs = s.jobs
        # The verdict, when, and the prediction drift first: at 80 columns the pane shows 28
        # characters (the job's id, then second, cut 'when'; the drift pane's title names it).
        jobs_table.fill(["drift", "when", "pred Δ", "job", "rows", "kind"], [
            (status_text(j.status if j.job_status == "succeeded" else j.job_status), ago(j.created_at),
             psi_text(j.prediction_drift), j.job_id[:8], fmt(j.rows), j.kind) for j in jobs
        ], [j.job_id for j in jobs])
        trend = [j.prediction_drift or 0.0 for j in reversed(jobs) if j.job_status == "succeeded"]
        spark = self.query_one("#mon-sparkline", Sparkline)
        spark.data = trend
        label = Text(f"{s.deployment}: ")
        label.append_text(status_text(s.status))
        # The bars span the lowest to the highest value, so they say nothing without those two
        # figures; and one job drew a full-height bar as wide as the screen, read as the worst.
        if len(trend) > 1:
            label.append(f"\nprediction drift over {len(trend)} jobs\n"
                         f"{psi_text(min(trend))} … {psi_text(max(trend))}, oldest → newest", style="dim")
        elif trend:
            label.append(f"\nprediction drift {psi_text(trend[0])} in its one job: a trend shows from two on",
                         style="dim")
        else:
            label.append("\nno job scored yet: 4 Models → s scores a file", style="dim")
        self.query_one("#mon-trend").set_class(len(trend) < 2, "empty")
        self.query_one("#mon-trend-label", Static).update(label)
        self._show_drift()

    def _show_drift(self) -> None:
        s = self._selected()
        key = self.query_one("#mon-jobs-table", Table).selected_key()
        job = next((j for j in (s.jobs if s else ()) if j.job_id == key), None)
        table = self.query_one("#mon-drift", Table)
        pane = self.query_one("#mon-drift-table")
        if job is None:
            pane.border_title = "Drift by feature (worst first)"
            table.fill(["feature", "status", "psi", "p", "other"], [])
            return
        pane.border_title = f"Drift of job {job.job_id[:8]} (worst first)"
        if job.error:
            table.fill(["job", "status", "error"], [(job.job_id[:8], status_text(job.job_status), job.error)])
            return
        # feature, status, PSI and p fit the 46 columns the pane has at 80 (a name cut at 20)
        table.fill(["feature", "status", "psi", "p", "other"],
                   [(clip_middle(feature_label(d.feature), 20), status_text(d.status), *drift_cells(d))
                    for d in job.drift],
                   [d.feature for d in job.drift])

    # -- what runs in the background ------------------------------------------------------------
    # A retrain takes seconds to minutes: its one notification faded, and nothing on screen said it
    # was still going (or let a second t know). The Deployments pane's border says it, with a clock.
    def _start(self, doing: str) -> None:
        from time import monotonic

        self.busy = (doing, monotonic())
        self._show_busy()

    def _done(self) -> None:
        self.busy = None
        self._show_busy()

    def _show_busy(self) -> None:
        from time import monotonic

        table = self.query_one("#deployments-table", Table)
        table.border_subtitle = f"● {self.busy[0]}… {monotonic() - self.busy[1]:.0f} s" if self.busy else ""

    def _still_busy(self) -> bool:
        """Whether something runs already (then say so): one retrain or feedback at a time."""
        if self.busy is not None:
            self.notify(f"still {self.busy[0]}: wait for it to end", severity="warning")
        return self.busy is not None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # (RoutesWorkerErrors' handler says why a worker failed; here its clock stops)
        if event.worker.group in ("monitoring-retrain", "monitoring-feedback") and event.state in (
                WorkerState.ERROR, WorkerState.CANCELLED):
            self._done()
            chosen = self._selected()
            if (event.state == WorkerState.ERROR and event.worker.name == "retrain" and self.is_current
                    and chosen is not None and chosen.deployment == self.retraining):
                # refused (rows the champion learnt from, no such dataset): the form again, as typed
                self.action_retrain(self.retrain_typed.get(chosen.deployment), str(event.worker.error or ""))

    # -- feedback -----------------------------------------------------------------------------
    def action_feedback(self) -> None:
        s = self._chosen()
        if s is None or self._still_busy():
            return

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["labels"] and answer["id_column"]:
                self._start(f"joining labels to {s.deployment}")
                self.feedback(s.deployment, answer["labels"], answer["id_column"])
            elif answer is not None:
                self.notify("Give the labels file and the id column that joins them", severity="warning")

        self.app.push_screen(FormScreen(f"Feedback for {s.deployment}", [
            FormField("labels", "Labels file (CSV/Parquet with the id and the true target)", "", "labels.csv", required=True),
            FormField("id_column", "Id column (passed through by scoring)", "", "customer_id", required=True),
        ], help_text="Joins the labels to the scored rows; metrics per job vs the holdout.", enter_submits=False),
            done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitoring-feedback")
    def feedback(self, deployment: str, labels: str, id_column: str) -> None:
        from mlops_tui.monitoring import monitor as monitoring
        self.post_message(self.FeedbackDone(monitoring.feedback(self.app.ws, deployment, labels,
                                                                id_column=id_column)))

    def on_monitoring_screen_feedback_done(self, msg: FeedbackDone) -> None:
        self._done()
        r = msg.result
        unlabelled = f" · {fmt(r.unlabelled)} rows without a label" if r.unlabelled else ""
        self.notify(f"✓ {fmt(r.rows_matched)} rows matched{unlabelled} · status {r.status}", timeout=8)
        self.refresh_data()

    # -- retrain ------------------------------------------------------------------------------
    def action_retrain(self, typed: dict[str, str] | None = None, refusal: str = "") -> None:
        """The retrain form, as the user last filled it for this deployment (``typed``); after a
        ``refusal``, the cursor on the field it names. A refused retrain (rows the champion learnt
        from, a dataset that does not exist, a challenger that lost) lost what was typed."""
        s = self._chosen()
        if s is None or self._still_busy():
            return
        typed = typed if typed is not None else self.retrain_typed.get(s.deployment, {})
        fields = [
            FormField("dataset", "Dataset", typed.get("dataset", ""), "NAME (latest) or NAME:V: the new data",
                      required=True),
            FormField("trials", "Trials", typed.get("trials", ""), "blank: reuse the champion's parameters"),
        ]

        def done(answer: dict[str, str] | None) -> None:
            if not answer:
                return
            self.retrain_typed[s.deployment] = answer
            try:
                trials = form_int(answer, "trials", 1)
            except ValueError as exc:
                self.notify(str(exc), severity="error")
                self.action_retrain(answer, str(exc))
                return
            # (it said 'retraining cc2 for cc2': a model and a deployment of one name, which is which)
            self.notify(f"retraining {s.deployment}: a challenger to {s.model}:{s.version} is trained on "
                        f"{answer['dataset']} in the background…")
            self._start(f"retraining {s.deployment} on {answer['dataset']}")
            self.retraining = s.deployment
            self.retrain(s.deployment, answer["dataset"], trials)

        self.app.push_screen(FormScreen(f"Retrain {s.deployment} ({s.model}:{s.version})", fields,
                                        help_text="A challenger is trained on the dataset and compared with the "
                                        "champion on its holdout; it replaces the champion only if it passes "
                                        "the gate and wins.",
                                        focus=field_named(fields, refusal, typed) if refusal else None), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="monitoring-retrain")
    def retrain(self, deployment: str, dataset: str, trials: int | None) -> None:
        from mlops_tui.errors import PolicyRefused
        from mlops_tui.monitoring import retrain as retraining

        try:
            result = retraining.retrain(self.app.ws, deployment, dataset, trials=trials)
        except PolicyRefused as exc:  # the champion stays: the comparison says why
            result = exc.payload
        self.post_message(self.RetrainDone(result))

    def on_monitoring_screen_retrain_done(self, msg: RetrainDone) -> None:
        self._done()
        r = msg.result
        body = Text(("✓ " if r.promoted else "✗ ") + r.summary + "\n\n",
                    style="green" if r.promoted else "yellow")
        body.append(f"holdout of {r.dataset}: {fmt(r.compared_rows)} rows compared\n", style="bold")
        width = max((len(k) for k in r.metrics), default=6)
        body.append(f"  {'metric':<{width}}  {'champion':>10}  {'challenger':>10}\n", style="dim")
        for name, pair in r.metrics.items():
            body.append(f"  {name:<{width}}  {fmt(pair.champion):>10}  {fmt(pair.challenger):>10}\n")
        for note in r.warnings:
            body.append(f"▲ {note}\n", style="yellow")
        if r.promoted:
            self.retrain_typed.pop(r.deployment, None)
        else:  # the champion stays: another try (more trials, newer data) starts from what was typed
            body.append(f"\nt retrains {r.deployment} again, the form as you filled it\n", style="dim")
        self.app.push_screen(TextScreen(f"retrain {r.deployment}", body))
        self.refresh_data()
