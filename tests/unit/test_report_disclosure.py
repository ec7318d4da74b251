"""Disclosure control of the employer report, step by step: k floor, threshold, group disclosure,
complementary suppression, table redesign, means, consent, changes against the previous period."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from clinic_server.access.policy import MIN_CELL_FLOOR
from clinic_server.services.reports.bounds import ALL, CountGrid, Span, grid_bounds
from clinic_server.services.reports.definitions import (
    AGE_BANDS,
    EMPLOYER_REPORT,
    Participant,
    ReportInputError,
    age_band,
    tabulate,
)
from clinic_server.services.reports.disclosure import (
    build,
    check_k,
    deficit,
    protect_counts,
    protect_means,
)
from clinic_server.settings import Settings
from clinic_tui.api.schemas.reports import CellStatus, TableStatus
from clinic_tui.domain.categories import Category

K = 5
EVERYTHING = frozenset(Category)


def one_way(**counts: int) -> CountGrid:
    return CountGrid(tuple(counts), (), {(r, ALL): n for r, n in counts.items()})


def two_way(rows: dict[str, tuple[int, int]]) -> CountGrid:
    return CountGrid(
        tuple(rows),
        ("female", "male"),
        {(r, c): n for r, pair in rows.items() for c, n in zip(("female", "male"), pair, strict=True)},
    )


def assert_safe(grid: CountGrid, protection, *, secret: bool, k: int = K) -> None:
    """Recompute what a reader can work out, independently of the engine's own bookkeeping."""
    bounds = grid_bounds(grid, protection.suppressed, grid.keys)
    for key in grid.keys:
        lo, hi = bounds[key]
        assert deficit(grid, key, lo, hi, k=k, secret=secret) == 0, (key, lo, hi)
        if key in protection.suppressed:
            assert lo < hi, f"{key} is suppressed but pinned down: it should be shown"


# --------------------------------------------------------------------------- k


def test_k_never_goes_below_five():
    assert MIN_CELL_FLOOR == 5
    for bad in (4, 0, -1, 4.9, True, "5"):
        with pytest.raises(ValueError, match="at least 5"):
            check_k(bad)
    with pytest.raises(ValueError):
        protect_counts(one_way(a=9), 4, secret=True)
    with pytest.raises(ValueError):
        build(tabulate(EMPLOYER_REPORT, []), "E", 2025, 3)
    assert check_k(7) == 7
    assert Settings().report_min_cell == 5
    with pytest.raises(ValidationError):
        Settings(report_min_cell=4)
    assert Settings(report_min_cell=10).report_min_cell == 10


def test_a_larger_k_suppresses_what_a_smaller_one_shows():
    grid = one_way(a=6, b=7, c=20)
    assert not protect_counts(grid, 5, secret=True).suppressed
    assert protect_counts(grid, 7, secret=True).suppressed >= {("a", ALL), ("b", ALL)}


# --------------------------------------------------------------------------- counts


def test_threshold_rule_suppresses_a_small_count_and_a_partner_wide_enough():
    grid = one_way(a=3, b=10, c=12)
    p = protect_counts(grid, K, secret=True)
    # a alone could be subtracted from the total; b (the smaller partner) leaves a in [0, 13]
    assert p.suppressed == {("a", ALL), ("b", ALL)}
    assert p.bounds[("a", ALL)] == (0, 13)
    assert_safe(grid, p, secret=True)


def test_a_partner_of_zero_is_not_enough_two_small_cells_need_a_wide_one():
    grid = one_way(a=3, b=0, c=1, d=12, e=9)
    p = protect_counts(grid, K, secret=True)
    # a + c = 4 would pin both within 0..4 (< k wide); a zero adds no width; e (9) is the smallest
    # that does
    assert p.suppressed == {("a", ALL), ("c", ALL), ("e", ALL)}
    assert p.published(("b", ALL)) and p.published(("d", ALL))
    assert_safe(grid, p, secret=True)


def test_group_disclosure_everyone_in_one_category_is_not_shown():
    # seven people, all in a: publishing "a 7, b 0, c 0" tells every one of them
    grid = one_way(a=7, b=0, c=0)
    p = protect_counts(grid, K, secret=True)
    assert ("a", ALL) in p.suppressed
    # and a zero is hidden with it, or a = 7 - 0 - 0
    assert p.suppressed == {("a", ALL), ("b", ALL)}
    assert p.bounds[("a", ALL)] == (0, 7)
    assert_safe(grid, p, secret=True)


def test_group_disclosure_all_but_a_few_is_not_shown_either():
    # 12 people, 9 in a: a published would say "at most 3 are not a"
    grid = one_way(a=9, b=3, c=0)
    p = protect_counts(grid, K, secret=True)
    assert {("a", ALL), ("b", ALL)} <= p.suppressed
    lo, _ = grid_bounds(grid, p.suppressed, [("a", ALL)])[("a", ALL)]
    assert lo <= 12 - K
    # a category holding exactly total - k is fine
    assert not protect_counts(one_way(a=7, b=5), K, secret=True).suppressed


def test_participation_is_not_a_secret_so_a_large_share_is_shown():
    grid = CountGrid(("female", "male"), ("18-29", "30-39"), {("female", "18-29"): 9, ("male", "18-29"): 5})
    p = protect_counts(grid, K, secret=False)
    assert not p.suppressed


def test_a_small_cell_of_a_two_way_table_cannot_be_recovered_from_its_row_column_or_margins():
    grid = two_way({"a": (2, 8), "b": (9, 6), "c": (7, 7)})
    p = protect_counts(grid, K, secret=True, locked=frozenset({(ALL, "female"), (ALL, "male")}))
    assert ("a", "female") in p.suppressed
    lo, hi = p.bounds[("a", "female")]
    assert hi - lo >= K
    # something else in its row and in its column went with it
    assert any(k in p.suppressed for k in (("a", "male"), ("a", ALL)))
    assert any(k in p.suppressed for k in (("b", "female"), ("c", "female")))
    assert_safe(grid, p, secret=True)


def test_a_table_of_one_category_cannot_be_protected_and_says_so():
    # everyone is in the only row: the total tells them all, and there is nothing to hide it with
    with pytest.raises(RuntimeError, match="cannot be protected"):
        protect_counts(one_way(a=8), K, secret=True)


def test_column_totals_of_a_distribution_must_be_safe_to_publish():
    grid = two_way({"a": (2, 8), "b": (1, 6)})
    with pytest.raises(ValueError, match="redesign"):
        protect_counts(grid, K, secret=True, locked=frozenset({(ALL, "female")}))


@st.composite
def tables(draw):
    rows = tuple(f"r{i}" for i in range(draw(st.integers(2, 5))))
    if draw(st.booleans()):
        counts = {(r, ALL): draw(st.integers(0, 12)) for r in rows}
        grid = CountGrid(rows, (), counts)
        return grid, frozenset()
    counts = {(r, c): draw(st.integers(0, 9)) for r in rows for c in ("female", "male")}
    grid = CountGrid(rows, ("female", "male"), counts)
    locked = frozenset({(ALL, "female"), (ALL, "male")})
    return grid, locked


@settings(max_examples=150, deadline=None)
@given(tables(), st.sampled_from([5, 6]))
def test_every_protected_table_is_safe_and_hides_nothing_needlessly(case, k):
    grid, locked = case
    if grid.value((ALL, ALL)) < k or any(0 < grid.value(key) < k for key in locked):
        return  # the report withholds the table or drops its breakdown instead
    p = protect_counts(grid, k, secret=True, locked=locked)
    assert_safe(grid, p, secret=True, k=k)
    assert not p.suppressed & locked


# --------------------------------------------------------------------------- means


def means_grid(counts: dict[tuple[str, str], int]) -> CountGrid:
    return CountGrid(("female", "male"), ("18-29", "30-39"), counts)


def small_derivable(grid: CountGrid, suppressed, k: int = K):
    atoms = [f"{r}|{c}" for r in grid.rows for c in grid.columns]
    published = []
    for r, c in grid.keys:
        if (r, c) in suppressed:
            continue
        rows = grid.rows if r == ALL else (r,)
        columns = grid.columns if c == ALL else (c,)
        published.append({f"{x}|{y}" for x in rows for y in columns})
    size = {f"{r}|{c}": grid.value((r, c)) for r in grid.rows for c in grid.columns}
    # a reader who knows who took part knows which groups are empty
    span = Span(atoms, published + [{a} for a in atoms if size[a] == 0])
    return [
        group
        for n in range(1, len(atoms) + 1)
        for group in itertools.combinations(atoms, n)
        if 0 < sum(size[a] for a in group) < k and span.contains(group)
    ]


def test_a_mean_of_fewer_than_k_is_not_published_nor_derivable_by_difference():
    grid = means_grid(
        {("female", "18-29"): 3, ("female", "30-39"): 9, ("male", "18-29"): 6, ("male", "30-39"): 7}
    )
    p = protect_means(grid, K)
    assert ("female", "18-29") in p.suppressed
    # the women's mean minus the women 30-39 would give the three; the band 18-29 minus the men too
    assert ("female", ALL) in p.suppressed or ("female", "30-39") in p.suppressed
    assert (ALL, "18-29") in p.suppressed or ("male", "18-29") in p.suppressed
    assert not small_derivable(grid, p.suppressed)
    for key in grid.keys:
        if key not in p.suppressed and grid.value(key):
            assert grid.value(key) >= K


def test_an_empty_group_is_known_to_sum_to_zero():
    # nobody is a woman 18-29, so the women's mean is that of the eight women 30-39, and the band
    # 30-39 less the women is the four men 30-39: the counts alone would not show it
    grid = means_grid(
        {("female", "18-29"): 0, ("female", "30-39"): 8, ("male", "18-29"): 5, ("male", "30-39"): 4}
    )
    p = protect_means(grid, K)
    assert ("female", ALL) in p.suppressed or (ALL, "30-39") in p.suppressed
    assert not small_derivable(grid, p.suppressed)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=4, max_size=4))
def test_no_published_means_isolate_fewer_than_k(sizes):
    counts = dict(zip(itertools.product(("female", "male"), ("18-29", "30-39")), sizes, strict=True))
    grid = means_grid(counts)
    if grid.value((ALL, ALL)) < K:
        with pytest.raises(ValueError, match="withhold"):
            protect_means(grid, K)
        return
    p = protect_means(grid, K)
    assert not small_derivable(grid, p.suppressed)
    bounds = grid_bounds(grid, p.suppressed, grid.keys)
    for key in grid.keys:
        assert deficit(grid, key, *bounds[key], k=K, secret=False) == 0
        if key not in p.suppressed and grid.value(key):
            assert grid.value(key) >= K


# --------------------------------------------------------------------------- the report


def person(i: int, sex: str = "female", band: str = "30-39", consented=EVERYTHING, **values) -> Participant:
    return Participant(f"p{i}", sex, band, frozenset(consented), **values)


def test_age_bands():
    assert [age_band(a) for a in (18, 29, 30, 39, 40, 59, 60, 67)] == [
        "18-29",
        "18-29",
        "30-39",
        "30-39",
        "40-49",
        "50-59",
        "60+",
        "60+",
    ]
    for bad in (17, 0, 30.5, True):
        with pytest.raises(ReportInputError):
            age_band(bad)


def test_only_people_whose_consent_covers_the_data_count_in_a_table():
    people = [person(i, "female" if i % 2 else "male", bmi_category="normal") for i in range(12)]
    people += [
        person(100 + i, consented={Category.FITNESS_TESTS}, bmi_category="obesity_class_3") for i in range(6)
    ]
    report = build(tabulate(EMPLOYER_REPORT, people), "E", 2025, K).report
    assert report.table("participation").cell(ALL, ALL).value == 18
    bmi = report.table("bmi_category")
    assert bmi.cell(ALL, ALL).value == 12
    assert bmi.cell("obesity_class_3", ALL).value == 0


def test_a_table_of_fewer_than_k_is_withheld_and_a_small_sex_drops_the_breakdown():
    people = [person(i, "male", bmi_category="normal" if i % 2 else "overweight") for i in range(11)]
    people += [person(50 + i, "female", bmi_category="normal") for i in range(3)]
    people += [
        person(90 + i, "female", consented={Category.FITNESS_TESTS}, vo2max_ml_kg_min=40.0) for i in range(4)
    ]
    report = build(tabulate(EMPLOYER_REPORT, people), "E", 2025, K).report
    bmi = report.table("bmi_category")
    assert bmi.status is TableStatus.PUBLISHED and bmi.breakdown_dropped
    assert [c.code for c in bmi.columns] == [ALL]
    vo2 = report.table("vo2max")
    assert vo2.status is TableStatus.TOO_FEW and not vo2.cells
    assert report.table("fitness_category").status is TableStatus.TOO_FEW


def test_the_report_records_its_rules_and_k():
    report = build(tabulate(EMPLOYER_REPORT, [person(i) for i in range(5)]), "Acme AB", 2025, 6).report
    assert report.report_rule == "imr-employer-report v1"
    assert report.disclosure_rule == "imr-report-disclosure v1"
    assert report.min_cell == 6 and report.employer == "Acme AB" and report.period == 2025
    assert report.table("participation").status is TableStatus.TOO_FEW
    fitness = report.table("fitness_category")
    assert fitness.source == "fitness-category-astrand v1" and fitness.consent_category == "fitness_tests"


def test_bad_records_are_refused_with_the_reason():
    cases = [
        (Participant("p1", "other", "30-39"), "sex"),
        (Participant("p1", "female", "17-20"), "age band"),
        (person(1, bmi_category="huge"), "not a row"),
        (person(1, vo2max_ml_kg_min=-3.0), "positive"),
        (person(1, vo2max_ml_kg_min=float("nan")), "positive"),
        (Participant("", "female", "30-39"), "person id"),
    ]
    for bad, words in cases:
        with pytest.raises(ReportInputError, match=words):
            tabulate(EMPLOYER_REPORT, [bad])
    with pytest.raises(ReportInputError, match="twice"):
        tabulate(EMPLOYER_REPORT, [person(1), person(1)])


def test_changes_against_the_previous_period_use_only_numbers_published_in_both():
    def year(normal: int, over: int) -> list[Participant]:
        out = [
            person(i, "female" if i % 2 else "male", AGE_BANDS[i % 2], bmi_category="normal")
            for i in range(normal)
        ]
        out += [
            person(100 + i, "female" if i % 2 else "male", AGE_BANDS[i % 2], bmi_category="overweight")
            for i in range(over)
        ]
        return out

    before = build(tabulate(EMPLOYER_REPORT, year(10, 10)), "E", 2024, K).report
    now = build(tabulate(EMPLOYER_REPORT, year(15, 10)), "E", 2025, K, previous=before).report
    assert now.previous_period == 2024
    bmi = now.table("bmi_category")
    normal = bmi.cell("normal", ALL)
    assert normal.value == 15 and normal.previous == 10
    assert normal.change == pytest.approx(100 * 15 / 25 - 50)  # +10 percentage points
    part = now.table("participation").cell(ALL, ALL)
    assert (part.value, part.previous, part.change) == (25, 20, 5.0)
    with pytest.raises(ValueError, match="previous"):
        build(tabulate(EMPLOYER_REPORT, year(15, 10)), "E", 2026, K, previous=before)


def test_means_are_rounded_to_one_decimal_and_carry_their_n():
    people = [
        person(
            i,
            "female" if i < 6 else "male",
            "30-39",
            vo2max_ml_kg_min=40.04 + i / 100,
            fitness_category="average",
        )
        for i in range(12)
    ]
    vo2 = build(tabulate(EMPLOYER_REPORT, people), "E", 2025, K).report.table("vo2max")
    overall = vo2.cell(ALL, ALL)
    assert overall.status is CellStatus.PUBLISHED and overall.n == 12 and overall.value == 40.1
    # nobody aged 18-29: an empty group, not a suppressed one
    assert vo2.cell("female", "18-29").status is CellStatus.EMPTY
