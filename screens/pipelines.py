"""Pipelines screen: the pipelines of pipeline.toml (./pipeline.toml, else the workspace's), each
stage fresh or stale and why, and how it last ended; `x` runs the selected pipeline.

Reading the file and the stage records (``pipelines.plan``) and running a pipeline
(``pipelines.run``) happen in worker threads. A running pipeline reports each stage as it starts and
as it is decided (:class:`PipelinesScreen.StageProgress`), so the table follows the run live while
the UI stays responsive; the runner records everything, so leaving the screen loses nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_tui.screens.formatters import STYLES, symbol
from mlops_tui.screens.nav import BaseScreen, NavBar
from mlops_tui.screens.tables import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Static

if TYPE_CHECKING:
    from mlops_tui.pipelines import PipelineResult, StageResult
    from mlops_tui.pipelines.spec import Pipeline

# A stage's state or outcome as the status the rest of the app draws (symbol + colour).
AS_STATUS = {"fresh": "ok", "skipped": "ok", "ran": "ok", "stale": "warn", "not run": "none"}


def state_text(status: str) -> Text:
    """'✓ fresh', '▲ stale', '● running', '✗ refused' ..."""
    sym = symbol(AS_STATUS.get(status, status))
    return Text(f"{sym} {status}", style=STYLES.get(sym, ""))


INFO = "x runs the selected pipeline (its stale stages) · r reads the file again"
NO_FILE = ("No pipeline.toml in the workspace or in the folder mlops-tui started in: add one "
           "(example: examples/pipeline.toml), then press r.")


class PipelinesScreen(BaseScreen):
    BINDINGS = [
        Binding("x", "run", "Run pipeline", id="pipelines.run",
                tooltip="Run the pipeline's stages (train, evaluate, deploy)"),
        # Shown: with no file (or a broken one) it is this screen's one action, after editing the file.
        Binding("r", "refresh", "Read file again", id="pipelines.refresh"),
    ]

    class Planned(Message):
        """The pipeline file read, each pipeline's plan and how its latest run ended (``where``: the
        file, or why there is none)."""

        def __init__(self, where: str, loaded: dict[str, Pipeline], plans: dict[str, PipelineResult],
                     last: dict[str, str]) -> None:
            super().__init__()
            self.where, self.loaded, self.plans, self.last = where, loaded, plans, last

    class StageProgress(Message):
        """A stage of the running pipeline started (status 'running') or was decided."""

        def __init__(self, stage: StageResult) -> None:
            super().__init__()
            self.stage = stage

    class RunEnded(Message):
        """The run is over: its result, or None when it raised (the error is notified separately)."""

        def __init__(self, result: PipelineResult | None) -> None:
            super().__init__()
            self.result = result

    def __init__(self) -> None:
        super().__init__()
        self.loaded: dict[str, Pipeline] = {}
        self.plans: dict[str, PipelineResult] = {}
        self.running: str | None = None
        self.live_of: str | None = None  # the pipeline last run from this screen ...
        self.live: dict[str, StageResult] = {}  # ... and its stages as that run decided them
        self.stage_since: dict[str, float] = {}  # monotonic start of each stage of the run, for its clock

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("pipelines")
        with Vertical(id="pipelines-pane", classes="pane") as v:
            v.border_title = "Pipelines"
            yield Table(id="pipelines-table")
        with Vertical(id="stages-pane", classes="pane") as v:
            v.border_title = "Stages"
            yield Table(id="stages-table")
        yield Static(INFO, id="pipelines-info")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "pipelines"
        self.query_one("#pipelines-table", Table).focus()
        self.refresh_plans()
        # The running stage's time counts up: a tune stage of minutes showed '● running' and
        # nothing that moved, as if the screen had hung.
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        if self.running and self.is_current:
            self._show_stages()

    def action_refresh(self) -> None:
        self.refresh_plans()

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipelines-plan")
    def refresh_plans(self) -> None:
        from mlops_tui.errors import UserError
        from mlops_tui.pipelines import last_file, last_status, plan, spec

        ws = self.app.ws
        try:
            file = spec.find_file(ws.root, last_run=lambda: last_file(ws.root))
        except UserError:  # no file is a state of this screen, not an error (the CLI's '--file' is no help here)
            self.post_message(self.Planned(NO_FILE, {}, {}, {}))
            return
        try:
            loaded = {name: spec.load(file, name) for name in spec.names(file)}
        except UserError as exc:  # a broken file: what is wrong stays on screen (the note fades), x not offered
            self.post_message(self.Planned(f"{exc} · fix it, then press r.", {}, {}, {}))
            raise
        last = {name: status for name in loaded if (status := last_status(ws, name))}
        self.post_message(self.Planned(str(file), loaded, {name: plan(ws, p) for name, p in loaded.items()}, last))

    def on_pipelines_screen_planned(self, message: Planned) -> None:
        self.loaded, self.plans = message.loaded, message.plans
        self.query_one("#pipelines-info", Static).update(message.where if not self.loaded else INFO)
        self.refresh_bindings()  # x only with a pipeline to run
        rows = [[name, state_text("running" if name == self.running else res.status), len(res.stages),
                 message.last.get(name, "never run")] for name, res in self.plans.items()]
        self.query_one("#pipelines-table", Table).fill(["pipeline", "state", "stages", "last run"], rows,
                                                      list(self.plans))
        self._show_stages()

    def on_data_table_row_highlighted(self, event: Table.RowHighlighted) -> None:
        if event.data_table.id == "pipelines-table":
            self._show_stages()

    def _selected(self) -> str | None:
        return self.query_one("#pipelines-table", Table).selected_key()

    def _show_stages(self) -> None:
        from mlops_tui.pipelines import made

        name = self._selected()
        res = self.plans.get(name) if name else None
        rows: list[list[object]] = []
        for s in res.stages if res else []:
            now = self.live.get(s.name) if name == self.live_of else None
            rows.append([s.name, s.kind, state_text(s.status), state_text(now.status) if now else "",
                         self._time(now), s.last or "—",
                         made(now.outputs if now and now.outputs else s.outputs, s.kind), s.reason])
        self.query_one("#stages-table", Table).fill(  # 'why' last: long reasons never hide the live columns
            ["stage", "kind", "state", "this run", "time", "last run", "made", "why"], rows,
            [s.name for s in res.stages] if res else [])

    def _time(self, stage: StageResult | None) -> str:
        """How long a stage of this screen's run took, or has been running ('12 s…')."""
        from time import monotonic

        if stage is None:
            return ""
        if stage.status == "running" and stage.name in self.stage_since:
            return f"{monotonic() - self.stage_since[stage.name]:.0f} s…"
        return f"{stage.seconds:.1f} s" if stage.seconds else ""

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """x is offered only with a pipeline to run, and not while one runs: with no file, or
        during a run, it could only say why not."""
        return bool(self.loaded) and not self.running if action == "run" else True

    def action_run(self) -> None:
        name = self._selected()
        if name is None or name not in self.loaded:
            self.notify("no pipeline to run: add a pipeline.toml", severity="warning")
            return
        if self.running:
            self.notify(f"pipeline {self.running} is running", severity="warning")
            return
        self.running, self.live_of, self.live, self.stage_since = name, name, {}, {}
        self.refresh_bindings()
        self._set_state(name, "running")
        self.run_pipeline(self.loaded[name])

    def _set_state(self, name: str, status: str) -> None:
        table = self.query_one("#pipelines-table", Table)
        if name in table.rows and table.ordered_columns:
            table.update_cell(name, table.ordered_columns[1].key, state_text(status))

    @work(thread=True, exclusive=True, exit_on_error=False, group="pipelines-run")
    def run_pipeline(self, pipeline: Pipeline) -> None:
        from mlops_tui.pipelines import run

        def progress(stage: StageResult) -> None:  # called on this worker thread; post_message is thread-safe
            self.post_message(self.StageProgress(stage))

        result = None
        try:
            result = run(self.app.ws, pipeline, on_stage=progress)
        finally:
            self.post_message(self.RunEnded(result))

    def on_pipelines_screen_stage_progress(self, message: StageProgress) -> None:
        from time import monotonic

        if message.stage.status == "running":
            self.stage_since[message.stage.name] = monotonic()
        self.live[message.stage.name] = message.stage
        self._show_stages()

    def on_pipelines_screen_run_ended(self, message: RunEnded) -> None:
        self.running = None
        self.refresh_bindings()
        res = message.result
        if res is not None:
            stopped = next((s for s in res.stages if s.status in ("refused", "failed")), None)
            why = f" ({stopped.name}: {stopped.reason})" if stopped else ""
            if res.status == "skipped" and res.stages:  # e.g. cron is running it: say so, not just 'skipped'
                why = f": {res.stages[0].reason}"
            self.notify(f"pipeline {res.pipeline}: {res.status}{why}",
                        severity="error" if stopped else "warning" if res.status == "skipped" else "information")
        self.refresh_plans()
