"""Tries to single someone out from every report an analyst can be given: it must never succeed.

Hypothesis makes employers' worlds: people with a sex and age band and, per year, whether they
took part, what their consent to IMR covers, a category and a VO2max. The analyst then asks for
every report there is, in sequence (each year, consecutive years, each again after a late change);
the engine (``disclosure.issue``) answers each. Then an attacker who knows more than any employer
should (who took part, everyone's sex and age band, and whose consent covers which table) takes
every published number of every issued report and tries, with code of its own (no engine code):

- *counts*: enumerates every table of whole counts that reproduces a table's published numbers
  (subtraction from totals, rows, columns and the sex breakdown all included, since these are
  exactly the tables left) and asks whether any person's category is then certain, also to an
  insider who knows their own; whether a hidden count of 1..k-1 is pinned within fewer than k;
  whether a published count is 1..k-1; whether all but fewer than k of a sex share a category;
- *means*: solves the published means (each with its n, a linear equation in people's values)
  for any set of 1..k-1 people, in exact rational arithmetic, person by person;
- *consecutive years* and *the same year again*: subtracts any two issued reports' totals of the
  same group and checks the difference never rests on 1..k-1 people (nor that a year is given
  out twice with different numbers).

docs/reports.md states this attacker and what is out of its reach (values assumed stable from one
year to the next are not knowledge; see "Residual risks").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from clinic_server.access.policy import Actor, AggregateRequest, IssuedAggregate
from clinic_server.services.reports.definitions import (
    REPORT_RULE,
    Participant,
    ReportDefinition,
    TableDef,
    TableKind,
)
from clinic_server.services.reports.disclosure import Issued, Refused, Reused, issue
from clinic_tui.api.schemas.reports import CellStatus, EmployerReport, ReportTable, TableStatus
from clinic_tui.domain.categories import Category
from clinic_tui.domain.questionnaire import CURRENT
from clinic_tui.domain.roles import Role

ALL = "all"
SEXES = ("female", "male")
BANDS = ("18-29", "30-39")
ROWS = ("a", "b", "c")
YEARS = (2023, 2024, 2025)
TODAY = date(2026, 3, 1)
ANALYST = Actor("a1", "erik", Role.REPORT_ANALYST, "org-imr", "imr")

#: the report's three kinds of table, small enough to enumerate every world behind them
SMALL = ReportDefinition(
    rule=REPORT_RULE,
    questionnaire=CURRENT,
    tables=(
        TableDef("participation", TableKind.PARTICIPATION, "Participants", None),
        TableDef(
            "category",
            TableKind.DISTRIBUTION,
            "A category",
            Category.VITALS,
            rows=tuple((r, r.upper()) for r in ROWS),
            value=lambda p: p.bmi_category,
        ),
        TableDef(
            "vo2max",
            TableKind.MEAN,
            "VO2max",
            Category.FITNESS_TESTS,
            unit="mL/kg/min",
            value=lambda p: p.vo2max_ml_kg_min,
        ),
    ),
    sexes=SEXES,
    age_bands=BANDS,
)


@dataclass
class Year:
    consented: frozenset[Category]
    category: str | None
    vo2max: float | None


@dataclass
class Person:
    id: str
    sex: str
    band: str
    years: dict[int, Year] = field(default_factory=dict)


@dataclass
class World:
    k: int
    people: list[Person]

    def participants(self, year: int) -> list[Participant]:
        out = []
        for p in self.people:
            y = p.years.get(year)
            if y is not None:
                out.append(
                    Participant(
                        p.id, p.sex, p.band, y.consented, bmi_category=y.category, vo2max_ml_kg_min=y.vo2max
                    )
                )
        return out


CONSENTS = st.sampled_from(
    [
        frozenset({Category.VITALS, Category.FITNESS_TESTS}),
        frozenset({Category.VITALS, Category.FITNESS_TESTS}),
        frozenset({Category.VITALS, Category.FITNESS_TESTS}),
        frozenset({Category.VITALS}),
        frozenset({Category.FITNESS_TESTS}),
        frozenset(),
    ]
)


@st.composite
def worlds(draw) -> World:
    k = draw(st.sampled_from([5, 5, 6]))
    stable = draw(st.booleans())  # the same values every year (the worst case for differencing)
    # how often a person is in category a: from never to always (everyone alike is the hard case)
    skew = draw(st.integers(0, 4))

    def year() -> Year:
        category = "a" if draw(st.integers(1, 4)) <= skew else draw(st.sampled_from(ROWS))
        return Year(draw(CONSENTS), category, float(draw(st.integers(20, 60))))

    # which sexes and age bands this employer has at all (an empty group is known to be empty)
    groups = draw(
        st.lists(st.sampled_from(list(itertools.product(SEXES, BANDS))), min_size=1, max_size=4, unique=True)
    )
    people = []
    for i in range(draw(st.integers(0, 20))):
        person = Person(f"p{i}", *draw(st.sampled_from(groups)))
        fixed = year()
        for y in YEARS:
            if draw(st.integers(0, 3)):
                person.years[y] = fixed if stable else year()
        people.append(person)
    return World(k, people)


# --------------------------------------------------------------------------- the attacker's own tools


def compositions(total: int, parts: int):
    for bars in itertools.combinations(range(total + parts - 1), parts - 1):
        edges = (-1, *bars, total + parts - 1)
        yield tuple(b - a - 1 for a, b in itertools.pairwise(edges))


def published(table: ReportTable) -> dict[tuple[str, str], float]:
    return {(c.row, c.column): c.value for c in table.cells if c.status is CellStatus.PUBLISHED}


def consistent_tables(table: ReportTable, rows, columns, total: int, sizes: dict[str, int] | None):
    """Every table of whole counts (rows x columns, ``total`` in all) that shows the published
    numbers: what subtraction of any of them leaves open. ``sizes``: column totals the reader
    knows besides (None: a reader who has only the report)."""
    shown = published(table)
    cells = [(r, c) for r in rows for c in columns]
    if sizes is None:
        candidates = (dict(zip(cells, values, strict=True)) for values in compositions(total, len(cells)))
    else:
        per_column = [list(compositions(sizes[c], len(rows))) for c in columns]
        candidates = (
            {(r, c): combo[j][i] for j, c in enumerate(columns) for i, r in enumerate(rows)}
            for combo in itertools.product(*per_column)
        )
    for full in candidates:
        for r in rows:
            full[(r, ALL)] = sum(full[(r, c)] for c in columns)
        for c in columns:
            full[(ALL, c)] = sum(full[(r, c)] for r in rows)
        full[(ALL, ALL)] = total
        if all(full.get(key, v) == v for key, v in shown.items()):
            yield full


def truth_counts(table: ReportTable, members: list[tuple[str, str]], rows, columns) -> dict:
    """The true table: members are (column, row) pairs."""
    x = {(r, c): 0 for r in rows for c in columns}
    for c, r in members:
        x[(r, c)] += 1
    full = dict(x)
    for r in rows:
        full[(r, ALL)] = sum(x[(r, c)] for c in columns)
    for c in columns:
        full[(ALL, c)] = sum(x[(r, c)] for r in rows)
    full[(ALL, ALL)] = len(members)
    return full


def check_counts(table: ReportTable, members: list[tuple[str, str]], rows, columns, k: int, *, secret: bool):
    """``members``: (column, row) of each person. Fails the test on any disclosure."""
    truth = truth_counts(table, members, rows, columns)
    shown = published(table)
    for key, value in shown.items():
        assert value == truth[key], f"{table.id} {key}: published {value}, true {truth[key]}"
        assert value == 0 or value >= k, f"{table.id} {key}: published count {value} < k={k}"
    # the attacker knows each column's size in a table of health categories (who took part, their
    # sex, whose consent covers it); participation itself is protected for any other reader
    sizes = {c: truth[(ALL, c)] for c in columns}
    worlds_left = list(consistent_tables(table, rows, columns, len(members), sizes if secret else None))
    assert worlds_left, f"{table.id}: the published numbers contradict themselves"
    low = {key: min(w[key] for w in worlds_left) for key in truth}
    high = {key: max(w[key] for w in worlds_left) for key in truth}
    for key, value in truth.items():
        if key not in shown and 0 < value < k:
            assert high[key] - low[key] >= k, (
                f"{table.id} {key}: hidden count {value} pinned to {low[key]}..{high[key]}"
            )
    if not secret:
        return
    for c in columns:
        for r in rows:
            # all but fewer than k of a column (a sex, or everyone) in one category
            assert low[(r, c)] <= sizes[c] - k or sizes[c] == 0, f"{table.id}: nearly all of {c} are {r}"
    # every person's category, to an outsider and to each insider who knows their own
    for column, _ in set(members):
        possible = {r for r in rows if any(w[(r, column)] >= 1 for w in worlds_left)}
        assert len(possible) >= 2, f"{table.id}: everyone in {column} is known to be {possible}"
    for q_column, q_row in set(members):
        mine = [w for w in worlds_left if w[(q_row, q_column)] >= 1]
        for p_column, _ in members:
            if p_column == q_column and sizes[p_column] == 1:
                continue  # the insider is the only one there
            need = {r: 1 + (p_column == q_column and r == q_row) for r in rows}
            possible = {r for r in rows if any(w[(r, p_column)] >= need[r] for w in mine)}
            assert len(possible) >= 2, (
                f"{table.id}: an insider ({q_row}, {q_column}) learns {p_column}'s category"
            )


def rank(vectors: list[list[Fraction]]) -> int:
    rows = [list(v) for v in vectors]
    r = 0
    width = len(rows[0]) if rows else 0
    for col in range(width):
        pivot = next((i for i in range(r, len(rows)) if rows[i][col] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        for i in range(len(rows)):
            if i != r and rows[i][col] != 0:
                f = rows[i][col] / rows[r][col]
                rows[i] = [a - f * b for a, b in zip(rows[i], rows[r], strict=True)]
        r += 1
    return r


def mean_groups(table: ReportTable) -> list[tuple[str, str]]:
    return [(c.row, c.column) for c in table.cells if c.status is CellStatus.PUBLISHED and c.n]


def in_group(key: tuple[str, str], sex: str, band: str) -> bool:
    return key[0] in (ALL, sex) and key[1] in (ALL, band)


def check_means(table: ReportTable, members: dict[str, tuple[str, str, float]], k: int):
    """``members``: person -> (sex, band, value). Every published mean is true and rests on at least
    k people; no set of 1..k-1 people has a sum that follows from the published means."""
    people = sorted(members)
    for c in table.cells:
        if c.status is CellStatus.PUBLISHED:
            inside = [p for p in people if in_group((c.row, c.column), *members[p][:2])]
            assert c.n == len(inside) and c.n >= k, f"vo2max {c.row}/{c.column}: n={c.n}"
            true_mean = sum(members[p][2] for p in inside) / len(inside)
            assert abs(c.value - true_mean) <= 0.05 + 1e-9
        elif c.status is CellStatus.EMPTY:
            assert not any(in_group((c.row, c.column), *members[p][:2]) for p in people)
    # person by person: nobody's own value follows
    equations = [
        [Fraction(1 if in_group(key, *members[p][:2]) else 0) for p in people] for key in mean_groups(table)
    ]
    base = rank(equations)
    for i in range(len(people)):
        target = [Fraction(1 if j == i else 0) for j in range(len(people))]
        assert rank([*equations, target]) > base, f"{people[i]}'s VO2max follows from the published means"
    # any set of fewer than k: every published mean treats the people of a sex and age band alike,
    # so a set whose sum follows is a union of whole sex-and-age groups
    check_means_by_group(table, {p: m[:2] for p, m in members.items()}, k, BANDS)


def check_means_by_group(table: ReportTable, members: dict[str, tuple[str, str]], k: int, bands) -> None:
    atoms = [(s, b) for s in SEXES for b in bands]
    size = {a: sum(1 for m in members.values() if m == a) for a in atoms}
    equations = [[Fraction(1 if in_group(key, *a) else 0) for a in atoms] for key in mean_groups(table)]
    # a group nobody is in sums to zero: known without any mean (the reader knows who took part)
    equations += [[Fraction(1 if a == z else 0) for a in atoms] for z in atoms if size[z] == 0]
    base = rank(equations)
    occupied = [a for a in atoms if size[a]]
    for n in range(1, len(occupied) + 1):
        for group in itertools.combinations(occupied, n):
            people = sum(size[a] for a in group)
            if 0 < people < k:
                target = [Fraction(1 if a in group else 0) for a in atoms]
                assert rank([*equations, target]) > base, (
                    f"the VO2max sum of {group} ({people} people) follows from the published means"
                )


# --------------------------------------------------------------------------- the sequence


def members_of(world: World, year: int, table: str) -> dict[str, tuple[str, str, object]]:
    out = {}
    for p in world.people:
        y = p.years.get(year)
        if y is None:
            continue
        if table == "participation":
            out[p.id] = (p.sex, p.band, None)
        elif table == "category" and Category.VITALS in y.consented and y.category is not None:
            out[p.id] = (p.sex, p.band, y.category)
        elif table == "vo2max" and Category.FITNESS_TESTS in y.consented and y.vo2max is not None:
            out[p.id] = (p.sex, p.band, y.vo2max)
    return out


def attack_one(world: World, year: int, report: EmployerReport) -> None:
    k = world.k
    part = report.table("participation")
    everyone = members_of(world, year, "participation")
    assert part.status is TableStatus.PUBLISHED
    check_counts(part, [(band, sex) for sex, band, _ in everyone.values()], SEXES, BANDS, k, secret=False)

    cat = report.table("category")
    members = members_of(world, year, "category")
    if cat.status is TableStatus.TOO_FEW:
        assert len(members) < k and not cat.cells
    else:
        columns = [c.code for c in cat.columns if c.code != ALL] or [ALL]
        pairs = [(sex if columns != [ALL] else ALL, value) for sex, _, value in members.values()]
        check_counts(cat, pairs, ROWS, columns, k, secret=True)

    vo2 = report.table("vo2max")
    members = members_of(world, year, "vo2max")
    if vo2.status is TableStatus.TOO_FEW:
        assert len(members) < k and not vo2.cells
    else:
        counts_only = vo2.model_copy(
            update={
                "cells": [
                    c.model_copy(update={"value": c.n}) if c.status is CellStatus.PUBLISHED else c
                    for c in vo2.cells
                ]
            }
        )
        # empty groups show n = 0: a count like the others
        counts_only = counts_only.model_copy(
            update={
                "cells": [
                    c.model_copy(update={"status": CellStatus.PUBLISHED, "value": 0})
                    if c.status is CellStatus.EMPTY
                    else c
                    for c in counts_only.cells
                ]
            }
        )
        check_counts(
            counts_only, [(band, sex) for sex, band, _ in members.values()], SEXES, BANDS, k, secret=False
        )
        check_means(vo2, members, k)


def totals_in_both(a: ReportTable, b: ReportTable) -> list[frozenset[str]]:
    """Groups (as sets of sex|band atoms) a reader can total in both reports."""
    atoms = [f"{s}|{b_}" for s in SEXES for b_ in BANDS]

    def vectors(t: ReportTable) -> list[list[Fraction]]:
        if t.kind == "distribution":
            cols = {c.code for c in t.columns if published(t).get((ALL, c.code)) is not None}
            keys = [(ALL, c) for c in cols]
        else:
            keys = [(c.row, c.column) for c in t.cells if c.status is not CellStatus.SUPPRESSED]
        return [[Fraction(1 if in_group(key, *a_.split("|")) else 0) for a_ in atoms] for key in keys]

    va, vb = vectors(a), vectors(b)
    ra, rb = rank(va), rank(vb)
    out = []
    for size in range(1, len(atoms) + 1):
        for group in itertools.combinations(atoms, size):
            target = [Fraction(1 if x in group else 0) for x in atoms]
            if rank([*va, target]) == ra and rank([*vb, target]) == rb:
                out.append(frozenset(group))
    return out


def attack_pairs(world: World, reports: dict[int, EmployerReport]) -> None:
    k = world.k
    for y1, y2 in itertools.combinations(sorted(reports), 2):
        for table in ("category", "vo2max"):
            a, b = reports[y1].table(table), reports[y2].table(table)
            if a.status is TableStatus.TOO_FEW or b.status is TableStatus.TOO_FEW:
                continue
            ma, mb = members_of(world, y1, table), members_of(world, y2, table)
            for group in totals_in_both(a, b):
                differ = 0
                for p in ma.keys() | mb.keys():
                    sa = ma[p] if p in ma and f"{ma[p][0]}|{ma[p][1]}" in group else None
                    sb = mb[p] if p in mb and f"{mb[p][0]}|{mb[p][1]}" in group else None
                    if (sa or sb) and (sa is None or sb is None or sa[2] != sb[2] or sa[:2] != sb[:2]):
                        differ += 1
                assert differ == 0 or differ >= k, (
                    f"{table} {y1} vs {y2}: subtracting group {sorted(group)} isolates {differ} people"
                )


def changed(world: World, year: int) -> list[Participant]:
    """The same year after a late change: one more meeting, or one value corrected."""
    people = world.participants(year)
    for i, p in enumerate(people):
        if Category.VITALS in p.consented and p.bmi_category is not None:
            other = next(r for r in ROWS if r != p.bmi_category)
            return [*people[:i], Participant(**{**p.__dict__, "bmi_category": other}), *people[i + 1 :]]
    return [*people, Participant("late", "female", "18-29", frozenset({Category.VITALS}), bmi_category="a")]


def _hard_case() -> World:
    """Nobody is a woman 18-29, so the women's mean is the five women 30-39's, and the band 30-39
    less the women is the one man 30-39: only a reader who knows the empty group sees it."""
    both = frozenset({Category.VITALS, Category.FITNESS_TESTS})
    groups = [("female", "30-39")] * 5 + [("male", "18-29")] * 5 + [("male", "30-39")]
    return World(
        5,
        [Person(f"p{i}", s, b, {2023: Year(both, ROWS[i % 3], 30.0 + i)}) for i, (s, b) in enumerate(groups)],
    )


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(worlds())
@example(_hard_case())
def test_no_sequence_of_reports_singles_anyone_out(world):
    issued: list[IssuedAggregate] = []
    reports: dict[int, EmployerReport] = {}
    for year in YEARS:
        request = AggregateRequest("emp-1", year)

        def ask(people, year=year, request=request):
            return issue(
                ANALYST,
                SMALL,
                request,
                "Employer",
                people,
                k=world.k,
                today=TODAY,
                issued=issued,
                previous=reports.get(year - 1),
            )

        outcome = ask(world.participants(year))
        if isinstance(outcome, Refused):
            reason = outcome.decision.reason
            assert "fewer than" in reason or "differs from issued report" in reason, reason
            event("refused: " + ("too few" if "fewer than" in reason else "differencing"))
            continue
        assert isinstance(outcome, Issued)
        hidden = sum(c.status is CellStatus.SUPPRESSED for t in outcome.report.tables for c in t.cells)
        event(f"issued, {'some' if hidden else 'no'} cells suppressed")
        attack_one(world, year, outcome.report)
        report_id = f"r-{year}"
        issued.append(IssuedAggregate(report_id, "emp-1", year, outcome.populations))
        reports[year] = outcome.report
        # the same year again: the same report, never another one
        again = ask(world.participants(year))
        assert isinstance(again, Reused) and again.report_id == report_id
        late = ask(changed(world, year))
        assert isinstance(late, Refused) and "issued for" in late.decision.reason
    attack_pairs(world, reports)


def test_the_attacker_finds_what_an_unprotected_report_gives_away():
    """The attacker is not blind: a report published without suppression is caught."""
    world_members = [("female", "a")] * 6 + [("male", "a")] * 4 + [("male", "b")]
    table = ReportTable(
        id="category",
        kind="distribution",
        label="x",
        status=TableStatus.PUBLISHED,
        rows=[],
        columns=[],
        cells=[
            {"row": r, "column": c, "status": "published", "value": v}
            for (r, c), v in truth_counts(None, world_members, ROWS, SEXES).items()
        ],
    )
    try:
        check_counts(table, world_members, ROWS, SEXES, 5, secret=True)
    except AssertionError as exc:
        assert "< k" in str(exc) or "nearly all" in str(exc) or "known" in str(exc)
    else:
        raise AssertionError("an unprotected table passed the attack")
    vo2 = ReportTable(
        id="vo2max",
        kind="mean",
        label="x",
        status=TableStatus.PUBLISHED,
        cells=[
            {"row": ALL, "column": ALL, "status": "published", "value": 40.0, "n": 6},
            {"row": "female", "column": ALL, "status": "published", "value": 40.0, "n": 5},
        ],
    )
    members = {f"p{i}": ("female", "18-29", 40.0) for i in range(5)} | {"q": ("male", "18-29", 40.0)}
    try:
        check_means(vo2, members, 5)
    except AssertionError as exc:
        assert "follows from the published means" in str(exc)
    else:
        raise AssertionError("a mean isolating one man passed the attack")


# --------------------------------------------------------------------------- the full report


@st.composite
def employers(draw) -> list:
    from clinic_server.services.reports.definitions import AGE_BANDS, EMPLOYER_REPORT

    questions = [q for q in EMPLOYER_REPORT.questionnaire.questions if q.only_if is None]
    fitness = EMPLOYER_REPORT.table("fitness_category").row_codes
    bmi = EMPLOYER_REPORT.table("bmi_category").row_codes
    waist = EMPLOYER_REPORT.table("waist_category").row_codes
    bp = EMPLOYER_REPORT.table("bp_grade").row_codes
    # a few likely values per table, so that cells are small, large and empty alike
    skew = st.integers(0, 2)
    people = []
    for i in range(draw(st.integers(5, 70))):
        consent = draw(
            st.sets(
                st.sampled_from([Category.VITALS, Category.FITNESS_TESTS, Category.QUESTIONNAIRES]),
                min_size=1,
            )
        )
        people.append(
            Participant(
                f"p{i}",
                draw(st.sampled_from(SEXES)),
                draw(st.sampled_from(AGE_BANDS)),
                frozenset(consent),
                fitness_category=fitness[draw(skew)],
                vo2max_ml_kg_min=float(draw(st.integers(20, 60))),
                bmi_category=bmi[1 + draw(skew)],
                waist_category=waist[draw(st.integers(0, 2))],
                bp_grade=bp[draw(skew)],
                answers={q.id: q.codes[draw(skew)] for q in questions[:4]},
            )
        )
    return people


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(employers(), st.sampled_from([5, 7]))
def test_every_table_of_the_full_report_keeps_its_promises(participants, k):
    from clinic_server.services.reports.bounds import CountGrid, grid_bounds
    from clinic_server.services.reports.definitions import AGE_BANDS, EMPLOYER_REPORT, tabulate
    from clinic_server.services.reports.disclosure import build, deficit

    tab = tabulate(EMPLOYER_REPORT, participants)
    report = build(tab, "Employer", 2025, k).report
    for table in report.tables:
        definition = EMPLOYER_REPORT.table(table.id)
        members = tab.members[table.id]
        if table.status is TableStatus.TOO_FEW:
            assert len(members) < k
            continue
        if table.kind == "distribution":
            columns = tuple(c.code for c in table.columns if c.code != ALL)
            grid = CountGrid(
                definition.row_codes,
                columns,
                {
                    key: sum(1 for m in members.values() if (m.value, m.sex if columns else ALL) == key)
                    for key in itertools.product(definition.row_codes, columns or (ALL,))
                },
            )
            secret = True
        else:
            grid = CountGrid(
                EMPLOYER_REPORT.sexes,
                EMPLOYER_REPORT.age_bands,
                {
                    (s, b): sum(1 for m in members.values() if (m.sex, m.age_band) == (s, b))
                    for s in EMPLOYER_REPORT.sexes
                    for b in EMPLOYER_REPORT.age_bands
                },
            )
            secret = False
        hidden = {(c.row, c.column) for c in table.cells if c.status is CellStatus.SUPPRESSED}
        bounds = grid_bounds(grid, hidden, grid.keys)
        for c in table.cells:
            key = (c.row, c.column)
            shown = c.n if table.kind == "mean" else c.value
            if c.status is CellStatus.PUBLISHED:
                assert shown == grid.value(key) and (shown == 0 or shown >= k), (table.id, key, shown)
            assert deficit(grid, key, *bounds[key], k=k, secret=secret) == 0, (table.id, key, bounds[key])
        if table.kind == "mean":
            check_means_by_group(table, {p: (m.sex, m.age_band) for p, m in members.items()}, k, AGE_BANDS)
