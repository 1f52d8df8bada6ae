"""A textual-plotext plot whose import happens off the UI thread.

Importing textual_plotext (and plotext) takes 42-52 ms the first time, under load more. Done in a
screen's compose, it kept the screen from showing anything until it was over. ``LazyPlot`` shows
"Loading the plot…", imports it in a thread worker, then mounts the plot and posts
:class:`LazyPlot.Ready`; the screen draws on ``lazy.plot`` once it is there (and skips drawing
before: the Ready handler draws what was already read).
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from textual import work
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual_plotext import PlotextPlot


class LazyPlot(Vertical):
    """Where a PlotextPlot (id ``plot_id``) will be; ``plot`` is None until it is mounted."""

    class Ready(Message):
        """The plot is mounted: draw on it."""

        def __init__(self, lazy: LazyPlot) -> None:
            super().__init__()
            self.lazy = lazy

    class Imported(Message):
        """textual_plotext is imported (a message, not call_from_thread: one left for a widget that
        is gone by then is dropped)."""

    def __init__(self, plot_id: str) -> None:
        super().__init__()
        self.plot_id = plot_id
        self.plot: PlotextPlot | None = None

    def compose(self) -> ComposeResult:
        yield Static("Loading the plot…", classes="plot-wait")

    def on_mount(self) -> None:
        self.import_plotext()

    @work(thread=True, exit_on_error=False, group="plot-import")
    def import_plotext(self) -> None:
        import textual_plotext  # noqa: F401

        self.post_message(self.Imported())

    async def on_lazy_plot_imported(self, event: Imported) -> None:
        event.stop()
        from textual_plotext import PlotextPlot

        await self.query_one(".plot-wait", Static).remove()
        plot = PlotextPlot(id=self.plot_id)
        await self.mount(plot)
        self.plot = plot
        self.post_message(self.Ready(self))


def whole_ticks(numbers: list[int], most: int = 8) -> list[int]:
    """Ticks for an axis of trial numbers: whole numbers only, at most ``most`` of them, a step of 1,
    2, 5, 10, 20, 50, ... (plotext's own ticks for trials 0 and 1 were 0.00, 0.25, 0.50, ...)."""
    if not numbers:
        return []
    first, last = min(numbers), max(numbers)
    steps = (m * 10**k for k in itertools.count() for m in (1, 2, 5))
    step = next(n for n in steps if (last - first) // n + 1 <= most)
    return list(range(-(-first // step) * step, last + 1, step))


def whole_xticks(plt: Any, numbers: list[int]) -> None:
    """Put :func:`whole_ticks` of ``numbers`` on the x axis of plotext figure ``plt``."""
    ticks = whole_ticks(numbers)
    plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])


def best_so_far_steps(xs: list[int], ys: list[float], minimize: bool) -> tuple[list[int], list[float]]:
    """The best value after each trial as a step line: flat until the trial that beat it, straight
    up or down there. Joined trial to trial, the line slanted across the trials in between, as if
    each of them had improved on the best a little."""
    pick = min if minimize else max
    step_x: list[int] = []
    step_y: list[float] = []
    for x, y in zip(xs, ys, strict=True):
        best = pick(step_y[-1], y) if step_y else y
        if step_y and best != step_y[-1]:  # the step: the old best held up to this trial
            step_x.append(x)
            step_y.append(step_y[-1])
        step_x.append(x)
        step_y.append(best)
    return step_x, step_y
