"""What the coach's screens call the meeting vocabulary, in the user's language.

The server and ``clinic_tui.domain`` send codes and params, never sentences (problem codes of
``provenance.MESSAGES``, conclusion codes and values, explanation keys of
``profiling.EXPLANATION_KEYS``); this module words them through gettext. A code it has no text
for (a newer server's) is shown as it came, with its params, rather than dropped.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from clinic_tui.i18n import N_, _, language

#: a field path (or a domain field name) as a label beside a value or in a sentence
FIELD = {
    "held_on": N_("date"),
    "kind": N_("kind"),
    "height_cm": N_("height"),
    "weight_kg": N_("weight"),
    "waist_cm": N_("waist"),
    "systolic": N_("systolic"),
    "diastolic": N_("diastolic"),
    "heart_rate": N_("heart rate"),
    "watts_low": N_("low stage watts"),
    "hr_low": N_("low stage heart rate"),
    "watts_high": N_("high stage watts"),
    "hr_high": N_("high stage heart rate"),
    "watts": N_("watts"),
    "hr": N_("heart rate"),
    "sex": N_("sex"),
    "age": N_("age"),
    "notes": N_("notes"),
}

#: problem and notice codes (``provenance.MESSAGES``), worded for the screen
PROBLEM = {
    "value.missing": N_("{field} is missing"),
    "value.not_a_number": N_("{field} must be a number"),
    "value.out_of_range": N_("{value} {unit} is outside {min}–{max} {unit}"),
    "value.unknown_code": N_("{value} is not one of the allowed answers"),
    "fitness.age_outside_equation": N_("age {value} is outside the equation's range {min}–{max} years"),
    "fitness.hr_high_below_minimum": N_("{value}/min on the work stage is under {min}/min: not a valid test"),
    "fitness.hr_high_not_above_low": N_("must be above the low stage's {hr_low}/min"),
    "fitness.work_rate_not_increasing": N_("must be above the low stage's {watts_low} W"),
    "astrand.age_factor_end_value": N_(
        "age {age} is outside Åstrand's 15–65 table: the factor for age {end_age} was used"
    ),
    "ekblom_bak.nonstandard_low_work_rate": N_(
        "{watts_low} W is not the standard low stage (about {standard} W)"
    ),
    "ekblom_bak.outside_validated_fitness": N_(
        "{vo2max_ml_kg_min} mL/kg/min is outside the validated {min}–{max} mL/kg/min"
    ),
    "classification.age_outside_reference": N_("age {age} is outside the reference table's age bands"),
    "bp.diastolic_not_below_systolic": N_("diastolic must be below systolic ({systolic})"),
    "questionnaire.unknown_question": N_("not a question of this questionnaire"),
    "questionnaire.unknown_answer": N_("not an answer to this question"),
    "questionnaire.missing_answer": N_("not answered"),
    "questionnaire.not_applicable": N_("does not apply with the answer given before it"),
    "questionnaire.unknown_version": N_("questionnaire {questionnaire} v{version} does not exist"),
    "meeting.date_in_future": N_("{value} is after today"),
    "meeting.date_before_birth": N_("{value} is before the participant was born"),
    "meeting.empty": N_("Record at least one of measurements, questionnaire, fitness test or notes."),
    "meeting.weight_differs": N_(
        "{weight_kg} kg is not the measured weight ({measured} kg): leave it empty to use that one"
    ),
    "correction.unknown_field": N_("{field} cannot be corrected"),
    "correction.no_such_part": N_("the meeting has no {part} to correct"),
    "correction.no_change": N_("already {value}: nothing to correct"),
    "correction.repeated_field": N_("corrected twice in one correction"),
}

CONCLUSION = {
    "fitness.category": N_("Fitness (VO2max)"),
    "bmi.category": N_("BMI"),
    "waist.category": N_("Waist"),
    "bp.grade": N_("Blood pressure"),
    "lifestyle.insufficient_activity": N_("Physical activity"),
    "lifestyle.prolonged_sitting": N_("Sitting"),
    "lifestyle.low_fruit_vegetables": N_("Fruit and vegetables"),
    "lifestyle.low_fish": N_("Fish"),
    "lifestyle.risky_alcohol": N_("Alcohol (AUDIT-C)"),
    "lifestyle.tobacco_use": N_("Tobacco"),
    "lifestyle.high_stress": N_("Stress"),
    "lifestyle.poor_recovery": N_("Recovery"),
    "lifestyle.short_sleep": N_("Sleep duration"),
    "lifestyle.poor_sleep_quality": N_("Sleep quality"),
    "lifestyle.poor_self_rated_health": N_("Self-rated health"),
    "lifestyle.frequent_symptoms": N_("Symptoms"),
}

VALUE = {
    None: N_("not assessed"),
    "flagged": N_("flagged"),
    "not_flagged": N_("not flagged"),
    "low": N_("low"),
    "fairly_low": N_("fairly low"),
    "average": N_("average"),
    "high": N_("high"),
    "very_high": N_("very high"),
    "underweight": N_("underweight"),
    "normal": N_("normal"),
    "overweight": N_("overweight"),
    "obesity_class_1": N_("obesity class 1"),
    "obesity_class_2": N_("obesity class 2"),
    "obesity_class_3": N_("obesity class 3"),
    "not_increased": N_("not increased"),
    "increased": N_("increased"),
    "substantially_increased": N_("substantially increased"),
    "optimal": N_("optimal"),
    "high_normal": N_("high normal"),
    "grade_1": N_("grade 1"),
    "grade_2": N_("grade 2"),
    "grade_3": N_("grade 3"),
}

#: explanation keys (``profiling.EXPLANATION_KEYS``): one line naming the inputs
EXPLANATION = {
    "missing_inputs": N_("{missing} missing"),
    "input_not_usable": N_("{field} not usable ({reason})"),
    "questionnaire_not_supported": N_("questionnaire {questionnaire} v{version} not supported"),
    "fitness_category_from_vo2max": N_(
        "{vo2max_ml_kg_min} mL/kg/min ({vo2max_l_min} L/min, {weight_kg} kg; {equation} v{equation_version}) "
        "for {sex}, age {age} (band {age_band})"
    ),
    "bmi_from_weight_height": N_("BMI {bmi} from {weight_kg} kg and {height_cm} cm"),
    "waist_by_sex": N_("waist {waist_cm} cm for {sex}"),
    "bp_from_reading": N_("{systolic}/{diastolic} mm[Hg]"),
    "activity_minutes": N_("{weighted_minutes} weighted minutes a week (at least {threshold})"),
    "sitting_hours": N_("sitting {sitting} a day (flagged from {threshold_hours} h)"),
    "fruit_vegetable_times": N_("{times_per_day} times a day (at least {threshold})"),
    "fish_times": N_("fish {fish} (at least {threshold_per_week} a week)"),
    "audit_c_score": N_("AUDIT-C {score} points (risk from {threshold} for {sex})"),
    "tobacco_answers": N_("smoking: {smoking}; snus: {snus}"),
    "stress_answer": N_("stress: {stress}"),
    "recovery_answer": N_("rested: {rested}"),
    "sleep_hours": N_("sleep {sleep_duration} (at least {threshold_hours} h)"),
    "sleep_quality_answer": N_("sleep quality: {sleep_quality}"),
    "self_rated_health_answer": N_("self-rated health: {self_rated}"),
    "symptom_answers": N_("{count} frequent symptoms: {frequent}"),
}

STATUS = {
    "assessed": N_("assessed"),
    "objected": N_("objected: the participant objects to profiling, so no automated assessment"),
    "not_consented": N_("not consented: the participant's consent does not cover profiling"),
}

#: the assessment's status in a table cell
STATUS_SHORT = {"assessed": N_("assessed"), "objected": N_("objected"), "not_consented": N_("not consented")}

KIND = {"first": N_("first meeting"), "follow_up": N_("follow-up")}


def _fill(template: str, params: Mapping[str, object]) -> str | None:
    names = {n for _t, n, _s, _c in string.Formatter().parse(template) if n}
    if not names <= {k for k, v in params.items() if v is not None}:
        return None
    return template.format(**{k: _show(v) for k, v in params.items()})


def num(value: float | int, decimals: int | None = None) -> str:
    """A number as the user's language writes it (a decimal comma in Swedish)."""
    text = f"{value:.{decimals}f}" if decimals is not None else f"{value:g}"
    return text.replace(".", ",") if language() == "sv" else text


def _show(value: object) -> str:
    if isinstance(value, float):
        return num(value)
    return str(value)


def _raw(code: str, params: Mapping[str, object]) -> str:
    shown = ", ".join(f"{k}={_show(v)}" for k, v in params.items() if v is not None)
    return f"{code} ({shown})" if shown else code


def field_label(path: str | None) -> str:
    """``measurements.weight_kg`` -> "weight"; a questionnaire question keeps its id."""
    if not path:
        return ""
    name = path.rsplit(".", 1)[-1] if path.split(".", 1)[0] in ("measurements", "fitness_test") else path
    word = FIELD.get(name)
    return _(word) if word is not None else name


def problem(code: str, params: Mapping[str, object], field: str | None = None) -> str:
    """One problem or notice, worded (the field named where the sentence needs it)."""
    values = {**params, "field": field_label(field or str(params.get("field") or ""))}
    template = PROBLEM.get(code)
    text = _fill(_(template), values) if template is not None else None
    return text if text is not None else _raw(code, params)


def conclusion(code: str) -> str:
    word = CONCLUSION.get(code)
    return _(word) if word is not None else code


def value(code: str | None) -> str:
    word = VALUE.get(code)
    return _(word) if word is not None else str(code)


def _answer_labels() -> dict[str, str]:
    from clinic_tui.domain.questionnaire import QUESTIONNAIRES

    return {
        a.code: a.label for q in QUESTIONNAIRES.values() for question in q.questions for a in question.answers
    }


def _inline(label: str) -> str:
    """An answer's label inside a sentence: "More than 10 hours" reads "more than 10 hours" there
    (a label that starts with an acronym or a number stays as it is)."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def explanation(key: str, params: Mapping[str, object]) -> str:
    """One conclusion's explanation; answer codes among its params read as the answers' labels."""
    answers = _answer_labels()
    params = {
        k: _inline(_(answers[v])) if isinstance(v, str) and v in answers else v for k, v in params.items()
    }
    for name in ("missing", "field"):
        if isinstance(params.get(name), str):
            params[name] = ", ".join(field_label(f.strip()) for f in params[name].split(","))
    template = EXPLANATION.get(key)
    text = _fill(_(template), params) if template is not None else None
    return text if text is not None else _raw(key, params)


def status(code: str) -> str:
    word = STATUS.get(code)
    return _(word) if word is not None else code


def status_short(code: str) -> str:
    word = STATUS_SHORT.get(code)
    return _(word) if word is not None else code


def kind(code: str) -> str:
    word = KIND.get(code)
    return _(word) if word is not None else code
