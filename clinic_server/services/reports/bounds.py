"""What a reader can work out from a report's published numbers: exact bounds and linear spans.

The disclosure engine (``disclosure.py``) asks this module, before anything is published, what an
attacker holding every published number could derive, and suppresses more until nothing small
can be pinned down. Two attacks are answered exactly, with integer (or rational) arithmetic only:

**Counts** (``grid_bounds``). A two-way table of counts with its margins (row totals, column
totals, grand total) is a flow: source -> row -> column -> sink, with the grand total closing the
circulation. A published number fixes the flow on its edge; a suppressed one leaves it free
(>= 0). The constraint matrix of such a network is totally unimodular, so the smallest and
largest value a suppressed cell can take over all *integer* tables that reproduce the published
numbers are the bounds of the linear programme, and those are found by augmenting around the
true table: the largest increase of edge u->v is the maximum flow from v back to u in the
residual network without that edge, the largest decrease the maximum flow from u to v (Ahuja,
Magnanti, Orlin, *Network Flows*, Prentice Hall 1993, ch. 3 and 6; the same audit of a
suppression pattern by solving for each cell's interval is Hundepool et al., *Statistical
Disclosure Control*, Wiley 2012, ch. 4 and 5). The maximum flows are Edmonds-Karp over at most
a few dozen edges: a hand-written routine of some thirty lines, because the allowed libraries
hold no flow or LP solver and the graphs are tiny.

**Sums** (``Span``). A mean published with its number of contributors gives the sum of the
group's values. A group's sum is derivable from the published sums exactly when its indicator
vector over the finest groups (the atoms) lies in their linear span: row reduction with
``fractions.Fraction``, so no rounding can hide or invent a dependency (the test of
Langsrud's Gaussian-elimination method, *Statistics and Computing* 29 (2019) 965-976); a group is
then checked against the null space (whole numbers), since a report asks about every group.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

__all__ = ["ALL", "CellKey", "CountGrid", "Span", "grid_bounds"]

#: the code of a margin: (row, ALL) is a row total, (ALL, column) a column total, (ALL, ALL) the grand total
ALL = "all"
CellKey = tuple[str, str]

#: "no upper limit" on a free edge; every cycle through free edges also passes a published one,
#: whose residual capacity (a true count) bounds the flow, so this number is never reached
_UNBOUNDED = 1 << 62


@dataclass(frozen=True)
class CountGrid:
    """A table of counts: ``rows`` x ``columns`` inner cells and their margins.

    With no columns the table is one-way: the row totals ``(row, ALL)`` are its cells. ``counts``
    holds the inner cells (or, one-way, the row totals); the margins are summed here."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: Mapping[CellKey, int]
    _values: dict[CellKey, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if ALL in self.rows or ALL in self.columns:
            raise ValueError(f"{ALL!r} names the margins; it cannot be a row or column code")
        values: dict[CellKey, int] = {}
        if self.columns:
            for r in self.rows:
                for c in self.columns:
                    values[(r, c)] = _count(self.counts.get((r, c), 0))
            for r in self.rows:
                values[(r, ALL)] = sum(values[(r, c)] for c in self.columns)
            for c in self.columns:
                values[(ALL, c)] = sum(values[(r, c)] for r in self.rows)
        else:
            for r in self.rows:
                values[(r, ALL)] = _count(self.counts.get((r, ALL), 0))
        values[(ALL, ALL)] = sum(values[(r, ALL)] for r in self.rows)
        unknown = set(self.counts) - set(values)
        if unknown:
            raise ValueError(f"counts for cells outside the table: {sorted(unknown)}")
        object.__setattr__(self, "_values", values)

    @property
    def keys(self) -> tuple[CellKey, ...]:
        """Every cell and margin, inner cells first, then row totals, column totals, grand total."""
        inner = [(r, c) for r in self.rows for c in self.columns]
        return (
            *inner,
            *((r, ALL) for r in self.rows),
            *((ALL, c) for c in self.columns),
            (ALL, ALL),
        )

    def value(self, key: CellKey) -> int:
        return self._values[key]

    def column_total(self, key: CellKey) -> int:
        """The total of the column a cell belongs to (for a row total: the grand total)."""
        return self._values[(ALL, key[1])]


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a count must be a whole number >= 0, not {value!r}")
    return value


# --------------------------------------------------------------------------- counts: network flow


@dataclass
class _Network:
    size: int
    tails: list[int]
    heads: list[int]
    lower: list[int]
    upper: list[int]
    flow: list[int]

    def add(self, tail: int, head: int, flow: int, fixed: bool) -> int:
        self.tails.append(tail)
        self.heads.append(head)
        self.flow.append(flow)
        self.lower.append(flow if fixed else 0)
        self.upper.append(flow if fixed else _UNBOUNDED)
        return len(self.tails) - 1

    def max_flow(self, source: int, sink: int, skip: int, limit: int) -> int:
        """Edmonds-Karp in the residual network of the current flow, without edge ``skip``,
        stopping at ``limit``."""
        capacity: dict[tuple[int, int], int] = {}
        for i, (t, h) in enumerate(zip(self.tails, self.heads, strict=True)):
            if i == skip:
                continue
            forward = self.upper[i] - self.flow[i]
            backward = self.flow[i] - self.lower[i]
            if forward:
                capacity[(t, h)] = capacity.get((t, h), 0) + forward
            if backward:
                capacity[(h, t)] = capacity.get((h, t), 0) + backward
        neighbours: dict[int, set[int]] = {}
        for t, h in capacity:
            neighbours.setdefault(t, set()).add(h)
            neighbours.setdefault(h, set()).add(t)
        total = 0
        while total < limit:
            parent = {source: source}
            queue = deque([source])
            while queue and sink not in parent:
                node = queue.popleft()
                for nxt in sorted(neighbours.get(node, ())):
                    if nxt not in parent and capacity.get((node, nxt), 0) > 0:
                        parent[nxt] = node
                        queue.append(nxt)
            if sink not in parent:
                break
            path = []
            node = sink
            while node != source:
                path.append((parent[node], node))
                node = parent[node]
            push = min(limit - total, *(capacity[arc] for arc in path))
            for a, b in path:
                capacity[(a, b)] -= push
                capacity[(b, a)] = capacity.get((b, a), 0) + push
            total += push
        return total

    def bounds(self, edge: int) -> tuple[int, int]:
        flow = self.flow[edge]
        tail, head = self.tails[edge], self.heads[edge]
        up_room = self.upper[edge] - flow
        down_room = flow - self.lower[edge]
        up = self.max_flow(head, tail, edge, up_room) if up_room else 0
        down = self.max_flow(tail, head, edge, down_room) if down_room else 0
        return flow - down, flow + up


def grid_bounds(
    grid: CountGrid, suppressed: Iterable[CellKey], ask: Iterable[CellKey] | None = None
) -> dict[CellKey, tuple[int, int]]:
    """The smallest and largest value each cell in ``ask`` (default: the suppressed ones) can take
    in any table of whole counts >= 0 that shows every other cell of ``grid`` as it is (the grand
    total among them).

    A published cell's bounds are its value; a suppressed one's are what subtraction, and every
    other combination of the published numbers with non-negativity, still allows."""
    hidden = set(suppressed)
    unknown = hidden - set(grid.keys)
    if unknown:
        raise ValueError(f"not cells of the table: {sorted(unknown)}")
    if (ALL, ALL) in hidden:
        # every table a report shows has its grand total (at least k): without it nothing is bounded
        raise ValueError("the grand total is always published")
    source, sink = 0, 1
    node = {**{("row", r): 2 + i for i, r in enumerate(grid.rows)}}
    node.update({("col", c): 2 + len(grid.rows) + j for j, c in enumerate(grid.columns)})
    net = _Network(2 + len(grid.rows) + len(grid.columns), [], [], [], [], [])
    edge: dict[CellKey, int] = {}
    for r in grid.rows:
        # one-way: the row total runs straight from the source to the sink
        head = node[("row", r)] if grid.columns else sink
        edge[(r, ALL)] = net.add(source, head, grid.value((r, ALL)), (r, ALL) not in hidden)
    for r in grid.rows:
        for c in grid.columns:
            edge[(r, c)] = net.add(
                node[("row", r)], node[("col", c)], grid.value((r, c)), (r, c) not in hidden
            )
    for c in grid.columns:
        edge[(ALL, c)] = net.add(node[("col", c)], sink, grid.value((ALL, c)), (ALL, c) not in hidden)
    edge[(ALL, ALL)] = net.add(sink, source, grid.value((ALL, ALL)), (ALL, ALL) not in hidden)
    wanted = hidden if ask is None else set(ask)
    return {key: net.bounds(edge[key]) for key in grid.keys if key in wanted}


# --------------------------------------------------------------------------- sums: linear span


class Span:
    """The linear span of published group sums over ``atoms`` (the finest groups).

    ``contains(group)`` says whether the sum of a set of atoms is a linear combination of the
    published ones (so a reader can compute it exactly, whatever the coefficients)."""

    def __init__(self, atoms: Sequence[str], known: Iterable[Iterable[str]] = ()) -> None:
        self.atoms = tuple(atoms)
        self._index = {a: i for i, a in enumerate(self.atoms)}
        if len(self._index) != len(self.atoms):
            raise ValueError("atoms must be distinct")
        #: reduced rows: pivot column -> row (1 at the pivot, 0 in every other pivot column)
        self._rows: dict[int, list[Fraction]] = {}
        self._null: list[list[int]] | None = None
        for group in known:
            self.add(group)

    def _vector(self, group: Iterable[str]) -> list[Fraction]:
        vector = [Fraction(0)] * len(self.atoms)
        for atom in group:
            vector[self._index[atom]] = Fraction(1)
        return vector

    def _reduce(self, vector: list[Fraction]) -> list[Fraction]:
        for pivot, row in self._rows.items():
            factor = vector[pivot]
            if factor:
                vector = [v - factor * r for v, r in zip(vector, row, strict=True)]
        return vector

    def add(self, group: Iterable[str]) -> None:
        vector = self._reduce(self._vector(group))
        pivot = next((i for i, v in enumerate(vector) if v), None)
        if pivot is None:
            return
        self._null = None
        vector = [v / vector[pivot] for v in vector]
        for p, row in self._rows.items():
            if row[pivot]:
                factor = row[pivot]
                self._rows[p] = [a - factor * b for a, b in zip(row, vector, strict=True)]
        self._rows[pivot] = vector

    def contains(self, group: Iterable[str]) -> bool:
        indices = [self._index[a] for a in group]
        return all(sum(z[i] for i in indices) == 0 for z in self._null_space())

    def _null_space(self) -> list[list[int]]:
        """A basis of the vectors orthogonal to every published sum, scaled to whole numbers: a
        group's sum is derivable exactly when its indicator is orthogonal to all of them."""
        if self._null is None:
            basis = []
            for free in (i for i in range(len(self.atoms)) if i not in self._rows):
                z = [Fraction(0)] * len(self.atoms)
                z[free] = Fraction(1)
                for pivot, row in self._rows.items():
                    z[pivot] = -row[free]
                scale = math.lcm(*(v.denominator for v in z))
                basis.append([int(v * scale) for v in z])
            self._null = basis
        return self._null

    @property
    def rank(self) -> int:
        return len(self._rows)
