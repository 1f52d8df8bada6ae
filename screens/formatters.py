"""How values read on screen: status symbols, relative times, durations, sparklines.

Status is always shown with a symbol as well as a colour, so the app reads the same under NO_COLOR
and on 16-colour terminals. Times are rendered relative to :func:`now`, which snapshot tests freeze.
Numbers go through :func:`mlops_tui.formatting.fmt`, shared with the CLI.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

# Status → symbol (✓ ok/completed/pass, ✗ failed/refused, ● running, ▲ warn,
# ■ alert, ○ pending/none).
SYMBOLS: dict[str, str] = {
    "ok": "✓", "completed": "✓", "complete": "✓", "pass": "✓", "passed": "✓", "succeeded": "✓",
    "failed": "✗", "fail": "✗", "refused": "✗", "error": "✗",
    "running": "●", "started": "●",
    "warn": "▲", "warning": "▲", "pruned": "▲", "stopped": "▲", "stopping": "▲",
    "alert": "■",
    "pending": "○", "queued": "○", "none": "○",
}
STYLES: dict[str, str] = {"✓": "green", "✗": "red", "●": "cyan", "▲": "yellow", "■": "bold red", "○": "dim"}


def symbol(status: str | None) -> str:
    return SYMBOLS.get((status or "none").lower(), "○")


def status_text(status: str | None) -> Text:
    """'✓ completed' as a styled rich Text (the symbol carries the meaning, the colour is a bonus)."""
    from rich.text import Text

    sym = symbol(status)
    return Text(f"{sym} {(status or '-').lower()}", style=STYLES.get(sym, ""))


def clip_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, its middle replaced by "…": a long feature name
    (``response_datetime__weekday``) keeps its start and its telling end and leaves room for the
    figures beside it, which a narrow pane otherwise cuts (mn_police_use_of_force at 80 columns
    showed "psi 6." for 6.31)."""
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    return text[: width - 1 - tail] + "…" + text[-tail:]


def here(width: int = 40) -> str:
    """The folder a relative path typed into a form starts from (the app's working directory),
    home as '~', clipped to ``width``: a form said 'relative to the cwd', which names no folder."""
    from pathlib import Path

    cwd, home = Path.cwd(), Path.home()
    text = f"~/{cwd.relative_to(home)}" if cwd.is_relative_to(home) and cwd != home else str(cwd)
    return clip_middle("~" if cwd == home else text, width)


def now() -> datetime:
    """The current time in UTC; snapshot tests replace this to freeze relative times."""
    return datetime.now(UTC)


def ago(when: datetime | None) -> str:
    """'12s', '5m', '3h', '2d' before now (store timestamps are naive UTC)."""
    if when is None:
        return "-"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    secs = max(0.0, (now() - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit} ago"
    return f"{int(secs)}s ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def sparkline(values: list[float], width: int = 20) -> str:
    """A unicode block sparkline of a histogram (fits in a table cell; colour-free)."""
    if not values:
        return ""
    blocks = " ▁▂▃▄▅▆▇█"
    if len(values) > width:  # merge neighbouring bins
        step = len(values) / width
        values = [sum(values[int(i * step):int((i + 1) * step)]) for i in range(width)]
    top = max(values) or 1
    return "".join(blocks[min(8, math.ceil(v / top * 8))] if v > 0 else blocks[0] for v in values)


def gain_shares(importance: dict[str, Any] | None) -> dict[str, float]:
    """Each feature's share of the model's total gain, in percent, in the importance's order (an
    evaluation's ``importance``: parallel ``features`` and ``gain`` lists); raw gain (8.14e+03)
    says nothing without the total, as the CLI's ``run show`` 'gain %' column knows."""
    imp = importance or {}
    gains = [float(g or 0) for g in imp.get("gain", [])]
    total = sum(gains) or 1.0
    return {f: 100 * g / total for f, g in zip(imp.get("features", []), gains, strict=False)}
