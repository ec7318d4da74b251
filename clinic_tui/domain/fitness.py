"""Derived fitness values."""

from __future__ import annotations

import math

__all__ = ["BMI_EQUATION_VERSION", "bmi"]

BMI_EQUATION_VERSION = "bmi.v1"


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body mass index, kg/m², rounded to 1 decimal (equation ``bmi.v1``)."""
    for name, v in (("weight_kg", weight_kg), ("height_cm", height_cm)):
        if not math.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a positive finite number")
    height_m = height_cm / 100
    return round(weight_kg / (height_m * height_m), 1)
