"""Tuning runs: the live list (mark with space, compare) and the launch form (detached runs),
refreshed from the store. A run's detail is in screens.run_detail.

Runs are started detached through mlops_tui.training.tuning, so quitting the TUI never stops them; this
screen only reads the store (short connections) on a timer, in workers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from mlops_tui.screens.formatters import ago, duration, status_text
from mlops_tui.screens.modals import SUBMIT_HINT, FormField, FormScreen, form_int
from mlops_tui.screens.nav import BaseScreen, NavBar
from mlops_tui.screens.run_actions import (
    REFRESH_S,
    RESUME_WORDS,
    ask_resume,
    retrain_of,
    run_action_offered,
    run_elapsed,
    show_logs,
    stop_run,
    trials_text,
)
from mlops_tui.screens.tables import Table
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Input, Static
from textual.worker import Worker, WorkerState

from mlops_tui.formatting import fmt

if TYPE_CHECKING:
    from mlops_tui.store import DatasetVersion, Run
    from textual.timer import Timer
    from textual.widgets import Select

SWEEP_EVERY = 8  # refreshes between zombie sweeps (tuning.sweep reads journals; not every tick)
METRIC_HINT = "default per task: roc_auc / log_loss / rmse"
TASKS = (("auto", "auto (from target)"), ("binary", "binary"), ("multiclass", "multiclass"),
         ("regression", "regression"))
# Binary models: the decision threshold (`tune --threshold-for`).
THRESHOLDS = (("0.5", "0.5 (class 1 when likelier)"), ("f1", "tuned for F1 (binary)"),
              ("balanced_accuracy", "tuned for balanced accuracy (binary)"))


# -- the list ----------------------------------------------------------------------------------
class RunsScreen(BaseScreen):
    FIELD_WORDS = RESUME_WORDS
    BINDINGS = [
        Binding("enter", "open", "Detail", id="runs.open",
                tooltip="Open the run's detail: trials, history, importances"),
        # Named by the line under the table ("space marks runs to compare"), not the footer: at 80
        # columns the footer has no room for it and ? Help both.
        Binding("space", "mark", "Mark", show=False, id="runs.mark",
                tooltip="Mark a run to compare"),
        Binding("c", "compare", "Compare", id="runs.compare",
                tooltip="Compare the marked runs side by side"),
        Binding("n", "launch", "New run", id="runs.launch",
                tooltip="Launch a tuning run (train a model)"),
        Binding("s", "stop", "Stop", id="runs.stop",
                tooltip="Stop the tuning run"),
        Binding("R", "resume", "Resume", id="runs.resume",
                tooltip="Resume the run with more trials"),
        Binding("l", "logs", "Logs", show=False, id="runs.logs",
                tooltip="Show the run's log file"),
        Binding("r", "refresh", "Refresh", show=False, id="runs.refresh"),
    ]

    class Loaded(Message):
        """The newest runs, newest first."""

        def __init__(self, runs: list[Run]) -> None:
            super().__init__()
            self.runs = runs

    def __init__(self) -> None:
        super().__init__()
        self.marked: list[str] = []
        self.runs: dict[str, Run] = {}
        self._ticks = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("runs")
        with Vertical(id="runs-pane", classes="pane") as v:
            v.border_title = "Runs (live)"
            yield Table(id="runs-table")
        yield Static("space marks runs to compare · n launches a run · enter opens one", id="runs-info")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "runs"
        self.query_one(Table).focus()
        self.refresh_runs(sweep=True)
        self.set_interval(REFRESH_S, self._tick)

    def _tick(self) -> None:
        if self.is_current and not self.still_loading("runs-list"):
            self._ticks += 1
            self.refresh_runs(sweep=self._ticks % SWEEP_EVERY == 0)

    def action_refresh(self) -> None:
        self.refresh_runs(sweep=True)

    @work(thread=True, exclusive=True, exit_on_error=False, group="runs-list")
    def refresh_runs(self, sweep: bool = False) -> None:
        ws = self.app.ws
        if sweep:
            from mlops_tui.training import tuning

            tuning.sweep(ws)
        self.post_message(self.Loaded(ws.store.runs.list(limit=200)))

    def on_runs_screen_loaded(self, message: Loaded) -> None:
        table = self.query_one(Table)
        runs = message.runs
        self.runs = {r.run_id: r for r in runs}
        self.marked = [m for m in self.marked if m in self.runs]
        wide = self.app.size.width >= 100
        columns = ["status", "run", "dataset", "metric", "best", "trials", "started", "time"]
        rows = []
        for r in runs:
            rows.append([status_text(r.status), _run_label(r, r.run_id in self.marked),
                         f"{r.dataset}:{r.dataset_version}", r.metric, best_text(r),
                         trials_text(r, 8 if wide else 4),
                         ago(r.started_at or r.created_at), duration(run_elapsed(r))])
        if not wide:  # 80 columns: the run name already says the dataset; 'time' says enough
            columns = [c for c in columns if c not in ("dataset", "started")]
            rows = [[v for c, v in zip(("status", "run", "dataset", "metric", "best", "trials", "started", "time"),
                                       row, strict=True) if c in columns] for row in rows]
        table.fill(columns, rows, [r.run_id for r in runs])
        self.refresh_bindings()  # the selected run's status may have changed
        if not runs:
            self.query_one("#runs-info", Static).update("No runs yet: press n to launch one (or 2, pick a dataset, n).")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return run_action_offered(action, self._selected() if self.runs else None)

    def on_data_table_row_highlighted(self, event: Table.RowHighlighted) -> None:
        self.refresh_bindings()  # Stop or Resume, as the run under the cursor allows

    def _selected(self) -> Run | None:
        key = self.query_one(Table).selected_key()
        return self.runs.get(key) if key else None

    def on_data_table_row_selected(self, event: Table.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        run = self._selected()
        if run is not None:
            from mlops_tui.screens.run_detail import RunDetailScreen

            self.app.push_screen(RunDetailScreen(run.run_id))

    def action_mark(self) -> None:
        run = self._selected()
        if run is None:
            return
        if run.run_id in self.marked:
            self.marked.remove(run.run_id)
        else:
            self.marked.append(run.run_id)
        table = self.query_one(Table)
        table.update_cell(run.run_id, table.ordered_columns[1].key, _run_label(run, run.run_id in self.marked),
                          update_width=True)
        self.query_one("#runs-info", Static).update(
            f"{len(self.marked)} marked: " + ", ".join(_run_label(self.runs[m], False) for m in self.marked)
            + ("  · c compares them" if len(self.marked) >= 2 else ""))
        table.action_cursor_down()

    def action_compare(self) -> None:
        if len(self.marked) < 2:
            self.notify("mark at least two runs with space, then press c", severity="warning")
            return
        from mlops_tui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(list(self.marked)))

    def action_launch(self) -> None:
        run = self._selected()
        self.app.push_screen(LaunchScreen(f"{run.dataset}:{run.dataset_version}" if run else ""))

    def action_stop(self) -> None:
        run = self._selected()
        if run is not None:
            stop_run(self, run.run_id, self.refresh_runs)

    def action_resume(self) -> None:
        run = self._selected()
        if run is not None:
            ask_resume(self, run, self.refresh_runs)

    def action_logs(self) -> None:
        run = self._selected()
        if run is not None:
            show_logs(self, run.run_id)


def best_text(run: Run) -> str:
    """The best trial's value; for a retrain that reused its champion's parameters (no trials, so
    no best: it read '-', as a run that did nothing), its model's holdout value, said as such."""
    holdout = (run.test_metrics or {}).get(run.metric)
    if run.best_value is None and retrain_of(run) and isinstance(holdout, int | float):
        return f"holdout {fmt(holdout)}"
    return fmt(run.best_value)


def _run_label(run: Run, marked: bool) -> str:
    """'▶ penguins·3479a1': the name plus a short id, since runs of one dataset share a name."""
    return f"{'▶ ' if marked else ''}{run.name}·{run.run_id[:6]}"


# -- the launch form -----------------------------------------------------------------------------
class LaunchScreen(FormScreen):
    """Launch a detached tuning run. Prefilled from a dataset version (its target and task)."""

    def __init__(self, dataset_ref: str = "", target: str = "", task: str = "auto") -> None:
        fields = [
            FormField("dataset", "Dataset", dataset_ref, placeholder="NAME or NAME:V"),
            FormField("target", "Target", target, placeholder="target column (default: the dataset's)"),
            FormField("task", "Task", task, options=TASKS),
            FormField("metric", "Metric", "", placeholder=METRIC_HINT),
            FormField("trials", "Trials", "5"),
            FormField("timeout", "Timeout (s)", "", placeholder="none"),
            FormField("jobs", "Jobs", "", placeholder="one worker per core"),
            FormField("seed", "Seed", "0"),
            FormField("time_column", "Time column", "", placeholder="optional: split by time"),
            FormField("group_column", "Group column", "", placeholder="optional: rows sharing it stay on one side"),
            FormField("name", "Name", "", placeholder="model name (default: dataset name)"),
            FormField("threshold_for", "Threshold", "0.5", options=THRESHOLDS),
        ]
        super().__init__("Launch a tuning run (detached)", fields,
                         help_text="Enter starts the run; it keeps going after you quit")
        # What the form filled in from a dataset version: replaced when the dataset field changes,
        # unless the user typed their own (a penguins run kept bikeshare's target and regression task).
        self._filled = {"target": target, "task": task}
        self._busy_timer: Timer | None = None
        self._doing, self._since = "", 0.0

    def on_mount(self) -> None:
        super().on_mount()
        if not self._filled["target"] and self.fields[0].value:
            self.prefill(self.fields[0].value)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "field-dataset":
            self.prefill(event.value.strip())

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "field-task":
            self._metric_hint(str(event.value))

    def _metric_hint(self, task: str) -> None:
        """The Metric field names the task's default and what else it takes ('default: roc_auc · or
        pr_auc, log_loss, …'): it said 'default per task: roc_auc / log_loss / rmse' for a binary
        dataset, and which names it takes only a refusal said."""
        from mlops_tui.training.metrics import DEFAULT_METRIC, METRICS

        hint = METRIC_HINT
        if task in DEFAULT_METRIC:
            default = DEFAULT_METRIC[task]
            hint = f"default: {default} · or {', '.join(m for m in METRICS[task] if m != default)}"
        self.query_one("#field-metric", Input).placeholder = hint

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch-prefill")
    def prefill(self, ref: str) -> None:
        from mlops_tui.data import datasets
        from mlops_tui.errors import UserError
        try:
            dv = datasets.resolve(self.app.ws, ref)
        except UserError:
            return  # a name still being typed; submitting says what is wrong with it
        self.app.call_from_thread(self._apply_prefill, dv)

    def _apply_prefill(self, dv: DatasetVersion) -> None:
        from textual.widgets import Select

        target = self.query_one("#field-target", Input)
        if target.value in ("", self._filled["target"]):
            target.value = self._filled["target"] = dv.target or ""
        # 'default: the dataset's' promised a default that a dataset registered without one lacks
        target.placeholder = (f"target column (default: {dv.target})" if dv.target
                              else f"required: {dv.ref} has no target column set")
        task = self.query_one("#field-task", Select)
        if task.value in ("auto", self._filled["task"]) and dv.task in dict(TASKS):
            task.value = self._filled["task"] = dv.task

    def action_submit(self) -> None:
        values = self.values()
        try:
            options = {
                "dataset": values["dataset"], "target": values["target"] or None,
                "task": None if values["task"] in ("", "auto") else values["task"],
                "metric": values["metric"] or None, "trials": form_int(values, "trials", 1),
                "timeout": _float(values, "timeout"), "jobs": form_int(values, "jobs", 1),
                "seed": form_int(values, "seed", 0) or 0, "time_column": values["time_column"] or None,
                "group_column": values["group_column"] or None,
                "name": values["name"] or None,
                "threshold_for": None if values["threshold_for"] in ("", "0.5") else values["threshold_for"],
            }
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            self.focus_named(str(exc))
            return
        if not options["dataset"]:
            self.notify("dataset: enter NAME or NAME:V", severity="error")
            self.query_one("#field-dataset").focus()
            return
        self._busy(f"preparing {options['dataset']}: reading it, splitting off the holdout")
        self.start_run(options)

    # -- while the run starts (seconds: its data is read and split, LightGBM imported) -------------
    # The form stays in view, greyed, and its border says what is happening and for how long; it
    # was a blank box with a spinner for ~5 s.
    def _busy(self, doing: str) -> None:
        from time import monotonic

        if not self.is_current:  # Esc closed the form meanwhile: the run starts all the same
            return
        box = self.query_one("#form-box")
        box.disabled = True
        self._doing, self._since = doing, monotonic()
        self._show_busy()
        if self._busy_timer is None:
            self._busy_timer = self.set_interval(0.5, self._show_busy)

    def _show_busy(self) -> None:
        from time import monotonic

        box = self.query_one("#form-box")
        if box.disabled:
            box.border_subtitle = f"● {self._doing}… {monotonic() - self._since:.0f} s"

    def _idle(self) -> None:
        box = self.query_one("#form-box")
        box.disabled = False
        box.border_subtitle = SUBMIT_HINT
        if self._busy_timer is not None:
            self._busy_timer.stop()
            self._busy_timer = None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # (Textual calls RoutesWorkerErrors' handler too: a refusal is one line, in the form's words.)
        if event.worker.group == "launch" and event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._idle()  # the form again, to correct: the cursor on the field the refusal names
            if event.state == WorkerState.ERROR and self.is_current:
                self.focus_named(str(event.worker.error or ""))

    @work(thread=True, exclusive=True, exit_on_error=False, group="launch")
    def start_run(self, options: dict[str, Any]) -> None:
        from mlops_tui.training import tuning

        known = {f.name for f in dataclasses.fields(tuning.TuneOptions)}
        opts = tuning.TuneOptions(**{k: v for k, v in options.items() if k in known})

        def created(run: Run) -> None:
            self.app.call_from_thread(self._busy, f"run {run.run_id[:8]} created; starting its process")

        run = tuning.start(self.app.ws, opts, detach=True, on_start=created)
        self.app.call_from_thread(self._started, run)

    def _started(self, run: Run) -> None:
        self.app.notify(f"run {run.name} ({run.run_id[:8]}) started in the background")
        if self.is_current:  # (not if Esc closed the form while the run was starting)
            self.dismiss({"run_id": run.run_id})
            self.app.switch_mode("runs")


def _float(values: dict[str, str], key: str) -> float | None:
    raw = values[key]
    if not raw:
        return None
    try:
        x = float(raw)
    except ValueError:
        raise ValueError(f"{key}: {raw!r} is not a number") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{key}: must be a positive number of seconds")
    return x
