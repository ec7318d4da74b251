"""What every derived value carries: the rule that made it, and problems as codes, not sentences.

The coach's screens and the server never show these codes as text: the client translates each
``code`` (with its ``params``) through gettext, and the server sends them as the error body's
``code`` and ``params`` (``clinic_tui.api.schemas.ErrorBody``).  ``MESSAGES`` holds the one English
sentence per code, for logs and API consumers; it is also the list of every code this layer emits,
so the translation catalogue can be checked against it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["MESSAGES", "DomainError", "Notice", "Param", "Problem", "Rule"]

#: a parameter of a problem or explanation: a scalar the client may put into its own text
Param = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Rule:
    """An equation or classification rule: stable id, version (bumped on any change), source."""

    id: str
    version: int
    source: str


#: code -> English sentence (str.format with the params); every problem and notice code is here
MESSAGES: dict[str, str] = {
    # single values
    "value.missing": "{field} is missing",
    "value.not_a_number": "{field} must be a finite number",
    "value.out_of_range": "{field} {value} {unit} is outside what this allows: {min}–{max} {unit}",
    "value.unknown_code": "{field} {value!r} is not one of the allowed codes",
    # cycle tests
    "fitness.age_outside_equation": "age {value} is outside {equation}'s validated range {min}–{max} years",
    "fitness.hr_high_below_minimum": (
        "heart rate on the work stage {value}/min is under {min}/min: the test is not valid"
    ),
    "fitness.hr_high_not_above_low": "hr_high {hr_high}/min must be above hr_low {hr_low}/min",
    "fitness.work_rate_not_increasing": (
        "watts_high {watts_high} W must be above watts_low {watts_low} W (the difference must be positive)"
    ),
    "fitness.demo_target_unreachable": (
        "no plausible cycle test gives {target_vo2max_l_min} L/min for sex {sex}, age {age}"
    ),
    "astrand.age_factor_end_value": (
        "age {age} is outside Åstrand's 15–65 table: the factor for age {end_age} ({factor}) was used"
    ),
    "ekblom_bak.nonstandard_low_work_rate": (
        "low stage {watts_low} W is not the standard 0.5 kp at 60 rpm (about {standard} W)"
    ),
    "ekblom_bak.outside_validated_fitness": (
        "estimate {vo2max_ml_kg_min} mL/kg/min is outside the validated {min}–{max} mL/kg/min"
    ),
    # classifications
    "classification.age_outside_reference": (
        "age {age} is outside the reference table's age bands ({min}–{max} years for sex {sex})"
    ),
    "bp.diastolic_not_below_systolic": "diastolic {diastolic} must be below systolic {systolic} mm[Hg]",
    # questionnaire
    "questionnaire.unknown_question": "{question} is not a question of {questionnaire} v{version}",
    "questionnaire.unknown_answer": "{answer!r} is not an answer to {question}",
    "questionnaire.missing_answer": "{question} is not answered",
    "questionnaire.not_applicable": "{question} does not apply when {depends_on} is {depends_answer}",
    "questionnaire.unknown_version": "questionnaire {questionnaire} v{version} does not exist",
    # a meeting and its corrections (clinic_tui.domain.meeting)
    "meeting.date_in_future": "the meeting date {value} is after today ({today})",
    "meeting.date_before_birth": "the meeting date {value} is before the participant was born",
    "meeting.empty": "a meeting records at least one of measurements, questionnaire, fitness test or notes",
    "meeting.weight_differs": (
        "the test's weight {weight_kg} kg is not the weight measured at the meeting ({measured} kg): "
        "leave it empty to use the measured one"
    ),
    "correction.unknown_field": "{field} is not a value that can be corrected",
    "correction.no_such_part": "the meeting has no {part} to correct",
    "correction.no_change": "{field} is already {value}: nothing to correct",
    "correction.repeated_field": "{field} is corrected twice in one correction",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an input cannot be used: the field it is about (if one), a code and its params."""

    field: str | None
    code: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise ValueError(f"unknown problem code {self.code!r}: add it to MESSAGES")

    @property
    def message(self) -> str:
        """English, for logs and API consumers; the UI translates ``code`` instead."""
        return MESSAGES[self.code].format(field=self.field, **self.params)

    def as_dict(self) -> dict[str, object]:
        return {"field": self.field, "code": self.code, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning on a result that was still produced (e.g. an end value of a table was used)."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise ValueError(f"unknown notice code {self.code!r}: add it to MESSAGES")

    @property
    def message(self) -> str:
        return MESSAGES[self.code].format(**self.params)

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "params": dict(self.params)}


class DomainError(ValueError):
    """Inputs a rule cannot use. ``problems`` lists every one; ``code``/``params``/``field`` are the
    first's, so a caller that reports one error (the API's ``ErrorBody``) has them at hand."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("DomainError needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        first = self.problems[0]
        self.code = first.code
        self.field = first.field
        self.params: dict[str, Param] = dict(first.params)
        if first.field is not None:
            self.params.setdefault("field", first.field)
        super().__init__("; ".join(p.message for p in self.problems))
