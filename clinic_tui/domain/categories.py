"""Data categories used for consent and access decisions."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALL_CATEGORIES", "CATEGORY_LABELS", "HEALTH_CATEGORIES", "Category"]


class Category(StrEnum):
    IDENTITY = "identity"
    CONTACT = "contact"
    CONDITIONS = "conditions"
    VITALS = "vitals"
    QUESTIONNAIRES = "questionnaires"
    MEDICATIONS = "medications"
    HISTORY = "history"
    GOALS = "goals"
    SOCIAL = "social"
    OCCUPATION = "occupation"
    FITNESS_TESTS = "fitness_tests"
    PROFILING = "profiling"


ALL_CATEGORIES: frozenset[Category] = frozenset(Category)

HEALTH_CATEGORIES: frozenset[Category] = ALL_CATEGORIES - {
    Category.IDENTITY,
    Category.CONTACT,
    Category.OCCUPATION,
}

CATEGORY_LABELS: dict[Category, str] = {
    Category.IDENTITY: "Identity",
    Category.CONTACT: "Contact details",
    Category.CONDITIONS: "Conditions",
    Category.VITALS: "Vital signs",
    Category.QUESTIONNAIRES: "Questionnaires",
    Category.MEDICATIONS: "Medications",
    Category.HISTORY: "Medical history",
    Category.GOALS: "Goals",
    Category.SOCIAL: "Social situation",
    Category.OCCUPATION: "Occupation",
    Category.FITNESS_TESTS: "Fitness tests",
    Category.PROFILING: "Profiling",
}
