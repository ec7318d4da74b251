"""The coach's work through the guard: participants, meetings, corrections, objections to profiling.

Who may do what is the action table (``policy.ACTIONS``: COACH_PARTICIPANTS, READ_MEETINGS,
RECORD_MEETING, CORRECT_MEETING, RECORD_OBJECTION). A write names the categories it records to the
guard (``needs``): a meeting's measurements need the participant's consent to vitals, its
questionnaire to questionnaires, its cycle test to fitness_tests, its notes to profiling; a coach
whose basis does not cover one is refused with ``consent_missing`` naming them, and nothing is
stored. A read shows each part only where its category is covered, and says which are withheld.

- **Meetings are never overwritten.** A save is revision 1; a correction (with a reason) is the
  next revision, which writes a new version of each part it changed, derived values included:
  correcting the weight recomputes the BMI, the cycle test that used that weight (its relative
  VO2max) and the automated assessment. Every earlier version stays readable; only the current
  one is ``current``.
- **The automated assessment** (``profiling.assess_meeting``) is made at each revision from the
  parts the participant's consent covers then; with no consent to profiling, or an objection in
  force, there is none (status ``not_consented`` / ``objected``), and while an objection is in
  force no assessment is shown at all. The coach's notes are hers, never an input of it.
- **A save is idempotent.** It carries an ``Idempotency-Key``, remembered per user and endpoint
  for ``Settings.idempotency_key_hours``: a retry with the same key returns the meeting the first
  request made and never stores a second one, also when the two arrive together (the key's row is
  written first, in the same transaction, and a unique constraint decides the race); the same key
  with a different request is refused (422 ``idempotency_key_reused``).
- **Bad input changes nothing.** Every problem is reported at once (422 ``invalid_values``, each
  with its field path, domain code and params), before anything is written.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from clinic_server.access import projection
from clinic_server.access.guard import Guard
from clinic_server.access.policy import Action
from clinic_server.db.models import (
    CoachingFitnessTest,
    CoachingMeeting,
    CoachingRevision,
    IdempotencyKey,
    Objection,
    Person,
    ProfilingObjection,
    User,
    new_id,
)
from clinic_server.errors import denied, invalid, refused
from clinic_server.services import billing
from clinic_server.services import meetings as store
from clinic_server.services.meetings import MeetingRows, MeetingState
from clinic_tui.api.schemas import ErrorCode
from clinic_tui.api.schemas.coach import (
    AssessmentOut,
    Change,
    ConclusionOut,
    CorrectionIn,
    FitnessTestOut,
    MeasurementOut,
    MeetingIn,
    MeetingOut,
    MeetingVersion,
    NoticeOut,
    ObjectionOut,
    ParticipantHistory,
    ParticipantList,
    ParticipantRow,
    QuestionnaireOut,
    RevisionOut,
    SeriesPoint,
)
from clinic_tui.domain.categories import ALL_CATEGORIES, Category
from clinic_tui.domain.meeting import (
    BMI_LOINC,
    BMI_UNIT,
    COACHING_CATEGORIES,
    CONCLUSION_CATEGORIES,
    MEASUREMENTS,
    PART_CATEGORY,
    PROTOCOL_FIELDS,
    Part,
    check_meeting_date,
    next_test_due,
    part_of,
)
from clinic_tui.domain.personnummer import age_years
from clinic_tui.domain.provenance import Problem
from clinic_tui.domain.rights import ObjectionKind
from clinic_tui.domain.roles import Outcome
from clinic_tui.domain.text import fold

MEETING = "coaching_meeting"
OBJECTION = "profiling_objection"
#: the scope of a meeting save's idempotency keys
CREATE_ENDPOINT = "coaching.create_meeting"
#: the longest notes the meeting screen offers (as the wire schema)
NOTES_MAX = 4000
#: "today" for a meeting's date is the date anywhere on Earth: UTC+14 is the furthest ahead
LATEST_OFFSET = timedelta(hours=14)


def _label(person: Person, allowed: frozenset[Category]) -> str:
    """The name where identity is shared, else the pseudonym every screen uses for this person."""
    if Category.IDENTITY in allowed:
        return f"{person.given_name} {person.family_name}"
    return projection.pseudonym(person.id)


def _objected(guard: Guard, person_ids: list[str]) -> set[str]:
    """Who of ``person_ids`` objects to profiling now: told to the coach (``profiling_objection``) or
    to the privacy office (the people's rights: ``objection`` of kind profiling). Either stops the
    automated assessment."""
    if not person_ids:
        return set()
    coach = select(ProfilingObjection.person_id).where(
        ProfilingObjection.person_id.in_(person_ids), ProfilingObjection.withdrawn_at.is_(None)
    )
    office = select(Objection.person_id).where(
        Objection.person_id.in_(person_ids),
        Objection.kind == ObjectionKind.PROFILING,
        Objection.withdrawn_at.is_(None),
    )
    return set(guard.session.scalars(coach.union(office)))


def _names(guard: Guard, user_ids) -> dict[str, str]:
    ids = sorted({u for u in user_ids if u})
    if not ids:
        return {}
    return dict(guard.session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def _age(person: Person, held_on) -> int:
    return age_years(person.birth_date, held_on)


# --------------------------------------------------------------------------- the participant list


def participants(guard: Guard) -> ParticipantList:
    """The coach's participants: name and employer where her basis covers them, the last meeting,
    and (where fitness tests are shared) the last test and whether one is due."""
    decisions = guard.people(Action.COACH_PARTICIPANTS, verb="list", resource_type="participant")
    ids = list(decisions)
    session = guard.session
    people = list(session.scalars(select(Person).where(Person.id.in_(ids)))) if ids else []
    met: dict[str, tuple[int, object]] = {}
    tested: dict[str, object] = {}
    if ids:
        for pid, n, last in session.execute(
            select(CoachingMeeting.person_id, func.count(), func.max(CoachingMeeting.held_on))
            .where(CoachingMeeting.person_id.in_(ids))
            .group_by(CoachingMeeting.person_id)
        ):
            met[pid] = (n, last)
        for pid, last in session.execute(
            select(CoachingMeeting.person_id, func.max(CoachingMeeting.held_on))
            .join(CoachingFitnessTest, CoachingFitnessTest.meeting_id == CoachingMeeting.id)
            .where(CoachingMeeting.person_id.in_(ids))
            .group_by(CoachingMeeting.person_id)
        ):
            tested[pid] = last
    objected = _objected(guard, ids)
    today = guard.now.date()
    rows: list[ParticipantRow] = []
    returned: dict[str, set[Category]] = {}
    for p in people:
        d = decisions[p.id]
        allowed = d.allowed
        shown: set[Category] = set()
        row = {
            "id": p.id,
            "label": _label(p, allowed),
            "shared": sorted(allowed),
            "withheld": sorted(ALL_CATEGORIES - allowed),
            "access_basis": str(d.basis),
            "consented": sorted(COACHING_CATEGORIES & allowed),
            "missing": sorted(COACHING_CATEGORIES - allowed),
            "meetings": met.get(p.id, (0, None))[0],
            "last_meeting_on": met.get(p.id, (0, None))[1],
            "objected_to_profiling": p.id in objected,
        }
        if Category.IDENTITY in allowed:
            row.update(given_name=p.given_name, family_name=p.family_name)
            shown.add(Category.IDENTITY)
        if Category.OCCUPATION in allowed:
            row.update(employer=p.employer.name if p.employer else None, job_title=p.job_title)
            shown.add(Category.OCCUPATION)
        if Category.FITNESS_TESTS in allowed:
            last = tested.get(p.id)
            due = next_test_due(last)
            row.update(last_test_on=last, test_due_on=due, test_due=due is None or due <= today)
            shown.add(Category.FITNESS_TESTS)
        rows.append(ParticipantRow(**row))
        returned[p.id] = shown

    def order(r: ParticipantRow):
        # pseudonymous participants after the named ones, never sorted by a withheld value
        if r.family_name is None:
            return (1, "", "", r.id)
        return (0, fold(r.family_name), fold(r.given_name or ""), r.id)

    rows.sort(key=order)
    guard.disclose(returned, decisions)
    guard.scope.reason = f"{len(rows)} participants with an access basis"
    return ParticipantList(items=rows)


# --------------------------------------------------------------------------- reading meetings


class _View:
    """What one response may show: the allowed categories, the objection, and what it showed."""

    def __init__(self, allowed: frozenset[Category], objected: bool, names: dict[str, str]):
        self.allowed = allowed
        self.objected = objected
        self.names = names
        self.returned: set[Category] = set()

    def may(self, category: Category) -> bool:
        return category in self.allowed

    def show(self, category: Category) -> None:
        self.returned.add(category)


def _measurements_out(cols: dict) -> list[MeasurementOut]:
    out = [
        MeasurementOut(key=key, loinc=m.loinc, unit=m.unit, value=cols[key])
        for key, m in MEASUREMENTS.items()
        if cols.get(key) is not None
    ]
    if cols.get("bmi") is not None:
        out.append(
            MeasurementOut(
                key="bmi",
                loinc=BMI_LOINC,
                unit=BMI_UNIT,
                value=cols["bmi"],
                rule_id=cols["bmi_rule_id"],
                rule_version=cols["bmi_rule_version"],
            )
        )
    return out


def _assessment_out(cols: dict, view: _View) -> AssessmentOut:
    shown, withheld = [], []
    for c in cols["conclusions"]:
        if CONCLUSION_CATEGORIES.get(c["code"], ALL_CATEGORIES) <= view.allowed:
            shown.append(ConclusionOut(**c))
        else:
            withheld.append(c["code"])
    return AssessmentOut(
        status=cols["status"],
        ruleset_id=cols["ruleset_id"],
        ruleset_version=cols["ruleset_version"],
        conclusions=shown,
        withheld=withheld,
    )


def _version(rows: MeetingRows, revision: int, view: _View) -> MeetingVersion:
    out = MeetingVersion(revision=revision, current=revision == rows.meeting.current_revision)
    m = rows.columns_at(Part.MEASUREMENTS, revision)
    if m is not None and view.may(Category.VITALS):
        out.measurements = _measurements_out(m)
        view.show(Category.VITALS)
    q = rows.columns_at(Part.QUESTIONNAIRE, revision)
    if q is not None and view.may(Category.QUESTIONNAIRES):
        out.questionnaire = QuestionnaireOut(
            questionnaire_id=q["questionnaire_id"], version=q["questionnaire_version"], answers=q["answers"]
        )
        view.show(Category.QUESTIONNAIRES)
    f = rows.columns_at(Part.FITNESS_TEST, revision)
    if f is not None and view.may(Category.FITNESS_TESTS):
        out.fitness_test = FitnessTestOut(
            **{k: v for k, v in f.items() if k != "warnings"},
            warnings=[NoticeOut(**w) for w in f["warnings"]],
        )
        view.show(Category.FITNESS_TESTS)
    n = rows.columns_at(Part.NOTES, revision)
    if n is not None and view.may(Category.PROFILING):
        out.notes = n["text"]
        view.show(Category.PROFILING)
    a = rows.columns_at(Part.ASSESSMENT, revision)
    # while the participant objects to profiling, no automated assessment is shown (nor made)
    if a is not None and view.may(Category.PROFILING) and not view.objected:
        out.assessment = _assessment_out(a, view)
        view.show(Category.PROFILING)
    return out


def _category_of_path(path: str) -> Category | None:
    part = part_of(path)
    return PART_CATEGORY[part] if part is not None else None


def _revision_out(rev: CoachingRevision, view: _View) -> RevisionOut:
    categories = set(rev.categories)
    reason_ok = categories <= {str(c) for c in view.allowed}
    changes = None
    if rev.changes is not None:
        changes = [p for p in rev.changes if _category_of_path(p) in view.allowed]
    return RevisionOut(
        number=rev.number,
        created_at=rev.created_at,
        author_id=rev.author_id,
        author=view.names.get(rev.author_id, ""),
        categories=sorted(categories),
        reason=rev.reason if reason_ok else None,
        changes=changes,
        redacted=not reason_ok or (rev.changes is not None and len(changes or []) != len(rev.changes)),
    )


def _meeting_out(rows: MeetingRows, view: _View) -> MeetingOut:
    m = rows.meeting
    versions = [_version(rows, k, view) for k in range(1, m.current_revision + 1)]
    return MeetingOut(
        id=m.id,
        person_id=m.person_id,
        held_on=m.held_on,
        kind=m.kind,
        coach_id=m.coach_id,
        coach=view.names.get(m.coach_id, ""),
        created_at=m.created_at,
        current_revision=m.current_revision,
        current=versions[-1],
        earlier=list(reversed(versions[:-1])),
        revisions=[_revision_out(r, view) for r in rows.revisions],
        withheld=sorted(COACHING_CATEGORIES - view.allowed),
    )


def _view_for(guard: Guard, allowed: frozenset[Category], person_id: str, rows: list[MeetingRows]) -> _View:
    users = [r.meeting.coach_id for r in rows] + [rev.author_id for r in rows for rev in r.revisions]
    return _View(allowed, person_id in _objected(guard, [person_id]), _names(guard, users))


def _record_read(guard: Guard, view: _View, meeting_ids: list[str]) -> None:
    guard.scope.returned(view.returned)
    guard.scope.note(meeting_ids=meeting_ids[:50], withheld=sorted(COACHING_CATEGORIES - view.allowed))


def history(guard: Guard, person_id: str) -> ParticipantHistory:
    """Every meeting of one participant with every version, and the series a chart shows."""
    access = guard.person(person_id, Action.READ_MEETINGS, verb="read", resource_type=MEETING)
    allowed = access.allowed
    rows = store.load_for_person(guard.session, person_id)
    view = _view_for(guard, allowed, person_id, rows)
    meetings = [_meeting_out(r, view) for r in rows]
    vo2max, weight = [], []
    for r in rows:
        current = r.meeting.current_revision
        f = r.columns_at(Part.FITNESS_TEST, current)
        if f is not None and f["vo2max_ml_kg_min"] is not None and view.may(Category.FITNESS_TESTS):
            vo2max.append(
                SeriesPoint(meeting_id=r.meeting.id, held_on=r.meeting.held_on, value=f["vo2max_ml_kg_min"])
            )
        m = r.columns_at(Part.MEASUREMENTS, current)
        if m is not None and m["weight_kg"] is not None and view.may(Category.VITALS):
            weight.append(
                SeriesPoint(meeting_id=r.meeting.id, held_on=r.meeting.held_on, value=m["weight_kg"])
            )
    if Category.IDENTITY in allowed:
        view.show(Category.IDENTITY)
    test_sex = test_age = None
    if view.may(Category.FITNESS_TESTS):
        # what a cycle test records of the person (sex and age are inputs of the equations)
        test_sex, test_age = access.person.sex, _age(access.person, guard.now.date())
        view.show(Category.FITNESS_TESTS)
    _record_read(guard, view, [r.meeting.id for r in rows])
    guard.scope.reason = f"{len(rows)} meetings"
    return ParticipantHistory(
        person_id=person_id,
        label=_label(access.person, allowed),
        shared=sorted(allowed),
        withheld=sorted(ALL_CATEGORIES - allowed),
        missing=sorted(COACHING_CATEGORIES - allowed),
        objected_to_profiling=view.objected,
        test_sex=test_sex,
        test_age=test_age,
        meetings=meetings,
        vo2max_ml_kg_min=vo2max,
        weight_kg=weight,
    )


def _meeting_row(guard: Guard, meeting_id: str) -> CoachingMeeting:
    meeting = guard.session.get(CoachingMeeting, meeting_id) if len(meeting_id) <= 32 else None
    if meeting is None:
        # an unknown meeting is refused exactly like another coach's
        raise denied("no such meeting")
    return meeting


def meeting(guard: Guard, meeting_id: str) -> MeetingOut:
    guard.about(Action.READ_MEETINGS, verb="read", resource_type=MEETING, resource_id=meeting_id)
    row = _meeting_row(guard, meeting_id)
    access = guard.access(guard.session.get(Person, row.person_id), Action.READ_MEETINGS)
    return _read_one(guard, access.allowed, row.id)


def _read_one(guard: Guard, allowed: frozenset[Category], meeting_id: str) -> MeetingOut:
    rows = store.load(guard.session, [meeting_id])[meeting_id]
    view = _view_for(guard, allowed, rows.meeting.person_id, [rows])
    out = _meeting_out(rows, view)
    _record_read(guard, view, [meeting_id])
    guard.scope.note(meeting_id=meeting_id, revision=rows.meeting.current_revision)
    return out


# --------------------------------------------------------------------------- saving a meeting


def _normalized(body: MeetingIn) -> MeetingIn:
    return body.model_copy(update={"notes": store.clean_notes(body.notes)})


def _same_request(rows: MeetingRows, person_id: str, body: MeetingIn) -> bool:
    """Is ``body`` for ``person_id`` the request that made this meeting (its revision 1)?"""
    m = rows.meeting
    return (
        m.person_id == person_id
        and m.held_on == body.held_on
        and m.kind == str(body.kind)
        and store.state_at(rows, 1) == store.state_from_body(body)
    )


class _KeyTaken(Exception):
    """A concurrent request with the same key stored its meeting first."""


def create_meeting(guard: Guard, person_id: str, key: str, body: MeetingIn) -> tuple[MeetingOut, bool]:
    """Save a whole meeting as revision 1; or, for a key this user already used here, return the
    meeting it made (True: a replay). The same key with another request is refused."""
    guard.about(Action.RECORD_MEETING, verb="create", resource_type=MEETING)
    session = guard.session
    body = _normalized(body)
    session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == guard.user.id, IdempotencyKey.expires_at <= guard.now
        )
    )
    for _attempt in range(3):
        prior = session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == guard.user.id,
                IdempotencyKey.endpoint == CREATE_ENDPOINT,
                IdempotencyKey.key == key,
            )
        )
        if prior is not None:
            replay = _replay(guard, person_id, body, prior)
            if replay is not None:
                return replay, True
        try:
            return _create(guard, person_id, key, body), False
        except _KeyTaken:
            session.rollback()
    raise AssertionError("a key taken three times over cannot be")


def _replay(guard: Guard, person_id: str, body: MeetingIn, prior: IdempotencyKey) -> MeetingOut | None:
    loaded = store.load(guard.session, [prior.resource_id])
    if prior.resource_id not in loaded:
        # the meeting is gone (erased with its person): the key no longer names anything
        guard.session.delete(prior)
        guard.session.flush()
        return None
    rows = loaded[prior.resource_id]
    access = guard.person(
        person_id, Action.READ_MEETINGS, verb="create", resource_type=MEETING, resource_id=rows.meeting.id
    )
    if not _same_request(rows, person_id, body):
        raise refused(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key was already used for a different meeting; send a new key for a new one.",
            outcome=Outcome.DENIED,
        )
    guard.scope.note(replayed=True)
    guard.scope.reason = "replay of an earlier save with the same Idempotency-Key"
    return _read_one(guard, access.allowed, rows.meeting.id)


def _create(guard: Guard, person_id: str, key: str, body: MeetingIn) -> MeetingOut:
    session = guard.session
    state = store.state_from_body(body)
    access = guard.person(
        person_id, Action.RECORD_MEETING, verb="create", resource_type=MEETING, needs=state.categories()
    )
    person = access.person
    today = (guard.now + LATEST_OFFSET).date()
    problems = list(check_meeting_date(body.held_on, today=today, birth_date=person.birth_date))
    if not state.parts():
        problems.append(Problem(None, "meeting.empty"))
    # a date in the future is reported once, not again as an impossible age on the cycle test
    built = store.build(state, sex=person.sex, age=_age(person, min(body.held_on, today)))
    problems += built.problems
    if problems:
        raise invalid(problems)
    objected = bool(_objected(guard, [person.id]))
    assessment = store.assessment_columns(
        state,
        built,
        sex=person.sex,
        age=_age(person, body.held_on),
        allowed=access.allowed,
        objected=objected,
    )
    meeting_id = new_id()
    # the key first: a concurrent request with it waits here, then finds it (and the meeting)
    session.add(
        IdempotencyKey(
            user_id=guard.user.id,
            endpoint=CREATE_ENDPOINT,
            key=key,
            resource_id=meeting_id,
            created_at=guard.now,
            expires_at=guard.now + timedelta(hours=guard.settings.idempotency_key_hours),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise _KeyTaken from None
    store.add_meeting(
        session,
        meeting_id=meeting_id,
        person_id=person.id,
        coach_id=guard.user.id,
        held_on=body.held_on,
        kind=str(body.kind),
        built=built,
        assessment=assessment,
        created_at=guard.now,
    )
    if person.employer_id is not None:
        # IMR bills the employer for the meeting; the bookkeeping row is kept as the law says
        # (services/billing.py), whatever becomes of the meeting
        billing.bill(
            session, person, "health_profile_meeting", body.held_on, guard.settings.fiscal_year_end_month
        )
    session.flush()
    guard.scope.about(resource_id=meeting_id)
    guard.scope.note(parts=sorted(str(p) for p in state.parts()), assessment=assessment["status"], revision=1)
    guard.scope.reason = "meeting saved"
    return _read_one(guard, access.allowed, meeting_id)


# --------------------------------------------------------------------------- corrections


def _number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def apply_changes(base: MeetingState, changes: list[Change]) -> tuple[MeetingState, list[Problem], set[Part]]:
    """The state after ``changes``, the problems with the changes themselves, and the parts they
    name (whether or not they change anything)."""
    measurements = dict(base.measurements or {})
    answers = dict(base.questionnaire[2]) if base.questionnaire else None
    stages = dict(base.fitness.stages) if base.fitness else None
    test_weight = base.fitness.weight_kg if base.fitness else None
    notes = base.notes
    problems: list[Problem] = []
    touched: set[Part] = set()
    seen: set[str] = set()
    for change in changes:
        path, value = change.field, change.value
        if path in seen:
            problems.append(Problem(path, "correction.repeated_field"))
            continue
        seen.add(path)
        part = part_of(path)
        rest = path.split(".", 1)[1] if "." in path else ""
        if path == "notes":
            touched.add(Part.NOTES)
            if value is not None and not isinstance(value, str):
                problems.append(Problem(path, "value.unknown_code", {"value": str(value)}))
            elif value is not None and len(value) > NOTES_MAX:
                problems.append(
                    Problem(
                        path,
                        "value.out_of_range",
                        {"value": len(value), "min": 0, "max": NOTES_MAX, "unit": "characters"},
                    )
                )
            else:
                notes = store.clean_notes(value)
        elif part is Part.MEASUREMENTS and rest in MEASUREMENTS:
            touched.add(part)
            if value is None:
                measurements.pop(rest, None)
            elif _number(value):
                measurements[rest] = float(value)
            else:
                problems.append(Problem(path, "value.not_a_number"))
        elif part is Part.FITNESS_TEST and base.fitness is None:
            problems.append(Problem(path, "correction.no_such_part", {"part": str(part)}))
        elif (
            part is Part.FITNESS_TEST
            and base.fitness is not None
            and rest in PROTOCOL_FIELDS[base.fitness.protocol]
        ):
            touched.add(part)
            if value is None and rest == "weight_kg":
                test_weight = None
            elif value is None:
                problems.append(Problem(path, "value.missing"))
            elif not _number(value):
                problems.append(Problem(path, "value.not_a_number"))
            elif rest == "weight_kg":
                test_weight = float(value)
            else:
                stages[rest] = float(value)  # type: ignore[index]
        elif part is Part.QUESTIONNAIRE and answers is None:
            problems.append(Problem(path, "correction.no_such_part", {"part": str(part)}))
        elif part is Part.QUESTIONNAIRE and rest:
            touched.add(part)
            if value is None:
                answers.pop(rest, None)  # type: ignore[union-attr]
            else:
                answers[rest] = value  # type: ignore[index]
        else:
            problems.append(Problem(path, "correction.unknown_field"))
    if (
        "measurements.weight_kg" in seen
        and "fitness_test.weight_kg" not in seen
        and base.fitness is not None
        and base.fitness.weight_kg is not None
        and base.fitness.weight_kg == (base.measurements or {}).get("weight_kg")
    ):
        # the weight typed with the test was the measured one: it is corrected with it
        test_weight = None
    state = MeetingState(
        measurements=measurements or None,
        questionnaire=(base.questionnaire[0], base.questionnaire[1], answers) if base.questionnaire else None,
        fitness=store.FitnessState(base.fitness.protocol, stages, test_weight) if base.fitness else None,
        notes=notes,
    )
    return state, problems, touched


def correct(guard: Guard, meeting_id: str, body: CorrectionIn) -> MeetingOut:
    """Correct saved values: a new revision with who, when and why, derived values recomputed."""
    guard.about(Action.CORRECT_MEETING, verb="correct", resource_type=MEETING, resource_id=meeting_id)
    session = guard.session
    meeting = _meeting_row(guard, meeting_id)
    person = session.get(Person, meeting.person_id)
    rows = store.load(session, [meeting.id])[meeting.id]
    base_revision = meeting.current_revision
    base = store.state_at(rows, base_revision)
    state, problems, touched = apply_changes(base, body.changes)
    age = _age(person, meeting.held_on)
    built = store.build(state, sex=person.sex, age=age)
    parts = [
        p
        for p in store.RECORDED_PARTS
        if store.changed(p, rows.columns_at(p, base_revision), built.columns.get(p))
    ]
    # what this correction writes, derived parts included (the weight moves the cycle test too)
    needs = frozenset(PART_CATEGORY[p] for p in touched | set(parts))
    access = guard.access(person, Action.CORRECT_MEETING, needs=needs)
    if body.expected_revision != base_revision:
        raise _stale(base_revision)
    problems += built.problems
    if not problems and not parts:
        first = body.changes[0]
        problems.append(Problem(first.field, "correction.no_change", {"value": first.value}))
    if problems:
        raise invalid(problems)
    revision = base_revision + 1
    assessment = store.assessment_columns(
        state,
        built,
        sex=person.sex,
        age=age,
        allowed=access.allowed,
        objected=bool(_objected(guard, [person.id])),
    )
    result = session.execute(
        update(CoachingMeeting)
        .where(CoachingMeeting.id == meeting.id, CoachingMeeting.current_revision == base_revision)
        .values(current_revision=revision)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:
        session.rollback()
        current = session.scalar(
            select(CoachingMeeting.current_revision).where(CoachingMeeting.id == meeting.id)
        )
        raise _stale(current)
    changed_paths = _changed_paths(rows, base_revision, built)
    written = list(parts)
    for part in parts:
        cols = built.columns.get(part)
        store.add_part(
            session,
            meeting.id,
            part,
            revision,
            cols if cols is not None else store.empty_columns(part),
            guard.now,
        )
    if store.changed(Part.ASSESSMENT, rows.columns_at(Part.ASSESSMENT, base_revision), assessment):
        store.add_part(session, meeting.id, Part.ASSESSMENT, revision, assessment, guard.now)
        changed_paths.append("assessment")
        written.append(Part.ASSESSMENT)
    session.add(
        CoachingRevision(
            meeting_id=meeting.id,
            number=revision,
            author_id=guard.user.id,
            created_at=guard.now,
            reason=body.reason.strip(),
            changes=changed_paths,
            # the reason is about what the coach changed: shown to whoever may see those categories
            categories=sorted({str(PART_CATEGORY[p]) for p in touched}),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise _stale(base_revision + 1) from None
    session.expire(meeting)
    guard.scope.about(person_id=person.id)
    guard.scope.note(revision=revision, parts=sorted(str(p) for p in written), fields=changed_paths[:60])
    guard.scope.reason = f"meeting corrected: revision {revision}"
    return _read_one(guard, access.allowed, meeting.id)


def _stale(current: int | None):
    return refused(
        409,
        ErrorCode.CONFLICT,
        "The meeting was corrected meanwhile; reload it and correct the current version.",
        outcome=Outcome.DENIED,
        current_revision=current,
    )


def _changed_paths(rows: MeetingRows, revision: int, built: store.Built) -> list[str]:
    """Every value the correction changes, as field paths (derived values included)."""
    out: list[str] = []
    for part in store.RECORDED_PARTS:
        old = rows.columns_at(part, revision) or {}
        new = built.columns.get(part) or {}
        if part is Part.FITNESS_TEST:
            old = {**old.get("inputs", {}), **{k: v for k, v in old.items() if k != "inputs"}}
            new = {**new.get("inputs", {}), **{k: v for k, v in new.items() if k != "inputs"}}
        if part is Part.QUESTIONNAIRE:
            old, new = old.get("answers", {}), new.get("answers", {})
        if part is Part.NOTES:
            if old.get("text") != new.get("text"):
                out.append("notes")
            continue
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name) and not name.endswith(("_rule_id", "_rule_version")):
                out.append(f"{part}.{name}")
    return out


# --------------------------------------------------------------------------- objection to profiling


def _objection_out(person_id: str, row: ProfilingObjection | None, names: dict[str, str]) -> ObjectionOut:
    if row is None:
        return ObjectionOut(person_id=person_id, active=False)
    return ObjectionOut(
        person_id=person_id,
        active=row.withdrawn_at is None,
        recorded_at=row.recorded_at,
        recorded_by=names.get(row.recorded_by_id),
        withdrawn_at=row.withdrawn_at,
        withdrawn_by=names.get(row.withdrawn_by_id) if row.withdrawn_by_id else None,
    )


def _active_objection(guard: Guard, person_id: str) -> ProfilingObjection | None:
    return guard.session.scalar(
        select(ProfilingObjection).where(
            ProfilingObjection.person_id == person_id, ProfilingObjection.withdrawn_at.is_(None)
        )
    )


def record_objection(guard: Guard, person_id: str) -> ObjectionOut:
    """The participant objects to profiling: from now on no automated assessment is made or shown.
    Recording it again while it is in force changes nothing."""
    access = guard.person(
        person_id, Action.RECORD_OBJECTION, verb="objection_record", resource_type=OBJECTION
    )
    row = _active_objection(guard, access.person.id)
    if row is None:
        row = ProfilingObjection(
            person_id=access.person.id, recorded_at=guard.now, recorded_by_id=guard.user.id
        )
        guard.session.add(row)
        try:
            guard.session.flush()
        except IntegrityError:
            # recorded by a concurrent request: that one stands
            guard.session.rollback()
            row = _active_objection(guard, person_id)
            guard.scope.note(already=True)
        else:
            guard.scope.note(already=False)
    else:
        guard.scope.note(already=True)
    guard.scope.about(resource_id=row.id)
    guard.scope.reason = "objection to profiling recorded"
    return _objection_out(person_id, row, _names(guard, [row.recorded_by_id]))


def withdraw_objection(guard: Guard, person_id: str) -> ObjectionOut:
    """The participant withdraws the objection: the next saves are assessed again."""
    access = guard.person(
        person_id, Action.RECORD_OBJECTION, verb="objection_withdraw", resource_type=OBJECTION
    )
    row = _active_objection(guard, access.person.id)
    if row is None and _objected(guard, [access.person.id]):
        # told to the privacy office (the people's rights): withdrawn there, where it was recorded
        raise refused(
            409,
            ErrorCode.CONFLICT,
            "The objection to profiling was recorded by the privacy office; it is withdrawn there.",
            outcome=Outcome.DENIED,
        )
    if row is None:
        raise refused(
            409, ErrorCode.ALREADY_WITHDRAWN, "No objection to profiling is in force.", outcome=Outcome.DENIED
        )
    row.withdrawn_at = guard.now
    row.withdrawn_by_id = guard.user.id
    guard.session.flush()
    guard.scope.about(resource_id=row.id)
    guard.scope.reason = "objection to profiling withdrawn"
    return _objection_out(person_id, row, _names(guard, [row.recorded_by_id, row.withdrawn_by_id]))
