"""What the runs list and a run's detail screen both do: progress text, elapsed time, stop,
resume and logs of a run. Each action runs off the UI thread and calls back the screen's refresh."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlops_tui.screens.modals import FormField, FormScreen, TextScreen, form_int
from mlops_tui.screens.nav import BaseScreen

REFRESH_S = 1.5
ACTIVE = ("queued", "running", "stopping")  # as mlops_tui.training.tuning.sweep.ACTIVE

if TYPE_CHECKING:
    from mlops_tui.store import Run


def progress_bar(done: int, total: int | None, width: int = 8) -> str:
    """'3/5 █████░░░' — readable without colour."""
    if not total:
        return str(done)
    filled = min(width, round(width * done / total))
    return f"{done}/{total} " + "█" * filled + "░" * (width - filled)


def retrain_of(run: Run) -> str | None:
    """The champion a `retrain` run reused the parameters of ('penguins:1'), for a run with no
    trials of its own: its best and its trials are '-' and 0, which read as a run that did nothing."""
    champion = (run.config or {}).get("retrain_of")
    return str(champion) if champion and not run.n_trials else None


def trials_text(run: Run, width: int = 8) -> str:
    """The trials cell of a run: '3/5 █████░░░', or 'retrain' for a run that reused parameters."""
    return "retrain" if retrain_of(run) else progress_bar(run.n_trials, run.n_trials_requested, width)


def run_elapsed(run: Run) -> float | None:
    if run.started_at is None:
        return None
    from mlops_tui.screens.formatters import now

    end = run.ended_at
    if end is None:
        if run.status not in ACTIVE:
            return None
        from datetime import UTC

        return (now() - run.started_at.replace(tzinfo=UTC)).total_seconds()
    return (end - run.started_at).total_seconds()


def run_action_offered(action: str, run: Run | None) -> bool:
    """Stop is offered only while ``run`` is active and Resume only while it is not, so the footer
    never lists a key that can only answer 'is not running' (other actions, or no run yet: offered)."""
    if run is None or action not in ("stop", "resume"):
        return True
    if action == "resume" and (run.config or {}).get("retrain_of"):
        # a retrain is no study: R turned one into a 5-trial study that registered yet another
        # model version, beside the comparison the retrain was made for
        return False
    return (run.status in ACTIVE) == (action == "stop")


def stop_run(screen: BaseScreen, run_id: str, then: Callable[[], object]) -> None:
    """Ask run ``run_id`` to stop (off the UI thread), then call ``then`` (the screen's refresh)."""

    def work_() -> None:
        from mlops_tui.training import tuning

        tuning.stop(screen.app.ws, run_id)
        screen.app.call_from_thread(screen.notify, f"stop requested for run {run_id[:8]}")
        screen.app.call_from_thread(then)

    screen.run_worker(work_, thread=True, exit_on_error=False, group="run-action")


# `run resume`'s messages name --trials: here it is the resume form's field.
RESUME_WORDS = {"--trials": "Trials (R to resume)"}
MORE_TRIALS = 5  # what the resume form offers a run with none of its trials left


def ask_resume(screen: BaseScreen, run: Run, then: Callable[[], object]) -> None:
    """The resume form: how many more trials. Blank runs the rest of the run's budget; a run with
    none left (completed, or limited by time only) is offered MORE_TRIALS, since resuming it with
    none said 'pass --trials N', a flag the TUI has no place for."""
    requested = run.n_trials_requested
    left = None if requested is None else requested - run.n_trials
    default = "" if left and run.status != "completed" else str(MORE_TRIALS)

    def done(answer: dict[str, str] | None) -> None:
        if answer is None:
            return
        try:
            trials = form_int(answer, "trials", 1)
        except ValueError as exc:
            screen.notify(str(exc), severity="error")
            return
        resume_run(screen, run.run_id, then, trials)

    rest = f"blank: the {left} left of its budget" if left and run.status != "completed" else "more trials to run"
    screen.app.push_screen(FormScreen(f"Resume run {run.name}·{run.run_id[:6]}",
                                      [FormField("trials", "Trials", default, placeholder=rest)],
                                      help_text="The run goes on in the background, with its study and "
                                                "settings; it keeps going after you quit."), done)


def resume_run(screen: BaseScreen, run_id: str, then: Callable[[], object], trials: int | None = None) -> None:
    """Resume run ``run_id`` detached with ``trials`` more (None: the rest of its budget), off the UI
    thread, then call ``then`` (the screen's refresh)."""

    def work_() -> None:
        from mlops_tui.training import tuning

        tuning.resume(screen.app.ws, run_id, trials=trials, detach=True)
        screen.app.call_from_thread(screen.notify, f"run {run_id[:8]} resumed (detached)")
        screen.app.call_from_thread(then)

    screen.run_worker(work_, thread=True, exit_on_error=False, group="run-action")


def show_logs(screen: BaseScreen, run_id: str) -> None:
    """Push the tail of run ``run_id``'s log (read off the UI thread)."""

    def work_() -> None:
        from mlops_tui.training import tuning

        ws = screen.app.ws
        path = tuning.log_path(ws, run_id)
        text = path.read_text(errors="replace")[-20_000:] if path.exists() else f"no log at {path}"
        from rich.text import Text

        # Opened at the end: the newest lines say what the run is doing now ("training the final model").
        screen.app.call_from_thread(screen.app.push_screen, TextScreen(f"log of {run_id[:8]}", Text(text), at_end=True))

    screen.run_worker(work_, thread=True, exit_on_error=False, group="run-action")
