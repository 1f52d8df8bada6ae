"""TUI fixtures: workspaces with real sample data, frozen clocks for snapshots, bounded waits.

Tests drive the real Workbench with Pilot; waits poll a condition with pilot.pause() and give up
after a bound, never a fixed sleep.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
FROZEN = datetime(2026, 1, 15, 12, 0, 0)  # naive UTC, as the store writes it
SEEN_AT = FROZEN.replace(tzinfo=UTC) + timedelta(minutes=5)  # the screens' 'now' under frozen_clock
PAUSE_S = 0.02


async def wait_for(pilot: Any, condition: Callable[[], Any], *, timeout: float = 30.0, what: str = "") -> Any:
    """Pause the app until ``condition()`` is truthy and return its value; fail naming ``what`` after
    ``timeout`` seconds of wall time. Bounded in count too (the pauses that fit in ``timeout``), so
    a clock that stalls cannot make it spin forever. A step known to be long passes its own timeout
    (a native compile, a whole tuning run).

    It raises rather than returning a falsy value, so a wait is never mistaken for a check: a
    caller that forgets to assert the result still fails when the screen never shows the thing."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / PAUSE_S) + 1):
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - widgets may not exist yet
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            break
        await pilot.pause(PAUSE_S)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")


def _send_keys(pilot: Any, keys: Any) -> None:
    """Hand ``keys`` to the app's driver in order, one Key event each, as Pilot.press makes them
    ('tab', 'ctrl+p', 'escape', 'question_mark', or a character), without its waits."""
    import unicodedata

    from textual import events
    from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    app = pilot.app
    for key in keys:
        if len(key) == 1 and not key.isalnum():
            key = _character_to_key(key)
        try:
            char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
        except KeyError:
            char = key if len(key) == 1 else None
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)


async def type_text(pilot: Any, text: str) -> None:
    """Type ``text`` into the focused widget as key presses, one Key event per character, as a user
    types it (and as Pilot.press sends them), then wait once for the screen to handle them all.

    Pilot.press waits for the app to go idle after every key (two waits of at least 20 ms each,
    longer while any thread of the process works): typing a file's path of 80 characters took 5 s,
    most of tests/tui/test_datasets_runs.py's register test. The app takes its events in order, so
    the characters land in order as they do from a fast typist; keys that move focus or submit
    (tab, enter) still go through Pilot.press, after this returns."""
    _send_keys(pilot, text)
    await pilot.pause()  # the app has handed every key on to the focused widget ...
    await pilot.pause()  # ... and the widget has handled them


async def press_keys(pilot: Any, *keys: str) -> None:
    """Press ``keys`` (as Pilot.press names them) whose effect the test then waits for with
    :func:`wait_for`: a screen switch, a form opening, a query typed into the palette.

    Pilot.press waits up to 1 s twice after each key for the whole process to go idle, and a
    screen's first frame starts its store reads in threads: '2', '3', … '7' took 2 s a key on a
    loaded machine (test_shell's screen switches, 17 s of 18). Here the events go in order and the
    screen gets one turn to take them; the wait_for after it is what waits for the result."""
    _send_keys(pilot, keys)
    await pilot.pause(0)


async def settled(pilot: Any, *selectors: str) -> None:
    """Let tables finish sizing their columns (DataTable does it on idle) so a snapshot never
    catches widths computed from the headers alone."""
    for _ in range(200):
        await pilot.pause()
        tables = [pilot.app.screen.query_one(s) for s in selectors]
        if not any(t._require_update_dimensions or t.loading for t in tables):
            break
    await pilot.pause()


@pytest.fixture(autouse=True)
def _colour_terminal(monkeypatch):
    """Snapshots are of the colour UI: a NO_COLOR left in the environment by another test of the same
    worker would render them in another palette."""
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def snap_compare(snap_compare):
    """The plugin's snap_compare with steady text cursors: a focused Input blinks every 0.5 s, so
    whether its cursor is drawn depended on when the screenshot fell (the SQL snapshot failed on a
    loaded machine: the snapshot has it). After the test's own run_before, blinking stops and the
    cursors are drawn."""

    def compare(app: Any, *args: Any, run_before: Callable[[Any], Any] | None = None, **kwargs: Any) -> bool:
        async def steady(pilot: Any) -> None:
            from textual.widgets import Input, TextArea

            if run_before is not None:
                result = run_before(pilot)
                if result is not None:
                    await result
            for widget in pilot.app.screen.query("Input, TextArea"):
                if isinstance(widget, (Input, TextArea)):
                    widget.cursor_blink = False
            await pilot.pause()

        return bool(snap_compare(app, *args, run_before=steady, **kwargs))

    return compare


@pytest.fixture
def held_plotext(monkeypatch):
    """textual_plotext made importable only once ``release`` is set, fresh for this test: a screen
    that imports it on the UI thread (42-52 ms on first use) blocks there, and ``held_out`` records
    an import that waited its whole bound (someone needed it before the test let it go).

    The wait is in the module's loader, which runs under that module's own lock: a finder runs under
    Python's global import lock, so waiting there held up every import of every thread (alone in a
    fresh process, the compare screen's metrics, which import scikit-learn, waited the whole bound)."""
    import importlib.abc
    import importlib.machinery
    import sys
    import threading
    from types import SimpleNamespace

    hold = SimpleNamespace(release=threading.Event(), held_out=[])

    class HoldLoader(importlib.abc.Loader):
        def __init__(self, real):
            self.real = real

        def create_module(self, spec):
            return self.real.create_module(spec)

        def exec_module(self, module):
            if not hold.release.wait(timeout=15):
                hold.held_out.append(module.__name__)
            self.real.exec_module(module)

    class HoldPlotext(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != "textual_plotext":
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is not None and spec.loader is not None:
                spec.loader = HoldLoader(spec.loader)
            return spec

    for name in [m for m in sys.modules if m.split(".")[0] == "textual_plotext"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [HoldPlotext(), *sys.meta_path])
    return hold


@pytest.fixture
def frozen_clock(monkeypatch):
    """Store timestamps at FROZEN plus one second per write (so newest-first orders are stable) and
    the screens' 'now' at SEEN_AT: relative times in snapshots ('5m ago') never vary."""
    from mlops_tui.screens import formatters
    from mlops_tui.store import audit, datasets, jobs, models, runs

    ticks = itertools.count()

    def tick() -> datetime:
        return FROZEN + timedelta(seconds=next(ticks))

    for module in (audit, datasets, jobs, models, runs):
        monkeypatch.setattr(module, "utcnow", tick)
    monkeypatch.setattr(formatters, "now", lambda: SEEN_AT)
    return FROZEN


def add_samples(ws: Any, *names: str) -> list[Any]:
    """Register bundled sample datasets through the real datasets service."""
    from mlops_tui.sample_data import SAMPLES

    from mlops_tui.data import datasets

    out = []
    for name in names:
        file, target = SAMPLES[name]
        dv, _ = datasets.add(ws, str(SAMPLE / file), name=name, target=target,
                             description=f"bundled sample ({file})")
        out.append(dv)
    return out


@pytest.fixture
def sample_ws(ws):
    """A workspace with the penguins and bikeshare samples registered."""
    add_samples(ws, "penguins", "bikeshare")
    return ws


def fake_runs(ws: Any) -> list[str]:
    """Three runs with fixed trials written straight to the store (for deterministic screens):
    completed, running (3 of 5 trials), failed."""
    ids = []
    with ws.session():  # one open of the store for these 17 writes (setup, not what is tested)
        for i, status in enumerate(("completed", "running", "failed")):
            run_id = f"{i}a1b2c3d4e5f60718"
            ws.store.runs.create(run_id=run_id, name=f"penguins-{i}", dataset="penguins", dataset_version=1,
                                 target="species", task="multiclass", metric="log_loss", direction="minimize",
                                 seed=0, config={}, n_trials_requested=5)
            n = 5 if status == "completed" else 3
            values = [0.42, 0.31, None, 0.18, 0.25][:n]
            for number, value in enumerate(values):
                ws.store.runs.upsert_trial(
                    run_id=run_id, number=number, state="PRUNED" if value is None else "COMPLETE", value=value,
                    params={"num_leaves": 8 + 4 * number, "learning_rate": 0.05 * (number + 1),
                            "min_child_samples": 5 + number, "lambda_l1": 0.0},
                    duration_s=1.25 + number)
            best = min(v for v in values if v is not None)
            ws.store.runs.update(
                run_id, status=status, best_value=best, started_at=FROZEN, n_jobs=1,
                ended_at=None if status == "running" else FROZEN + timedelta(seconds=95),
                error="worker died (pid 4242)" if status == "failed" else None,
                best_params={"num_leaves": 20, "learning_rate": 0.2},
                test_metrics={"accuracy": 0.97, "log_loss": 0.11} if status == "completed" else None)
            ids.append(run_id)
    return ids


@pytest.fixture
def app_factory():
    """Build the real Workbench on a workspace (the app module is imported here, lazily)."""
    from mlops_tui.screens.app import Workbench

    def make(ws: Any, **kwargs: Any) -> Any:
        return Workbench(ws, **kwargs)

    return make
