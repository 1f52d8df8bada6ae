"""Home: what needs attention now — running runs, alerts and failures, recent jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mlops_tui.screens.formatters import ago, sparkline, status_text, symbol
from mlops_tui.screens.nav import BaseScreen, NavBar
from mlops_tui.screens.run_actions import retrain_of
from mlops_tui.screens.tables import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Static

from mlops_tui.formatting import fmt
from mlops_tui.serving.sweep import recent_jobs

if TYPE_CHECKING:
    from mlops_tui.store import Run, ScoringJob

    from mlops_tui.workspace import Workspace

REFRESH_S = 2.0


@dataclass
class Snapshot:
    """Everything the home screen shows, read in one worker pass."""

    counts: dict[str, int] = field(default_factory=dict)
    attention: list[tuple[str, str, str, str, str]] = field(default_factory=list)  # key, status, what, detail, when
    recent: list[tuple[str, str, str, str, str]] = field(default_factory=list)


def _count(n: int, label: str, more: bool = False) -> str:
    return f"{n}{'+' if more else ''} {label}{'' if n == 1 else 's'}"


def progress(run: Run) -> str:
    done = run.n_trials
    return f"{done}/{run.n_trials_requested}" if run.n_trials_requested else str(done)


RUNS_LIMIT, JOBS_LIMIT = 50, 20


def perf_detail(comparison: dict[str, Any]) -> str:
    """'live roc_auc 0.79 vs holdout 0.86' from a feedback comparison."""
    metric = comparison.get("metric")
    if not metric:
        return "live performance alert"
    return f"live {metric} {fmt(comparison.get('live'))} vs holdout {fmt(comparison.get('holdout'))}"


def read_counts(ws: Workspace) -> dict[str, int]:
    """The summary line's counts of datasets, model versions and deployments."""
    store = ws.store
    return {"datasets": len(store.datasets.latest()), "models": len(store.models.list()),
            "deployments": len(store.models.deployments())}


def read_home(ws: Workspace) -> Snapshot:
    """Everything the home screen shows, on one open of the store (its schema check included).
    Also called before the app starts, so the first frame already shows it."""
    with ws.session():
        snap = read_snapshot(ws)
        snap.counts.update(read_counts(ws))
    return snap


def read_snapshot(ws: Workspace) -> Snapshot:
    """Runs, jobs and (once any job exists) the latest labels into the rows of the two tables."""
    store = ws.store
    runs = store.runs.list(limit=RUNS_LIMIT)
    jobs = recent_jobs(ws, JOBS_LIMIT)
    feedback = store.jobs.latest_feedback() if jobs else []  # labels only exist for scored jobs
    snap = Snapshot(counts={"runs": len(runs), "jobs": len(jobs)})
    for run in runs:
        if run.status in ("running", "queued", "stopping"):
            best = f"best {fmt(run.best_value)}" if run.best_value is not None else "no trial yet"
            snap.attention.append((f"run:{run.run_id}", run.status, f"run {run.name}",
                                   f"{progress(run)} trials, {best}", ago(run.started_at or run.created_at)))
        elif run.status == "failed":
            snap.attention.append((f"run:{run.run_id}", "failed", f"run {run.name}",
                                   (run.error or "failed").splitlines()[0][:60], ago(run.ended_at or run.created_at)))
    latest_job: dict[str, ScoringJob] = {}
    for job in jobs:  # newest first: the first job seen per deployment is its latest
        if job.deployment and job.deployment not in latest_job:
            latest_job[job.deployment] = job
        if job.status == "failed":
            snap.attention.append((f"job:{job.job_id}", "failed", f"job {job.job_id[:8]}",
                                   (job.error or "failed").splitlines()[0][:60], ago(job.created_at)))
    for dep, job in sorted(latest_job.items()):
        if job.drift_status in ("alert", "warn"):
            # prediction drift of the deployment's recent jobs, oldest → newest: those that measured
            # it (a failed job drew a bar of 0, a fall that never was), and only from two on (one
            # value is one full bar: the monitoring screen's reading)
            drifts = [j.prediction_drift for j in reversed(jobs)
                      if j.deployment == dep and j.status == "succeeded" and j.prediction_drift is not None]
            trend = f" {sparkline(drifts, 12)}" if len(drifts) > 1 else ""
            pd = f", prediction drift {fmt(job.prediction_drift)}{trend}" if job.prediction_drift is not None else ""
            snap.attention.append((f"drift:{dep}", job.drift_status, f"deployment {dep}",
                                   f"drift {job.drift_status}{pd}", ago(job.created_at)))
    for fb in feedback:
        if fb.status == "alert":
            snap.attention.append((f"perf:{fb.deployment}", "alert", f"deployment {fb.deployment}",
                                   perf_detail(fb.metrics.get("comparison") or {}), ago(fb.created_at)))
    recent: list[tuple[datetime | None, tuple[str, str, str, str, str]]] = []
    for job in jobs[:10]:
        recent.append((job.created_at, (f"job:{job.job_id}", job.status, f"score {job.deployment or job.model_name}",
                                        f"{fmt(job.rows_out)} rows → {job.output or '-'}", ago(job.created_at))))
    for run in runs[:10]:
        if run.status not in ("running", "queued", "stopping"):
            champion = retrain_of(run)
            holdout = (run.test_metrics or {}).get(run.metric)
            # The holdout figure the Models screen shows for its model; the trials' best (on
            # validation folds) is another number, and a bare 'log_loss=0.0335' here beside the
            # model's 'log_loss 0.1157' read as a contradiction.
            best = (f"retrain of {champion}" if champion
                    else f"holdout {run.metric}={fmt(holdout)}" if isinstance(holdout, int | float)
                    else f"best trial {run.metric}={fmt(run.best_value)}")
            when = run.ended_at or run.created_at
            recent.append((when, (f"run:{run.run_id}", run.status, f"run {run.name}",
                                  f"{run.dataset}:{run.dataset_version} {best}", ago(when))))
    # One time order, newest first (jobs were all listed before runs, a 1-hour-old job above a new run).
    recent.sort(key=lambda r: r[0] or datetime.min, reverse=True)
    snap.recent += [row for _, row in recent]
    return snap


LIMITED = {"runs": RUNS_LIMIT, "jobs": JOBS_LIMIT}


class HomeScreen(BaseScreen):
    BINDINGS = [
        Binding("enter", "open", "Open", id="home.open",
                tooltip="Open the selected item"),
        Binding("r", "refresh", "Refresh", id="home.refresh"),
        Binding("tab", "app.focus_next", "Next pane", show=False, id="home.next"),
    ]

    class Loaded(Message):
        """A fresh read of everything the screen shows."""

        def __init__(self, snapshot: Snapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("home")
        yield Static("Loading…", id="home-summary")
        # The footer cannot say 'enter Open': the focused table's own Enter hides it there.
        with Vertical(id="home-attention", classes="pane") as v:
            v.border_title = "Needs attention"
            v.border_subtitle = "enter opens a row · tab next pane"
            yield Table(id="attention")
        with Vertical(id="home-recent", classes="pane") as v:
            v.border_title = "Recent"
            v.border_subtitle = "enter opens a row · tab next pane"
            yield Table(id="recent")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "home"
        self.query_one("#attention", Table).focus()
        app = self.app
        if app.preloaded_home is not None:  # read before the app started: show it in the first frame
            self.show(app.preloaded_home)
            app.preloaded_home = None
        else:
            if app.busy:
                self.query_one("#home-summary", Static).update(app.busy)
            self.refresh_data()
        self.set_interval(REFRESH_S, self._tick)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Esc goes back, and home is where it goes: here it would do nothing, so the footer
        leaves 'esc Back' out (a new user pressed it and nothing happened)."""
        return action != "back"

    def _tick(self) -> None:
        if self.is_current and not self.still_loading("home"):
            self.refresh_data()

    def action_refresh(self) -> None:
        self.refresh_data()

    @work(thread=True, exclusive=True, exit_on_error=False, group="home")
    def refresh_data(self) -> None:
        self.post_message(self.Loaded(read_home(self.app.ws)))

    def on_home_screen_loaded(self, message: Loaded) -> None:
        self.show(message.snapshot)

    def show(self, snap: Snapshot) -> None:
        self._fill("#attention", snap.attention, "nothing needs attention ✓")
        self._fill("#recent", snap.recent, "nothing yet: 2 for datasets, pick one, n to tune a model")
        c = snap.counts
        summary = " · ".join(_count(c[k], label, k in LIMITED and c[k] >= LIMITED[k]) for k, label in (
            ("datasets", "dataset"), ("runs", "run"), ("models", "model version"),
            ("deployments", "deployment"), ("jobs", "recent job")))
        if not c["datasets"]:
            summary += "\nNo datasets yet: press 2 then a to register a file (or `mlops-tui init --sample`)."
        self.query_one("#home-summary", Static).update(summary)

    def _fill(self, selector: str, rows: list[tuple[str, str, str, str, str]], empty: str) -> None:
        table = self.query_one(selector, Table)
        table.show_header = bool(rows)
        if not rows:
            table.fill(["", ""], [(symbol("none"), empty)], ["-"])
            return
        # 'when' before the free-text detail: on a narrow terminal a long output path is what gets
        # cut, not the time (at 80 columns the recent jobs read '10,000 rows → …/out98.parquet  1').
        table.fill(["status", "what", "when", "detail"],
                   [(status_text(s), what, when, detail) for _, s, what, detail, when in rows],
                   [key for key, *_ in rows])

    def on_data_table_row_selected(self, event: Table.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        """Enter on a row opens the thing it names (a run's detail, the jobs of a deployment)."""
        focused = self.focused
        key = focused.selected_key() if isinstance(focused, Table) else None
        if not key or key == "-":
            return
        kind, _, ident = key.partition(":")
        if kind == "run":
            from mlops_tui.screens.run_detail import RunDetailScreen

            self.app.push_screen(RunDetailScreen(ident))
        elif kind in ("job", "drift", "perf"):
            self.app.switch_mode("models" if kind == "job" else "monitoring")
