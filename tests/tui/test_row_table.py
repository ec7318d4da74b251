"""RowTable: the queue's table. Keys, cursor, scrolling, selection, and what reaches the terminal."""

from __future__ import annotations

from textual.app import App, ComposeResult

from clinic_tui.widgets.row_table import Cell, Column, Row, RowTable

COLUMNS = (Column("Name", 10), Column("Note", None, min_width=8), Column("N", 3))


def rows(keys, note="note") -> list[Row]:
    return [Row(str(k), (Cell(f"name {k}"), Cell(f"{note} {k}"), Cell(str(k), "bold red"))) for k in keys]


class TableApp(App):
    def __init__(self):
        super().__init__()
        self.events: list[tuple[str, str, int]] = []

    def compose(self) -> ComposeResult:
        yield RowTable(COLUMNS, id="t")

    def on_mount(self) -> None:
        self.query_one(RowTable).focus()

    def on_row_table_row_highlighted(self, event: RowTable.RowHighlighted) -> None:
        self.events.append(("highlighted", event.key, event.index))

    def on_row_table_row_selected(self, event: RowTable.RowSelected) -> None:
        self.events.append(("selected", event.key, event.index))


def lines(table: RowTable) -> list[str]:
    return [table.render_line(y).text for y in range(table.scrollable_content_region.height)]


async def test_cursor_stays_on_its_key_and_falls_back_to_its_place():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows(range(10)))
        table.move_cursor(row=4)
        assert table.cursor_key == "4"
        # two rows arrive above it: the cursor follows key 4 to its new index
        table.set_rows(rows([100, 101, *range(10)]))
        assert table.cursor_key == "4" and table.cursor_row == 6
        # key 4 leaves: the cursor goes where the caller says its place now is
        table.set_rows(rows([100, 101, 0, 1, 2, 3, 5, 6]), fallback=6)
        assert table.cursor_key == "5"
        # out of range is clamped; an empty table has no cursor key
        table.set_rows(rows([1, 2]), fallback=99)
        assert table.cursor_key == "2"
        table.set_rows([])
        assert table.cursor_key is None and table.row_count == 0
        await pilot.pause()


async def test_keys_move_the_cursor_and_scroll_it_into_view():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows(range(100)))
        await pilot.pause()
        room = table.scrollable_content_region.height - 1  # the header line stays
        await pilot.press("down", "down")
        assert table.cursor_row == 2 and table.scroll_y == 0
        await pilot.press("end")
        await pilot.pause()
        assert table.cursor_row == 99
        shown = lines(table)
        assert "name 99" in shown[room] and shown[0].split() == ["Name", "Note", "N"]
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor_row == 0 and table.scroll_y == 0 and "name 0" in lines(table)[1]
        await pilot.press("pagedown")
        assert table.cursor_row == room
        await pilot.press("up")
        assert table.cursor_row == room - 1
        assert ("highlighted", str(room - 1), room - 1) in app.events


async def test_enter_and_a_click_on_the_cursor_row_select_it():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows(range(5)))
        await pilot.press("down", "enter")
        await pilot.pause()
        assert app.events[-1] == ("selected", "1", 1)
        await pilot.click(RowTable, offset=(3, 4))  # line 4 under the header: row 3
        await pilot.pause()
        assert table.cursor_key == "3" and app.events[-1] == ("highlighted", "3", 3)
        await pilot.click(RowTable, offset=(3, 4))
        await pilot.pause()
        assert app.events[-1] == ("selected", "3", 3)


async def test_cells_are_fitted_and_control_characters_never_reach_the_terminal():
    app = TableApp()
    async with app.run_test(size=(40, 8)) as pilot:
        table = app.query_one(RowTable)
        evil = "Eve\x1b[2J\x07\r\nMallory"
        long = "a very long note that cannot fit in the column"
        table.set_rows([Row("1", (Cell(evil), Cell(long), Cell("7")))])
        await pilot.pause()
        line = table.render_line(1)
        text = line.text
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\n" not in text
        assert text.startswith(" Eve [2J  ")  # cut to the 10-cell column, with the pad
        assert "…" in text and "cannot fit" not in text
        assert line.cell_length == table.scrollable_content_region.width
        # the flexible column took the width the fixed ones left
        assert len(text) == table.scrollable_content_region.width


async def test_the_cursor_row_is_on_screen_after_the_rows_grow_past_the_view():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows([44, 45, 46]))
        table.move_cursor(row=1)
        await pilot.pause()
        table.set_rows(rows(range(100)))  # e.g. a filter cleared: key 45 is now far down
        await pilot.pause()
        assert table.cursor_key == "45"
        assert any("name 45" in line for line in lines(table)[1:])
        table.set_rows(rows(range(3)))
        table.action_last()
        table.set_rows(rows(range(100)))
        table.action_last()
        await pilot.pause()
        assert "name 99" in lines(table)[-1]


async def test_the_flexible_column_fills_the_width():
    app = TableApp()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows([1]))
        await pilot.pause()
        width = table.scrollable_content_region.width
        # the last column ("N", 3 cells and a pad either side) ends at the right edge
        assert len(lines(table)[0].rstrip()) == width - 3


async def test_new_rows_announce_a_highlight_only_when_the_cursor_is_on_another_row():
    app = TableApp()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(RowTable)
        table.set_rows(rows([1, 2, 3]))
        await pilot.pause()
        assert app.events == [("highlighted", "1", 0)]
        table.set_rows(rows([0, 1, 2, 3]))  # the same row moved down: nothing new is highlighted
        await pilot.pause()
        assert app.events == [("highlighted", "1", 0)]
        table.set_rows(rows([2, 3]), fallback=0)  # its row left: the cursor is on another one
        await pilot.pause()
        assert app.events[-1] == ("highlighted", "2", 0)
