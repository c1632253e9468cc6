"""Uncertain values: what a numeric field of a scenario may hold.

A plain number, or a distribution written as a table such as ``{dist = "uniform", low = 0.2,
high = 0.4}``: uniform, triangular, normal (clipped to its own ``low``/``high`` when given and to
the field's bounds) and beta (stretched onto ``[low, high]``). Uncertain values are drawn once per
replicate (:mod:`sim.spec.params`) and recorded with it. Each field declares the interval its
values must lie in (:data:`UnitValue`, :data:`TieValue`, ...), which is also what a draw is
clipped to.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """The base of every part of a scenario file: unknown keys refused, values frozen, no coercion."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)


def finite(v: float) -> float:
    """``v`` itself, refused (ValueError) when it is infinite or not a number."""
    if not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {v}")
    return v


class Distribution(Strict):
    """An uncertain value. Each distribution defines ``support()`` (the interval its draws can
    fall in, before clipping to the field's bounds) and ``point()`` (its stand-in under ``--point``)."""

    claim: str | None = None

    @model_validator(mode="after")
    def _all_finite(self):
        for _, value in self:
            if isinstance(value, float):
                finite(value)
        return self


class Uniform(Distribution):
    """Uniform on [low, high]."""

    dist: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.high:
            raise ValueError(f"expected low <= high, got low={self.low}, high={self.high}")
        return self

    def support(self):
        """The interval every draw lies in."""
        return self.low, self.high

    def point(self):
        """The point value (mean, or mode for triangular)."""
        return 0.5 * (self.low + self.high)


class Triangular(Distribution):
    """Triangular with the given mode on [low, high]."""

    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.mode <= self.high:
            raise ValueError(f"expected low <= mode <= high, got {self.low}, {self.mode}, {self.high}")
        return self

    def support(self):
        """The interval every draw lies in."""
        return self.low, self.high

    def point(self):
        """The point value (mean, or mode for triangular)."""
        return self.mode


class Normal(Distribution):
    """Normal with mean and sd, clipped to [low, high] when given and to the field's bounds."""

    dist: Literal["normal"]
    mean: float
    sd: float
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _check(self):
        if not self.sd >= 0:
            raise ValueError(f"expected sd >= 0, got {self.sd}")
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        if not lo <= self.mean <= hi:
            raise ValueError(f"expected low <= mean <= high, got {lo}, {self.mean}, {hi}")
        return self

    def support(self):
        """The interval every draw lies in."""
        return self.mean, self.mean  # clipped into the field's bounds; the mean must lie inside

    def point(self):
        """The point value (mean, or mode for triangular)."""
        return self.mean


class Beta(Distribution):
    """Beta(a, b) stretched onto [low, high]."""

    dist: Literal["beta"]
    a: float
    b: float
    low: float = 0.0
    high: float = 1.0

    @model_validator(mode="after")
    def _check(self):
        if not (self.a > 0 and self.b > 0):
            raise ValueError(f"expected a > 0 and b > 0, got a={self.a}, b={self.b}")
        if not self.low <= self.high:
            raise ValueError(f"expected low <= high, got low={self.low}, high={self.high}")
        return self

    def support(self):
        """The interval every draw lies in."""
        return self.low, self.high

    def point(self):
        """The point value (mean, or mode for triangular)."""
        return self.low + (self.high - self.low) * self.a / (self.a + self.b)


Dist = Annotated[Uniform | Triangular | Normal | Beta, Field(discriminator="dist")]
#: each distribution's class by the name a file gives it (``dist = "uniform"``)
DISTRIBUTIONS: dict[str, type[Distribution]] = {
    "uniform": Uniform,
    "triangular": Triangular,
    "normal": Normal,
    "beta": Beta,
}
Value = float | Dist


def point_value(v: Value) -> float:
    """The deterministic stand-in of an uncertain value (mean, or mode for triangular)."""
    return float(v) if isinstance(v, (int, float)) else v.point()


def check_bounds(v: Value, lo: float, hi: float) -> Value:
    """``v`` itself, refused (ValueError) unless every value it can take lies in ``[lo, hi]``."""
    if isinstance(v, (int, float)):
        finite(float(v))
        if not lo <= v <= hi:
            raise ValueError(f"expected a number in [{lo:g}, {hi:g}], got {v:g}")
        return v
    a, b = v.support()
    if not (lo <= a and b <= hi):
        raise ValueError(f"expected a distribution inside [{lo:g}, {hi:g}], got support [{a:g}, {b:g}]")
    return v


class Bounded:
    """The interval ``[lo, hi]`` a field's values must lie in (a distribution: its whole support),
    attached to the field's type; the parameter map reads it back as the field's bounds."""

    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi

    def __get_pydantic_core_schema__(self, source, handler):
        from pydantic_core import core_schema

        schema = handler(source)
        return core_schema.no_info_after_validator_function(
            lambda v: check_bounds(v, self.lo, self.hi), schema
        )


# Uncertain values whose every draw lies in [lo, hi] (the bounds the parameter map reads back).
UnitValue = Annotated[Value, Bounded(0.0, 1.0)]
TieValue = Annotated[Value, Bounded(-1.0, 1.0)]
NonNegative = Annotated[Value, Bounded(0.0, 1e6)]
AnyValue = Annotated[Value, Bounded(-1e9, 1e9)]
GrowthValue = Annotated[Value, Bounded(-0.5, 0.5)]
RateValue = Annotated[Value, Bounded(0.0, 1e3)]  # an event's hazard per unit time
Coefficient = Annotated[Value, Bounded(0.0, 100.0)]  # a decision rule's sensitivity
ShockValue = Annotated[Value, Bounded(0.0, 2.0)]  # a drop of a tie in [-1, 1]
