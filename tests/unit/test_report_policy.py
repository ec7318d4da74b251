"""``may_aggregate``: who may be given an employer report, and when a report may not be issued."""

from __future__ import annotations

from datetime import date

import pytest

from clinic_server.access.policy import (
    ACTIONS,
    Action,
    Actor,
    AggregatePopulation,
    AggregateRequest,
    IssuedAggregate,
    differing,
    may_aggregate,
)
from clinic_tui.domain.roles import Basis, Purpose, Role

TODAY = date(2026, 11, 30)
ANALYST = Actor("a1", "erik", Role.REPORT_ANALYST, "org-imr", "imr")
SEXES = frozenset({"female", "male"})
GROUPS = frozenset({SEXES, frozenset({"female"}), frozenset({"male"})})


def pop(
    values: dict[str, tuple[str, str]], table: str = "bmi_category", groups=GROUPS
) -> AggregatePopulation:
    return AggregatePopulation(table, values, groups)


def people(n: int, start: int = 0, sex: str = "female", value: str = "normal") -> dict[str, tuple[str, str]]:
    return {f"p{i}": (sex, value) for i in range(start, start + n)}


BASE = {**people(8), **people(8, 100, "male")}


def ask(
    populations, issued=(), *, period: int = 2025, k: int = 5, actor: Actor = ANALYST, today: date = TODAY
):
    return may_aggregate(actor, AggregateRequest("emp-1", period), populations, issued, k=k, today=today)


def issued(populations, period: int, report_id: str = "r-1", employer: str = "emp-1") -> IssuedAggregate:
    return IssuedAggregate(report_id, employer, period, populations)


def test_reports_are_the_report_analysts_duty():
    req = ACTIONS[Action.ISSUE_REPORT]
    assert req.roles == {Role.REPORT_ANALYST} and not req.per_person and req.purpose is Purpose.REPORTING
    ok = ask([pop(BASE)])
    assert ok.permitted and ok.basis is Basis.DUTY and ok.purpose is Purpose.REPORTING and not ok.allowed
    for role in (Role.NURSE, Role.COACH, Role.SUPERVISOR, Role.PRIVACY_OFFICER):
        other = Actor("u", "x", role, "org-imr", "imr")
        assert not ask([pop(BASE)], actor=other).permitted, role


def test_the_k_floor_holds_here_too():
    decision = ask([pop(BASE)], k=4)
    assert not decision.permitted and "floor" in decision.reason


def test_only_a_period_that_is_over():
    assert not ask([pop(BASE)], period=2026).permitted
    assert not ask([pop(BASE)], period=2027).permitted
    assert ask([pop(BASE)], period=2026, today=date(2027, 1, 1)).permitted


def test_fewer_than_k_participants_get_no_report():
    decision = ask([pop(people(4))])
    assert not decision.permitted and "fewer than 5" in decision.reason
    assert not ask([pop(people(5))], k=6).permitted
    assert ask([pop(people(5))]).permitted


def test_the_same_period_again_gives_the_issued_report_or_nothing():
    first = issued([pop(BASE)], 2025)
    again = ask([pop(dict(BASE))], [first])
    assert again.permitted and again.extra == {"reuse": "r-1"}
    # one more person, or one changed value: refused, however many people differ
    for changed in (
        {**BASE, **people(1, 500)},
        {**BASE, "p0": ("female", "overweight")},
        {**BASE, **people(20, 500)},
    ):
        decision = ask([pop(changed)], [first])
        assert not decision.permitted and "issued for 2025" in decision.reason
    # another employer's report for the period is not this one's
    assert "reuse" not in ask([pop(BASE)], [issued([pop(BASE)], 2025, employer="emp-2")]).extra


def test_another_period_must_differ_by_none_or_at_least_k_people_in_every_shared_group():
    last_year = issued([pop(BASE)], 2024)
    # the same people with the same values: nothing to subtract
    assert ask([pop(dict(BASE))], [last_year]).permitted
    # one newcomer: last year's report subtracted from this one would show their value
    decision = ask([pop({**BASE, **people(1, 500)})], [last_year])
    assert not decision.permitted and "by 1 people" in decision.reason and "r-1" in decision.reason
    # four who changed category: still fewer than k
    changed = {**BASE, **{f"p{i}": ("female", "overweight") for i in range(4)}}
    assert not ask([pop(changed)], [last_year]).permitted
    # five newcomers, five changes, or four leavers and one newcomer: at least k
    assert ask([pop({**BASE, **people(5, 500)})], [last_year]).permitted
    assert ask(
        [pop({**BASE, **{f"p{i}": ("female", "overweight") for i in range(5)}})], [last_year]
    ).permitted
    fewer = {p: v for p, v in BASE.items() if p not in {"p0", "p1", "p2", "p3"}} | people(1, 500)
    assert ask([pop(fewer)], [last_year]).permitted


def test_the_groups_checked_are_those_a_reader_can_total_in_both_reports():
    last_year = issued([pop(BASE)], 2024)
    # 5 newcomers overall, but only one woman among them: the women's column isolates her
    newcomers = {**people(1, 500, "female"), **people(4, 600, "male")}
    assert not ask([pop({**BASE, **newcomers})], [last_year]).permitted
    # if this year's table is not broken down by sex, only the total is shared
    assert ask([pop({**BASE, **newcomers}, groups=frozenset({SEXES}))], [last_year]).permitted
    # a table not checked for differencing (participation) never refuses
    assert ask([pop({**BASE, **newcomers}, groups=frozenset())], [last_year]).permitted


def test_other_employers_reports_do_not_count():
    other = issued([pop(BASE)], 2024, employer="emp-2")
    assert ask([pop({**BASE, **people(1, 500)})], [other]).permitted


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({}, {}, 0),
        ({"x": ("female", 1)}, {"x": ("female", 1)}, 0),
        ({"x": ("female", 1)}, {"x": ("female", 2)}, 1),
        ({"x": ("female", 1)}, {"x": ("male", 1)}, 1),  # left the women, joined the men
        ({"x": ("female", 1)}, {}, 1),
        ({"x": ("male", 1)}, {"x": ("male", 2)}, 0),  # not in the group
    ],
)
def test_differing_counts_people_whose_part_in_the_group_changed(a, b, expected):
    group = frozenset({"female"})
    assert differing(pop(a), pop(b), group) == expected


def test_each_refusal_names_its_kind_for_the_api():
    from clinic_server.access.policy import AggregateRefusal

    def kind(decision):
        assert not decision.permitted
        return decision.extra["refusal"]

    assert kind(ask([pop(BASE)], k=4)) is AggregateRefusal.MIN_CELL
    assert kind(ask([pop(BASE)], period=2026)) is AggregateRefusal.PERIOD_OPEN
    assert kind(ask([pop(people(4))])) is AggregateRefusal.TOO_FEW
    changed = {**BASE, "p0": ("female", "overweight")}
    assert kind(ask([pop(changed)], [issued([pop(BASE)], 2025)])) is AggregateRefusal.ALREADY_ISSUED
    one_more = {**BASE, "p999": ("female", "normal")}
    assert kind(ask([pop(one_more)], [issued([pop(BASE)], 2024)])) is AggregateRefusal.DIFFERENCING
    assert "refusal" not in ask([pop(BASE)]).extra
