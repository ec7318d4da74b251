"""The health-profile questionnaire: versioned questions, each with a defined answer scale.

In the style of a Swedish health-profile assessment (physical activity, exercise, sitting, diet,
alcohol, tobacco, stress, recovery, sleep, perceived health, symptoms). Every question and answer
has a stable code; the English ``label`` is the gettext msgid the client translates (marked with
``N_`` so ``pybabel extract -k N_`` finds it). Answers are stored as codes, never as labels.

A published version never changes: a new or reworded question, a new answer, or a changed order
is a new version, added beside the old one in ``QUESTIONNAIRES`` so earlier meetings stay readable.
Where the items come from (AUDIT-C, the single-item stress measure, Socialstyrelsen's and
Folkhälsomyndigheten's indicator questions) is in docs/fitness.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from clinic_tui.domain.provenance import DomainError, Problem

__all__ = [
    "CURRENT",
    "HEALTH_PROFILE_V1",
    "QUESTIONNAIRES",
    "Answer",
    "Question",
    "Questionnaire",
    "Section",
    "N_",
    "get_questionnaire",
    "validate_answers",
]


def N_(message: str) -> str:
    """Mark a string for translation catalogues without translating it here (domain does no I/O)."""
    return message


@dataclass(frozen=True, slots=True)
class Answer:
    code: str
    label: str
    #: what the answer counts as in a profiling rule (points, or the lowest minutes/hours/times the
    #: answer admits, per ``Question.value_unit``); None where no rule uses it
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    label: str


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    section: str
    label: str
    #: the answer scale, in the order it is shown
    answers: tuple[Answer, ...]
    #: what ``Answer.value`` means for this question, e.g. "min/week (lowest)"
    value_unit: str | None = None
    #: asked only when question ``only_if[0]`` has one of the answers ``only_if[1]``
    only_if: tuple[str, frozenset[str]] | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(a.code for a in self.answers)

    def answer(self, code: str) -> Answer:
        for a in self.answers:
            if a.code == code:
                return a
        raise KeyError(f"{code!r} is not an answer to {self.id}")


@dataclass(frozen=True, slots=True)
class Questionnaire:
    id: str
    version: int
    label: str
    sections: tuple[Section, ...]
    questions: tuple[Question, ...]

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"{question_id!r} is not a question of {self.id} v{self.version}")

    def in_section(self, section_id: str) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.section == section_id)

    def applies(self, question: Question, answers: Mapping[str, object]) -> bool:
        """Whether ``question`` is asked, given the other answers."""
        if question.only_if is None:
            return True
        depends_on, when = question.only_if
        return answers.get(depends_on) in when


# --- answer scales used by several questions ------------------------------------------------------

_WEEKLY_TIMES = (
    Answer("lt_weekly", N_("Less than once a week"), 0),
    Answer("weekly_1_6", N_("1–6 times a week"), 1 / 7),
    Answer("daily_1", N_("Once a day"), 1),
    Answer("daily_2", N_("Twice a day"), 2),
    Answer("daily_3", N_("3 times a day"), 3),
    Answer("daily_4_plus", N_("4 times a day or more"), 4),
)
_TOBACCO = (
    Answer("never", N_("No, never")),
    Answer("quit_6_months_plus", N_("No, I stopped more than 6 months ago")),
    Answer("quit_lt_6_months", N_("No, I stopped within the last 6 months")),
    Answer("occasionally", N_("Yes, now and then")),
    Answer("daily", N_("Yes, daily")),
)
_SYMPTOM_FREQUENCY = (
    Answer("never", N_("Never")),
    Answer("rarely", N_("Rarely")),
    Answer("monthly", N_("About once a month")),
    Answer("weekly", N_("About once a week")),
    Answer("daily", N_("Almost every day")),
)
_FIVE_FROM_VERY_GOOD = (
    Answer("very_good", N_("Very good")),
    Answer("good", N_("Good")),
    Answer("fair", N_("Fair")),
    Answer("poor", N_("Poor")),
    Answer("very_poor", N_("Very poor")),
)
_DRINKS_ANSWERED = frozenset({"monthly_or_less", "monthly_2_4", "weekly_2_3", "weekly_4_plus"})


def _symptom(code: str, label: str) -> Question:
    return Question(f"symptoms.{code}", "symptoms", label, _SYMPTOM_FREQUENCY)


HEALTH_PROFILE_V1 = Questionnaire(
    id="imr-health-profile",
    version=1,
    label=N_("Health profile"),
    sections=(
        Section("physical_activity", N_("Physical activity")),
        Section("exercise", N_("Exercise")),
        Section("sitting", N_("Sitting")),
        Section("diet", N_("Diet")),
        Section("alcohol", N_("Alcohol")),
        Section("tobacco", N_("Tobacco")),
        Section("stress", N_("Stress")),
        Section("recovery", N_("Recovery")),
        Section("sleep", N_("Sleep")),
        Section("perceived_health", N_("Perceived health")),
        Section("symptoms", N_("Symptoms")),
    ),
    questions=(
        Question(
            "physical_activity.everyday",
            "physical_activity",
            N_(
                "In a normal week, how much time do you spend on everyday activity such as walking, "
                "cycling or gardening? Count every period of at least 10 minutes."
            ),
            (
                Answer("none", N_("No time"), 0),
                Answer("min_1_29", N_("Less than 30 minutes"), 1),
                Answer("min_30_59", N_("30–59 minutes"), 30),
                Answer("min_60_89", N_("60–89 minutes"), 60),
                Answer("min_90_149", N_("90–149 minutes (1½–2½ hours)"), 90),
                Answer("min_150_299", N_("150–299 minutes (2½–5 hours)"), 150),
                Answer("min_300_plus", N_("300 minutes (5 hours) or more"), 300),
            ),
            value_unit="min/week (lowest)",
        ),
        Question(
            "exercise.vigorous",
            "exercise",
            N_(
                "In a normal week, how much time do you spend on exercise that leaves you out of "
                "breath, such as running, fitness classes or ball games?"
            ),
            (
                Answer("none", N_("No time"), 0),
                Answer("min_1_29", N_("Less than 30 minutes"), 1),
                Answer("min_30_59", N_("30–59 minutes"), 30),
                Answer("min_60_89", N_("60–89 minutes"), 60),
                Answer("min_90_119", N_("90–119 minutes"), 90),
                Answer("min_120_plus", N_("120 minutes (2 hours) or more"), 120),
            ),
            value_unit="min/week (lowest)",
        ),
        Question(
            "sitting.daily",
            "sitting",
            N_(
                "On a normal day, how many hours do you spend sitting, at work, travelling and at "
                "home? Do not count sleep."
            ),
            (
                Answer("h_0_3", N_("Less than 4 hours"), 0),
                Answer("h_4_5", N_("4–5 hours"), 4),
                Answer("h_6_7", N_("6–7 hours"), 6),
                Answer("h_8_10", N_("8–10 hours"), 8),
                Answer("h_11_plus", N_("More than 10 hours"), 11),
            ),
            value_unit="h/day (lowest)",
        ),
        Question(
            "diet.vegetables",
            "diet",
            N_("How often do you eat vegetables or root vegetables (fresh, frozen or cooked)?"),
            _WEEKLY_TIMES,
            value_unit="times/day (lowest)",
        ),
        Question(
            "diet.fruit",
            "diet",
            N_("How often do you eat fruit or berries?"),
            _WEEKLY_TIMES,
            value_unit="times/day (lowest)",
        ),
        Question(
            "diet.fish",
            "diet",
            N_("How often do you eat fish or shellfish as a main course?"),
            (
                Answer("lt_monthly", N_("Less than once a month"), 0),
                Answer("monthly_1_3", N_("1–3 times a month"), 0.25),
                Answer("weekly_1", N_("Once a week"), 1),
                Answer("weekly_2_plus", N_("Twice a week or more"), 2),
            ),
            value_unit="times/week (lowest)",
        ),
        Question(
            "diet.sweets",
            "diet",
            N_("How often do you have sweets, cakes, biscuits or sugary drinks?"),
            (
                Answer("lt_weekly", N_("Less than once a week")),
                Answer("weekly_1_2", N_("1–2 times a week")),
                Answer("weekly_3_6", N_("3–6 times a week")),
                Answer("daily_1", N_("Once a day")),
                Answer("daily_2_plus", N_("Twice a day or more")),
            ),
        ),
        Question(
            "alcohol.frequency",
            "alcohol",
            N_("How often do you have a drink containing alcohol?"),
            (
                Answer("never", N_("Never"), 0),
                Answer("monthly_or_less", N_("Monthly or less"), 1),
                Answer("monthly_2_4", N_("2–4 times a month"), 2),
                Answer("weekly_2_3", N_("2–3 times a week"), 3),
                Answer("weekly_4_plus", N_("4 or more times a week"), 4),
            ),
            value_unit="AUDIT-C points",
        ),
        Question(
            "alcohol.typical_quantity",
            "alcohol",
            N_(
                "How many standard drinks do you have on a typical day when you drink? One standard "
                "drink is 12 g of alcohol: 33 cl strong beer, 12–15 cl wine or 4 cl spirits."
            ),
            (
                Answer("d_1_2", N_("1–2"), 0),
                Answer("d_3_4", N_("3–4"), 1),
                Answer("d_5_6", N_("5–6"), 2),
                Answer("d_7_9", N_("7–9"), 3),
                Answer("d_10_plus", N_("10 or more"), 4),
            ),
            value_unit="AUDIT-C points",
            only_if=("alcohol.frequency", _DRINKS_ANSWERED),
        ),
        Question(
            "alcohol.heavy_episodes",
            "alcohol",
            N_("How often do you have six or more standard drinks on one occasion?"),
            (
                Answer("never", N_("Never"), 0),
                Answer("lt_monthly", N_("Less than monthly"), 1),
                Answer("monthly", N_("Monthly"), 2),
                Answer("weekly", N_("Weekly"), 3),
                Answer("daily", N_("Daily or almost daily"), 4),
            ),
            value_unit="AUDIT-C points",
            only_if=("alcohol.frequency", _DRINKS_ANSWERED),
        ),
        Question("tobacco.smoking", "tobacco", N_("Do you smoke?"), _TOBACCO),
        Question("tobacco.snus", "tobacco", N_("Do you use snus?"), _TOBACCO),
        Question(
            "stress.current",
            "stress",
            N_(
                "Stress means feeling tense, restless, nervous or anxious, or being unable to sleep "
                "because your mind is troubled all the time. Do you feel this kind of stress these days?"
            ),
            (
                Answer("not_at_all", N_("Not at all")),
                Answer("only_a_little", N_("Only a little")),
                Answer("to_some_extent", N_("To some extent")),
                Answer("rather_much", N_("Rather much")),
                Answer("very_much", N_("Very much")),
            ),
        ),
        Question(
            "recovery.rested",
            "recovery",
            N_("How often do you feel rested and recovered when a working day begins?"),
            (
                Answer("always", N_("Always or almost always")),
                Answer("often", N_("Often")),
                Answer("sometimes", N_("Sometimes")),
                Answer("seldom", N_("Seldom")),
                Answer("never", N_("Never or almost never")),
            ),
        ),
        Question(
            "sleep.duration",
            "sleep",
            N_("On a normal night, how many hours do you sleep?"),
            (
                Answer("h_lt_5", N_("Less than 5 hours"), 0),
                Answer("h_5", N_("5 to 6 hours"), 5),
                Answer("h_6", N_("6 to 7 hours"), 6),
                Answer("h_7", N_("7 to 8 hours"), 7),
                Answer("h_8", N_("8 to 9 hours"), 8),
                Answer("h_9_plus", N_("9 hours or more"), 9),
            ),
            value_unit="h/night (lowest)",
        ),
        Question(
            "sleep.quality",
            "sleep",
            N_("How would you rate your sleep during the last month?"),
            _FIVE_FROM_VERY_GOOD,
        ),
        Question(
            "perceived_health.self_rated",
            "perceived_health",
            N_("How do you rate your general state of health?"),
            _FIVE_FROM_VERY_GOOD,
        ),
        _symptom(
            "neck_shoulders",
            N_("During the last 3 months, how often have you had pain in the neck or shoulders?"),
        ),
        _symptom("back", N_("During the last 3 months, how often have you had pain in the back or hips?")),
        _symptom("headache", N_("During the last 3 months, how often have you had a headache?")),
        _symptom("fatigue", N_("During the last 3 months, how often have you felt tired during the day?")),
        _symptom("stomach", N_("During the last 3 months, how often have you had stomach problems?")),
    ),
)

#: every published version, by (id, version); never remove or change one
QUESTIONNAIRES: dict[tuple[str, int], Questionnaire] = {
    (HEALTH_PROFILE_V1.id, HEALTH_PROFILE_V1.version): HEALTH_PROFILE_V1
}
#: the version a new meeting uses
CURRENT = HEALTH_PROFILE_V1


def get_questionnaire(questionnaire_id: str, version: int) -> Questionnaire:
    try:
        return QUESTIONNAIRES[(questionnaire_id, version)]
    except (KeyError, TypeError):
        raise DomainError(
            [
                Problem(
                    None,
                    "questionnaire.unknown_version",
                    {"questionnaire": str(questionnaire_id), "version": str(version)},
                )
            ]
        ) from None


def validate_answers(
    answers: Mapping[str, object], questionnaire: Questionnaire = CURRENT, *, complete: bool = False
) -> tuple[Problem, ...]:
    """Every problem with an answer set (question id -> answer code): unknown questions first, then
    the rest in questionnaire order.

    Unanswered questions are allowed (a meeting may skip some; the profile then says "not
    assessed") unless ``complete``. A question that does not apply (e.g. how much someone drinks
    who never drinks) must stay unanswered."""
    problems: list[Problem] = []
    known = {q.id for q in questionnaire.questions}
    for qid in answers:
        if qid not in known:
            problems.append(
                Problem(
                    str(qid),
                    "questionnaire.unknown_question",
                    {
                        "question": str(qid),
                        "questionnaire": questionnaire.id,
                        "version": questionnaire.version,
                    },
                )
            )
    for q in questionnaire.questions:
        given = answers.get(q.id)
        applies = questionnaire.applies(q, answers)
        if given is None:
            if complete and applies:
                problems.append(Problem(q.id, "questionnaire.missing_answer", {"question": q.id}))
            continue
        if not isinstance(given, str) or given not in q.codes:
            problems.append(
                Problem(q.id, "questionnaire.unknown_answer", {"question": q.id, "answer": str(given)})
            )
        elif not applies:
            depends_on = q.only_if[0] if q.only_if else ""
            problems.append(
                Problem(
                    q.id,
                    "questionnaire.not_applicable",
                    {
                        "question": q.id,
                        "depends_on": depends_on,
                        "depends_answer": str(answers.get(depends_on)),
                    },
                )
            )
    return tuple(problems)
