"""SQL screen: read-only queries over the documented metadata views, results in a table.

The query goes through ``mlops_tui.sql.run`` (one SELECT/EXPLAIN statement, read-only connection),
in a worker; a refused or failing query is one line under the input, never a crash. Up/down in the
input walk through this session's earlier queries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_tui.screens.nav import BaseScreen, NavBar
from mlops_tui.screens.tables import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header, Input, Static

from mlops_tui.formatting import fmt

if TYPE_CHECKING:
    from mlops_tui.sql import QueryResult

EXAMPLE = "SELECT name, version, aliases FROM v_models ORDER BY name, version DESC"
VIEWS_TEXT = ("Views: v_datasets v_runs v_trials v_models v_deployments v_jobs v_drift v_audit · "
              "ctrl+t: their columns")


def cell(value: Any) -> str:
    """A result value as table text: numbers compact, long text cut (the full value is in the data)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt(value)
    text = "NULL" if value is None else str(value)
    return text if len(text) <= 60 else text[:59] + "…"


class SqlScreen(BaseScreen):
    BINDINGS = [
        Binding("ctrl+t", "toggle_views", "Views", id="sql.views",
                tooltip="Show or hide the store's views"),
        Binding("ctrl+l", "focus_input", "Edit query", id="sql.edit",
                tooltip="Edit the SQL query"),
        Binding("up", "history(-1)", "Previous", show=False, id="sql.previous"),
        Binding("down", "history(1)", "Next", show=False, id="sql.next"),
    ]

    class Result(Message):
        def __init__(self, query: str, result: QueryResult | None, error: str | None) -> None:
            super().__init__()
            self.query, self.result, self.error = query, result, error

    def __init__(self) -> None:
        super().__init__()
        self.history: list[str] = []
        self.position = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("sql")
        yield Input(placeholder=EXAMPLE, id="sql-input")
        yield Static(VIEWS_TEXT, id="sql-status")
        with VerticalScroll(id="sql-views"):  # its own scroll: the screen never overflows (the nav bar stays whole)
            yield Static("", id="sql-views-text")
        yield Table(id="sql-results", classes="pane")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "sql"
        self.query_one("#sql-input", Input).focus()

    def action_focus_input(self) -> None:
        self.query_one("#sql-input", Input).focus()

    def action_toggle_views(self) -> None:
        views = self.query_one("#sql-views", VerticalScroll)
        if not views.has_class("shown"):
            from mlops_tui import sql
            self.query_one("#sql-views-text", Static).update(
                "\n".join(f"{name}: {cols}" for name, cols in sql.VIEWS.items()))
        views.toggle_class("shown")

    def action_history(self, step: int) -> None:
        box = self.query_one("#sql-input", Input)
        if not box.has_focus or not self.history:
            return
        self.position = max(0, min(len(self.history), self.position + step))
        box.value = self.history[self.position] if self.position < len(self.history) else ""
        box.cursor_position = len(box.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip() or EXAMPLE
        if not self.history or self.history[-1] != query:
            self.history.append(query)
        self.position = len(self.history)
        self.query_one("#sql-results", Table).loading = True
        self.run_query(query)

    @work(thread=True, exclusive=True, exit_on_error=False, group="sql")
    def run_query(self, query: str) -> None:
        from mlops_tui import errors, sql
        try:
            self.post_message(self.Result(query, sql.run(self.app.ws, query), None))
        except errors.UserError as exc:
            self.post_message(self.Result(query, None, str(exc).splitlines()[0]))

    def on_sql_screen_result(self, msg: Result) -> None:
        table = self.query_one("#sql-results", Table)
        table.loading = False
        status = self.query_one("#sql-status", Static)
        if msg.error is not None:
            status.add_class("error")
            status.update(Text(f"✗ {msg.error}"))
            return
        columns, rows, truncated = (msg.result.columns, msg.result.rows, msg.result.truncated) if msg.result else ((), (), False)
        status.remove_class("error")
        more = " (more exist: add a LIMIT or a WHERE)" if truncated else ""
        status.update(Text(f"✓ {len(rows)} row(s){more} · ctrl+l edits the query"))
        table.fill(list(columns) or ["(no columns)"], [[cell(v) for v in row] for row in rows])
        # The results take the focus: j/k scroll them and the number keys switch screens again
        # (in the query box a 2 is typed into the query). A failed query keeps the box focused.
        table.focus()
