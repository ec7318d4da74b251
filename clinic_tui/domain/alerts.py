"""Alert rule evaluation for remote monitoring readings.  Pure: no I/O.

Every Finding records the rule id and version plus the inputs and the
threshold that produced it, so a derived alert can always be explained.

Blood pressure arrives as two separate readings (systolic and diastolic);
each is evaluated on its own against its own limits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from clinic_tui.domain.codes import (
    LOINC_DIASTOLIC,
    LOINC_GLUCOSE,
    LOINC_HEART_RATE,
    LOINC_SPO2,
    LOINC_SYSTOLIC,
    LOINC_WEIGHT,
)

__all__ = [
    "DAILY_SENDER_MIN_DAYS",
    "RULES",
    "CHART_LINES",
    "ChartLine",
    "Finding",
    "chart_lines",
    "neutral_message",
    "project_inputs",
    "Reading",
    "RuleInfo",
    "Severity",
    "Thresholds",
    "days_with_readings_in_prior_week",
    "evaluate_missing",
    "evaluate_reading",
    "severity_rank",
]

#: A patient "normally sends daily" if they had readings on at least this
#: many of the 7 days before their last reading.
DAILY_SENDER_MIN_DAYS = 5


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


_RANK = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2}


def severity_rank(sev: Severity | str) -> int:
    """Sort key: high=0, medium=1, low=2."""
    return _RANK[Severity(sev)]


@dataclass(frozen=True, slots=True)
class Reading:
    loinc: str
    value: float
    at: datetime  # timezone-aware, UTC

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("Reading.at must be timezone-aware (UTC)")


@dataclass(frozen=True, slots=True)
class Finding:
    rule_id: str
    rule_version: int
    severity: Severity
    loinc: str | None
    value: float | None
    message: str
    inputs: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Thresholds:
    bp_grade3_sys: float = 180
    bp_grade3_dia: float = 110
    bp_grade2_sys: float = 160
    bp_grade2_dia: float = 100
    glucose_l2_low: float = 3.0
    glucose_l1_low: float = 3.9  # level 1 is 3.0–3.8, i.e. value < 3.9
    glucose_high: float = 13.9
    spo2_low_copd: float = 88
    spo2_low: float = 92
    hr_low: float = 40
    hr_high: float = 130
    hf_weight_gain_kg: float = 2.0
    hf_window_days: float = 3
    missing_days: float = 3

    def with_overrides(self, mapping: Mapping[str, Any]) -> Thresholds:
        """Return a copy with some thresholds replaced; raise ValueError naming a bad key."""
        known = {f.name for f in fields(self)}
        for key, value in mapping.items():
            if key not in known:
                raise ValueError(f"unknown threshold {key!r}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"threshold {key!r} must be a number")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"threshold {key!r} must be a positive finite number")
        new = replace(self, **dict(mapping))
        ordered = (
            ("bp_grade2_sys", "bp_grade3_sys"),
            ("bp_grade2_dia", "bp_grade3_dia"),
            ("glucose_l2_low", "glucose_l1_low"),
            ("glucose_l1_low", "glucose_high"),
            ("spo2_low_copd", "spo2_low"),
            ("hr_low", "hr_high"),
        )
        for lo, hi in ordered:
            if getattr(new, lo) > getattr(new, hi):
                bad = lo if lo in mapping else hi
                raise ValueError(
                    f"threshold {bad!r} is inconsistent: {lo} ({getattr(new, lo):g}) "
                    f"must not exceed {hi} ({getattr(new, hi):g})"
                )
        return new


class RuleInfo(NamedTuple):
    version: int
    severity: Severity
    description: str
    #: the rule only runs for people with a condition: an alert of it reveals the diagnosis, so it
    #: is data of the category ``conditions`` as much as ``vitals``
    needs_conditions: bool = False
    #: inputs (and the message) chosen by the person's conditions; withheld with ``conditions``
    condition_inputs: frozenset[str] = frozenset()


RULES: dict[str, RuleInfo] = {
    "bp.grade3": RuleInfo(1, Severity.HIGH, "Blood pressure grade 3: systolic ≥ 180 or diastolic ≥ 110 mmHg"),
    "bp.grade2": RuleInfo(
        1, Severity.MEDIUM, "Blood pressure grade 2: systolic 160–179 or diastolic 100–109 mmHg"
    ),
    "glucose.hypo.l2": RuleInfo(1, Severity.HIGH, "Level 2 hypoglycaemia: glucose < 3.0 mmol/L"),
    "glucose.hypo.l1": RuleInfo(1, Severity.MEDIUM, "Level 1 hypoglycaemia: glucose 3.0–3.8 mmol/L"),
    "glucose.hyper": RuleInfo(1, Severity.MEDIUM, "Hyperglycaemia: glucose > 13.9 mmol/L"),
    "spo2.low": RuleInfo(
        1,
        Severity.HIGH,
        "Low oxygen saturation: < 88 % with COPD, otherwise < 92 %",
        condition_inputs=frozenset({"copd", "threshold", "threshold_name"}),
    ),
    "hr.brady": RuleInfo(1, Severity.HIGH, "Bradycardia: heart rate < 40 /min"),
    "hr.tachy": RuleInfo(1, Severity.HIGH, "Tachycardia: heart rate > 130 /min"),
    "hf.weight_gain": RuleInfo(
        1, Severity.MEDIUM, "Heart failure: weight gain ≥ 2.0 kg within 3 days", needs_conditions=True
    ),
    "data.missing": RuleInfo(1, Severity.LOW, "Daily sender has sent no readings for ≥ 3 days"),
}


def _finding(rule_id: str, reading: Reading | None, message: str, inputs: dict[str, Any]) -> Finding:
    info = RULES[rule_id]
    return Finding(
        rule_id=rule_id,
        rule_version=info.version,
        severity=info.severity,
        loinc=reading.loinc if reading else None,
        value=reading.value if reading else None,
        message=message,
        inputs=inputs,
    )


def _bp(reading: Reading, t: Thresholds, *, systolic: bool) -> list[Finding]:
    v = reading.value
    name = "Systolic" if systolic else "Diastolic"
    g3 = t.bp_grade3_sys if systolic else t.bp_grade3_dia
    g2 = t.bp_grade2_sys if systolic else t.bp_grade2_dia
    field3 = "bp_grade3_sys" if systolic else "bp_grade3_dia"
    field2 = "bp_grade2_sys" if systolic else "bp_grade2_dia"
    if v >= g3:
        return [
            _finding(
                "bp.grade3",
                reading,
                f"{name} blood pressure {v:g} mmHg ≥ {g3:g} (grade 3)",
                {"value": v, "unit": "mm[Hg]", "threshold": g3, "threshold_name": field3, "comparison": ">="},
            )
        ]
    if v >= g2:
        return [
            _finding(
                "bp.grade2",
                reading,
                f"{name} blood pressure {v:g} mmHg ≥ {g2:g} (grade 2)",
                {
                    "value": v,
                    "unit": "mm[Hg]",
                    "threshold": g2,
                    "threshold_name": field2,
                    "upper_exclusive": g3,
                    "comparison": ">=",
                },
            )
        ]
    return []


def _glucose(reading: Reading, t: Thresholds) -> list[Finding]:
    v = reading.value
    if v < t.glucose_l2_low:
        return [
            _finding(
                "glucose.hypo.l2",
                reading,
                f"Glucose {v:g} mmol/L < {t.glucose_l2_low:g} (level 2 hypoglycaemia)",
                {
                    "value": v,
                    "unit": "mmol/L",
                    "threshold": t.glucose_l2_low,
                    "threshold_name": "glucose_l2_low",
                    "comparison": "<",
                },
            )
        ]
    if v < t.glucose_l1_low:
        return [
            _finding(
                "glucose.hypo.l1",
                reading,
                f"Glucose {v:g} mmol/L < {t.glucose_l1_low:g} (level 1 hypoglycaemia)",
                {
                    "value": v,
                    "unit": "mmol/L",
                    "threshold": t.glucose_l1_low,
                    "threshold_name": "glucose_l1_low",
                    "comparison": "<",
                },
            )
        ]
    if v > t.glucose_high:
        return [
            _finding(
                "glucose.hyper",
                reading,
                f"Glucose {v:g} mmol/L > {t.glucose_high:g} (hyperglycaemia)",
                {
                    "value": v,
                    "unit": "mmol/L",
                    "threshold": t.glucose_high,
                    "threshold_name": "glucose_high",
                    "comparison": ">",
                },
            )
        ]
    return []


def _spo2(reading: Reading, t: Thresholds, conditions: frozenset[str]) -> list[Finding]:
    v = reading.value
    copd = "copd" in conditions
    limit, name = (t.spo2_low_copd, "spo2_low_copd") if copd else (t.spo2_low, "spo2_low")
    if v < limit:
        return [
            _finding(
                "spo2.low",
                reading,
                f"SpO2 {v:g} % < {limit:g}" + (" (COPD limit)" if copd else ""),
                {
                    "value": v,
                    "unit": "%",
                    "threshold": limit,
                    "threshold_name": name,
                    "copd": copd,
                    "comparison": "<",
                },
            )
        ]
    return []


def _heart_rate(reading: Reading, t: Thresholds) -> list[Finding]:
    v = reading.value
    if v < t.hr_low:
        return [
            _finding(
                "hr.brady",
                reading,
                f"Heart rate {v:g} /min < {t.hr_low:g}",
                {
                    "value": v,
                    "unit": "/min",
                    "threshold": t.hr_low,
                    "threshold_name": "hr_low",
                    "comparison": "<",
                },
            )
        ]
    if v > t.hr_high:
        return [
            _finding(
                "hr.tachy",
                reading,
                f"Heart rate {v:g} /min > {t.hr_high:g}",
                {
                    "value": v,
                    "unit": "/min",
                    "threshold": t.hr_high,
                    "threshold_name": "hr_high",
                    "comparison": ">",
                },
            )
        ]
    return []


def _weight_gain(reading: Reading, t: Thresholds, recent: Sequence[Reading]) -> list[Finding]:
    window_start = reading.at - timedelta(days=t.hf_window_days)
    window = [r for r in recent if r.loinc == reading.loinc and window_start <= r.at <= reading.at]
    if not window:
        return []
    low = min(window, key=lambda r: (r.value, r.at))
    # Round away binary floating-point noise (e.g. 81.9 - 79.9) before comparing.
    gain = round(reading.value - low.value, 6)
    if gain >= t.hf_weight_gain_kg:
        return [
            _finding(
                "hf.weight_gain",
                reading,
                f"Weight up {gain:.1f} kg within {t.hf_window_days:g} days "
                f"({low.value:g} → {reading.value:g} kg)",
                {
                    "value": reading.value,
                    "unit": "kg",
                    "window_min": low.value,
                    "window_min_at": low.at.isoformat(),
                    "gain_kg": gain,
                    "window_days": t.hf_window_days,
                    "threshold": t.hf_weight_gain_kg,
                    "threshold_name": "hf_weight_gain_kg",
                    "comparison": ">=",
                },
            )
        ]
    return []


def neutral_message(rule_id: str, inputs: Mapping[str, Any], message: str) -> str:
    """The alert's message without what the person's conditions chose (for whom conditions are withheld).

    Only ``spo2.low`` words its limit by condition (COPD): it becomes "below the patient's limit".
    """
    if not RULES[rule_id].condition_inputs:
        return message
    value = inputs.get("value")
    shown = f"{value:g}" if isinstance(value, int | float) else "?"
    return f"SpO2 {shown} % below the patient's limit"


def project_inputs(rule_id: str, inputs: Mapping[str, Any], conditions_shared: bool) -> dict[str, Any]:
    """The inputs a reader may see: without the condition-derived ones unless conditions are shared."""
    if conditions_shared:
        return dict(inputs)
    hidden = RULES[rule_id].condition_inputs
    return {k: v for k, v in inputs.items() if k not in hidden}


def evaluate_reading(
    reading: Reading,
    *,
    conditions: frozenset[str],
    thresholds: Thresholds,
    recent: Sequence[Reading],
) -> list[Finding]:
    """Evaluate one new reading.

    ``recent`` holds the patient's other readings of the same LOINC code (any
    order); only the heart-failure weight-gain rule uses it.
    """
    t = thresholds
    code = reading.loinc
    if code == LOINC_SYSTOLIC:
        return _bp(reading, t, systolic=True)
    if code == LOINC_DIASTOLIC:
        return _bp(reading, t, systolic=False)
    if code == LOINC_GLUCOSE:
        return _glucose(reading, t)
    if code == LOINC_SPO2:
        return _spo2(reading, t, conditions)
    if code == LOINC_HEART_RATE:
        return _heart_rate(reading, t)
    if code == LOINC_WEIGHT and "heart_failure" in conditions:
        return _weight_gain(reading, t, recent)
    return []


def days_with_readings_in_prior_week(times: Iterable[datetime], last_reading_at: datetime) -> int:
    """Count how many of the 7 days before ``last_reading_at`` had a reading.

    Days are 24-hour windows counted back from ``last_reading_at``
    (``[last - (k+1) days, last - k days)`` for k = 0..6), which avoids
    any dependence on a local time zone.
    """
    days: set[int] = set()
    for ts in times:
        delta = last_reading_at - ts
        if timedelta(0) < delta <= timedelta(days=7):
            # Window k covers (k, k+1] days before the last reading.
            k = math.ceil(delta / timedelta(days=1)) - 1
            days.add(k)
    return len(days)


def evaluate_missing(
    last_reading_at: datetime | None,
    daily_days_in_prior_week: int,
    now: datetime,
    thresholds: Thresholds,
) -> Finding | None:
    """Flag a patient who normally sends daily but has been silent for ≥ missing_days."""
    if last_reading_at is None or daily_days_in_prior_week < DAILY_SENDER_MIN_DAYS:
        return None
    gap = now - last_reading_at
    limit = timedelta(days=thresholds.missing_days)
    if gap < limit:
        return None
    gap_days = gap / timedelta(days=1)
    return _finding(
        "data.missing",
        None,
        f"No readings for {gap_days:.1f} days (normally sends daily)",
        {
            "last_reading_at": last_reading_at.isoformat(),
            "now": now.isoformat(),
            "gap_days": round(gap_days, 3),
            "daily_days_in_prior_week": daily_days_in_prior_week,
            "daily_min_days": DAILY_SENDER_MIN_DAYS,
            "threshold": thresholds.missing_days,
            "threshold_name": "missing_days",
            "comparison": ">=",
        },
    )


class ChartLine(NamedTuple):
    """A threshold drawn on a measurement's chart: which threshold, its English label, which side
    alerts, and the severity of crossing it (the client translates the label by ``key``)."""

    key: str
    label: str
    direction: str
    severity: Severity
    #: drawn only for people with this condition (or only without it, for ``not_condition``)
    condition: str | None = None
    not_condition: str | None = None


#: loinc -> the threshold lines to draw on that code's chart
CHART_LINES: dict[str, tuple[ChartLine, ...]] = {
    LOINC_SYSTOLIC: (
        ChartLine("bp_grade2_sys", "Grade 2", "above", Severity.MEDIUM),
        ChartLine("bp_grade3_sys", "Grade 3", "above", Severity.HIGH),
    ),
    LOINC_DIASTOLIC: (
        ChartLine("bp_grade2_dia", "Grade 2", "above", Severity.MEDIUM),
        ChartLine("bp_grade3_dia", "Grade 3", "above", Severity.HIGH),
    ),
    LOINC_GLUCOSE: (
        ChartLine("glucose_l2_low", "Hypo level 2", "below", Severity.HIGH),
        ChartLine("glucose_l1_low", "Hypo level 1", "below", Severity.MEDIUM),
        ChartLine("glucose_high", "Hyperglycaemia", "above", Severity.MEDIUM),
    ),
    LOINC_SPO2: (
        ChartLine("spo2_low_copd", "Low SpO2 (COPD)", "below", Severity.HIGH, condition="copd"),
        ChartLine("spo2_low", "Low SpO2", "below", Severity.HIGH, not_condition="copd"),
    ),
    LOINC_HEART_RATE: (
        ChartLine("hr_low", "Bradycardia", "below", Severity.HIGH),
        ChartLine("hr_high", "Tachycardia", "above", Severity.HIGH),
    ),
}


def chart_lines(loinc: str, conditions: frozenset[str] | None) -> list[ChartLine]:
    """The lines for ``loinc``'s chart. ``conditions`` None: the reader may not see the person's
    conditions, so every line is drawn whatever the diagnosis (the chart does not tell it)."""
    out = []
    for line in CHART_LINES.get(loinc, ()):
        if conditions is None or (line.condition is None and line.not_condition is None):
            out.append(line)
        elif (line.condition is not None and line.condition in conditions) or (
            line.not_condition is not None and line.not_condition not in conditions
        ):
            out.append(line)
    return out
