"""The versioned questionnaire: its shape, stable codes, and answer-set validation."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic_tui.domain import questionnaire as qn
from clinic_tui.domain.provenance import DomainError

Q = qn.CURRENT
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def full_answers():
    """A complete, consistent answer set: the first answer of every question that applies."""
    answers = {}
    for q in Q.questions:
        if Q.applies(q, answers):
            answers[q.id] = q.answers[0].code
    return answers


def test_identity_and_registry():
    assert (Q.id, Q.version) == ("imr-health-profile", 1)
    assert qn.get_questionnaire("imr-health-profile", 1) is Q
    assert qn.QUESTIONNAIRES[("imr-health-profile", 1)] is Q


@pytest.mark.parametrize(
    ("qid", "version"), [("imr-health-profile", 2), ("other", 1), ("imr-health-profile", "1")]
)
def test_unknown_version_is_refused_with_a_code(qid, version):
    with pytest.raises(DomainError) as exc:
        qn.get_questionnaire(qid, version)
    assert exc.value.code == "questionnaire.unknown_version"


def test_covers_every_theme_of_a_health_profile():
    assert [s.id for s in Q.sections] == [
        "physical_activity",
        "exercise",
        "sitting",
        "diet",
        "alcohol",
        "tobacco",
        "stress",
        "recovery",
        "sleep",
        "perceived_health",
        "symptoms",
    ]
    for s in Q.sections:
        assert Q.in_section(s.id), f"section {s.id} has no question"


def test_codes_are_stable_identifiers_and_unique():
    ids = [q.id for q in Q.questions]
    assert len(ids) == len(set(ids))
    sections = {s.id for s in Q.sections}
    for q in Q.questions:
        assert q.section in sections
        assert q.id.split(".")[0] == q.section, q.id
        assert all(CODE.match(part) for part in q.id.split(".")), q.id
        assert len(q.answers) >= 2
        assert len(q.codes) == len(set(q.codes)), q.id
        assert all(CODE.match(code) for code in q.codes), q.id
        assert q.label.strip() and all(a.label.strip() for a in q.answers)


def test_scored_scales_are_ordered():
    # where an answer counts in a rule, the scale is shown in increasing order of that value
    for q in Q.questions:
        values = [a.value for a in q.answers]
        if q.value_unit is not None:
            assert None not in values, q.id
            assert values == sorted(values), q.id
        else:
            assert set(values) == {None}, q.id


def test_audit_c_items_score_0_to_4():
    for qid in ("alcohol.frequency", "alcohol.typical_quantity", "alcohol.heavy_episodes"):
        assert [a.value for a in Q.question(qid).answers] == [0, 1, 2, 3, 4]


def test_questions_stay_in_their_sections_order():
    order = [s.id for s in Q.sections]
    positions = [order.index(q.section) for q in Q.questions]
    assert positions == sorted(positions)


def test_a_complete_set_is_valid():
    answers = full_answers()
    assert qn.validate_answers(answers, complete=True) == ()
    # "never" drinks: the two follow-up alcohol questions do not apply
    assert "alcohol.typical_quantity" not in answers


def test_partial_set_is_valid_unless_complete_is_asked():
    answers = {"sleep.duration": "h_7"}
    assert qn.validate_answers(answers) == ()
    missing = qn.validate_answers(answers, complete=True)
    assert {p.code for p in missing} == {"questionnaire.missing_answer"}
    assert "sleep.duration" not in {p.field for p in missing}
    # follow-ups are not missing until the frequency says they apply
    assert "alcohol.typical_quantity" not in {p.field for p in missing}
    missing = qn.validate_answers({**full_answers(), "alcohol.frequency": "weekly_2_3"}, complete=True)
    assert [p.field for p in missing] == ["alcohol.typical_quantity", "alcohol.heavy_episodes"]


def test_unknown_question_and_answer():
    problems = qn.validate_answers({"sleep.duration": "lots", "diet.candy": "daily", "tobacco.snus": 3})
    # unknown questions first, then questionnaire order (tobacco comes before sleep)
    assert [(p.field, p.code) for p in problems] == [
        ("diet.candy", "questionnaire.unknown_question"),
        ("tobacco.snus", "questionnaire.unknown_answer"),
        ("sleep.duration", "questionnaire.unknown_answer"),
    ]
    assert problems[0].params == {
        "question": "diet.candy",
        "questionnaire": "imr-health-profile",
        "version": 1,
    }
    assert all(p.message for p in problems)


def test_answer_to_a_question_that_does_not_apply_is_refused():
    problems = qn.validate_answers({"alcohol.frequency": "never", "alcohol.heavy_episodes": "monthly"})
    assert [(p.field, p.code, dict(p.params)) for p in problems] == [
        (
            "alcohol.heavy_episodes",
            "questionnaire.not_applicable",
            {
                "question": "alcohol.heavy_episodes",
                "depends_on": "alcohol.frequency",
                "depends_answer": "never",
            },
        )
    ]
    # without the frequency the follow-up does not apply either
    assert [p.code for p in qn.validate_answers({"alcohol.typical_quantity": "d_3_4"})] == [
        "questionnaire.not_applicable"
    ]


def test_lookup_errors():
    with pytest.raises(KeyError):
        Q.question("nope")
    with pytest.raises(KeyError):
        Q.question("sleep.duration").answer("h_99")
    assert Q.question("sleep.duration").answer("h_7").value == 7


@given(
    st.dictionaries(
        st.sampled_from([q.id for q in Q.questions] + ["x.y"]),
        st.one_of(st.sampled_from(sorted({c for q in Q.questions for c in q.codes})), st.integers()),
    )
)
def test_validation_accepts_exactly_the_consistent_sets(answers):
    problems = qn.validate_answers(answers)
    consistent = all(
        qid in {q.id for q in Q.questions}
        and isinstance(code, str)
        and code in Q.question(qid).codes
        and Q.applies(Q.question(qid), answers)
        for qid, code in answers.items()
    )
    assert (problems == ()) == consistent
