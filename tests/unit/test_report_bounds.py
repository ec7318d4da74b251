"""What a reader can work out from published numbers: the flow bounds against brute force, and spans."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic_server.services.reports.bounds import ALL, CountGrid, Span, grid_bounds


def _compositions(total: int, parts: int):
    """Every way to write ``total`` as ``parts`` whole numbers >= 0 (stars and bars)."""
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        yield tuple(b - a - 1 for a, b in itertools.pairwise(edges))


def _brute_force(grid: CountGrid, hidden: set) -> dict:
    """Every table of whole counts >= 0 with the same published numbers (the grand total among
    them), enumerated."""
    if grid.columns:
        inner = [(r, c) for r in grid.rows for c in grid.columns]
    else:
        inner = [(r, ALL) for r in grid.rows]
    seen: dict = {key: set() for key in hidden}
    for values in _compositions(grid.value((ALL, ALL)), len(inner)):
        other = CountGrid(grid.rows, grid.columns, dict(zip(inner, values, strict=True)))
        if all(other.value(key) == grid.value(key) for key in grid.keys if key not in hidden):
            for key in hidden:
                seen[key].add(other.value(key))
    return {key: (min(v), max(v)) for key, v in seen.items()}


@st.composite
def grids_and_patterns(draw):
    rows = tuple(f"r{i}" for i in range(draw(st.integers(1, 3))))
    columns = tuple(f"c{j}" for j in range(draw(st.sampled_from([0, 2, 3]))))
    inner = [(r, c) for r in rows for c in columns] if columns else [(r, ALL) for r in rows]
    if len(inner) > 6:
        inner = inner[:6]
        rows, columns = rows[:2], columns[:3]
        inner = [(r, c) for r in rows for c in columns]
    counts = {key: draw(st.integers(0, 2)) for key in inner}
    grid = CountGrid(rows, columns, counts)
    hidden = {key for key in grid.keys if key != (ALL, ALL) and draw(st.booleans())}
    return grid, hidden


@settings(max_examples=150, deadline=None)
@given(grids_and_patterns())
def test_flow_bounds_are_exactly_the_brute_force_bounds(case):
    grid, hidden = case
    assert grid_bounds(grid, hidden) == _brute_force(grid, hidden)


def test_a_lone_suppressed_cell_is_recovered_by_subtraction():
    grid = CountGrid(("a", "b"), ("f", "m"), {("a", "f"): 3, ("a", "m"): 7, ("b", "f"): 9, ("b", "m"): 6})
    assert grid_bounds(grid, {("a", "f")}) == {("a", "f"): (3, 3)}
    # hiding the whole rectangle leaves it free to move by the smaller diagonal
    rect = {("a", "f"), ("a", "m"), ("b", "f"), ("b", "m")}
    assert grid_bounds(grid, rect)[("a", "f")] == (0, 10)


def test_one_way_tables_are_bounded_by_the_total():
    grid = CountGrid(("a", "b", "c"), (), {("a", ALL): 2, ("b", ALL): 5, ("c", ALL): 0})
    assert grid_bounds(grid, {("a", ALL), ("b", ALL)}) == {("a", ALL): (0, 7), ("b", ALL): (0, 7)}
    assert grid_bounds(grid, {("a", ALL), ("c", ALL)}) == {("a", ALL): (0, 2), ("c", ALL): (0, 2)}


def test_published_cells_are_their_own_bounds():
    grid = CountGrid(("a",), ("f", "m"), {("a", "f"): 4, ("a", "m"): 1})
    assert grid_bounds(grid, set(), [("a", "f")]) == {("a", "f"): (4, 4)}


def test_a_grid_refuses_what_is_not_a_count_or_not_a_cell():
    with pytest.raises(ValueError, match="whole number"):
        CountGrid(("a",), (), {("a", ALL): -1})
    with pytest.raises(ValueError, match="outside the table"):
        CountGrid(("a",), ("f",), {("b", "f"): 1})
    with pytest.raises(ValueError, match="margins"):
        CountGrid((ALL,), (), {})
    with pytest.raises(ValueError, match="not cells"):
        grid_bounds(CountGrid(("a",), (), {}), {("z", ALL)})
    with pytest.raises(ValueError, match="grand total"):
        grid_bounds(CountGrid(("a",), (), {}), {(ALL, ALL)})


def test_span_says_which_sums_follow_from_the_published_ones():
    span = Span(["f|1", "f|2", "m|1", "m|2"], [{"f|1", "f|2", "m|1", "m|2"}, {"f|1", "f|2"}, {"f|1", "m|1"}])
    assert span.rank == 3
    assert span.contains({"m|1", "m|2"})  # all - women
    assert span.contains({"m|2", "f|2"})  # all - band 1
    assert not span.contains({"f|1"})
    # f|2 - m|1 = (f|1+f|2) - (f|1+m|1) is derivable, but it is no set of people
    assert not span.contains({"f|2"})
    span.add({"f|1"})
    assert span.contains({"m|2"})  # all - f - band 1 + f|1
