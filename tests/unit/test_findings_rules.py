"""The findings rules, one by one: each fires on its case and stays quiet on routine work."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clinic_server.services.findings import rules
from clinic_server.services.findings.identity import IdentityKey
from clinic_server.services.findings.rules import Facts, GrantFact, PersonDigests, Rec, Served
from clinic_tui.domain.findings import REASON_KEYS, RULE_VERSIONS, RuleId

KEY = IdentityKey(b"unit-test-identity-key-" + b"x" * 20)
NORRA, SODER, IMR = "org-norra", "org-soder", "org-imr"
#: a Tuesday, 10:00 local (09:00 UTC in winter)
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
H = 3600.0
D = 86400.0


def rec(seq, ts, *, user="anna", role="nurse", org=NORRA, action="read", rtype="person", person="p1",
        purpose="care", outcome="allowed", returned=True) -> Rec:  # fmt: skip
    return Rec(seq, ts, user, user, role, org, action, rtype, person, purpose, outcome, returned)


def facts(records, **kw) -> Facts:
    kw.setdefault("user_org", {"anna": NORRA, "bertil": SODER, "david": NORRA, "cecilia": IMR})
    return Facts(records=records, **kw)


def only(cands, rule):
    return [c for c in cands if c.rule == rule]


# --------------------------------------------------------------------------- browsing


def test_browsing_fires_on_a_visit_nothing_explains():
    [c] = rules.browsing(
        facts([rec(1, T0), rec(2, T0 + 1, rtype="observation"), rec(3, T0 + 2, rtype="alert")])
    )
    assert (c.rule, c.user_id, c.person_id, c.evidence) == (RuleId.BROWSING, "anna", "p1", (1, 2, 3))
    assert c.params == {"alert_days": 7, "care_days": 30, "consent_days": 14, "accesses": 3}
    assert c.reason_key == "finding.browsing" and c.version == RULE_VERSIONS[RuleId.BROWSING]
    assert set(c.params) == set(REASON_KEYS[c.reason_key])


@pytest.mark.parametrize(
    "context",
    [
        {"alerts": {"p1": [(T0 - 2 * D, rules.INF)]}},  # an alert still open
        {"alerts": {"p1": [(T0 - 20 * D, T0 - 6 * D)]}},  # closed six days ago
        {"alerts": {"p1": [(T0 + 300, rules.INF)]}},  # raised five minutes after the visit
        {"care": {("p1", NORRA): [T0 - 25 * D]}},  # acted on 25 days ago
        {"care": {("p1", NORRA): [T0 + 120]}},  # opened, then acted
        {"consent_changes": {("p1", NORRA): [T0 - 10 * D]}},  # a new consent
    ],
)
def test_browsing_stays_quiet_when_care_explains_the_visit(context):
    assert rules.browsing(facts([rec(1, T0)], **context)) == []


@pytest.mark.parametrize(
    "context",
    [
        {"alerts": {"p1": [(T0 - 20 * D, T0 - 8 * D)]}},  # closed eight days ago
        {"alerts": {"p1": [(T0 + 20 * 60, rules.INF)]}},  # raised twenty minutes later
        {"care": {("p1", NORRA): [T0 - 31 * D]}},  # too long ago
        {"care": {("p1", SODER): [T0 - D]}},  # another organization's care
        {"consent_changes": {("p1", NORRA): [T0 - 15 * D]}},
    ],
)
def test_browsing_context_has_limits(context):
    assert len(rules.browsing(facts([rec(1, T0)], **context))) == 1


def test_browsing_is_about_nurses_in_care():
    records = [
        rec(1, T0, purpose="emergency"),  # break-the-glass: the emergency review's business
        rec(2, T0, outcome="denied", returned=False),  # refused: nothing was seen
        rec(3, T0, role="coach", user="cecilia", org=IMR, purpose="coaching"),
        rec(4, T0, role="supervisor", user="david", purpose="audit"),
        rec(5, T0, person=None),  # a list
    ]
    assert rules.browsing(facts(records)) == []


def test_browsing_groups_one_persons_visits_within_twelve_hours():
    records = [rec(1, T0), rec(2, T0 + 3 * H), rec(3, T0 + 20 * H), rec(4, T0 + H, person="p2")]
    out = sorted(rules.browsing(facts(records)), key=lambda c: c.evidence)
    assert [(c.person_id, c.evidence) for c in out] == [("p1", (1, 2)), ("p1", (3,)), ("p2", (4,))]


# --------------------------------------------------------------------------- relation


def _valid(pnr: str) -> str:
    """A personnummer with a valid check digit, from its first 11 digits."""
    from clinic_tui.domain.personnummer import luhn_check_digit

    return pnr[:11] + str(luhn_check_digit(pnr[2:11]))


ANNA_PNR, DAVID_PNR = _valid("19840602123"), _valid("19780314987")


def _world(**people):
    links = {
        "anna": PersonDigests(
            KEY.personnummer(ANNA_PNR), KEY.surnames("Lind"), KEY.address("Lärkvägen 14, 191 40 Sollentuna")
        ),
        "david": PersonDigests(
            KEY.personnummer(DAVID_PNR), KEY.surnames("Holm"), KEY.address("Skolgatan 7, 753 11 Uppsala")
        ),
    }
    digests = {
        pid: PersonDigests(KEY.personnummer(p[0]), KEY.surnames(p[1]), KEY.address(p[2]))
        for pid, p in people.items()
    }
    return {"links": links, "people": digests}


STRANGER = (_valid("19500101111"), "Andersson", "Storgatan 1, 111 22 Stockholm")


@pytest.mark.parametrize(
    ("person", "relations"),
    [
        ((ANNA_PNR, "Lind", "Lärkvägen 14, 191 40 Sollentuna"), ["same_address", "same_surname", "self"]),
        ((DAVID_PNR, "Holm", "Skolgatan 7, 753 11 Uppsala"), ["colleague"]),
        ((_valid("19600101222"), "Berg", "LÄRKVÄGEN 14,  191 40  sollentuna"), ["same_address"]),
        ((_valid("19600101222"), "Lind", "Ringvägen 2, 752 20 Uppsala"), ["same_surname"]),
        ((_valid("19600101222"), "Berg-Lind", "Ringvägen 2, 752 20 Uppsala"), ["same_surname"]),
    ],
)
def test_relation_fires_on_self_colleague_address_and_surname(person, relations):
    [c] = rules.relation(facts([rec(1, T0)], **_world(p1=person)))
    assert c.rule == RuleId.RELATION and c.person_id == "p1"
    assert c.params == {"relations": relations, "accesses": 1}
    assert set(c.params) == set(REASON_KEYS[c.reason_key])


def test_relation_stays_quiet_for_strangers_and_without_links():
    assert rules.relation(facts([rec(1, T0)], **_world(p1=STRANGER))) == []
    assert rules.relation(facts([rec(1, T0)])) == []  # no identity key: nothing to compare


def test_a_shared_surname_counts_only_where_work_does_not_explain_the_visit():
    lind = (_valid("19600101222"), "Lind", "Ringvägen 2, 752 20 Uppsala")
    world = _world(p1=lind)
    alert = {"alerts": {"p1": [(T0 - D, rules.INF)]}}
    assert rules.relation(facts([rec(1, T0)], **world, **alert)) == []
    # refused, the nurse tried anyway
    [c] = rules.relation(facts([rec(1, T0, outcome="denied", returned=False)], **world, **alert))
    assert c.params["relations"] == ["same_surname"]
    # a coach let in (an assigned participant) is at work; refused, she was not
    world["links"] = {"cecilia": PersonDigests(None, KEY.surnames("Lind"), None)}
    coach = {"user": "cecilia", "role": "coach", "org": IMR, "purpose": "coaching"}
    assert rules.relation(facts([rec(1, T0, **coach)], **world)) == []
    assert len(rules.relation(facts([rec(1, T0, **coach, outcome="denied", returned=False)], **world))) == 1


def test_a_colleague_is_someone_of_the_same_organization():
    world = _world(p1=(DAVID_PNR, "Holm", "Skolgatan 7, 753 11 Uppsala"))
    # bertil (another organization, not linked himself) opens david's record: not a colleague
    assert rules.relation(facts([rec(1, T0, user="bertil", org=SODER)], **world)) == []
    # david opening his own record is self
    [c] = rules.relation(facts([rec(1, T0, user="david")], **world))
    assert c.params["relations"] == ["same_address", "same_surname", "self"]


def test_relation_ignores_audit_lookups():
    world = _world(p1=(DAVID_PNR, "Holm", "Skolgatan 7, 753 11 Uppsala"))
    assert rules.relation(facts([rec(1, T0, role="supervisor", purpose="audit")], **world)) == []


# --------------------------------------------------------------------------- volume


def _sweep(n, start, gap, user="bertil", org=SODER, seq0=1):
    return [rec(seq0 + i, start + i * gap, user=user, org=org, person=f"p{i}") for i in range(n)]


def test_volume_fires_on_many_people_within_an_hour():
    [c] = rules.volume(facts(_sweep(24, T0, 110)))
    assert c.rule == RuleId.VOLUME and c.person_id is None and c.user_id == "bertil"
    assert c.params == {"people": 24, "minutes": 60, "threshold": 20}
    assert c.evidence == tuple(range(1, 25))
    assert set(c.params) == set(REASON_KEYS[c.reason_key])


def test_volume_finds_a_sweep_across_the_hour():
    # 24 people from 09:40 to 10:24: neither clock hour alone holds 20 of them
    [c] = rules.volume(facts(_sweep(24, T0 - 20 * 60, 110)))
    assert c.params["people"] == 24


def test_volume_stays_quiet_on_a_busy_but_ordinary_day():
    # 19 people in an hour, then more later in the day; and the same person opened many times
    records = _sweep(19, T0, 150) + _sweep(19, T0 + 2 * H, 150, seq0=100)
    records += [rec(200 + i, T0 + 5 * H + i * 30, user="bertil", org=SODER, person="same") for i in range(40)]
    assert rules.volume(facts(records)) == []
    # 24 people spread over a working day
    assert rules.volume(facts(_sweep(24, T0, 20 * 60))) == []


def test_volume_looks_back_into_the_hour_before_the_batch():
    earlier = _sweep(12, T0, 120)
    batch = _sweep(12, T0 + 12 * 120, 120, seq0=100)
    batch = [r._replace(person_id=f"q{i}") for i, r in enumerate(batch)]
    [c] = rules.volume(facts(batch, tail=earlier))
    assert c.params["people"] == 24 and set(range(1, 13)) <= set(c.evidence)
    # the hour before alone never fires again (it was judged when it was new)
    assert rules.volume(facts([], tail=_sweep(30, T0, 60))) == []


# --------------------------------------------------------------------------- out of hours


def _workdays(user, days, hours=range(7, 16)):
    """Activity of ``days`` days before the Tuesday of T0, in ``hours``."""
    mask = sum(1 << h for h in hours)
    return {user: {date(2026, 11, 24) - timedelta(days=d): mask for d in range(1, days + 1)}}


def test_out_of_hours_fires_at_night():
    night = datetime(2026, 11, 24, 1, 10, tzinfo=UTC).timestamp()  # 02:10 local
    records = [
        rec(1, night, user="bertil", org=SODER),
        rec(2, night + 600, user="bertil", org=SODER, person="p2"),
    ]
    [c] = rules.out_of_hours(facts(records, activity=_workdays("bertil", 20)))
    assert c.rule == RuleId.OUT_OF_HOURS and c.evidence == (1, 2)
    assert c.params == {"hours": [2], "usual_hours": list(range(6, 17)), "baseline_days": 20, "accesses": 2}
    assert set(c.params) == set(REASON_KEYS[c.reason_key])


def test_out_of_hours_stays_quiet_in_usual_hours_and_next_to_them():
    for local_hour in (7, 11, 15, 16):  # 16: next to the last usual hour (a shift ending late)
        ts = datetime(2026, 11, 24, local_hour - 1, 30, tzinfo=UTC).timestamp()
        assert rules.out_of_hours(facts([rec(1, ts)], activity=_workdays("anna", 20))) == []


def test_out_of_hours_needs_a_baseline():
    night = datetime(2026, 11, 24, 1, 10, tzinfo=UTC).timestamp()
    assert rules.out_of_hours(facts([rec(1, night)], activity=_workdays("anna", 9))) == []
    # an hour worked on a single day of the four weeks is not usual
    activity = _workdays("anna", 20)
    activity["anna"][date(2026, 11, 20)] |= 1 << 2
    assert len(rules.out_of_hours(facts([rec(1, night)], activity=activity))) == 1
    activity["anna"][date(2026, 11, 19)] |= 1 << 2
    assert rules.out_of_hours(facts([rec(1, night)], activity=activity)) == []


def test_local_time_follows_swedish_summer_time():
    assert rules.local_day_hour(datetime(2026, 7, 1, 22, 30, tzinfo=UTC).timestamp()) == (date(2026, 7, 2), 0)
    assert rules.local_day_hour(datetime(2026, 12, 1, 22, 30, tzinfo=UTC).timestamp()) == (
        date(2026, 12, 1),
        23,
    )
    # the changes: last Sunday of March and of October, at 01:00 UTC
    assert rules.local_day_hour(datetime(2026, 3, 29, 0, 59, tzinfo=UTC).timestamp())[1] == 1
    assert rules.local_day_hour(datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp())[1] == 3
    assert rules.local_day_hour(datetime(2026, 10, 25, 0, 59, tzinfo=UTC).timestamp())[1] == 2
    assert rules.local_day_hour(datetime(2026, 10, 25, 1, 0, tzinfo=UTC).timestamp())[1] == 2


# --------------------------------------------------------------------------- probing


def _denied(n, start, gap, user="anna", seq0=1, rtype="person"):
    return [
        rec(
            seq0 + i,
            start + i * gap,
            user=user,
            person=f"p{i}",
            outcome="denied",
            returned=False,
            rtype=rtype,
        )
        for i in range(n)
    ]


def test_probing_fires_on_repeated_refusals():
    [c] = rules.probing(facts(_denied(5, T0, 180)))
    assert c.rule == RuleId.PROBING and c.evidence == (1, 2, 3, 4, 5)
    assert c.params == {"denied": 5, "minutes": 60, "threshold": 5, "people": 5}
    assert set(c.params) == set(REASON_KEYS[c.reason_key])


def test_probing_stays_quiet_on_the_odd_refusal_and_on_failed_logins():
    assert rules.probing(facts(_denied(4, T0, 180) + _denied(4, T0 + 3 * H, 180, seq0=10))) == []
    logins = _denied(8, T0, 60, rtype="session")
    assert rules.probing(facts(logins)) == []
    nobody = [r._replace(user_id=None) for r in _denied(8, T0, 60)]
    assert rules.probing(facts(nobody)) == []


# --------------------------------------------------------------------------- coach and employers


SERVED = {
    "cecilia": [
        Served("nordbygg", date(2024, 1, 1), None),
        Served("solgruppen", date(2023, 1, 1), date(2026, 10, 1)),
    ]
}
EMPLOYERS = {"p-nord": "nordbygg", "p-sol": "solgruppen", "p-other": "elsewhere", "p-care": None}


def _coach(seq, person, outcome="allowed"):
    return rec(
        seq, T0, user="cecilia", role="coach", org=IMR, purpose="coaching", person=person, outcome=outcome,
        returned=outcome == "allowed",
    )  # fmt: skip


def test_coach_reading_another_employers_participant_fires():
    out = rules.coach_other_employer(
        facts([_coach(1, "p-sol"), _coach(2, "p-other", "denied")], served=SERVED, person_employer=EMPLOYERS)
    )
    assert sorted((c.person_id, c.params["allowed"]) for c in out) == [("p-other", False), ("p-sol", True)]
    assert all(set(c.params) == set(REASON_KEYS[c.reason_key]) for c in out)


def test_coach_rule_stays_quiet_on_served_employers_and_without_service_data():
    assert (
        rules.coach_other_employer(facts([_coach(1, "p-nord")], served=SERVED, person_employer=EMPLOYERS))
        == []
    )
    assert (
        rules.coach_other_employer(facts([_coach(1, "p-care")], served=SERVED, person_employer=EMPLOYERS))
        == []
    )
    assert rules.coach_other_employer(facts([_coach(1, "p-other")], person_employer=EMPLOYERS)) == []
    # while the contract ran, Solgruppen was served
    early = _coach(1, "p-sol")._replace(ts=datetime(2026, 9, 30, 10, tzinfo=UTC).timestamp())
    assert rules.coach_other_employer(facts([early], served=SERVED, person_employer=EMPLOYERS)) == []


# --------------------------------------------------------------------------- emergency review


def _grant(created, review=None):
    return GrantFact("g1", "bertil", "bertil", SODER, "p9", created, review, (11, 12))


def test_emergency_access_not_reviewed_in_a_day_fires_once_the_day_is_over():
    created = T0
    assert rules.emergency_unreviewed([_grant(created)], created + 23 * H) == []
    [c] = rules.emergency_unreviewed([_grant(created)], created + 25 * H)
    assert (c.rule, c.key, c.person_id, c.evidence) == (RuleId.EMERGENCY_UNREVIEWED, "g1", "p9", (11, 12))
    assert c.params == {"hours": 24, "reviewed_after_hours": None}
    [late] = rules.emergency_unreviewed([_grant(created, created + 30 * H)], created + 40 * H)
    assert late.params["reviewed_after_hours"] == 30.0
    assert set(c.params) == set(REASON_KEYS[c.reason_key])


def test_emergency_access_reviewed_in_time_stays_quiet():
    assert rules.emergency_unreviewed([_grant(T0, T0 + 5 * H)], T0 + 50 * H) == []


# --------------------------------------------------------------------------- together


def test_every_rule_has_a_reason_key_and_merge_gap():
    for rule in RuleId:
        assert f"finding.{rule}" in REASON_KEYS
        assert rule in rules.MERGE_GAP and rule in rules.THRESHOLDS


def test_routine_work_raises_nothing():
    """A nurse's ordinary hour: opening patients with open alerts, acting on them, lists."""
    records = []
    alerts = {}
    for i in range(8):
        t = T0 + i * 400
        alerts[f"p{i}"] = [(t - 3 * H, rules.INF)]
        records += [
            rec(3 * i + 1, t, person=f"p{i}"),
            rec(3 * i + 2, t + 1, person=f"p{i}", rtype="observation"),
        ]
        records.append(rec(3 * i + 3, t + 90, person=f"p{i}", action="acknowledge", rtype="alert"))
    records.append(rec(100, T0 + H, action="list", rtype="alert", person=None))
    f = facts(
        records,
        alerts=alerts,
        care={(f"p{i}", NORRA): [T0 + i * 400 + 90] for i in range(8)},
        activity=_workdays("anna", 20),
        **_world(**{f"p{i}": STRANGER for i in range(8)}),
    )
    assert rules.evaluate(f) == []


def test_merge_params():
    assert rules.merge_params(
        {"people": 21, "hours": [2], "allowed": False}, {"people": 25, "hours": [3], "allowed": True}
    ) == {
        "people": 25,
        "hours": [2, 3],
        "allowed": True,
    }
