"""Disclosure control of the employer report: what may be published so nobody can be singled out.

The method is cell suppression as in Hundepool et al., *Statistical Disclosure Control*, Wiley
2012 (ch. 4 and 5: primary suppression by safety rules, complementary suppression, audit of the
suppressed cells' intervals, linked tables), with k (``min_cell``) at least
``policy.MIN_CELL_FLOOR``. docs/reports.md states the attacker it is built against and why each
rule is there; in short:

Counts (participation, distributions), for each table:

1. *Threshold rule*: a count of 1 to k-1 people is not published (primary suppression); that
   holds for margins too.
2. *Group disclosure* (tables of health categories only): a reader knows who is in each column
   (who took part, their sex). If all but a few of a column share one category, the few are
   singled out and everybody else's category is known. So a category count must leave at least
   k people of the column possibly outside it: a published count x needs x <= total - k, and a
   suppressed one needs its derivable lower bound <= total - k.
3. *Complementary suppression*: a suppressed count of 1 to k-1 must not be recoverable. Its
   interval over every table of whole counts that reproduces the published numbers, computed
   exactly (``bounds.grid_bounds``), must be at least k wide. While a cell fails rule 2 or 3 the
   engine suppresses one more cell of its row or column (the margins included): the one that
   widens the failing interval most, on a tie the smallest (least information lost), and audits
   again. Suppressing everything but the column totals always satisfies both rules (every cell
   can then be anything from 0 to its column total, which is at least k), so the loop ends.
4. *Table redesign* before suppression: a distribution is broken down by sex only if each sex has
   at least k people in it (a column of fewer can never be protected, since its total bounds its
   cells); a table of fewer than k people is withheld whole.

Means (VO2max by sex and age band), published with their number of contributors n:

5. a mean rests on at least k contributors;
6. no set of sex-and-age groups with 1 to k-1 contributors may have its sum derivable from the
   published means (difference of two means, of a total and its parts...). Each published mean
   with its n is a linear equation in the group sums; a set's sum is derivable exactly when its
   indicator lies in their span (``bounds.Span``, exact rational arithmetic), so every such set is
   checked, and a further mean is suppressed until none is derivable. The contributor counts are
   protected as counts (rules 1 and 3).

Means are rounded to one decimal, which does not weaken rule 6 (it is checked as if exact);
counts are not rounded or perturbed: the report's numbers add up.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from clinic_server.access.policy import (
    MIN_CELL_FLOOR,
    Actor,
    AggregatePopulation,
    AggregateRequest,
    Decision,
    IssuedAggregate,
    may_aggregate,
)
from clinic_server.services.reports.bounds import ALL, CellKey, CountGrid, Span, grid_bounds
from clinic_server.services.reports.definitions import (
    Participant,
    ReportDefinition,
    TableDef,
    TableKind,
    Tabulation,
    tabulate,
)
from clinic_tui.api.schemas.reports import (
    CellStatus,
    EmployerReport,
    ReportAxisItem,
    ReportCell,
    ReportTable,
    TableStatus,
)
from clinic_tui.domain.provenance import Rule

__all__ = [
    "DISCLOSURE_RULE",
    "MEAN_DECIMALS",
    "Built",
    "Issued",
    "MeansProtection",
    "Protection",
    "Refused",
    "Reused",
    "build",
    "check_k",
    "deficit",
    "issue",
    "protect_counts",
    "protect_means",
]

DISCLOSURE_RULE = Rule(
    "imr-report-disclosure",
    1,
    "Hundepool A, Domingo-Ferrer J, Franconi L, Giessing S, Schulte Nordholt E, Spicer K, de Wolf "
    "P-P. Statistical Disclosure Control. Wiley 2012, ch. 4-5: threshold rule, group disclosure, "
    "complementary cell suppression audited by exact interval computation, linked tables; "
    "differencing between reports",
)
MEAN_DECIMALS = 1
TOTAL_LABEL = "Total"


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < MIN_CELL_FLOOR:
        raise ValueError(f"the minimum cell must be a whole number of at least {MIN_CELL_FLOOR}, not {k!r}")
    return k


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class Protection:
    """A table's suppression pattern and, for each suppressed cell, what a reader can work out."""

    grid: CountGrid
    k: int
    suppressed: frozenset[CellKey]
    bounds: Mapping[CellKey, tuple[int, int]]

    def published(self, key: CellKey) -> bool:
        return key not in self.suppressed


def deficit(grid: CountGrid, key: CellKey, lo: int, hi: int, *, k: int, secret: bool) -> int:
    """How far a cell whose derivable interval is [lo, hi] is from safe (0: safe).

    Rule 1/3: a count of 1..k-1 needs an interval at least k wide (published, its width is 0).
    Rule 2 (``secret``: rows are health categories): the lower bound of a category cell must leave
    k people of its column possibly outside the category."""
    value = grid.value(key)
    short = max(0, k - (hi - lo)) if 0 < value < k else 0
    if secret and key[0] != ALL:
        total = grid.column_total(key)
        if total > 0:
            short += max(0, lo - (total - k))
    return short


def _neighbours(grid: CountGrid, key: CellKey) -> list[CellKey]:
    """The cells sharing a row or a column with ``key`` (margins included), in table order."""
    r, c = key
    if r != ALL and c != ALL:
        same = [(r, x) for x in (*grid.columns, ALL)] + [(x, c) for x in (*grid.rows, ALL)]
    elif r != ALL:  # a row total: its row's cells, and the other row totals
        same = [(r, x) for x in grid.columns] + [(x, ALL) for x in (*grid.rows, ALL)]
    elif c != ALL:  # a column total: its column's cells, and the other column totals
        same = [(x, c) for x in grid.rows] + [(ALL, x) for x in (*grid.columns, ALL)]
    else:
        same = [(x, ALL) for x in grid.rows] + [(ALL, x) for x in grid.columns]
    return [s for s in grid.keys if s in set(same) and s != key]


def _complement(
    grid: CountGrid,
    failing: CellKey,
    suppressed: set[CellKey],
    locked: frozenset[CellKey],
    score: Callable[[set[CellKey]], int],
) -> CellKey:
    """The next cell to suppress for ``failing``: from its row or column if any is left, else from
    the whole table; the one that leaves the least deficit, then the smallest, then table order."""
    order = {key: i for i, key in enumerate(grid.keys)}
    candidates = [n for n in _neighbours(grid, failing) if n not in suppressed and n not in locked]
    if not candidates:
        candidates = [n for n in grid.keys if n not in suppressed and n not in locked]
    if not candidates:
        raise RuntimeError(f"cell {failing} cannot be protected: nothing is left to suppress")
    return min(candidates, key=lambda n: (score(suppressed | {n}), grid.value(n), order[n]))


def protect_counts(
    grid: CountGrid, k: int, *, secret: bool, locked: frozenset[CellKey] = frozenset()
) -> Protection:
    """Suppress cells of ``grid`` until rules 1-3 hold (``secret``: rows are health categories).

    ``locked`` cells are always published (column totals of a distribution: how many women and men
    the table holds, at least k each after redesign); the grand total always is."""
    check_k(k)
    locked = frozenset(locked) | {(ALL, ALL)}
    for key in sorted(locked):
        v = grid.value(key)
        if deficit(grid, key, v, v, k=k, secret=secret):
            raise ValueError(f"cell {key} ({v}) must be published but is not safe: redesign the table")
    suppressed = {
        key
        for key in grid.keys
        if key not in locked and deficit(grid, key, grid.value(key), grid.value(key), k=k, secret=secret)
    }
    while True:
        bounds = grid_bounds(grid, suppressed)
        failing = [
            key
            for key in grid.keys
            if key in suppressed and deficit(grid, key, *bounds[key], k=k, secret=secret)
        ]
        if not failing:
            # a suppressed cell the others pin down exactly hides nothing: show it
            pinned = {key for key in suppressed if bounds[key][0] == bounds[key][1]}
            kept = suppressed - pinned
            return Protection(grid, k, frozenset(kept), {key: bounds[key] for key in kept})
        cell = failing[0]

        def score(pattern: set[CellKey], cell: CellKey = cell) -> int:
            return deficit(grid, cell, *grid_bounds(grid, pattern, [cell])[cell], k=k, secret=secret)

        suppressed.add(_complement(grid, cell, suppressed, locked, score))


# --------------------------------------------------------------------------- means


def atom(row: str, column: str) -> str:
    return f"{row}|{column}"


def _atoms_of(grid: CountGrid, key: CellKey) -> frozenset[str]:
    r, c = key
    rows = grid.rows if r == ALL else (r,)
    columns = grid.columns if c == ALL else (c,)
    return frozenset(atom(x, y) for x in rows for y in columns)


@dataclass(frozen=True)
class MeansProtection:
    """Which means of a sex x age-band table are published, and what a reader can total."""

    grid: CountGrid
    k: int
    suppressed: frozenset[CellKey]
    bounds: Mapping[CellKey, tuple[int, int]]
    #: every set of atoms (sex|age band) whose sum a reader can work out from the published means
    derivable: frozenset[frozenset[str]]


def _span(grid: CountGrid, suppressed: set[CellKey]) -> Span:
    atoms = [atom(r, c) for r in grid.rows for c in grid.columns]
    known = [_atoms_of(grid, key) for key in grid.keys if key not in suppressed]
    # a group nobody is in sums to zero, published or not
    known += [frozenset({atom(r, c)}) for r in grid.rows for c in grid.columns if grid.value((r, c)) == 0]
    return Span(atoms, known)


def _small_derivable(grid: CountGrid, span: Span, k: int) -> frozenset[str] | None:
    """The first set of atoms (smallest first) with 1..k-1 contributors whose sum is derivable."""
    occupied = [atom(r, c) for r in grid.rows for c in grid.columns if grid.value((r, c)) > 0]
    size = {atom(r, c): grid.value((r, c)) for r in grid.rows for c in grid.columns}
    for n in range(1, len(occupied) + 1):
        for group in itertools.combinations(occupied, n):
            people = sum(size[a] for a in group)
            if 0 < people < k and span.contains(group):
                return frozenset(group)
    return None


def _all_derivable(grid: CountGrid, span: Span) -> frozenset[frozenset[str]]:
    atoms = [atom(r, c) for r in grid.rows for c in grid.columns]
    return frozenset(
        frozenset(group)
        for n in range(1, len(atoms) + 1)
        for group in itertools.combinations(atoms, n)
        if span.contains(group)
    )


def protect_means(grid: CountGrid, k: int) -> MeansProtection:
    """Suppress means of the sex x age-band table of contributor counts ``grid`` until rules 5, 6
    (and 1, 3 for the counts shown with them) hold. The overall mean rests on the whole table (at
    least k: a smaller table is withheld) and is always published."""
    check_k(k)
    if not grid.columns:
        raise ValueError("means are broken down by two ways (sex and age band)")
    locked = frozenset({(ALL, ALL)})
    if grid.value((ALL, ALL)) < k:
        raise ValueError("fewer than k contributors in all: withhold the table")
    suppressed = {key for key in grid.keys if key not in locked and 0 < grid.value(key) < k}
    while True:
        bounds = grid_bounds(grid, suppressed)
        failing = [
            key
            for key in grid.keys
            if key in suppressed and deficit(grid, key, *bounds[key], k=k, secret=False)
        ]
        if failing:
            cell = failing[0]

            def score(pattern: set[CellKey], cell: CellKey = cell) -> int:
                return deficit(grid, cell, *grid_bounds(grid, pattern, [cell])[cell], k=k, secret=False)

            suppressed.add(_complement(grid, cell, suppressed, locked, score))
            continue
        span = _span(grid, suppressed)
        risky = _small_derivable(grid, span, k)
        if risky is None:
            # a suppressed mean whose sum and count the others pin down exactly hides nothing
            pinned = {
                key
                for key in suppressed
                if bounds[key][0] == bounds[key][1] and span.contains(_atoms_of(grid, key))
            }
            kept = suppressed - pinned
            return MeansProtection(
                grid, k, frozenset(kept), {key: bounds[key] for key in kept}, _all_derivable(grid, span)
            )
        suppressed.add(_break(grid, suppressed, locked, risky))


def _break(
    grid: CountGrid, suppressed: set[CellKey], locked: frozenset[CellKey], risky: frozenset[str]
) -> CellKey:
    """A published mean to suppress so that ``risky`` is no longer derivable: one whose removal
    alone does it if there is one, else one that overlaps it; the fewest contributors first."""
    order = {key: i for i, key in enumerate(grid.keys)}
    published = [
        key for key in grid.keys if key not in suppressed and key not in locked and grid.value(key) > 0
    ]
    if not published:
        raise RuntimeError(f"{sorted(risky)} is derivable and nothing is left to suppress")

    def rank(key: CellKey) -> tuple[int, int, int]:
        breaks = not _span(grid, suppressed | {key}).contains(risky)
        overlaps = bool(_atoms_of(grid, key) & risky)
        return (0 if breaks else 1 if overlaps else 2, grid.value(key), order[key])

    return min(published, key=rank)


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Built:
    """A protected report, and the populations its tables rest on (for ``may_aggregate``)."""

    report: EmployerReport
    populations: tuple[AggregatePopulation, ...]


def _round(value: float, decimals: int) -> float:
    return float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def _axis(codes: Sequence[tuple[str, str]], total: bool) -> list[ReportAxisItem]:
    items = [ReportAxisItem(code=c, label=label) for c, label in codes]
    return [*items, ReportAxisItem(code=ALL, label=TOTAL_LABEL)] if total else items


def _sex_labels(definition: ReportDefinition) -> list[tuple[str, str]]:
    return [(s, s.capitalize()) for s in definition.sexes]


def _band_labels(definition: ReportDefinition) -> list[tuple[str, str]]:
    return [(b, b) for b in definition.age_bands]


def _count_cells(grid: CountGrid, protection: Protection | None, rows, columns) -> list[ReportCell]:
    cells = []
    for r in rows:
        for c in columns:
            key = (r.code, c.code)
            if protection is not None and protection.published(key):
                cells.append(
                    ReportCell(row=r.code, column=c.code, status=CellStatus.PUBLISHED, value=grid.value(key))
                )
            else:
                cells.append(ReportCell(row=r.code, column=c.code, status=CellStatus.SUPPRESSED))
    return cells


def _participation(definition: ReportDefinition, t: TableDef, members, k: int):
    counts: dict[CellKey, int] = {}
    for m in members.values():
        counts[(m.sex, m.age_band)] = counts.get((m.sex, m.age_band), 0) + 1
    grid = CountGrid(definition.sexes, definition.age_bands, counts)
    rows = _axis(_sex_labels(definition), True)
    columns = _axis(_band_labels(definition), True)
    population = AggregatePopulation(t.id, {p: (atom(m.sex, m.age_band), None) for p, m in members.items()})
    table = ReportTable(
        id=t.id, kind="participation", label=t.label, status=TableStatus.PUBLISHED, rows=rows, columns=columns
    )
    if len(members) < k:
        return table.model_copy(update={"status": TableStatus.TOO_FEW, "rows": [], "columns": []}), population
    protection = protect_counts(grid, k, secret=False)
    return table.model_copy(update={"cells": _count_cells(grid, protection, rows, columns)}), population


def _distribution(definition: ReportDefinition, t: TableDef, members, k: int):
    per_sex = {s: sum(1 for m in members.values() if m.sex == s) for s in definition.sexes}
    breakdown = all(n >= k for n in per_sex.values())
    columns_codes = definition.sexes if breakdown else ()
    counts: dict[CellKey, int] = {}
    for m in members.values():
        key = (m.value, m.sex if breakdown else ALL)
        counts[key] = counts.get(key, 0) + 1
    grid = CountGrid(t.row_codes, tuple(columns_codes), counts)
    rows = _axis(t.rows, True)
    columns = [ReportAxisItem(code=ALL, label=TOTAL_LABEL)] + (
        _axis(_sex_labels(definition), False) if breakdown else []
    )
    groups = {frozenset(definition.sexes)} | (
        {frozenset({s}) for s in definition.sexes} if breakdown else set()
    )
    table = ReportTable(
        id=t.id,
        kind="distribution",
        label=t.label,
        status=TableStatus.PUBLISHED,
        consent_category=str(t.consent),
        source=t.source,
        note=t.note,
        breakdown_dropped=not breakdown,
        rows=rows,
        columns=columns,
    )
    if len(members) < k:
        population = AggregatePopulation(t.id, {p: (m.sex, m.value) for p, m in members.items()})
        return table.model_copy(
            update={"status": TableStatus.TOO_FEW, "rows": [], "columns": [], "breakdown_dropped": False}
        ), population
    population = AggregatePopulation(
        t.id, {p: (m.sex, m.value) for p, m in members.items()}, frozenset(groups)
    )
    locked = frozenset((ALL, c) for c in columns_codes)
    protection = protect_counts(grid, k, secret=True, locked=locked)
    return table.model_copy(update={"cells": _count_cells(grid, protection, rows, columns)}), population


def _means(definition: ReportDefinition, t: TableDef, members, k: int):
    counts: dict[CellKey, int] = {}
    sums: dict[str, float] = {}
    for m in members.values():
        counts[(m.sex, m.age_band)] = counts.get((m.sex, m.age_band), 0) + 1
        sums[atom(m.sex, m.age_band)] = sums.get(atom(m.sex, m.age_band), 0.0) + float(m.value)
    grid = CountGrid(definition.sexes, definition.age_bands, counts)
    rows = _axis(_sex_labels(definition), True)
    columns = _axis(_band_labels(definition), True)
    table = ReportTable(
        id=t.id,
        kind="mean",
        label=t.label,
        status=TableStatus.PUBLISHED,
        consent_category=str(t.consent),
        source=t.source,
        unit=t.unit,
        decimals=MEAN_DECIMALS,
        note=t.note,
        rows=rows,
        columns=columns,
    )
    members_of = {p: (atom(m.sex, m.age_band), m.value) for p, m in members.items()}
    if len(members) < k:
        return table.model_copy(
            update={"status": TableStatus.TOO_FEW, "rows": [], "columns": []}
        ), AggregatePopulation(t.id, members_of)
    protection = protect_means(grid, k)
    cells = []
    for r in rows:
        for c in columns:
            key = (r.code, c.code)
            n = grid.value(key)
            if key in protection.suppressed:
                cells.append(ReportCell(row=r.code, column=c.code, status=CellStatus.SUPPRESSED))
            elif n == 0:
                cells.append(ReportCell(row=r.code, column=c.code, status=CellStatus.EMPTY, n=0))
            else:
                total = sum(sums.get(a, 0.0) for a in _atoms_of(grid, key))
                cells.append(
                    ReportCell(
                        row=r.code,
                        column=c.code,
                        status=CellStatus.PUBLISHED,
                        value=_round(total / n, MEAN_DECIMALS),
                        n=n,
                    )
                )
    population = AggregatePopulation(t.id, members_of, protection.derivable)
    return table.model_copy(update={"cells": cells}), population


def _with_changes(table: ReportTable, previous: ReportTable | None) -> ReportTable:
    """Each cell published in both periods gets the previous value and the change."""
    if (
        previous is None
        or previous.status is not TableStatus.PUBLISHED
        or table.status is not TableStatus.PUBLISHED
    ):
        return table

    def published(t: ReportTable, row: str, column: str) -> ReportCell | None:
        cell = t.cell(row, column)
        return cell if cell is not None and cell.status is CellStatus.PUBLISHED else None

    cells = []
    for cell in table.cells:
        before = published(previous, cell.row, cell.column)
        if cell.status is not CellStatus.PUBLISHED or before is None:
            cells.append(cell)
            continue
        change: float | None
        if table.kind == "distribution" and cell.row != ALL:
            total_now = published(table, ALL, cell.column)
            total_then = published(previous, ALL, cell.column)
            if total_now is None or total_then is None or not total_now.value or not total_then.value:
                cells.append(cell)
                continue
            change = _round(100 * cell.value / total_now.value - 100 * before.value / total_then.value, 1)
        elif table.kind == "mean":
            change = _round(cell.value - before.value, MEAN_DECIMALS)
        else:
            change = float(cell.value - before.value)
        cells.append(cell.model_copy(update={"previous": before.value, "change": change}))
    return table.model_copy(update={"cells": cells})


def build(
    tabulation: Tabulation,
    employer: str,
    period: int,
    k: int,
    previous: EmployerReport | None = None,
) -> Built:
    """The protected report of ``tabulation`` (one employer, one period), every table protected on
    its own: tables of different variables share no cell, and their shared numbers (how many
    people a table holds in each sex) are published alike in each. ``previous`` (the issued report
    of the period before) gives each cell published in both its change."""
    check_k(k)
    definition = tabulation.definition
    if previous is not None and previous.period != period - 1:
        raise ValueError(f"the previous report covers {previous.period}, not {period - 1}")
    tables: list[ReportTable] = []
    populations: list[AggregatePopulation] = []
    for t in definition.tables:
        members = tabulation.members[t.id]
        if t.kind is TableKind.PARTICIPATION:
            table, population = _participation(definition, t, members, k)
        elif t.kind is TableKind.DISTRIBUTION:
            table, population = _distribution(definition, t, members, k)
        else:
            table, population = _means(definition, t, members, k)
        tables.append(_with_changes(table, previous.table(t.id) if previous else None))
        populations.append(population)
    report = EmployerReport(
        report_rule=f"{definition.rule.id} v{definition.rule.version}",
        disclosure_rule=f"{DISCLOSURE_RULE.id} v{DISCLOSURE_RULE.version}",
        employer=employer,
        period=period,
        previous_period=previous.period if previous else None,
        min_cell=k,
        tables=tables,
    )
    return Built(report, tuple(populations))


# --------------------------------------------------------------------------- issuing


@dataclass(frozen=True)
class Issued:
    """A new report: give it out, and keep it with its populations (``IssuedAggregate``)."""

    report: EmployerReport
    populations: tuple[AggregatePopulation, ...]
    decision: Decision


@dataclass(frozen=True)
class Reused:
    """The same people as an issued report: give out that one, as it was stored."""

    report_id: str
    decision: Decision


@dataclass(frozen=True)
class Refused:
    decision: Decision


def issue(
    actor: Actor,
    definition: ReportDefinition,
    request: AggregateRequest,
    employer: str,
    participants: Sequence[Participant],
    *,
    k: int,
    today: date,
    issued: Sequence[IssuedAggregate] = (),
    previous: EmployerReport | None = None,
) -> Issued | Reused | Refused:
    """The whole of an analyst's request: tabulate, protect, and ask ``may_aggregate``."""
    built = build(tabulate(definition, participants), employer, request.period, k, previous)
    decision = may_aggregate(actor, request, built.populations, issued, k=k, today=today)
    if not decision.permitted:
        return Refused(decision)
    if "reuse" in decision.extra:
        return Reused(decision.extra["reuse"], decision)
    return Issued(built.report, built.populations, decision)
