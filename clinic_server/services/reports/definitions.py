"""The employer report's predefined tables, and who counts in each.

An analyst asks for one employer and one period (a calendar year); everything else is fixed here:
no free filters, no ad-hoc breakdowns (a filter chosen per request is how differencing attacks
are built). One report holds:

| table | rows | broken down by | counts only people whose consent to IMR covers |
|---|---|---|---|
| ``participation`` | sex | age band | (nobody's health data: that someone took part) |
| ``fitness_category`` | Åstrand category | sex | fitness_tests |
| ``bmi_category`` | WHO BMI class | sex | vitals |
| ``waist_category`` | WHO/IDF waist risk | sex | vitals |
| ``bp_grade`` | ESC/ESH 2018 category | sex | vitals |
| ``lifestyle.<question>`` | the answers | sex | questionnaires |
| ``vo2max`` | mean VO2max, mL/kg/min | sex and age band | fitness_tests |

The codes are those of ``clinic_tui/domain/classification.py`` and ``questionnaire.py``; each
table names the rule (id and version) its values come from. Distributions are broken down by sex
only: crossing them with age bands as well would publish a three-way table through two linked
two-way margins, whose integer bounds are not those of its linear relaxation (Hundepool et al.,
*Statistical Disclosure Control*, Wiley 2012, ch. 4-5 on linked tables), so the engine could not
audit it exactly; age appears where it matters for an employer, in who took part and in fitness.

Questions asked only after a certain answer to another (how much someone drinks, asked only of
those who drink) are left out: who answered them is itself an answer, so their totals would let a
reader subtract across tables (docs/reports.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from clinic_tui.domain import classification as cls
from clinic_tui.domain.categories import Category
from clinic_tui.domain.fitness import Sex
from clinic_tui.domain.provenance import Rule
from clinic_tui.domain.questionnaire import CURRENT, Questionnaire

__all__ = [
    "AGE_BANDS",
    "EMPLOYER_REPORT",
    "REPORT_RULE",
    "SEXES",
    "Member",
    "Participant",
    "ReportDefinition",
    "ReportInputError",
    "TableDef",
    "TableKind",
    "Tabulation",
    "age_band",
    "tabulate",
]

REPORT_RULE = Rule(
    "imr-employer-report",
    1,
    "IMR privacy policy (employer receives only an aggregated result, anonymized and not traceable "
    "to any person); tables as in this module; disclosure control as in disclosure.py",
)

SEXES: tuple[str, ...] = (Sex.FEMALE, Sex.MALE)
#: ten-year bands, the boundaries of Åstrand's fitness table from 30 up; adults only (a person under
#: 18 is never processed), and one band from 60 (few employees are older, and a band of one or
#: two people would be suppressed anyway)
AGE_BANDS: tuple[str, ...] = ("18-29", "30-39", "40-49", "50-59", "60+")


def age_band(age_years: int) -> str:
    """The report's age band for an age in whole years (18 or more)."""
    if isinstance(age_years, bool) or not isinstance(age_years, int) or age_years < 18:
        raise ReportInputError(f"an age band needs a whole age of 18 or more, not {age_years!r}")
    if age_years < 30:
        return AGE_BANDS[0]
    return AGE_BANDS[min((age_years - 30) // 10 + 1, len(AGE_BANDS) - 1)]


class ReportInputError(ValueError):
    """A participant record the report cannot use (a code outside the table, a missing sex...)."""


@dataclass(frozen=True)
class Participant:
    """One person's contribution to one period's report: their latest meeting in the period.

    ``consented`` are the health categories their consent to IMR covers when the report is made;
    a table counts the person only if it covers the table's category. Values are the codes the
    classification rules gave (None: not measured, or not classifiable)."""

    person_id: str
    sex: str
    age_band: str
    consented: frozenset[Category] = frozenset()
    fitness_category: str | None = None
    vo2max_ml_kg_min: float | None = None
    bmi_category: str | None = None
    waist_category: str | None = None
    bp_grade: str | None = None
    #: question id -> answer code (questionnaire ``EMPLOYER_REPORT.questionnaire``)
    answers: Mapping[str, str] = field(default_factory=dict)


class TableKind(StrEnum):
    #: how many took part: sex x age band counts
    PARTICIPATION = "participation"
    #: counts per category code, by sex
    DISTRIBUTION = "distribution"
    #: means by sex and age band
    MEAN = "mean"


@dataclass(frozen=True)
class TableDef:
    id: str
    kind: TableKind
    label: str
    #: the consent category that must be covered for a person to count (None: participation)
    consent: Category | None
    #: (code, label) of each row of a distribution, in order
    rows: tuple[tuple[str, str], ...] = ()
    #: the rule the values come from, "id vN"
    source: str = ""
    unit: str | None = None
    #: a participant's value for this table, or None (not in the table)
    value: Callable[[Participant], object] | None = None
    #: a note the employer should read with the table (e.g. one reading is not a diagnosis)
    note: str | None = None

    @property
    def row_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.rows)


def _rule(rule: Rule) -> str:
    return f"{rule.id} v{rule.version}"


FITNESS_LABELS = ("Low", "Fairly low", "Average", "High", "Very high")
BMI_LABELS = (
    "Underweight (below 18.5)",
    "Normal weight (18.5-24.9)",
    "Overweight (25-29.9)",
    "Obesity class I (30-34.9)",
    "Obesity class II (35-39.9)",
    "Obesity class III (40 or more)",
)
WAIST_LABELS = ("Not increased", "Increased", "Substantially increased")
BP_LABELS = (
    "Optimal",
    "Normal",
    "High normal",
    "Grade 1 hypertension",
    "Grade 2 hypertension",
    "Grade 3 hypertension",
)


def _lifestyle_tables(questionnaire: Questionnaire) -> tuple[TableDef, ...]:
    tables = []
    for q in questionnaire.questions:
        if q.only_if is not None:
            continue
        tables.append(
            TableDef(
                id=f"lifestyle.{q.id}",
                kind=TableKind.DISTRIBUTION,
                label=q.label,
                consent=Category.QUESTIONNAIRES,
                rows=tuple((a.code, a.label) for a in q.answers),
                source=f"{questionnaire.id} v{questionnaire.version}",
                value=lambda p, qid=q.id: p.answers.get(qid),
            )
        )
    return tuple(tables)


@dataclass(frozen=True)
class ReportDefinition:
    rule: Rule
    questionnaire: Questionnaire
    tables: tuple[TableDef, ...]
    sexes: tuple[str, ...] = SEXES
    age_bands: tuple[str, ...] = AGE_BANDS

    def table(self, table_id: str) -> TableDef:
        for t in self.tables:
            if t.id == table_id:
                return t
        raise KeyError(table_id)


EMPLOYER_REPORT = ReportDefinition(
    rule=REPORT_RULE,
    questionnaire=CURRENT,
    tables=(
        TableDef("participation", TableKind.PARTICIPATION, "Participants", None),
        TableDef(
            "fitness_category",
            TableKind.DISTRIBUTION,
            "Fitness (maximal oxygen uptake for sex and age)",
            Category.FITNESS_TESTS,
            rows=tuple(zip(cls.FITNESS_CATEGORIES, FITNESS_LABELS, strict=True)),
            source=_rule(cls.FITNESS_CATEGORY),
            value=lambda p: p.fitness_category,
        ),
        TableDef(
            "bmi_category",
            TableKind.DISTRIBUTION,
            "Body mass index",
            Category.VITALS,
            rows=tuple(zip((c for c, _ in cls.BMI_CUTOFFS), BMI_LABELS, strict=True)),
            source=_rule(cls.BMI_CATEGORY),
            value=lambda p: p.bmi_category,
        ),
        TableDef(
            "waist_category",
            TableKind.DISTRIBUTION,
            "Waist circumference (risk)",
            Category.VITALS,
            rows=tuple(
                zip(("not_increased", "increased", "substantially_increased"), WAIST_LABELS, strict=True)
            ),
            source=_rule(cls.WAIST_CATEGORY),
            value=lambda p: p.waist_category,
        ),
        TableDef(
            "bp_grade",
            TableKind.DISTRIBUTION,
            "Resting blood pressure",
            Category.VITALS,
            rows=tuple(zip(cls.BP_CATEGORIES, BP_LABELS, strict=True)),
            source=_rule(cls.BP_GRADE),
            value=lambda p: p.bp_grade,
            note="One resting reading at a meeting: a screening value, not a diagnosis of hypertension.",
        ),
        *_lifestyle_tables(CURRENT),
        TableDef(
            "vo2max",
            TableKind.MEAN,
            "Maximal oxygen uptake, mean",
            Category.FITNESS_TESTS,
            source="ekblom-bak-2016 v1 / astrand-ryhming v1 (relative-vo2max)",
            unit="mL/kg/min",
            value=lambda p: p.vo2max_ml_kg_min,
        ),
    ),
)


@dataclass(frozen=True)
class Member:
    """A person as one table sees them: the groups they fall in and their value."""

    sex: str
    age_band: str
    value: str | float | None


@dataclass(frozen=True)
class Tabulation:
    """Who counts in each table, and with what: table id -> person id -> member."""

    definition: ReportDefinition
    members: Mapping[str, Mapping[str, Member]]


_CATEGORIES = frozenset(Category)


def _check(definition: ReportDefinition, p: Participant) -> None:
    if not isinstance(p.person_id, str) or not p.person_id:
        raise ReportInputError("a participant needs a person id")
    if p.sex not in definition.sexes:
        raise ReportInputError(f"participant {p.person_id}: sex {p.sex!r} is not one of {definition.sexes}")
    if p.age_band not in definition.age_bands:
        raise ReportInputError(
            f"participant {p.person_id}: age band {p.age_band!r} is not one of {definition.age_bands}"
        )
    unknown = set(p.consented) - _CATEGORIES
    if unknown:
        raise ReportInputError(f"participant {p.person_id}: unknown consent categories {sorted(unknown)}")


def tabulate(definition: ReportDefinition, participants: Sequence[Participant]) -> Tabulation:
    """Each table's members: participation counts everyone who took part; every other table only
    those whose consent covers its category and who have a value for it."""
    seen: set[str] = set()
    members: dict[str, dict[str, Member]] = {t.id: {} for t in definition.tables}
    rows = {t.id: frozenset(t.row_codes) for t in definition.tables}
    for p in participants:
        _check(definition, p)
        if p.person_id in seen:
            raise ReportInputError(
                f"participant {p.person_id} appears twice: one record per person and period"
            )
        seen.add(p.person_id)
        for t in definition.tables:
            if t.kind is TableKind.PARTICIPATION:
                members[t.id][p.person_id] = Member(p.sex, p.age_band, None)
                continue
            if t.consent not in p.consented or t.value is None:
                continue
            value = t.value(p)
            if value is None:
                continue
            if t.kind is TableKind.DISTRIBUTION and value not in rows[t.id]:
                raise ReportInputError(f"participant {p.person_id}: {value!r} is not a row of {t.id}")
            if t.kind is TableKind.MEAN and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ReportInputError(
                    f"participant {p.person_id}: {t.id} value {value!r} is not a positive number"
                )
            members[t.id][p.person_id] = Member(p.sex, p.age_band, value)
    return Tabulation(definition, members)
