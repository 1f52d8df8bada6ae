"""Models screen: the registry with aliases and gate verdicts, promote, deploy, score a file, job history.

Every store read and service call runs in a thread worker that posts a message; the handlers only
update widgets. Deploying goes through the gate (``registry.deploy``); a refusal shows its reason
and offers to deploy anyway, which the registry records as forced. Scoring streams through
``scoring.score`` in a worker whose progress callback feeds the progress bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_tui.screens.busy import BusyRow
from mlops_tui.screens.formatters import ago, clip_middle, here, status_text
from mlops_tui.screens.messages import in_form_words
from mlops_tui.screens.modals import ConfirmModal, FormField, FormScreen
from mlops_tui.screens.nav import BaseScreen, NavBar
from mlops_tui.screens.tables import Table, TextPane
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Label, ProgressBar, Static

from mlops_tui.formatting import fmt
from mlops_tui.serving.sweep import recent_jobs

JOBS_REFRESH_S = 5.0
JOBS_SHOWN = 200

if TYPE_CHECKING:
    from mlops_tui.store import Deployment, ModelVersion, ScoringJob

    from mlops_tui.evaluation.evaluate import ModelEvaluation
    from mlops_tui.registry.gate import Verdict
    from mlops_tui.registry.models import ModelDetail


@dataclass(frozen=True)
class Registry:
    """One worker's read of the registry: versions with their gate verdicts, deployments, jobs."""

    models: list[ModelVersion]
    gates: dict[str, Verdict]          # ref → its gate verdict
    deployments: list[Deployment]
    jobs: list[ScoringJob]


def primary(m: ModelVersion) -> tuple[str, Any]:
    """The model's headline metric (the one its run optimised) and value."""
    metrics = m.metrics or {}
    name = metrics.get("primary_metric") or next(
        (k for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)), "")
    return name, metrics.get(name)


def gate_text(verdict: Verdict | None) -> Text:
    """'✓ pass', '✗ fail', or '▲ pass*' for a version that passed only because its champion fails the
    same checks (``champion_fails``: the CLI and retrain say "but the champion fails it too"); the
    detail pane says which (:func:`shared_failures`)."""
    if verdict is None:
        return Text("○ -", style="dim")
    if verdict.passed and shared_failures(verdict):
        return Text("▲ pass*", style="yellow")
    return status_text("pass" if verdict.passed else "fail")


def shared_failures(verdict: Verdict) -> list[str]:
    """The checks ``verdict`` passed only because the champion fails them as badly (none for a
    verdict without figures)."""
    from mlops_tui.registry.gate import shared_failures as shared

    return shared(verdict.checks or {})


def job_target(job: ScoringJob) -> str:
    return job.deployment or f"{job.model_name}:{job.model_version}"


class ModelsScreen(BaseScreen):
    # The deploy and score forms' fields, as the registry's and scoring's messages name their flags.
    FIELD_WORDS = {" (use --force to override)": "", "--output": "Output file", "--keep": "Keep",
                   "--engine": "Engine", "--unseen": "Unseen rows only", "--threshold": "Threshold"}
    BINDINGS = [
        Binding("p", "promote", "Promote", id="models.promote",
                tooltip="Set an alias (production) on this model version"),
        Binding("d", "deploy", "Deploy", id="models.deploy",
                tooltip="Deploy this model version through the validation gate"),
        Binding("s", "score", "Score", id="models.score",
                tooltip="Score a file: batch predictions from a CSV or Parquet file"),
        Binding("e", "evaluate", "Evaluate", id="models.evaluate",
                tooltip="Evaluate this model version on another labelled dataset version"),
        Binding("b", "rollback", "Rollback alias", show=False, id="models.rollback",
                tooltip="Move an alias back to its previous version (undo a promote)"),
        # Shown in ? and the palette: the footer at 80 columns ran out at '? He' once e was in it.
        Binding("r", "refresh", "Refresh", show=False, id="models.refresh"),
    ]

    class Loaded(Message):
        def __init__(self, data: Registry, seq: int) -> None:
            super().__init__()
            self.data, self.seq = data, seq

    class Gates(Message):
        def __init__(self, gates: dict[str, Verdict], seq: int) -> None:
            super().__init__()
            self.gates, self.seq = gates, seq

    class Jobs(Message):
        def __init__(self, jobs: list[ScoringJob]) -> None:
            super().__init__()
            self.jobs = jobs

    class Detail(Message):
        def __init__(self, info: ModelDetail) -> None:
            super().__init__()
            self.info = info

    class Evaluated(Message):
        """An evaluation on another dataset finished (or failed): its figures for the Detail pane."""

        def __init__(self, ref: str, text: Text | ModelEvaluation) -> None:
            super().__init__()
            self.ref, self.text = ref, text  # the refusal's line, or the figures to lay out

    class Done(Message):
        """A promote/deploy finished: say so and reload."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Refused(Message):
        def __init__(self, ref: str, name: str, reason: str, engine: str | None = None) -> None:
            super().__init__()
            self.ref, self.name, self.reason, self.engine = ref, name, reason, engine

    class DeployStage(Message):
        """A step of a long deploy (compiling the model); None when the deploy is over."""

        def __init__(self, text: str | None) -> None:
            super().__init__()
            self.text = text

    class ScoreProgress(Message):
        def __init__(self, rows: int, total: int | None) -> None:
            super().__init__()
            self.rows, self.total = rows, total

    class Scored(Message):
        def __init__(self, job: ScoringJob | None, error: str | None = None) -> None:
            super().__init__()
            self.job, self.error = job, error

    def __init__(self) -> None:
        super().__init__()
        self.data: Registry | None = None
        self.scoring = False
        self.load_seq = 0
        self.show_jobs = False  # after a scoring job: put the cursor on it once the list reloads
        self.evaluations: dict[str, Text] = {}  # model ref -> its last evaluation (e) in this session

    # -- layout -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("models")
        with Horizontal(id="models-top"):
            table = Table(id="models-table", classes="pane")
            table.border_title = "Registry"
            yield table
            with TextPane(id="model-detail-pane", classes="pane") as pane:  # Tab to it, j/k scroll it
                pane.border_title = "Detail"
                yield Static("", id="model-detail")
        yield BusyRow(id="deploy-row")
        yield BusyRow(id="evaluate-row")
        with Horizontal(id="score-row"):
            yield Label("Scoring", id="score-label")
            yield ProgressBar(id="score-progress", show_eta=False)
        jobs = Table(id="jobs-table", classes="pane")
        jobs.border_title = "Scoring jobs"
        with Vertical(id="jobs-pane"):
            yield jobs
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "models"
        self.query_one("#models-table", Table).loading = True
        self.refresh_data()
        self.set_interval(JOBS_REFRESH_S, self._tick)

    def _tick(self) -> None:
        """Jobs started elsewhere (CLI, cron) appear while the screen is shown."""
        if self.is_current and self.data is not None and not self.scoring and not self.still_loading("models-jobs"):
            self.refresh_jobs()

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-jobs")
    def refresh_jobs(self) -> None:
        self.post_message(self.Jobs(recent_jobs(self.app.ws, JOBS_SHOWN)))

    def on_models_screen_jobs(self, msg: Jobs) -> None:
        if self.data is None or [j.job_id for j in msg.jobs] == [j.job_id for j in self.data.jobs] and \
                [j.status for j in msg.jobs] == [j.status for j in self.data.jobs]:
            return
        self.data = Registry(self.data.models, self.data.gates, self.data.deployments, msg.jobs)
        self._fill_jobs()

    def on_screen_resume(self) -> None:
        if self.data is not None:
            self.refresh_data()

    # -- reading ------------------------------------------------------------------------------
    def action_refresh(self) -> None:
        self.refresh_data()

    def refresh_data(self) -> None:
        # A superseded thread worker is not stopped, it only stops mattering: each read carries
        # its number and the handlers drop any that is not the latest (no stale overwrite).
        self.load_seq += 1
        self.load_registry(self.load_seq)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-load")
    def load_registry(self, seq: int) -> None:
        ws = self.app.ws
        from mlops_tui.registry import gate
        from mlops_tui.registry import models as registry
        models = ws.store.models.list()
        deployments, jobs = ws.store.models.deployments(), recent_jobs(ws, JOBS_SHOWN)
        # The list first (fast store reads), then the verdicts (each reads evaluation details).
        self.post_message(self.Loaded(Registry(models, {}, deployments, jobs), seq))
        gates: dict[str, Verdict] = {}
        for m in models:
            try:
                gates[m.ref] = gate.check(ws, m, champion=registry.champion_of(ws, m))
            except Exception as exc:  # noqa: BLE001 - one unreadable verdict must not hide the list
                gates[m.ref] = gate.Verdict(False, (f"gate check failed: {exc}",))
        self.post_message(self.Gates(gates, seq))

    def on_models_screen_gates(self, msg: Gates) -> None:
        if self.data is None or msg.seq != self.load_seq:
            return
        self.data = Registry(self.data.models, msg.gates, self.data.deployments, self.data.jobs)
        self._fill_models()

    def _fill_models(self) -> None:
        assert self.data is not None
        table = self.query_one("#models-table", Table)
        table.loading = False
        served = self._served()
        rows = []
        for m in self.data.models:
            metric, value = primary(m)
            # one a line: at 80x24 '@production @staging' pushed the deployment off the table
            aliases = "\n".join(f"@{a}" for a in m.aliases) or "-"
            deps = "\n".join(clip_middle(d, 12) for d in served.get(m.ref, [])) or "-"
            rows.append((m.ref, gate_text(self.data.gates.get(m.ref)), aliases, deps,
                         f"{metric} {fmt(value)}".strip()))
        # What p and d change first: at 80x24 the registry has 46 columns, and 'aliases →deployed'
        # after the metric read '@production' with the deployment cut off. The metric comes last
        # (the Detail pane shows the selected version's, and each deployment's full name); a
        # deployment name is clipped at 12 ('credit-batch' whole).
        table.fill(["model", "gate", "aliases", "deployed", "metric"], rows, [m.ref for m in self.data.models],
                   tall=True)

    def on_models_screen_loaded(self, msg: Loaded) -> None:
        if msg.seq != self.load_seq:
            return
        previous = self.data.gates if self.data else {}
        # Until the fresh verdicts arrive, show the last ones (no flicker on refresh).
        self.data = Registry(msg.data.models, msg.data.gates or previous, msg.data.deployments, msg.data.jobs)
        msg.data = self.data
        self._fill_models()
        table = self.query_one("#models-table", Table)
        jobs = self._fill_jobs()
        if self.show_jobs and msg.data.jobs:
            self.show_jobs = False
            jobs.focus()
            jobs.move_cursor(row=0)
            self._show(self._job_text(msg.data.jobs[0]))
        elif not msg.data.models:
            self._show(Text("No models yet. A finished tuning run registers one "
                            "(3 Runs → n to launch), or `mlops-tui tune`.", style="dim"))
        elif table.has_focus or not jobs.has_focus:
            self._load_detail()

    def _fill_jobs(self) -> Table:
        assert self.data is not None
        jobs = self.query_one("#jobs-table", Table)
        # The model last and long deployment names clipped: at 80 columns a 38-character name
        # pushed rows, drift and when out of view (the model is in the job's detail too).
        jobs.fill(["", "job", "target", "rows", "drift", "when", "model"], [
            (status_text(j.status), j.job_id[:8], clip_middle(job_target(j), 22),
             fmt(j.rows_out if j.status == "succeeded" else j.rows_in), status_text(j.drift_status),
             ago(j.created_at), f"{j.model_name}:{j.model_version}") for j in self.data.jobs
        ], [j.job_id for j in self.data.jobs])
        return jobs

    def _served(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in self.data.deployments if self.data else []:
            out.setdefault(f"{d.model_name}:{d.model_version}", []).append(d.name)
        return out

    def selected_model(self) -> ModelVersion | None:
        key = self.query_one("#models-table", Table).selected_key()
        if not key or self.data is None:
            return None
        return next((m for m in self.data.models if m.ref == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "models-table":
            self._load_detail()
        elif event.data_table.id == "jobs-table" and event.row_key.value and self.data:
            job = next((j for j in self.data.jobs if j.job_id == event.row_key.value), None)
            if job is not None:
                self._show(self._job_text(job))

    def on_descendant_focus(self, event: Any) -> None:
        """Entering a table shows the detail of its row under the cursor (model or job)."""
        if getattr(event.widget, "id", None) == "jobs-table" and self.data:
            key = self.query_one("#jobs-table", Table).selected_key()
            job = next((j for j in self.data.jobs if j.job_id == key), None)
            if job is not None:
                self._show(self._job_text(job))
        elif getattr(event.widget, "id", None) == "models-table":
            self._load_detail()

    def _load_detail(self) -> None:
        m = self.selected_model()
        if m is not None:
            self.load_detail(m.ref)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-detail")
    def load_detail(self, ref: str) -> None:
        from mlops_tui.registry import models as registry
        self.post_message(self.Detail(registry.show(self.app.ws, ref)))

    def on_models_screen_detail(self, msg: Detail) -> None:
        text = self._model_text(msg.info)
        evaluation = self.evaluations.get(msg.info.ref)
        if evaluation is not None:  # this session's evaluation of the version first: e shows it here
            text = Text.assemble(evaluation, "\n", text)
            self.query_one("#model-detail-pane").scroll_home(animate=False)
        self._show(text)

    def _show(self, text: Text) -> None:
        self.query_one("#model-detail", Static).update(text)

    @staticmethod
    def _model_text(info: ModelDetail) -> Text:
        t = Text()
        t.append(info.ref, style="bold")
        for a in info.aliases:
            t.append(f"  @{a}", style="bold cyan")
        t.append(f"\n{info.task} · data {info.dataset or '-'} · run {(info.run_id or '-')[:8]}\n")
        gate = info.gate
        t.append("Gate ")
        t.append_text(gate_text(gate))
        t.append("\n")
        for phrase in shared_failures(gate) if gate.passed else []:  # the star of '▲ pass*'
            t.append(f"  * {phrase}\n", style="yellow")
        for reason in gate.reasons:
            t.append(f"  ✗ {reason}\n", style="red")
        for name, check in gate.checks.items():
            if check.get("ok") is None and check.get("note"):
                t.append(f"  ○ {name}: {check['note']}\n", style="dim")
        metrics = {k: v for k, v in info.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if metrics:
            t.append("Metrics\n", style="bold")
            width = max(len(k) for k in metrics)  # every value in one column (best_f1_threshold is 17)
            for k, v in metrics.items():
                t.append(f"  {k:<{width}} {fmt(v)}\n")
        deps = info.deployments
        t.append(f"Deployed as {', '.join(deps)}\n" if deps else "Not deployed\n")
        moves = info.alias_history
        if moves:
            t.append("Alias moves (latest first)\n", style="bold")
            for h in reversed(moves[-4:]):
                prev = f" (from v{h.previous_version})" if h.previous_version else ""
                t.append(f"  @{h.alias} → v{h.version}{prev}  {ago(h.changed_at)}\n")
        return t

    @staticmethod
    def _job_text(job: ScoringJob) -> Text:
        t = Text()
        t.append(f"job {job.job_id}  ", style="bold")
        t.append_text(status_text(job.status))
        t.append(f"\ntarget {job_target(job)} · model {job.model_name}:{job.model_version}\n")
        t.append(f"rows {fmt(job.rows_out)} · {fmt(job.rows_per_s, 3)} rows/s\n")
        for i in job.inputs:
            t.append(f"in  {i.get('path')}\n")
        if job.output:
            t.append(f"out {job.output}\n")
        t.append("drift ")
        t.append_text(status_text(job.drift_status))
        t.append(f" · prediction drift {fmt(job.prediction_drift)}\n")
        if job.error:
            t.append(f"✗ {in_form_words(job.error, ModelsScreen.FIELD_WORDS)}\n", style="red")
        for w in job.warnings:
            t.append(f"▲ {in_form_words(w, ModelsScreen.FIELD_WORDS)}\n", style="yellow")
        return t

    # -- evaluate -----------------------------------------------------------------------------
    # `mlops-tui evaluate` had no key: a new user could score a file here but not see how a version
    # does on another labelled dataset version (the metrics beside its holdout's).
    def action_evaluate(self) -> None:
        m = self.selected_model()
        if m is None:
            self.notify("Select a model version first", severity="warning")
            return

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["dataset"]:
                self.evaluations[m.ref] = Text(f"● evaluating {m.ref} on {answer['dataset']}…\n", style="yellow")
                self._load_detail()
                self.query_one("#evaluate-row", BusyRow).start(f"evaluating {m.ref} on {answer['dataset']}")
                self.evaluate(m.ref, answer["dataset"], answer["unseen"] == "yes")

        self.app.push_screen(FormScreen(f"Evaluate {m.ref}", [
            FormField("dataset", "Labelled dataset (NAME or NAME:VERSION)", m.dataset or "", required=True),
            FormField("unseen", "Rows", "no", options=(("no", "all rows (the ones it learnt from flatter it)"),
                                                       ("yes", "only rows it did not learn from"))),
        ], help_text="Scores the version on the dataset and stores the evaluation, as `mlops-tui evaluate`."),
            done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-evaluate")
    def evaluate(self, ref: str, dataset: str, unseen: bool) -> None:
        from mlops_tui.evaluation import evaluate as evaluation

        try:
            res = evaluation.evaluate_model(self.app.ws, ref, dataset, unseen=unseen)
        except Exception as exc:  # noqa: BLE001 - said in one line; the screen keeps working
            from mlops_tui.screens.messages import report_error

            self.app.call_from_thread(report_error, self.app, exc, self.FIELD_WORDS)
            self.post_message(self.Evaluated(ref, Text(
                f"✗ evaluating on {dataset}: {str(exc).splitlines()[0]}\n", style="red")))
            return
        self.post_message(self.Evaluated(ref, res))

    def _evaluation_text(self, res: ModelEvaluation) -> Text:
        """An evaluation's figures in the Detail pane's width: value, holdout and Δ where they fit;
        at 80 columns (a pane of ~26) value and Δ only (the holdout's figures are under Metrics
        below), names clipped: a 41-character line wrapped each Δ onto a line of its own."""
        width = self.query_one("#model-detail", Static).content_region.width or 26
        t = Text()
        t.append(f"{res.model.name}:{res.model.version} on {res.dataset.name}:{res.dataset.version}", style="bold")
        t.append(f" ({fmt(res.rows)} rows)\n")
        shown = [(k, v) for k, v in res.metrics.items() if k in res.deltas or k not in res.holdout_metrics]
        shown = [(k, v) for k, v in shown if isinstance(v, int | float) and not isinstance(v, bool)]
        longest = max((len(k) for k, _ in shown), default=0)
        holdout = longest + 24 <= width
        name = min(longest, max(width - (24 if holdout else 16), 8))
        heads = ("value", "holdout", "Δ") if holdout else ("value", "Δ")
        t.append(f"{'':<{name}}" + "".join(f" {h:>7}" for h in heads) + "\n", style="dim")
        for k, v in shown:
            cells = (v, res.holdout_metrics.get(k), res.deltas.get(k)) if holdout else (v, res.deltas.get(k))
            t.append(f"{clip_middle(k, name):<{name}}" + "".join(f" {fmt(c):>7}" for c in cells) + "\n")
        if not holdout:
            t.append("Δ: vs its holdout\n", style="dim")
        if res.max_slice_gap is not None:
            t.append(f"largest slice gap: {fmt(res.max_slice_gap)} in {res.slice_metric} between the groups "
                     f"of {res.max_slice_gap_feature}\n")
        for w in res.warnings:
            t.append(f"⚠ {w}\n", style="yellow")
        return t

    def on_models_screen_evaluated(self, msg: Evaluated) -> None:
        row = self.query_one("#evaluate-row", BusyRow)
        if row.doing.startswith(f"evaluating {msg.ref} on "):  # (not one of another version started since)
            row.stop()
        self.evaluations[msg.ref] = msg.text if isinstance(msg.text, Text) else self._evaluation_text(msg.text)
        m = self.selected_model()
        if m is not None and m.ref == msg.ref:
            self._load_detail()

    # -- promote ------------------------------------------------------------------------------
    def action_promote(self) -> None:
        m = self.selected_model()
        if m is None:
            self.notify("Select a model version first", severity="warning")
            return

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["alias"]:
                self.promote(m.ref, answer["alias"])

        self.app.push_screen(FormScreen(f"Promote {m.ref}", [FormField("alias", "Alias", "production", required=True)],
                                       help_text="The alias moves from any other version; the move is kept in "
                                       "its history."), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-write")
    def promote(self, ref: str, alias: str) -> None:
        from mlops_tui.registry import models as registry
        res = registry.promote(self.app.ws, ref, alias)
        prev = f" (was v{res.previous_version})" if res.previous_version else ""
        self.post_message(self.Done(f"✓ {res.name}@{alias} → v{res.version}{prev}"))

    def on_models_screen_done(self, msg: Done) -> None:
        self.notify(msg.text)
        self.refresh_data()

    def action_rollback(self) -> None:
        m = self.selected_model()
        if m is None:
            self.notify("Select a model version first", severity="warning")
            return

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["alias"]:
                self.rollback(m.name, answer["alias"])

        self.app.push_screen(FormScreen(f"Roll back an alias of {m.name}", [FormField("alias", "Alias", "production", required=True)],
                                       help_text="Moves the alias back to the version it pointed at before its last move."),
                             done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-write")
    def rollback(self, name: str, alias: str) -> None:
        from mlops_tui.registry import models as registry
        res = registry.rollback(self.app.ws, name, alias)
        self.post_message(self.Done(f"✓ {name}@{alias} rolled back to v{res.version}"))

    # -- deploy -------------------------------------------------------------------------------
    def action_deploy(self) -> None:
        m = self.selected_model()
        if m is None:
            self.notify("Select a model version first", severity="warning")
            return
        current = next((d for d in (self.data.deployments if self.data else []) if d.model_name == m.name), None)
        default = current.name if current else m.name
        engine = current.engine if current else self.app.ws.config.get("deploy", {}).get("engine", "local")

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["name"]:
                self.deploy(m.ref, answer["name"], False, answer["engine"])

        self.app.push_screen(FormScreen(f"Deploy {m.ref}", [
            FormField("name", "Deployment name", default, required=True),
            FormField("engine", "Engine", engine, options=(
                ("local", "local: LightGBM"), ("compiled", "compiled: native code, checked against LightGBM"))),
        ], help_text="Checked by the validation gate against the version it serves now. Compiling takes "
                     "a while the first time; it runs in the background."), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-write")
    def deploy(self, ref: str, name: str, force: bool, engine: str | None = None) -> None:
        from mlops_tui import errors
        from mlops_tui.registry import models as registry

        def stage(text: str) -> None:
            self.post_message(self.DeployStage(text))

        try:
            dep = registry.deploy(self.app.ws, ref, name, force=force, engine=engine, stage=stage)
        except errors.PolicyRefused as exc:
            self.post_message(self.Refused(ref, name, str(exc), engine))
            return
        finally:
            self.post_message(self.DeployStage(None))
        forced = " (forced past the gate)" if dep.forced else ""
        check = (dep.engine_info or {}).get("check")
        how = f", compiled (max abs diff {check['max_abs_diff']:.2g} vs LightGBM)" if check else ""
        self.post_message(self.Done(f"✓ {dep.name} now serves {dep.model_name}:{dep.model_version}{how}{forced}"))

    def on_models_screen_deploy_stage(self, msg: DeployStage) -> None:
        row = self.query_one("#deploy-row", BusyRow)
        row.stop() if msg.text is None else row.start(msg.text)

    def on_models_screen_refused(self, msg: Refused) -> None:
        reason = in_form_words(msg.reason, self.FIELD_WORDS)  # the dialog below offers the override
        self.notify(f"✗ {reason}", severity="error", timeout=10)

        def done(force: bool | None) -> None:
            if force:
                self.deploy(msg.ref, msg.name, True, msg.engine)

        self.app.push_screen(ConfirmModal(f"✗ {reason}\n\nDeploy anyway? The override is recorded "
                                          "as forced in the audit log.", yes="Force deploy"), done)

    # -- score --------------------------------------------------------------------------------
    def action_score(self) -> None:
        if self.scoring:
            self.notify("A scoring job is already running", severity="warning")
            return
        m = self.selected_model()
        deps = self.data.deployments if self.data else []
        dep = next((d for d in deps if m and d.model_name == m.name and d.model_version == m.version),
                   None if m else (deps[0] if deps else None))
        target = dep.name if dep else (m.ref if m else "")

        def done(answer: dict[str, str] | None) -> None:
            if answer and answer["target"] and answer["inputs"]:
                inputs = [p.strip() for p in answer["inputs"].split(",") if p.strip()]
                keep = [c.strip() for c in answer["keep"].split(",") if c.strip()]
                self.start_score(answer["target"], inputs, answer["output"] or None, keep)
            elif answer is not None:
                self.notify("Give a deployment or model and at least one input file", severity="warning")

        self.app.push_screen(FormScreen("Score a file", [
            FormField("target", "Deployment or model (NAME, NAME:V, NAME@ALIAS)", target, required=True),
            FormField("inputs", f"Input CSV/Parquet file(s), comma-separated; relative to {here()}", "",
                  "data/new.csv", required=True),
            FormField("output", "Output file (.parquet, or .csv for CSV) or folder", "",
                  "blank: the workspace's artifacts/scores"),
            FormField("keep", "Keep input columns in the output, comma-separated (a deployment remembers them)",
                      ", ".join(dep.keep) if dep else "", "e.g. pid, order_id"),
        ], enter_submits=False), done)

    def start_score(self, target: str, inputs: list[str], output: str | None, keep: list[str]) -> None:
        self.scoring = True
        row = self.query_one("#score-row")
        row.add_class("active")
        self.query_one("#score-label", Label).update(f"Scoring {target}")
        self.query_one("#score-progress", ProgressBar).update(total=None, progress=0)
        self.score(target, inputs, output, keep)

    @work(thread=True, exclusive=True, exit_on_error=False, group="models-score")
    def score(self, target: str, inputs: list[str], output: str | None, keep: list[str]) -> None:
        from mlops_tui.serving import scoring

        def progress(rows: int, total: int | None) -> None:
            self.post_message(self.ScoreProgress(rows, total))

        try:
            job = scoring.score(self.app.ws, target, inputs, output, keep=keep, progress=progress)
        except Exception as exc:  # noqa: BLE001 - the failed job is recorded by the service; say why
            from mlops_tui.screens.messages import report_error

            self.app.call_from_thread(report_error, self.app, exc, self.FIELD_WORDS)
            self.post_message(self.Scored(None, str(exc)))
            return
        self.post_message(self.Scored(job))

    def on_models_screen_score_progress(self, msg: ScoreProgress) -> None:
        self.query_one("#score-progress", ProgressBar).update(total=msg.total, progress=msg.rows)

    def on_models_screen_scored(self, msg: Scored) -> None:
        self.scoring = False
        self.query_one("#score-row").remove_class("active")
        if msg.job is not None:
            self.notify(f"✓ scored {fmt(msg.job.rows_out)} rows → {msg.job.output}", timeout=8)
        self.show_jobs = True
        self.refresh_data()
