"""Datasets: versions, schema with profile sparklines, a paged preview of any size, register,
validate, diff, and the way into a new tuning run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops_tui.screens.formatters import ago, here, sparkline
from mlops_tui.screens.messages import in_form_words
from mlops_tui.screens.modals import FormField, FormScreen, TextScreen, field_named
from mlops_tui.screens.nav import BaseScreen, NavBar, show_tab
from mlops_tui.screens.tables import Table, as_cell
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from mlops_tui.formatting import as_stored, dtype_text, fmt

if TYPE_CHECKING:
    from mlops_tui.store import DatasetVersion

    from mlops_tui.data.comparison import Diff

PAGE = 100  # rows held by the preview table at a time; DuckDB fetches the next page on demand


def schema_rows(dv: DatasetVersion) -> list[tuple[Any, ...]]:
    """One row per column: name, dtype, role, null %, distinct, range/top values, histogram."""
    rows = []
    for col in dv.schema:
        p = dv.profile.get(col["name"], {})
        hist = (p.get("histogram") or {}).get("counts") or []
        if p.get("kind") == "temporal":  # ISO text; the days are what fits
            spread, shape = f"{str(p.get('min'))[:10]} … {str(p.get('max'))[:10]}", ""
        elif p.get("kind") == "numeric" or hist:
            spread = f"{fmt(p.get('min'))} … {fmt(p.get('max'))}"
            shape = sparkline(hist, 16)
        else:
            top = p.get("top") or []
            spread = top_values_text([str(v) for v, _ in top[:3]], SPREAD_WIDTH)
            shape = sparkline([n for _, n in top[:16]], 16)
        null_pct = f"{100 * p['null_rate']:.1f}%" if p.get("null_rate") is not None else "-"
        rows.append((col["name"], dtype_text(col.get("dtype", "?")), col.get("role", "-"), null_pct,
                     fmt(p.get("distinct")), shape, spread[:SPREAD_WIDTH]))
    return rows


SPREAD_WIDTH = 24  # the 'range / top' column: at 80 columns the schema table has no room for more


def top_values_text(values: list[str], width: int) -> str:
    """The most frequent values, as many whole ones as fit in ``width``, '…' for the rest: cut at
    the width, bikeshare's weathersit read 'clear, cloudy/misty, lig' (a value that is not one)."""
    text = ""
    for i, value in enumerate(values):
        more = i + 1 < len(values)
        candidate = f"{text}, {value}" if text else value
        if len(candidate) + (3 if more else 0) <= width:
            text = candidate
            continue
        return f"{text}, …" if text else f"{value[:width - 1]}…"
    return text


LIST_TITLE = "Datasets (latest versions)"


class PreviewTable(Table):
    """Shows a window of PAGE rows of the snapshot; moving past either end asks the screen for the
    next window (:class:`PageWanted`), so a 10M-row dataset scrolls while only ever PAGE rows live
    in the table."""

    BINDINGS = [
        Binding("G", "last_page", "Last rows", show=False, id="preview.end"),
        Binding("g", "first_page", "First rows", show=False, id="preview.start"),
    ]

    class PageWanted(Message):
        """Rows from ``offset`` on, with the cursor to land on snapshot row ``focus_row``."""

        def __init__(self, offset: int, focus_row: int) -> None:
            super().__init__()
            self.offset, self.focus_row = offset, focus_row

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_row = 0
        self.total = 0

    def action_cursor_down(self) -> None:
        if self.cursor_row >= self.row_count - 1 and self.first_row + self.row_count < self.total:
            self.post_message(self.PageWanted(self.first_row + PAGE // 2, self.first_row + self.cursor_row + 1))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0 and self.first_row > 0:
            self.post_message(self.PageWanted(max(0, self.first_row - PAGE // 2), self.first_row - 1))
        else:
            super().action_cursor_up()

    def action_last_page(self) -> None:
        self.post_message(self.PageWanted(max(0, self.total - PAGE), max(0, self.total - 1)))

    def action_first_page(self) -> None:
        self.post_message(self.PageWanted(0, 0))


class DatasetsScreen(BaseScreen):
    FIELD_WORDS = {"--target": "Target", "--name": "Name"}  # the register form's fields, as `dataset add` says them
    BINDINGS = [
        Binding("n", "launch", "New run", id="datasets.launch",
                tooltip="Launch a tuning run on this dataset (train a model)"),
        Binding("a", "register", "Register", id="datasets.register",
                tooltip="Add a dataset file (CSV or Parquet): register, import, load data"),
        Binding("v", "validate", "Validate", id="datasets.validate",
                tooltip="Check a file against this dataset version's schema"),
        Binding("d", "diff", "Diff", id="datasets.diff",
                tooltip="Compare two versions of a dataset (drift between them)"),
        Binding("s", "tab('schema')", "Schema", show=False, id="datasets.schema"),
        Binding("p", "tab('preview')", "Preview", show=False, id="datasets.preview"),
        Binding("h", "tab('versions')", "Versions", show=False, id="datasets.versions"),
        Binding("r", "refresh", "Refresh", show=False, id="datasets.refresh"),
    ]

    class ListLoaded(Message):
        """The latest version of every dataset; ``reveal``: the one to put the cursor on (just registered)."""

        def __init__(self, latest: list[DatasetVersion], reveal: str | None = None) -> None:
            super().__init__()
            self.latest, self.reveal = latest, reveal

    class VersionsLoaded(Message):
        """Every version of the selected dataset, oldest first."""

        def __init__(self, versions: list[DatasetVersion]) -> None:
            super().__init__()
            self.versions = versions

    class PageLoaded(Message):
        """A window of the preview: rows from ``offset`` of dataset version ``ref``."""

        def __init__(self, ref: str, offset: int, focus_row: int, columns: list[str],
                     rows: list[tuple[Any, ...]]) -> None:
            super().__init__()
            self.ref, self.offset, self.focus_row, self.columns, self.rows = ref, offset, focus_row, columns, rows

    def __init__(self) -> None:
        super().__init__()
        self.versions: dict[str, DatasetVersion] = {}  # "name:v" → DatasetVersion
        self.current: str | None = None
        self._registering: dict[str, str] | None = None  # the register form's values, while it runs
        self._validating = ""  # the validate form's path, when the file could not be read

    def compose(self) -> ComposeResult:
        yield Header()
        yield NavBar("datasets")
        with Vertical(id="ds-list") as v:
            v.border_title = LIST_TITLE
            yield Table(id="datasets")
        yield Static("", id="ds-info")
        with TabbedContent(id="ds-detail", initial="schema"):
            with TabPane("Schema s", id="schema"):
                yield Table(id="schema-table")
            with TabPane("Preview p", id="preview"):
                yield PreviewTable(id="preview-table", cursor_type="cell")
            with TabPane("Versions h", id="versions"):
                yield Table(id="versions-table")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "datasets"
        self.query_one("#datasets", Table).focus()
        self.query_one("#datasets", Table).loading = True

    def on_screen_resume(self) -> None:
        """The list is read each time the screen is shown (the first time too): a dataset
        registered meanwhile (CLI, cron, another terminal) shows, and 'added' times stay true."""
        self.refresh_list()

    # -- data ------------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, exit_on_error=False, group="datasets-list")
    def refresh_list(self, reveal: str | None = None) -> None:
        self.post_message(self.ListLoaded(self.app.ws.store.datasets.latest(), reveal))

    @work(thread=True, exclusive=True, exit_on_error=False, group="datasets-detail")
    def load_versions(self, name: str) -> None:
        self.post_message(self.VersionsLoaded(self.app.ws.store.datasets.versions(name)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="datasets-page")
    def load_page(self, offset: int, focus_row: int) -> None:
        if not self.current:
            return
        from mlops_tui.data import datasets
        dv = self.versions[self.current]
        columns, rows = datasets.page(self.app.ws, dv, offset, PAGE)
        self.post_message(self.PageLoaded(dv.ref, offset, focus_row, columns, rows))

    def on_preview_table_page_wanted(self, message: PreviewTable.PageWanted) -> None:
        self.load_page(message.offset, message.focus_row)

    def on_datasets_screen_list_loaded(self, message: ListLoaded) -> None:
        latest = message.latest
        table = self.query_one("#datasets", Table)
        table.loading = False
        # The count: at 80x24 the pane shows 3 rows, and 20 datasets looked like 3.
        self.query_one("#ds-list").border_title = f"{LIST_TITLE} · {len(latest)}"
        for dv in latest:
            self.versions[dv.ref] = dv
        table.fill(["dataset", "ver", "rows", "cols", "target", "task", "added"],
                   [(dv.name, dv.version, fmt(dv.rows), dv.columns, dv.target or "-", dv.task or "-",
                     ago(dv.created_at)) for dv in latest],
                   [dv.ref for dv in latest])
        if not latest:
            self.query_one("#ds-info", Static).update("No datasets: press a to register a CSV or Parquet file.")
            return
        refs = [dv.ref for dv in latest]
        if message.reveal in refs:
            table.move_cursor(row=refs.index(message.reveal), animate=False)
        ref = table.selected_key()
        if ref is not None and ref == self.current:  # the same dataset: its versions read again too
            self.load_versions(self.versions[ref].name)  # ('added 14s ago' there, '1h ago' in the list)
        self._select(ref)

    def on_datasets_screen_versions_loaded(self, message: VersionsLoaded) -> None:
        versions = message.versions
        for dv in versions:
            self.versions[dv.ref] = dv
        self.query_one("#versions-table", Table).fill(
            ["version", "rows", "cols", "target", "hash", "source", "added"],
            [(dv.version, fmt(dv.rows), dv.columns, dv.target or "-", dv.hash[:10], dv.source[-30:],
              ago(dv.created_at)) for dv in reversed(versions)],
            [dv.ref for dv in reversed(versions)])

    def on_datasets_screen_page_loaded(self, message: PageLoaded) -> None:
        if message.ref != self.current:
            return
        offset, rows = message.offset, message.rows
        table = self.query_one("#preview-table", PreviewTable)
        table.loading = False
        table.first_row = offset
        table.total = self.versions[message.ref].rows
        table.clear(columns=True)
        table.add_columns(*map(as_cell, message.columns))
        for i, row in enumerate(rows):
            table.add_row(*(_cell(v) for v in row), label=str(offset + i + 1))
        if rows:
            table.move_cursor(row=min(max(0, message.focus_row - offset), len(rows) - 1),
                              column=table.cursor_column, animate=False)

    # -- selection ---------------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: Table.RowSelected) -> None:
        """Enter on a dataset moves into its detail (the tab shown now)."""
        if event.data_table.id == "datasets":
            event.stop()
            self.action_tab(self.query_one(TabbedContent).active or "schema")

    def on_data_table_row_highlighted(self, event: Table.RowHighlighted) -> None:
        if event.data_table.id in ("datasets", "versions-table") and event.row_key.value:
            self._select(event.row_key.value, from_versions=event.data_table.id == "versions-table")

    def _select(self, ref: str | None, *, from_versions: bool = False) -> None:
        if not ref or ref not in self.versions or ref == self.current:
            return
        self.current = ref
        dv = self.versions[ref]
        self.query_one("#ds-info", Static).update(
            f"{dv.ref}  {fmt(dv.rows)} rows × {dv.columns} cols  target {dv.target or '-'}  "
            f"task {dv.task or '-'}  {dv.description or ''}")
        self.query_one("#schema-table", Table).fill(
            ["column", "dtype", "role", "null", "distinct", "histogram", "range / top"], schema_rows(dv),
            [c["name"] for c in dv.schema])
        self.query_one("#preview-table", PreviewTable).loading = True
        self.load_page(0, 0)
        if not from_versions:
            self.load_versions(dv.name)

    def selected(self) -> DatasetVersion | None:
        # Read the cursor itself: a key pressed right after j/k arrives before RowHighlighted does.
        focused = self.focused if isinstance(self.focused, Table) else None
        if focused is not None and focused.id in ("datasets", "versions-table"):
            self._select(focused.selected_key(), from_versions=focused.id == "versions-table")
        if self.current is None:
            self.notify("no dataset selected: register one with a", severity="warning")
            return None
        return self.versions[self.current]

    def action_tab(self, tab: str) -> None:
        show_tab(self.query_one(TabbedContent), tab)

    def action_back(self) -> None:
        """Esc in the detail (schema, preview, versions) goes back to the dataset list, then Home:
        it went Home at once, and the list was found again only with Tab."""
        focused = self.focused
        if focused is not None and self.query_one("#ds-detail") in focused.ancestors:
            self.query_one("#datasets", Table).focus()
        else:
            super().action_back()

    def action_refresh(self) -> None:
        self.refresh_list()

    # -- actions -----------------------------------------------------------------------------------
    def action_launch(self) -> None:
        dv = self.selected()
        if dv is not None:
            from mlops_tui.screens.runs import LaunchScreen

            self.app.push_screen(LaunchScreen(dv.ref, dv.target or "", dv.task or "auto"))

    def action_register(self, typed: dict[str, str] | None = None, refusal: str = "") -> None:
        """The register form; after a ``refusal``, as ``typed``, the cursor on the field it names."""
        typed = typed or {}
        fields = [FormField("source", "File", typed.get("source", ""),
                            placeholder=f".csv/.parquet path (glob ok) from {here(30)}", required=True),
                  FormField("name", "Name", typed.get("name", ""), placeholder="default: file name"),
                  FormField("target", "Target", typed.get("target", ""), placeholder="target column (optional)"),
                  FormField("description", "Description", typed.get("description", ""))]
        self.app.push_screen(FormScreen("Register a dataset file", fields,
                                        focus=field_named(fields, refusal, typed) if refusal else None),
                             self._register)

    def _register(self, values: dict[str, str] | None) -> None:
        if values and values["source"]:
            self.notify(f"registering {values['source']}…")
            self._registering = values
            self.run_register(values)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A refused registration (no such file, a target no column has) opens the form again as it
        was typed, to correct, on the field it names (a target no column has: Target, not File): it
        closed, and the user typed the path and the rest all over again. (The refusal's line is
        RoutesWorkerErrors'.)"""
        if event.worker.name == "run_validate" and event.state == WorkerState.ERROR and self._validating:
            path, self._validating = self._validating, ""
            self.action_validate(path, str(event.worker.error or ""))
        if event.worker.name != "run_register" or event.state not in (WorkerState.SUCCESS, WorkerState.ERROR):
            return
        typed, self._registering = self._registering, None
        if event.state == WorkerState.ERROR and typed:
            self.action_register(typed, str(event.worker.error or ""))

    @work(thread=True, exclusive=True, exit_on_error=False, group="datasets-action")
    def run_register(self, values: dict[str, str]) -> None:
        from mlops_tui.data import datasets
        dv, new, warnings = datasets.add_with_warnings(
            self.app.ws, values["source"], name=values["name"] or None, target=values["target"] or None,
            description=values["description"] or None)
        self.app.call_from_thread(
            self.notify, f"{'registered' if new else 'already registered as'} {dv.ref} ({fmt(dv.rows)} rows)")
        for warning in warnings:  # what `dataset add` prints: repeated rows, numbers read as text, ...
            self.app.call_from_thread(self.notify, in_form_words(warning, self.FIELD_WORDS), severity="warning",
                                      timeout=30)
        self.app.call_from_thread(self.refresh_list, dv.ref)  # the cursor on it: its schema shows

    def action_validate(self, typed: str = "", refusal: str = "") -> None:
        """The validate form; after a ``refusal`` (a file that cannot be read), with the path as typed."""
        dv = self.selected()
        if dv is None:
            return

        def validate(values: dict[str, str] | None) -> None:
            if values and values["path"]:
                self.run_validate(dv.ref, values["path"])

        self.app.push_screen(FormScreen(f"Validate a file against {dv.ref}",
                                        [FormField("path", "File", typed, placeholder=f".csv/.parquet path from {here(30)}",
                                                   required=True)]),
                             validate)

    @work(thread=True, exclusive=True, exit_on_error=False, group="datasets-action")
    def run_validate(self, ref: str, path: str) -> None:
        from mlops_tui.data import validation
        from mlops_tui.errors import UserError

        result = validation.validate(self.app.ws, ref, path)
        problems = result.problems
        if result.rows == 0 and len(problems) == 1 and problems[0].startswith(f"{path}: "):
            # the file could not be read at all (no such file, a folder, not CSV/Parquet): the form
            # again with the path as typed, to correct (it showed a result of one problem, the path gone)
            self._validating = path
            raise UserError(problems[0])
        head = f"✓ {path} matches {ref}" if result.ok else f"✗ {path}: {len(problems)} problem(s) against {ref}"
        body = "\n".join([head, ""] + [f"  ✗ {p}" for p in problems] + [f"  ▲ {w}" for w in result.warnings])
        self.app.call_from_thread(self.app.push_screen, TextScreen(f"validate {ref}", body))

    def action_diff(self) -> None:
        dv = self.selected()
        if dv is None:
            return
        other = f"{dv.name}:{dv.version - 1}" if dv.version > 1 else ""

        def diff(values: dict[str, str] | None) -> None:
            if values and values["other"]:
                self.run_diff(values["other"], dv.ref)

        self.app.push_screen(FormScreen(f"Diff {dv.ref} against",
                                        [FormField("other", "Other version", other, placeholder="NAME:V", required=True)]),
                             diff)

    @work(thread=True, exclusive=True, exit_on_error=False, group="datasets-action")
    def run_diff(self, a: str, b: str) -> None:
        from mlops_tui.data import comparison

        result = comparison.diff(self.app.ws, a, b)
        self.app.call_from_thread(self.app.push_screen, TextScreen(f"diff {a} → {b}", render_diff(result)))


def _cell(value: Any) -> Any:
    """A preview cell: the value as stored (floats to 6 significant digits), ∅ for null."""
    return as_cell(as_stored(value))


def render_diff(result: Diff) -> str:
    """A dataset diff as plain lines, as `dataset diff` prints it; symbols carry the status."""
    lines = [f"{result.a} → {result.b}: rows {result.rows.a:,} → {result.rows.b:,}"]
    lines += [f"+ {col} (added)" for col in result.added] + [f"- {col} (removed)" for col in result.removed]
    lines += [f"~ {ch.name}: {ch.from_} → {ch.to}" for ch in result.changed]
    if result.drift:
        lines += ["", "drift per column (PSI; missing values a → b):"]
        for d in result.drift:
            sym = {"alert": "■", "warn": "▲", "ok": "✓"}.get(d.status, "○")
            nulls = " → ".join("-" if r is None else f"{r:.1%}" for r in (d.null_rate_a, d.null_rate_b))
            lines.append(f"  {sym} {d.column}: {d.status}  {d.kind}  PSI {fmt(d.psi)}  missing {nulls}"
                         + (f"  {d.detail}" if d.detail else ""))
    return "\n".join(lines)
