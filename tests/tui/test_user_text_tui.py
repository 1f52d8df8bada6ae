"""The workbench shows users' names and values as they are: never read as markup (or crashing on it)."""

from __future__ import annotations

from tests.tui.conftest import wait_for


async def test_brackets_in_columns_values_and_messages_show_as_typed(ws, app_factory, tmp_path):
    from mlops_tui.data import datasets

    data = tmp_path / "prices.csv"
    data.write_text("price[usd],note,y\n1.5,[/],0\n2.5,[bold]x[/],1\n3.5,plain,0\n")
    datasets.add(ws, str(data), name="prices", target="y")
    app = app_factory(ws, start="datasets")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.screen.current == "prices:1", what="prices selected")
        await pilot.press("p")
        preview = app.screen.query_one("#preview-table")
        await wait_for(pilot, lambda: preview.row_count == 3, what="preview rows")
        assert [str(c.label) for c in preview.columns.values()][:2] == ["price[usd]", "note"]
        assert [str(preview.get_row_at(i)[1]) for i in range(3)] == ["[/]", "[bold]x[/]", "plain"]  # drawn as is
        schema = app.screen.query_one("#schema-table")
        assert "price[usd]" in [str(schema.get_row_at(i)[0]) for i in range(schema.row_count)]
        app.notify("cannot read [/]data[usd].csv", severity="error")
        await pilot.pause()
        assert any(n.message == "cannot read [/]data[usd].csv" for n in app._notifications)
        await pilot.pause(0.2)  # the toast is drawn: no markup error took the app down
        assert app.is_running
