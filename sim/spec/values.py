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

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """The base of every part of a scenario file: unknown keys refused, values frozen, no coercion."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)


def finite(v: float) -> float:
    """``v`` itself, refused (ValueError) when it is infinite or not a number."""
    if not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {v}")
    return v


#: a bounds pair that restricts nothing
UNBOUNDED = (-math.inf, math.inf)
#: how many standard deviations either side of its mean a normal is taken to span where a finite
#: range is needed (the range a sensitivity analysis varies it in)
NORMAL_SDS = 3.0

Tails = Literal["clip", "truncate"]


class Distribution(Strict):
    """An uncertain value: one distribution, with everything the program does with one.

    ``draw`` samples it for a run (clipped to the field's bounds), ``ppf`` is its quantile
    function (for Latin hypercubes, copulas and sensitivity designs), ``frozen`` the equivalent
    scipy distribution (for the EMA Workbench), ``str()`` and ``short()`` how a reader sees it.
    ``support()`` is the interval its draws fall in before clipping, ``point()`` its stand-in under
    ``--point``. ``bounds`` are always the field's own (:class:`Bounded`).

    Restricting a distribution to bounds can be done two ways (``tails``): ``"clip"`` moves what
    falls outside onto the bound, as runs do; ``"truncate"`` renormalises the distribution inside,
    as a sensitivity design does so that its quantile function stays strictly increasing. The two
    differ only for the normal, the one distribution whose support is not finite.
    """

    claim: str | None = None
    dist: str  # each distribution narrows it to its own name (a Literal)

    @model_validator(mode="after")
    def _all_finite(self):
        for _, value in self:
            if isinstance(value, float):
                finite(value)
        return self

    def support(self) -> tuple[float, float]:
        """The interval every draw lies in (before clipping to the field's bounds)."""
        raise NotImplementedError

    def point(self) -> float:
        """The point value (mean, or mode for triangular)."""
        raise NotImplementedError

    def within(self, bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float]:
        """The interval draws are clipped to: the field's ``bounds`` (narrowed by a normal's own
        ``low``/``high``)."""
        return bounds

    def spread(self, bounds: tuple[float, float] = UNBOUNDED) -> tuple[float, float]:
        """A finite interval holding the value's draws: its support (a normal's mean ±
        :data:`NORMAL_SDS` sd, within :meth:`within`)."""
        return self.support()

    def _sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def _quantile(self, u: np.ndarray, lo: float, hi: float, tails: Tails) -> np.ndarray:
        raise NotImplementedError

    def draw(self, n: int, rng: np.random.Generator, bounds: tuple[float, float] = UNBOUNDED) -> np.ndarray:
        """``n`` draws from ``rng``, clipped to :meth:`within` ``bounds``."""
        lo, hi = self.within(bounds)
        return np.clip(self._sample(n, rng), lo, hi)

    def ppf(self, u, bounds: tuple[float, float] = UNBOUNDED, *, tails: Tails = "clip") -> np.ndarray:
        """The quantile function at probabilities ``u`` (clipped to [0, 1]), restricted to
        :meth:`within` ``bounds`` as ``tails`` says (class docstring)."""
        u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
        lo, hi = self.within(bounds)
        return np.clip(self._quantile(u, lo, hi, tails), lo, hi)

    def frozen(self, bounds: tuple[float, float] = UNBOUNDED):
        """The scipy.stats frozen distribution (a normal truncated to :meth:`within` ``bounds``:
        scipy has no clipped normal)."""
        raise NotImplementedError

    def short(self) -> str:
        """The compact form of a table cell: ``U(lo, hi)``, ``T(lo, mode, hi)``, ``N(mean, sd)``,
        ``B(a, b; lo, hi)``."""
        raise NotImplementedError


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

    def _sample(self, n, rng):
        return self.low + (self.high - self.low) * rng.random(n)

    def _quantile(self, u, lo, hi, tails):
        return self.low + (self.high - self.low) * u

    def frozen(self, bounds=UNBOUNDED):
        """The scipy.stats frozen distribution."""
        from scipy import stats

        return stats.uniform(self.low, self.high - self.low)

    def __str__(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"

    def short(self) -> str:
        """``U(lo, hi)``."""
        return f"U({self.low:g}, {self.high:g})"


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

    def _sample(self, n, rng):
        if self.low == self.high:
            return np.full(n, self.low)
        return rng.triangular(self.low, self.mode, self.high, n)

    def _quantile(self, u, lo, hi, tails):
        a, c, b = self.low, self.mode, self.high
        if a == b:
            return np.full_like(u, a)
        fc = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1.0 - u) * (b - a) * (b - c))
        return np.where(u < fc, left, right)

    def frozen(self, bounds=UNBOUNDED):
        """The scipy.stats frozen distribution."""
        from scipy import stats

        width = self.high - self.low
        return stats.triang((self.mode - self.low) / width, loc=self.low, scale=width)

    def __str__(self) -> str:
        return f"triangular({self.low:g}, {self.mode:g}, {self.high:g})"

    def short(self) -> str:
        """``T(lo, mode, hi)``."""
        return f"T({self.low:g}, {self.mode:g}, {self.high:g})"


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

    def within(self, bounds=UNBOUNDED):
        """The field's ``bounds`` narrowed by the normal's own ``low``/``high``."""
        lo, hi = bounds
        lo = lo if self.low is None else max(lo, self.low)
        hi = hi if self.high is None else min(hi, self.high)
        return lo, hi

    def spread(self, bounds=UNBOUNDED):
        """Mean ± :data:`NORMAL_SDS` sd, within :meth:`within` ``bounds``."""
        lo, hi = self.within(bounds)
        return max(lo, self.mean - NORMAL_SDS * self.sd), min(hi, self.mean + NORMAL_SDS * self.sd)

    def _sample(self, n, rng):
        return self.mean + self.sd * rng.standard_normal(n)

    def _quantile(self, u, lo, hi, tails):
        from scipy import special

        if tails == "clip":
            return self.mean + self.sd * special.ndtri(u)
        a, b = special.ndtr((lo - self.mean) / self.sd), special.ndtr((hi - self.mean) / self.sd)
        return self.mean + self.sd * special.ndtri(a + u * (b - a))

    def frozen(self, bounds=UNBOUNDED):
        """The normal truncated to :meth:`within` ``bounds`` (scipy has no clipped normal)."""
        from scipy import stats

        lo, hi = self.within(bounds)
        return stats.truncnorm(
            (lo - self.mean) / self.sd, (hi - self.mean) / self.sd, loc=self.mean, scale=self.sd
        )

    def __str__(self) -> str:
        return f"normal({self.mean:g}, sd {self.sd:g})"

    def short(self) -> str:
        """``N(mean, sd)``."""
        return f"N({self.mean:g}, {self.sd:g})"


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

    def _sample(self, n, rng):
        return self.low + (self.high - self.low) * rng.beta(self.a, self.b, n)

    def _quantile(self, u, lo, hi, tails):
        from scipy import special

        return self.low + (self.high - self.low) * special.betaincinv(self.a, self.b, u)

    def frozen(self, bounds=UNBOUNDED):
        """The scipy.stats frozen distribution."""
        from scipy import stats

        return stats.beta(self.a, self.b, loc=self.low, scale=self.high - self.low)

    def __str__(self) -> str:
        return f"beta({self.a:g}, {self.b:g}) on [{self.low:g}, {self.high:g}]"

    def short(self) -> str:
        """``B(a, b; lo, hi)``."""
        return f"B({self.a:g}, {self.b:g}; {self.low:g}, {self.high:g})"


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
