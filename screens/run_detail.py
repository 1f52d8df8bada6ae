"""A run's detail: trials table, optimization history plot (textual-plotext), parameter and feature
importances, holdout outcome; refreshed from the store while the run is active; stop/resume/logs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_tui.screens.formatters import duration, gain_shares, status_text
from mlops_tui.screens.nav import BaseScreen, show_tab
from mlops_tui.screens.plots import LazyPlot, best_so_far_steps, whole_xticks
from mlops_tui.screens.run_actions import (
    ACTIVE,
    REFRESH_S,
    RESUME_WORDS,
    ask_resume,
    progress_bar,
    retrain_of,
    run_action_offered,
    run_elapsed,
    show_logs,
    stop_run,
)
from mlops_tui.screens.tables import Table, TextPane
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane

from mlops_tui.formatting import fmt

if TYPE_CHECKING:
    from pathlib import Path

    from mlops_tui.store import Run, RunWorker, Trial


class RunDetailScreen(BaseScreen):
    FIELD_WORDS = RESUME_WORDS
    BINDINGS = [
        Binding("t", "tab('trials')", "Trials", show=False, id="run.trials"),
        Binding("h", "tab('history')", "History", show=False, id="run.history"),
        Binding("i", "tab('importance')", "Importances", show=False, id="run.importance"),
        Binding("o", "tab('outcome')", "Outcome", show=False, id="run.outcome"),
        Binding("s", "stop", "Stop", id="run.stop",
                tooltip="Stop the tuning run"),
        Binding("R", "resume", "Resume", id="run.resume",
                tooltip="Resume the run with more trials"),
        Binding("l", "logs", "Logs", id="run.logs",
                tooltip="Show the run's log file"),
    ]

    class Loaded(Message):
        """The run, its trials, (for a study shared with other hosts) its workers and what it is
        doing after the trials (``phase``: training the final model), if anything."""

        def __init__(self, run: Run, trials: list[Trial], workers: list[RunWorker], phase: str | None = None) -> None:
            super().__init__()
            self.run, self.trials, self.workers, self.phase = run, trials, workers, phase

    class Importance(Message):
        """Parameter importances (or why there are none) and, once evaluated, feature importances."""

        def __init__(self, params: dict[str, Any] | None, features: dict[str, Any] | None) -> None:
            super().__init__()
            self.params, self.features = params, features

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.run: Run | None = None
        self._importance_for: int = -1
        self._ticks = 0
        self._trials: list[Trial] = []
        self._param_rank: list[str] = []  # parameters by importance, once known (the trials table's order)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="run-head")
        with TabbedContent(id="run-tabs", initial="trials"):
            with TabPane("Trials t", id="trials"):
                yield Table(id="trials-table")
            with TabPane("History h", id="history"):
                yield LazyPlot("history-plot")
            with TabPane("Importances i", id="importance"), TextPane():
                yield Static("", id="importance-text")
            with TabPane("Outcome o", id="outcome"), TextPane():
                yield Static("", id="outcome-text")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id[:8]}"
        self.refresh_run()
        self.set_interval(REFRESH_S, self._tick)

    def on_lazy_plot_ready(self, _: LazyPlot.Ready) -> None:
        """The History plot is mounted (textual-plotext imported off the UI thread: screens.plots)."""
        if self.run is not None:
            self._show_history(self.run, self._trials)

    def _tick(self) -> None:
        """Every tick while the run is active; every 5th otherwise (a resume from the CLI shows up)."""
        self._ticks += 1
        if self.is_current and not self.still_loading("run-detail") and (self.run is None or self.run.status in ACTIVE or self._ticks % 5 == 0):
            self.refresh_run()

    @work(thread=True, exclusive=True, exit_on_error=False, group="run-detail")
    def refresh_run(self) -> None:
        store = self.app.ws.store
        run = store.runs.get(self.run_id)
        workers = store.runs.workers(self.run_id) if run.config.get("storage") else []
        trials = store.runs.trials(self.run_id)
        phase = phase_text(run)
        if run.phase is None and run.status == "running" and not any(t.state.lower() == "running" for t in trials):
            # A supervisor from before the run record had a phase (store migration 10): its log says.
            from mlops_tui.training import tuning

            phase = log_phase(tuning.log_path(self.app.ws, self.run_id))
        self.post_message(self.Loaded(run, trials, workers, phase))

    @work(thread=True, exclusive=True, exit_on_error=False, group="run-importance")
    def load_importance(self, run: Run) -> None:
        """Parameter importances (optuna.importance, from the run's journal) and, once the run has a
        holdout evaluation, feature importances. Imports optuna here, never on the UI thread."""
        ws = self.app.ws
        details = None
        if run.status == "completed":
            from mlops_tui.evaluation.evaluate import details_for_run

            details = details_for_run(ws, run.run_id)
        params = (details or {}).get("param_importances")
        if not params or not params.get("importances"):
            from mlops_tui.evaluation import details as evaldetails
            params = evaldetails.param_importances(ws.run_dir(run.run_id) / "optuna.journal", run.run_id)
        self.post_message(self.Importance(params, (details or {}).get("importance")))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return run_action_offered(action, self.run)

    def on_run_detail_screen_loaded(self, message: Loaded) -> None:
        run, trials = message.run, message.trials
        first, changed = self.run is None, self.run is None or self.run.status != run.status
        self.run, self._trials = run, trials
        if changed:
            self.refresh_bindings()
        self._show_head(run, trials, message.workers, message.phase)
        self._show_trials(run, trials)
        self._show_history(run, trials)
        self._show_outcome(run)
        if first and retrain_of(run):  # no trials to list (it opened on an empty table): its model's outcome
            show_tab(self.query_one(TabbedContent), "outcome")
        complete = sum(t.state.lower() == "complete" for t in trials)
        if complete != self._importance_for and (complete >= 2 or run.status == "completed"):
            self._importance_for = complete
            self.load_importance(run)

    def on_run_detail_screen_importance(self, message: Importance) -> None:
        self._show_importance(message.params, message.features)
        imp = (message.params or {}).get("importances") or {}
        ranked = sorted((k for k, v in imp.items() if isinstance(v, int | float)), key=lambda k: -imp[k])
        if ranked and ranked != self._param_rank:
            self._param_rank = ranked
            if self.run is not None:
                self._show_trials(self.run, self._trials)

    def _show_head(self, run: Run, trials: list[Trial], workers: list[RunWorker], phase: str | None = None) -> None:
        from rich.text import Text

        head = Text()
        head.append_text(status_text(run.status))
        head.append(f"  {run.name}  {run.dataset}:{run.dataset_version} → {run.target} ({run.task})\n")
        if champion := retrain_of(run):
            head.append(f"{run.metric} ({run.direction}) · retrain of {champion} with its parameters")
        else:
            head.append(f"{run.metric} ({run.direction}) best trial {fmt(run.best_value)} · trials "
                        f"{progress_bar(run.n_trials, run.n_trials_requested)} · {duration(run_elapsed(run))}")
        # The trials' best is on validation data; the holdout's figure (the model's, on the Models
        # screen) is another number: each named, so 0.8175 beside the model's 0.8300 is no riddle.
        # A line of its own: at 80 columns the line above wrapped in the middle of 'model NAME:V'.
        holdout = (run.test_metrics or {}).get(run.metric)
        outcome = [f"model {run.model_name}:{run.model_version}"] if run.model_name else []
        if isinstance(holdout, int | float):
            outcome.append(f"holdout {run.metric} {fmt(holdout)}")
        if outcome:
            head.append("\n" + " · ".join(outcome))
        if phase:
            head.append(f"\n● {phase}", style="cyan")
        if run.config.get("storage"):  # a study shared with other hosts: who did what, who is alive
            head.append("\n" + hosts_line(run, trials, workers), style="cyan")
        if run.error:
            head.append(f"\n✗ {run.error.splitlines()[0]}", style="red")
        self.query_one("#run-head", Static).update(head)

    def _show_trials(self, run: Run, trials: list[Trial]) -> None:
        # The columns that fit, the parameters that mattered most first once their importance is
        # known: at 80 columns the two shown were bagging_fraction and bagging_freq (the first
        # seen) while lambda_l1 and learning_rate mattered most.
        rank = {k: i for i, k in enumerate(self._param_rank)}
        varying = sorted(_varying_params(trials), key=lambda k: rank.get(k, len(rank)))
        varying = varying[:max(2, (self.app.size.width - 40) // 17)]
        best = run.best_value
        rows = []
        for t in sorted(trials, key=lambda t: t.number, reverse=True):
            mark = "★" if best is not None and t.value == best else ""
            rows.append((t.number, status_text(t.state), f"{fmt(t.value)}{mark}", duration(t.duration_s),
                         *(fmt(t.params.get(p)) for p in varying)))
        self.query_one("#trials-table", Table).fill(
            ["#", "state", run.metric, "time", *varying], rows, [str(t.number) for t in
                                                                 sorted(trials, key=lambda t: t.number, reverse=True)])

    def _show_history(self, run: Run, trials: list[Trial]) -> None:
        plot = self.query_one(LazyPlot).plot
        if plot is None:
            return  # drawn when the plot is mounted (on_lazy_plot_ready)
        done = sorted((t for t in trials if t.value is not None and t.state.lower() == "complete"),
                      key=lambda t: t.number)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"optimization history ({run.metric}, {run.direction})")
        if done:
            xs = [t.number for t in done]
            ys = [t.value for t in done if t.value is not None]
            # The key is the x label, not a legend: plotext draws its legend in the canvas's top
            # left corner, over the first trials' points (the best of a maximized run, the worst of
            # a minimized one are often there).
            plt.plot(*best_so_far_steps(xs, ys, run.direction == "minimize"), marker="braille")
            plt.scatter(xs, ys, marker="dot")  # after the line: a trial that set the best shows on it
            whole_xticks(plt, xs)
            plt.xlabel("trial  (• a trial's value, line: best so far)")
        plot.refresh()

    def _show_importance(self, params: dict[str, Any] | None, features: dict[str, Any] | None) -> None:
        lines = ["Parameter importance (optuna.importance)"]
        imp = (params or {}).get("importances")
        if imp:
            lines += _bars(imp)
        else:
            lines.append(f"  ○ {(params or {}).get('reason', 'not available yet')}")
        if features and features.get("features"):
            lines += ["", "Feature importance (share of gain, refit model)"]
            top = dict(list(gain_shares(features).items())[:12])
            lines += _bars(top, shown=lambda share: f"{share:5.1f}%")
        self.query_one("#importance-text", Static).update("\n".join(lines))

    def _show_outcome(self, run: Run) -> None:
        lines = []
        if run.test_metrics:
            lines.append("Holdout test metrics")
            lines += [f"  {k:<18} {fmt(v)}" for k, v in run.test_metrics.items()
                      if k != "primary_metric" and not isinstance(v, dict | list)]  # (the header names it)
        if run.best_params:
            lines += ["", "Best parameters"] + [f"  {k:<18} {fmt(v)}" for k, v in run.best_params.items()]
        prep = run.prep or {}
        excluded = prep.get("excluded") or prep.get("excluded_columns") or {}
        if excluded:
            lines += ["", "Excluded columns"]
            items = excluded.items() if isinstance(excluded, dict) else ((e.get("column"), e.get("reason"))
                                                                         if isinstance(e, dict) else (e, "")
                                                                         for e in excluded)
            lines += [f"  ○ {c}: {r}" for c, r in items]
        for w in prep.get("warnings") or []:
            lines.append(f"  ▲ {w if isinstance(w, str) else w.get('message', w)}")
        self.query_one("#outcome-text", Static).update("\n".join(lines) or "no outcome yet (run not finished)")

    def action_tab(self, tab: str) -> None:
        show_tab(self.query_one(TabbedContent), tab)

    def action_stop(self) -> None:
        stop_run(self, self.run_id, self.refresh_run)

    def action_resume(self) -> None:
        if self.run is not None:
            ask_resume(self, self.run, self.refresh_run)

    def action_logs(self) -> None:
        show_logs(self, self.run_id)


def phase_text(run: Run) -> str | None:
    """The head's line of what the run does now, from its record: 'training the final model (one
    refit on train+valid)' (or '(its fold models, averaged)' for a cross-validated run). None while
    it searches (the trials bar says so) or does nothing."""
    from mlops_tui.training.tuning import protocol

    if run.phase is None or run.phase == protocol.SEARCHING:
        return None
    if run.phase != protocol.FINAL_MODEL:
        return run.phase
    return f"{protocol.FINAL_MODEL} ({protocol.final_fit(run.config)})"

LOG_TAIL_BYTES = 16_384
RUN_ENDED = re.compile(r"run \w+ (?:completed|failed|interrupted|stopped)")


def log_phase(path: Path) -> str | None:
    """What a running run's log says it does after its trials: 'training the final model (one refit
    on train+valid)', from the supervisor's line 'best trial 3 (...); training the final model (...)',
    unless a later line says that run ended (a completed run resumed for more trials). None when
    the log says nothing of it (or there is no log). Reads the last 16 KB only."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, 2) - LOG_TAIL_BYTES))
            tail = f.read().decode(errors="replace")
    except OSError:
        return None
    from mlops_tui.training.tuning import protocol

    at = tail.rfind(protocol.FINAL_MODEL)
    if at < 0 or any(m.start() > at for m in RUN_ENDED.finditer(tail)):
        return None
    return tail[at:].splitlines()[0].strip()


def hosts_line(run: Run, trials: list[Trial], workers: list[RunWorker]) -> str:
    """"hosts vm 6 · w1 3 · w2 2 · workers alive 2 of 3": trials per host of a shared study, and how
    many of the workers the coordinator saw are alive (none once the run is over)."""
    counts: dict[str, int] = {}
    for t in trials:
        counts[t.host or "?"] = counts.get(t.host or "?", 0) + 1
    alive = sum(w.alive for w in workers) if run.status in ACTIVE else 0
    spread = " · ".join(f"{host} {n}" for host, n in sorted(counts.items())) or "no trial yet"
    return f"hosts {spread} · workers alive {alive} of {len(workers)}"


def _varying_params(trials: list[Trial]) -> list[str]:
    """Parameters whose values differ between trials (the interesting columns), in first-seen order."""
    seen: dict[str, set[str]] = {}
    for t in trials:
        for k, v in (t.params or {}).items():
            seen.setdefault(k, set()).add(repr(v))
    return [k for k, vals in seen.items() if len(vals) > 1] or list(seen)


def _bars(values: dict[str, Any], width: int = 30, shown: Callable[[float], str] = lambda v: fmt(v, 3)) -> list[str]:
    nums = {k: float(v) for k, v in values.items() if isinstance(v, int | float)}
    top = max(nums.values(), default=0) or 1
    return [f"  {k[:22]:<22} {'█' * max(1, round(width * v / top)) if v > 0 else '':<{width}} {shown(v)}"
            for k, v in sorted(nums.items(), key=lambda kv: -kv[1])]
