"""RowTable: a keyed, cursor-driven table that renders only the lines on screen.

Textual's stock DataTable renders each cell through Rich (padding, wrapping, measuring), which
costs about a millisecond a row each time a new result is painted: 30-40 ms for a screenful of
alerts after every filter keystroke. The alert queue only needs single-line cells of fixed width,
so this widget keeps its rows as plain strings plus a style per cell and draws each visible line
as one ``Strip`` (the way Toolong draws log lines with ``render_line`` on a ``ScrollView``).

- ``set_rows`` replaces the rows in one step and keeps the cursor on the same key (or, when that
  row is gone, at the position the caller names).
- Up/Down/PageUp/PageDown/Home/End move the cursor; Enter or a click on the cursor row selects.
- ``RowHighlighted`` and ``RowSelected`` carry the row key and index.
- One column may be flexible (``width=None``): it takes the width the others leave.
- On a narrow terminal, columns with a ``least`` width shrink toward it (each in proportion to what
  it can give up) before anything is pushed off screen; the table scrolls sideways only below that.
- A cell too long for its column is cut with an ellipsis, or drawn in a shorter form it offers
  (``Cell.shorter``), cut so that its ``tail`` survives (the birth date of a namesake).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from clinic_tui.i18n import N_

PAD = 1  # blank cells either side of each column's text
_MOVED = object()  # (RowTable._move: a plain cursor move, not a replacement of the rows)


#: control characters (C0, DEL, C1) become spaces: cells hold server data, which must never reach
#: the terminal as an escape sequence or move the cursor
_CONTROLS = {c: " " for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}


def _fit(text: str, width: int) -> str:
    """``text`` padded or cut to ``width`` cells; a cut ends in an ellipsis."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)


def _fit_cell(cell: Cell, width: int) -> str:
    """The cell's text fitted to ``width``; where it is too long, its first ``shorter`` form that
    fits, else the last one cut so that its ``tail`` (what tells the row apart) survives."""
    text = cell.text.translate(_CONTROLS)
    if cell_len(text) <= width or not cell.shorter:
        return _fit(text, width)
    for form in cell.shorter:
        text = form.translate(_CONTROLS)
        if cell_len(text) <= width:
            return set_cell_size(text, width)
    tail = cell.tail.translate(_CONTROLS)
    if not tail or not text.endswith(tail):
        return _fit(text, width)
    room = width - cell_len(tail) - 1  # the head, then a space before the tail
    if room < 2:  # not even a letter and its ellipsis: the tail alone
        return _fit(tail, width)
    return _fit(text[: len(text) - len(tail)].rstrip(), room) + " " + tail


@lru_cache(maxsize=64)
def _style(definition: str) -> Style:
    return Style.parse(definition)


@dataclass(frozen=True)
class Column:
    label: str
    #: cells of text; None: this column takes what the others leave (at least ``min_width``)
    width: int | None
    min_width: int = 10
    #: the fewest cells the column gives up to when the terminal is too narrow for every column at
    #: its width (80x24); None: it does not shrink
    least: int | None = None


@dataclass(frozen=True)
class Cell:
    text: str
    style: str | None = None
    #: shorter forms, in order, drawn when ``text`` does not fit its column
    shorter: tuple[str, ...] = ()
    #: the end of the last shorter form that must survive a cut (what tells this row apart)
    tail: str = ""


@dataclass(frozen=True)
class Row:
    key: str
    cells: tuple[Cell, ...]


class RowTable(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "row-table--header",
        "row-table--cursor",
        "row-table--even-row",
        "row-table--odd-row",
    }
    DEFAULT_CSS = """
    RowTable {
        background: $surface;
        color: $foreground;
        & > .row-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .row-table--even-row { background: $surface-darken-1 40%; }
        & > .row-table--odd-row { }
        & > .row-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .row-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
    }
    """
    BINDINGS = [
        Binding("up", "cursor(-1)", N_("Up"), show=False, id="table.up", tooltip=N_("Previous row")),
        Binding("down", "cursor(1)", N_("Down"), show=False, id="table.down", tooltip=N_("Next row")),
        Binding("pageup", "page(-1)", N_("Page up"), show=False, id="table.pageup", tooltip=N_("A page up")),
        Binding(
            "pagedown", "page(1)", N_("Page down"), show=False, id="table.pagedown", tooltip=N_("A page down")
        ),
        Binding("home", "first", N_("First"), show=False, id="table.home", tooltip=N_("First row")),
        Binding("end", "last", N_("Last"), show=False, id="table.end", tooltip=N_("Last loaded row")),
        Binding("enter", "select", N_("Open"), show=False, id="table.select", tooltip=N_("Open this row")),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=False, init=False)

    class RowHighlighted(Message):
        def __init__(self, table: RowTable, index: int, key: str):
            super().__init__()
            self.table = table
            self.index = index
            self.key = key

        @property
        def control(self) -> RowTable:
            return self.table

    class RowSelected(RowHighlighted):
        pass

    def __init__(self, columns: Sequence[Column], *, id: str | None = None, classes: str | None = None):
        super().__init__(id=id, classes=classes)
        self.columns = tuple(columns)
        self.rows: list[Row] = []

    # ------------------------------------------------------------------ data

    @property
    def row_count(self) -> int:
        return len(self.rows)

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.rows]

    @property
    def cursor_key(self) -> str | None:
        return self.rows[self.cursor_row].key if self.rows else None

    def row_text(self, index: int) -> str:
        """The row's cells joined by spaces (what a test or a screen reader would read)."""
        return " ".join(c.text for c in self.rows[index].cells)

    def set_rows(self, rows: Sequence[Row], *, fallback: int | None = None) -> None:
        """Show ``rows`` (in this order). The cursor stays on its row's key if that row is still
        there, else goes to index ``fallback`` (clamped), else keeps its index; the view scrolls
        to show it."""
        key = self.cursor_key
        self.rows = list(rows)
        self.virtual_size = Size(self._least_width(), len(self.rows) + 1)
        target = next((i for i, r in enumerate(self.rows) if r.key == key), None) if key is not None else None
        if target is None:
            target = fallback if fallback is not None else self.cursor_row
        # a highlight is news only if the cursor is on another row than before (not merely moved)
        self._move(target, announce=True, was=key)
        self.refresh()

    # ------------------------------------------------------------------ cursor

    def move_cursor(self, *, row: int) -> None:
        self._move(row, announce=True)

    def _move(self, index: int, *, announce: bool, was: object = _MOVED) -> None:
        """Put the cursor on row ``index``; ``was``: the key it was on, when the rows were replaced."""
        index = max(0, min(index, len(self.rows) - 1)) if self.rows else 0
        if was is _MOVED:
            changed = index != self.cursor_row
        else:
            changed = bool(self.rows) and self.rows[index].key != was
        self.set_reactive(RowTable.cursor_row, index)
        self._scroll_to_cursor()
        if self.rows and announce and changed:
            self.post_message(self.RowHighlighted(self, index, self.rows[index].key))
        self.refresh()

    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _scroll_to_cursor(self) -> None:
        room = self._visible_rows()
        top = int(self.scroll_y)
        # force: when the rows have just grown past the view its scrollbar is not there yet, and
        # an ordinary scroll would be dropped until the next layout (one more frame)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, immediate=True, force=True)
        elif self.cursor_row >= top + room:
            self.scroll_to(y=self.cursor_row - room + 1, animate=False, immediate=True, force=True)

    def action_cursor(self, step: int) -> None:
        self._move(self.cursor_row + step, announce=True)

    def action_page(self, direction: int) -> None:
        self._move(self.cursor_row + direction * self._visible_rows(), announce=True)

    def action_first(self) -> None:
        self._move(0, announce=True)

    def action_last(self) -> None:
        self._move(len(self.rows) - 1, announce=True)

    def action_select(self) -> None:
        if self.rows:
            self.post_message(self.RowSelected(self, self.cursor_row, self.rows[self.cursor_row].key))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < len(self.rows):
            if index == self.cursor_row:
                self.action_select()
            else:
                self._move(index, announce=True)

    # ------------------------------------------------------------------ drawing

    def on_resize(self) -> None:
        self.virtual_size = Size(self._least_width(), len(self.rows) + 1)
        self._scroll_to_cursor()

    def _widths(self, available: int) -> list[int]:
        columns = self.columns
        pads = 2 * PAD * len(columns)
        widths = [c.width if c.width is not None else c.min_width for c in columns]
        over = sum(widths) + pads - available
        if over <= 0:  # room to spare: the flexible columns share it
            flexible = [c for c in columns if c.width is None]
            fixed = sum(c.width for c in columns if c.width is not None)
            share = (available - pads - fixed) // len(flexible) if flexible else 0
            return [c.width if c.width is not None else max(c.min_width, share) for c in columns]
        slack = [w - (c.least if c.least is not None else w) for c, w in zip(columns, widths, strict=True)]
        cut = min(over, sum(slack))
        if cut:
            taken = [s * cut // sum(slack) for s in slack]
            for i in range(len(columns)):  # what rounding left, from the columns that can still give
                extra = min(slack[i] - taken[i], cut - sum(taken))
                taken[i] += extra
            widths = [w - t for w, t in zip(widths, taken, strict=True)]
        return widths

    def _least_width(self) -> int:
        """The width the table needs at the least (every column at its least): it scrolls sideways
        only below that, and the vertical scrollbar never pushes it into doing so."""
        least = [
            c.least if c.least is not None else c.width if c.width is not None else c.min_width
            for c in self.columns
        ]
        return sum(w + 2 * PAD for w in least)

    def _line(self, cells: Sequence[tuple[Cell, Style | None]], widths: list[int], base: Style) -> Strip:
        segments = []
        for (cell, style), width in zip(cells, widths, strict=True):
            body = _fit_cell(cell, width)
            cell_style = base + style if style is not None else base
            segments.append(Segment(" " * PAD, base))
            segments.append(Segment(body, cell_style))
            segments.append(Segment(" " * PAD, base))
        return Strip(segments, sum(w + 2 * PAD for w in widths))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        widths = self._widths(width)
        scroll_x = int(self.scroll_x)
        if y == 0:
            base = self.get_component_rich_style("row-table--header")
            strip = self._line([(Cell(c.label), None) for c in self.columns], widths, base)
        else:
            index = int(self.scroll_y) + y - 1
            if index >= len(self.rows):
                return Strip.blank(width, self.rich_style)
            row = self.rows[index]
            if index == self.cursor_row:
                base = self.rich_style + self.get_component_rich_style("row-table--cursor")
            else:
                parity = "row-table--even-row" if index % 2 else "row-table--odd-row"
                base = self.rich_style + self.get_component_rich_style(parity)
            cells = [(c, _style(c.style) if c.style else None) for c in row.cells]
            strip = self._line(cells, widths, base)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)
