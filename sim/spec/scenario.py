"""Scenario files: TOML, validated with pydantic, with inheritance and uncertain values.

A scenario describes actors, the issues they care about, their initial dispositions toward one
another, spheres of influence, dependences, pressure schedules, events, declared alliances, the
mechanism coefficients of :mod:`sim.model.dynamics` and the run settings. Files are data only: nothing in
a scenario is evaluated, imported or executed.

Every numeric parameter may be an *uncertain value*: a plain number, or a table such as
``{dist = "uniform", low = 0.2, high = 0.4}``. Uncertain values are sampled once per replicate
(:mod:`sim.spec.params`) and recorded with it.

``extends = "path.toml"`` inherits from another file (relative to the file that names it, and inside
the same project: see :func:`_root_for`), or ``extends = "alliance-sim:seeds/baseline.toml"`` from a
file shipped with alliance-sim, from anywhere (:data:`SHIPPED_PREFIX`). Tables are
merged key by key (the child wins); arrays of tables (``ties``) are concatenated, the child's entries
applied after the parent's; any other value is replaced.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sim.errors import InputError

MAX_ACTORS = 200
MAX_ISSUES = 100
MAX_STEPS = 1_000_000
MAX_REPLICATES = 100_000_000
MAX_FILE_BYTES = 16 * 2**20  # a scenario file (the 200-actor tie matrix is well under 1 MB)
MEMORY_BUDGET = 4 * 2**30  # what one chunk of replicates may need while it runs (per worker)
TRAJECTORY_BUDGET = 4 * 2**30  # the size of a run's trajectories.npy


def footprint(
    actors: int,
    issues: int,
    alliances: int,
    steps: int,
    replicates: int,
    chunk_size: int = 4096,
    trajectories: bool = False,
    bins: int = 200,
    sampled: int = 0,
) -> dict[str, int]:
    """A conservative estimate of the bytes a run needs, by what needs them.

    ``per-step summaries`` (cohesion histograms of ``bins`` bins per alliance and step, pressure
    tables) and ``replicate state`` (the ``(n, A, A)`` arrays of a chunk of ``n`` replicates, and
    the ``(n, A, A, K)`` distances of interest similarity, and the ``sampled`` uncertain values of
    the parameter map, drawn in float64 and stored in float32) are held by each worker at once;
    ``trajectories`` is one chunk's ``(n, steps + 1, A, A)`` float32 trajectories and
    ``trajectories file`` the merged file.
    """
    n = min(replicates, chunk_size)
    cells = (steps + 1) * actors * actors * 4
    return {
        "per-step summaries": (steps + 1) * (max(alliances, 1) * (bins + 1) + 1) * 8 + steps * actors * 16,
        "replicate state": n * actors * actors * (64 + 8 * max(issues, 1)) + n * sampled * 12,
        "trajectories": n * cells if trajectories else 0,
        "trajectories file": replicates * cells if trajectories else 0,
    }


def _gb(size: float) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**28 else f"{size / 2**20:.0f} MB"


def check_footprint(need: dict[str, int]) -> str | None:
    """What exceeds the memory budgets in a :func:`footprint`, as a phrase, or None."""
    chunk = need["per-step summaries"] + need["replicate state"] + need["trajectories"]
    if need["trajectories file"] > TRAJECTORY_BUDGET:
        return (
            f"expected trajectories of at most {_gb(TRAJECTORY_BUDGET)}, got "
            f"{_gb(need['trajectories file'])} (replicates x (steps + 1) x actors^2 x 4 bytes); "
            "use fewer replicates or steps, or leave out --trajectories"
        )
    if chunk > MEMORY_BUDGET:
        worst = max(("per-step summaries", "replicate state", "trajectories"), key=need.__getitem__)
        return (
            f"expected a run that fits in {_gb(MEMORY_BUDGET)} per worker, got {_gb(chunk)} "
            f"(mostly {worst}: {_gb(need[worst])})"
        )
    return None


class ScenarioError(InputError):
    """A scenario file that cannot be used, with where and why.

    ``str(error)`` is the one line shown to users: ``file:line: field.path: what was expected``.
    """

    def __init__(
        self, file: str | Path | None, message: str, *, line: int | None = None, path: str | None = None
    ):
        self.file = str(file) if file is not None else None
        self.line = line
        self.path = path
        self.message = message
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The error as the one line users see (file:line: path: message)."""
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f": {self.path}"
        # One line, and nothing a terminal would act on: control characters are shown escaped.
        return _CONTROL.sub(lambda m: repr(m.group())[1:-1], f"{where}: {self.message}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# --------------------------------------------------------------------------------------------
# Uncertain values
# --------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, strict=True)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError(f"expected a finite number, got {v}")
    return v


class _Dist(_Strict):
    """An uncertain value. Each distribution defines ``support()`` (the interval its draws can
    fall in, before clipping to the field's bounds) and ``point()`` (its stand-in under ``--point``)."""

    claim: str | None = None

    @model_validator(mode="after")
    def _all_finite(self):
        for _, value in self:
            if isinstance(value, float):
                _finite(value)
        return self


class Uniform(_Dist):
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


class Triangular(_Dist):
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


class Normal(_Dist):
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


class Beta(_Dist):
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
Value = float | Dist


def point_value(v: Value) -> float:
    """The deterministic stand-in of an uncertain value (mean, or mode for triangular)."""
    return float(v) if isinstance(v, (int, float)) else v.point()


def _check_bounds(v: Value, lo: float, hi: float) -> Value:
    if isinstance(v, (int, float)):
        _finite(float(v))
        if not lo <= v <= hi:
            raise ValueError(f"expected a number in [{lo:g}, {hi:g}], got {v:g}")
        return v
    a, b = v.support()
    if not (lo <= a and b <= hi):
        raise ValueError(f"expected a distribution inside [{lo:g}, {hi:g}], got support [{a:g}, {b:g}]")
    return v


class _Bounded:
    def __init__(self, lo: float, hi: float):
        self.lo, self.hi = lo, hi

    def __get_pydantic_core_schema__(self, source, handler):
        from pydantic_core import core_schema

        schema = handler(source)
        return core_schema.no_info_after_validator_function(
            lambda v: _check_bounds(v, self.lo, self.hi), schema
        )


# Uncertain values whose every draw lies in [lo, hi] (the bounds the parameter map reads back).
UnitValue = Annotated[Value, _Bounded(0.0, 1.0)]
TieValue = Annotated[Value, _Bounded(-1.0, 1.0)]
NonNegative = Annotated[Value, _Bounded(0.0, 1e6)]
AnyValue = Annotated[Value, _Bounded(-1e9, 1e9)]
GrowthValue = Annotated[Value, _Bounded(-0.5, 0.5)]
RateValue = Annotated[Value, _Bounded(0.0, 1e3)]  # an event's hazard per unit time
Coefficient = Annotated[Value, _Bounded(0.0, 100.0)]  # a decision rule's sensitivity
ShockValue = Annotated[Value, _Bounded(0.0, 2.0)]  # a drop of a tie in [-1, 1]


# --------------------------------------------------------------------------------------------
# The scenario's parts
# --------------------------------------------------------------------------------------------

# Names (of actors, issues, alliances, events) appear in paths, tables, figures and terminals:
# no control characters.
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")]


class Actor(_Strict):
    """A state or alliance: its share of power and how fast that grows (per unit time)."""

    label: str = ""
    capability: NonNegative
    growth: GrowthValue = 0.0


class Issue(_Strict):
    """An issue dimension with its scale [low, high]."""

    label: str = ""
    low: float = 0.0
    high: float = 10.0

    @model_validator(mode="after")
    def _order(self):
        for bound in (self.low, self.high):
            _finite(bound)
            if abs(bound) > 1e9:  # positions live in [-1e9, 1e9]; wider scales overflow float32
                raise ValueError(
                    f"expected a scale inside [-1e9, 1e9], got low={self.low:g}, high={self.high:g}"
                )
        if not self.low < self.high:
            raise ValueError(f"expected low < high, got low={self.low:g}, high={self.high:g}")
        return self


class Tie(_Strict):
    """Initial disposition of ``from`` toward ``to`` in [-1, 1] (both ways if symmetric)."""

    from_: Name = Field(alias="from")
    to: Name
    value: TieValue
    symmetric: bool = False

    @model_validator(mode="after")
    def _not_self(self):
        if self.from_ == self.to:
            raise ValueError(f"expected two different actors, got a tie from {self.from_!r} to itself")
        return self


PressureValue = NonNegative


class PressurePoint(_Strict):
    """One knot of a piecewise-linear pressure schedule."""

    at: Annotated[int, Field(ge=0)]
    value: PressureValue


EffectKind = Literal["tie", "position", "salience", "ambition", "dependence", "pressure", "growth"]


class Effect(_Strict):
    """What an event does.

    ``tie``/``dependence``: ``from``, ``to`` (and ``symmetric``); ``position``/``salience``: ``actor``,
    ``issue``; ``ambition``: ``actor`` over ``target``; ``pressure``/``growth``: ``actor``.
    Exactly one of ``shift`` (add) or ``set`` (replace); ``pressure`` takes ``shift`` only (it adds to
    the schedule from then on).
    """

    kind: EffectKind
    from_: Name | None = Field(default=None, alias="from")
    to: Name | None = None
    actor: Name | None = None
    issue: Name | None = None
    target: Name | None = None
    symmetric: bool = False
    shift: AnyValue | None = None
    set: AnyValue | None = None

    @model_validator(mode="after")
    def _shape(self):
        if (self.shift is None) == (self.set is None):
            raise ValueError("expected exactly one of 'shift' or 'set'")
        needs = {
            "tie": ("from_", "to"),
            "dependence": ("from_", "to"),
            "position": ("actor", "issue"),
            "salience": ("actor", "issue"),
            "ambition": ("actor", "target"),
            "pressure": ("actor",),
            "growth": ("actor",),
        }[self.kind]
        for f in ("from_", "to", "actor", "issue", "target"):
            key = "from" if f == "from_" else f
            if f in needs and getattr(self, f) is None:
                raise ValueError(f"a {self.kind!r} effect needs {key!r}")
            if f not in needs and getattr(self, f) is not None:
                raise ValueError(
                    f"a {self.kind!r} effect takes no {key!r} (it takes "
                    + ", ".join(repr("from" if n == "from_" else n) for n in needs)
                    + ")"
                )
        if self.kind == "pressure" and self.set is not None:
            raise ValueError("a 'pressure' effect takes 'shift' only (it adds to the schedule)")
        if self.symmetric and self.kind not in ("tie", "dependence"):
            raise ValueError(f"'symmetric' applies to tie and dependence effects, not {self.kind!r}")
        if self.kind in ("tie", "dependence") and self.from_ == self.to:
            raise ValueError(f"expected two different actors, got {self.from_!r} twice")
        if self.kind == "ambition" and self.actor == self.target:
            raise ValueError(f"an actor cannot hold itself as a client ({self.actor!r})")
        return self


class Event(_Strict):
    """A scheduled (``at`` = step) or stochastic (``hazard`` per unit time) event."""

    label: str = ""
    at: Annotated[int, Field(ge=0)] | None = None
    hazard: RateValue | None = None
    repeat: bool = False
    effects: Annotated[list[Effect], Field(min_length=1)]

    @model_validator(mode="after")
    def _timing(self):
        if (self.at is None) == (self.hazard is None):
            raise ValueError("expected exactly one of 'at' (a step) or 'hazard' (a rate)")
        if self.repeat and self.at is not None:
            raise ValueError("'repeat' applies to stochastic events (with 'hazard') only")
        return self


class Alliance(_Strict):
    """A declared alliance and its members' decision rule.

    Each member i stays or defects with hazard ``h0 * exp(beta * (theta_stay - W_i)) *
    exp(power_shift * r)`` per unit time, ``W_i`` its mean disposition toward the other members and
    ``r`` the absolute log change of its power relative to them since the start (Leeds & Savun 2007).
    """

    label: str = ""
    members: Annotated[list[Name], Field(min_length=2, max_length=MAX_ACTORS)]
    theta_stay: TieValue = 0.0
    theta_trust: TieValue = 0.3
    h0: UnitValue = 0.002
    beta: Coefficient = 4.0
    power_shift: Coefficient = 0.0
    betrayal_shock: ShockValue = 0.5
    reputation: ShockValue = 0.1

    @field_validator("members")
    @classmethod
    def _unique(cls, v):
        dup = sorted({m for m in v if v.count(m) > 1})
        if dup:
            raise ValueError(f"expected distinct members, got {', '.join(dup)} more than once")
        return v


LeverEffectKind = Literal[
    "tie", "position", "salience", "ambition", "dependence", "pressure", "growth", "strategic_value", "hazard"
]

# What each kind of lever effect names (as for event effects, plus a client's strategic value and
# an event's hazard).
_LEVER_NEEDS = {
    "tie": ("from_", "to"),
    "dependence": ("from_", "to"),
    "position": ("actor", "issue"),
    "salience": ("actor", "issue"),
    "ambition": ("actor", "target"),
    "pressure": ("actor",),
    "growth": ("actor",),
    "strategic_value": ("actor",),
    "hazard": ("event",),
}


class LeverEffect(_Strict):
    """What a lever changes: the effect kinds of events, plus ``strategic_value`` (of the client
    ``actor``) and ``hazard`` (of the stochastic ``event``).

    The lever's chosen value ``v`` times ``scale`` is added to the target (``op = "shift"``, the
    default) or replaces it (``op = "set"``), once, before the first step. A pressure shift moves the
    actor's whole schedule; a pressure set makes it flat.
    """

    kind: LeverEffectKind
    from_: Name | None = Field(default=None, alias="from")
    to: Name | None = None
    actor: Name | None = None
    issue: Name | None = None
    target: Name | None = None
    event: Name | None = None
    symmetric: bool = False
    op: Literal["shift", "set"] = "shift"
    scale: Annotated[float, Field(ge=-1e6, le=1e6)] = 1.0

    @model_validator(mode="after")
    def _shape(self):
        _finite(self.scale)
        needs = _LEVER_NEEDS[self.kind]
        for f in ("from_", "to", "actor", "issue", "target", "event"):
            key = "from" if f == "from_" else f
            if f in needs and getattr(self, f) is None:
                raise ValueError(f"a {self.kind!r} lever effect needs {key!r}")
            if f not in needs and getattr(self, f) is not None:
                raise ValueError(
                    f"a {self.kind!r} lever effect takes no {key!r} (it takes "
                    + ", ".join(repr("from" if n == "from_" else n) for n in needs)
                    + ")"
                )
        if self.symmetric and self.kind not in ("tie", "dependence"):
            raise ValueError(f"'symmetric' applies to tie and dependence effects, not {self.kind!r}")
        if self.kind in ("tie", "dependence") and self.from_ == self.to:
            raise ValueError(f"expected two different actors, got {self.from_!r} twice")
        if self.kind == "ambition" and self.actor == self.target:
            raise ValueError(f"an actor cannot hold itself as a client ({self.actor!r})")
        return self


class Lever(_Strict):
    """A choice an actor (its ``owner``) controls: chosen by the analyst, never sampled.

    Either a range (``low`` < ``high``; whole numbers when ``integer``) or named ``options``
    (name = value). ``status_quo`` is the value (or option name) that leaves the scenario as
    written; it defaults to 0, which for shift effects means no change. The XLRM framing
    (uncertainties, levers, relationships, metrics) is Lempert, Popper & Bankes (2003).
    """

    owner: Name
    label: str = ""
    claim: str
    low: float | None = None
    high: float | None = None
    integer: bool = False
    options: Annotated[dict[Name, float], Field(min_length=2)] | None = None
    status_quo: float | str = 0.0
    effects: Annotated[list[LeverEffect], Field(min_length=1)]

    @model_validator(mode="after")
    def _choice(self):
        ranged = self.low is not None or self.high is not None
        if ranged == (self.options is not None):
            raise ValueError(
                "expected either a range ('low' and 'high') or 'options', not "
                + ("both" if ranged else "neither")
            )
        if ranged:
            if self.low is None or self.high is None:
                raise ValueError("expected both 'low' and 'high'")
            for v in (self.low, self.high):
                _finite(v)
            if not self.low < self.high:
                raise ValueError(
                    f"expected low < high (a lever needs a range to choose from), got "
                    f"low={self.low:g}, high={self.high:g}"
                )
            if self.integer and not (self.low.is_integer() and self.high.is_integer()):
                raise ValueError(
                    f"expected whole-number bounds for an integer lever, got "
                    f"low={self.low:g}, high={self.high:g}"
                )
            if isinstance(self.status_quo, str):
                raise ValueError(
                    f"expected a number for the status quo of a ranged lever, got {self.status_quo!r}"
                )
            _finite(self.status_quo)
            if not self.low <= self.status_quo <= self.high:
                raise ValueError(
                    f"expected status_quo inside [{self.low:g}, {self.high:g}], got {self.status_quo:g}"
                )
            if self.integer and not float(self.status_quo).is_integer():
                raise ValueError(f"expected a whole-number status_quo, got {self.status_quo:g}")
        else:
            if self.integer:
                raise ValueError("'integer' applies to ranged levers only")
            for v in self.options.values():
                _finite(v)
            sq = self.status_quo
            if isinstance(sq, str):
                if sq not in self.options:
                    raise ValueError(
                        f"expected status_quo to name an option ({_names(self.options)}), got {sq!r}"
                    )
            elif sq not in self.options.values():
                raise ValueError(
                    f"expected status_quo to name an option ({_names(self.options)}), got {sq:g}"
                )
        return self

    @property
    def status_quo_value(self) -> float:
        """The lever's value that leaves the scenario as written."""
        if isinstance(self.status_quo, str):
            assert self.options is not None  # validated: a named status quo names an option
            return float(self.options[self.status_quo])
        return float(self.status_quo)

    @property
    def bounds(self) -> tuple[float, float]:
        """The smallest and largest value the lever can take."""
        if self.options is not None:
            return min(self.options.values()), max(self.options.values())
        assert self.low is not None and self.high is not None  # validated: a range or options
        return float(self.low), float(self.high)


MetricKind = Literal["p_holds", "p_stab", "p_drift", "tie", "cost"]


class Metric(_Strict):
    """What a policy is judged by, per world (averaged over its replicates).

    ``p_holds``/``p_stab``/``p_drift``: the share of replicates in which ``alliance`` holds, ends
    in a stab in the back, or drifts apart; ``tie``: the mean disposition of ``from`` toward ``to``
    at the horizon; ``cost``: the summed departure ``abs(value - status_quo)`` of ``levers`` from
    their status quo. ``threshold`` (optional) defines satisficing: the metric is at least it when
    maximised, at most it when minimised. ``owner`` (optional) is the actor whose objective it is:
    evaluating one owner's policies judges them by that owner's metrics and the unowned ones.
    """

    kind: MetricKind
    direction: Literal["maximize", "minimize"]
    label: str = ""
    owner: Name | None = None
    alliance: Name | None = None
    from_: Name | None = Field(default=None, alias="from")
    to: Name | None = None
    levers: Annotated[list[Name], Field(min_length=1)] | None = None
    threshold: float | None = None

    @model_validator(mode="after")
    def _shape(self):
        needs = {"tie": ("from_", "to"), "cost": ("levers",)}.get(self.kind, ("alliance",))
        for f in ("alliance", "from_", "to", "levers"):
            key = "from" if f == "from_" else f
            if f in needs and getattr(self, f) is None:
                raise ValueError(f"a {self.kind!r} metric needs {key!r}")
            if f not in needs and getattr(self, f) is not None:
                raise ValueError(f"a {self.kind!r} metric takes no {key!r}")
        if self.threshold is not None:
            _finite(self.threshold)
        return self

    @property
    def sign(self) -> float:
        """+1 when larger is better, -1 when smaller is."""
        return 1.0 if self.direction == "maximize" else -1.0


class Mechanisms(_Strict):
    """Coefficients of the forces on the ties (DESIGN section 2); 0 switches a force off."""

    affinity: NonNegative = 0.0
    balance: NonNegative = 0.0
    threat: NonNegative = 0.0
    pressure: NonNegative = 0.0
    competition: NonNegative = 0.0
    dependence: NonNegative = 0.0
    noise: NonNegative = 0.0
    bargain_every: Annotated[int, Field(ge=0)] = 0


class Measurement(_Strict):
    """How a quantitative series reads a tie (``tie_series`` observations, :mod:`sim.spec.observations`):
    ``value = a + b * tie + error``, the error normal with each row's ``sd``. ``a`` and ``b`` are
    numbers or uncertain values, drawn per replicate and calibrated like every other value."""

    label: str = ""
    a: AnyValue = 0.0
    b: AnyValue = 1.0


class Run(_Strict):
    """Run settings: steps (months by default), replicates, seed and step length."""

    steps: Annotated[int, Field(gt=0, le=MAX_STEPS)] = 120
    replicates: Annotated[int, Field(gt=0, le=MAX_REPLICATES)] = 1000
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    dt: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    unit: str = "month"

    @field_validator("dt")
    @classmethod
    def _finite_dt(cls, v):
        return _finite(v)


class Scenario(_Strict):
    """A whole scenario, after inheritance. Build it with :func:`load_scenario`."""

    title: str = ""
    description: str = ""
    focal: Name | None = None
    claims: str | None = None
    actors: Annotated[dict[Name, Actor], Field(min_length=2, max_length=MAX_ACTORS)]
    issues: Annotated[dict[Name, Issue], Field(max_length=MAX_ISSUES)] = {}
    positions: dict[Name, dict[Name, AnyValue]] = {}
    salience: dict[Name, dict[Name, UnitValue]] = {}
    ties: list[Tie] = []
    tie_matrix: list[list[TieValue]] | None = None
    spheres: dict[Name, dict[Name, UnitValue]] = {}
    strategic_value: dict[Name, NonNegative] = {}
    dependence: dict[Name, dict[Name, NonNegative]] = {}
    pressure: dict[Name, PressureValue | list[PressurePoint]] = {}
    events: dict[Name, Event] = {}
    alliances: dict[Name, Alliance] = {}
    levers: dict[Name, Lever] = {}
    correlations: dict[str, Annotated[float, Field(ge=-1.0, le=1.0)]] = {}
    metrics: dict[Name, Metric] = {}
    measurements: dict[Name, Measurement] = {}
    mechanisms: Mechanisms = Mechanisms()
    run: Run = Run()

    # -- cross-references ------------------------------------------------------------------
    @model_validator(mode="after")
    def _references(self, info: ValidationInfo):
        actors, issues = self.actors, self.issues

        def actor(name, *loc):
            if name not in actors:
                raise _LocError(loc, f"unknown actor {name!r}; expected one of {_names(actors)}")

        def issue(name, *loc):
            if name not in issues:
                raise _LocError(loc, f"unknown issue {name!r}; expected one of {_names(issues)}")

        for table in ("positions", "salience"):
            for a, per in getattr(self, table).items():
                actor(a, table, a)
                for k, v in per.items():
                    issue(k, table, a, k)
                    if table == "positions":
                        lo, hi = issues[k].low, issues[k].high
                        try:
                            _check_bounds(v, lo, hi)
                        except ValueError as e:
                            raise _LocError((table, a, k), f"{e} (the scale of issue {k!r})") from None
        for a, per in self.salience.items():
            if (
                per
                and all(point_value(v) == 0 and not isinstance(v, _Dist) for v in per.values())
                and len(per) == len(issues)
            ):
                raise _LocError(("salience", a), "expected at least one positive salience, got all zero")
        for n, t in enumerate(self.ties):
            actor(t.from_, "ties", n, "from")
            actor(t.to, "ties", n, "to")
        if self.tie_matrix is not None:
            if len(self.tie_matrix) != len(actors) or any(len(r) != len(actors) for r in self.tie_matrix):
                raise _LocError(
                    ("tie_matrix",), f"expected a {len(actors)}x{len(actors)} matrix in actor order"
                )
        for table in ("spheres", "dependence"):
            for a, per in getattr(self, table).items():
                actor(a, table, a)
                for m in per:
                    actor(m, table, a, m)
                    if m == a:
                        raise _LocError((table, a, m), "expected another actor, got the actor itself")
        for m in self.strategic_value:
            actor(m, "strategic_value", m)
        for a, sched in self.pressure.items():
            actor(a, "pressure", a)
            if isinstance(sched, list):
                if not sched:
                    raise _LocError(("pressure", a), "expected at least one [at, value] point")
                ats = [p.at for p in sched]
                if any(b <= x for x, b in zip(ats, ats[1:])):
                    raise _LocError(("pressure", a), f"expected strictly increasing steps, got {ats}")
        # A stored run's scenario may have had its horizon shortened (``-t``): events after it
        # simply never fire there; in a file, an event past the horizon is a mistake.
        stored = bool(info.context and info.context.get("stored"))
        for event, ev in self.events.items():
            if ev.at is not None and ev.at >= self.run.steps and not stored:
                raise _LocError(
                    ("events", event, "at"),
                    f"expected a step before the horizon ({self.run.steps}), got {ev.at}",
                )
            for n, f in enumerate(ev.effects):
                for key, attr in (("from", "from_"), ("to", "to"), ("actor", "actor"), ("target", "target")):
                    if getattr(f, attr) is not None:
                        actor(getattr(f, attr), "events", event, "effects", n, key)
                if f.issue is not None:
                    issue(f.issue, "events", event, "effects", n, "issue")
        for name, al in self.alliances.items():
            for n, m in enumerate(al.members):
                actor(m, "alliances", name, "members", n)
        self._check_levers(actor, issue)
        self._check_metrics(actor)
        self._check_correlations()
        if self.focal is not None and self.focal not in self.alliances:
            raise _LocError(
                ("focal",), f"unknown alliance {self.focal!r}; expected one of {_names(self.alliances)}"
            )
        # The per-step summaries of the scenario's own run (any chunk size) must fit in memory.
        need = footprint(len(actors), len(issues), len(self.alliances), self.run.steps, 1)
        too_big = check_footprint(need)
        if too_big:
            raise _LocError(("run", "steps"), too_big + "; use fewer steps")
        return self

    def _check_levers(self, actor, issue):
        set_by: dict[tuple, str] = {}
        for name, lever in self.levers.items():
            actor(lever.owner, "levers", name, "owner")
            for n, f in enumerate(lever.effects):
                loc = ("levers", name, "effects", n)
                for key, attr in (("from", "from_"), ("to", "to"), ("actor", "actor"), ("target", "target")):
                    if getattr(f, attr) is not None:
                        actor(getattr(f, attr), *loc, key)
                if f.issue is not None:
                    issue(f.issue, *loc, "issue")
                if f.kind == "hazard":
                    ev = self.events.get(f.event)
                    if ev is None:
                        raise _LocError(
                            (*loc, "event"),
                            f"unknown event {f.event!r}; expected one of {_names(self.events)}",
                        )
                    if ev.hazard is None:
                        raise _LocError(
                            (*loc, "event"),
                            f"expected a stochastic event (with 'hazard'), "
                            f"got {f.event!r}, scheduled at step {ev.at}",
                        )
                if f.op != "set":
                    continue
                for target in lever_targets(f):
                    if target in set_by:
                        raise _LocError(
                            loc,
                            f"expected one lever to set {_target_name(target)}, got "
                            f"{set_by[target]!r} and {name!r}",
                        )
                    set_by[target] = name
                    path, value = self._value_at(target)
                    if value is not None and _uncertain(value):
                        raise _LocError(
                            loc,
                            f"expected a lever that sets a certain value, got one that "
                            f"sets {path}, which is uncertain (shift it instead, or make it "
                            f"a number)",
                        )

    def _value_at(self, target: tuple) -> tuple[str, Any]:
        """The dotted path and the scenario's value (number, distribution, a list of schedule
        points, or None when not written) of a lever target."""
        kind, *key = target
        if kind == "tie":
            a, b = key
            found = None
            for n, t in enumerate(self.ties):
                if (t.from_, t.to) == (a, b) or (t.symmetric and (t.to, t.from_) == (a, b)):
                    found = (f"ties.{n}.{t.from_}.{t.to}", t.value)
            if found is None and self.tie_matrix is not None:
                names = self.actor_names
                found = (f"tie_matrix.{a}.{b}", self.tie_matrix[names.index(a)][names.index(b)])
            return found or (f"tie {a} -> {b}", None)
        if kind in ("position", "salience"):
            a, k = key
            table = self.positions if kind == "position" else self.salience
            return f"{kind}s.{a}.{k}" if kind == "position" else f"salience.{a}.{k}", table.get(a, {}).get(k)
        if kind in ("ambition", "dependence"):
            a, m = key
            table = self.spheres if kind == "ambition" else self.dependence
            return f"{'spheres' if kind == 'ambition' else 'dependence'}.{a}.{m}", table.get(a, {}).get(m)
        if kind == "strategic_value":
            return f"strategic_value.{key[0]}", self.strategic_value.get(key[0])
        if kind == "pressure":
            return f"pressure.{key[0]}", self.pressure.get(key[0])
        if kind == "growth":
            return f"actors.{key[0]}.growth", self.actors[key[0]].growth
        return f"events.{key[0]}.hazard", self.events[key[0]].hazard  # hazard

    def _check_metrics(self, actor):
        for name, m in self.metrics.items():
            if m.alliance is not None and m.alliance not in self.alliances:
                raise _LocError(
                    ("metrics", name, "alliance"),
                    f"unknown alliance {m.alliance!r}; expected one of {_names(self.alliances)}",
                )
            for key, attr in (("from", "from_"), ("to", "to"), ("owner", "owner")):
                if getattr(m, attr) is not None:
                    actor(getattr(m, attr), "metrics", name, key)
            if m.from_ is not None and m.from_ == m.to:
                raise _LocError(("metrics", name), f"expected two different actors, got {m.to!r} twice")
            for n, lever in enumerate(m.levers or []):
                if lever not in self.levers:
                    raise _LocError(
                        ("metrics", name, "levers", n),
                        f"unknown lever {lever!r}; expected one of {_names(self.levers)}",
                    )

    def _check_correlations(self):
        if not self.correlations:
            return
        from sim.spec.correlation import correlation_matrix  # same layer; needs the value paths

        try:
            correlation_matrix(self)
        except _LocError:
            raise
        except ValueError as e:  # pragma: no cover - correlation_matrix raises _LocError
            raise _LocError(("correlations",), str(e)) from None

    # -- conveniences ----------------------------------------------------------------------
    @property
    def actor_names(self) -> list[str]:
        """Actor names in the file's order (the arrays' order)."""
        return list(self.actors)

    @property
    def issue_names(self) -> list[str]:
        """Issue names in the file's order."""
        return list(self.issues)

    @property
    def focal_alliance(self) -> str | None:
        """The alliance a report leads with: ``focal`` or the first declared."""
        return self.focal or next(iter(self.alliances), None)

    def to_data(self) -> dict[str, Any]:
        """The resolved scenario as plain JSON-able data (what the manifest stores)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the resolved scenario.

        Key order is kept (it is the sampling order); the location of the claims file is left out
        so that the same scenario has the same hash in any checkout.
        """
        data = self.to_data()
        data.pop("claims", None)
        text = json.dumps(data, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def with_run(self, **changes) -> Scenario:
        """A copy with run settings replaced (e.g. ``steps=60``)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        run = Run.model_validate({**self.run.model_dump(), **changes})
        return self.model_copy(update={"run": run})


def stored_scenario(data: dict) -> Scenario:
    """The scenario a result directory's manifest stores (resolved, with the run's own settings).

    Validated like a file, except that events after a horizon shortened for the run are kept.
    """
    return Scenario.model_validate(data, context={"stored": True})


def _names(d) -> str:
    names = list(d)
    shown = ", ".join(repr(n) for n in names[:12])
    return shown + (", ..." if len(names) > 12 else "")


def lever_targets(f: LeverEffect) -> list[tuple]:
    """What one lever effect changes, as ``(kind, key...)`` tuples (both directions if symmetric)."""
    if f.kind in ("tie", "dependence"):
        pairs = [(f.from_, f.to)] + ([(f.to, f.from_)] if f.symmetric else [])
        return [(f.kind, a, b) for a, b in pairs]
    if f.kind in ("position", "salience"):
        return [(f.kind, f.actor, f.issue)]
    if f.kind == "ambition":
        return [(f.kind, f.actor, f.target)]
    if f.kind == "hazard":
        return [(f.kind, f.event)]
    return [(f.kind, f.actor)]


def _target_name(target: tuple) -> str:
    kind, *key = target
    return f"the {kind.replace('_', ' ')} of {' -> '.join(key)}"


def _uncertain(value) -> bool:
    if isinstance(value, list):
        return any(_uncertain(p.value) for p in value)
    return isinstance(value, _Dist)


class _LocError(ValueError):
    def __init__(self, loc, message):
        self.loc = tuple(loc)
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layer:
    path: Path
    text: str
    data: dict


def _read_layer(path: Path) -> _Layer:
    try:
        if path.exists() and not path.is_dir() and not path.is_file():
            raise ScenarioError(path, "expected a TOML file, got a device, pipe or socket")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                path,
                f"expected a scenario file of at most {MAX_FILE_BYTES >> 20} MB, got {size / 2**20:.0f} MB",
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(path, "no such file") from None
    except IsADirectoryError:
        raise ScenarioError(path, "expected a TOML file, got a directory") from None
    except OSError as e:
        raise ScenarioError(path, f"cannot read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(
            path, f"expected UTF-8 text, got byte 0x{raw[e.start]:02x}", line=raw[: e.start].count(b"\n") + 1
        ) from None
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write
    if not text.strip():
        raise ScenarioError(path, "expected a scenario, got an empty file", line=1)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        deep = re.search(r"(?:[\[{]\s*){32}", text)
        raise ScenarioError(
            path,
            "expected a scenario, got arrays or tables nested too deeply to read",
            line=text.count("\n", 0, deep.start()) + 1 if deep else None,
        ) from None
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m.group(1)) if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg).replace("\n", " ")
        if m:
            msg += f" (column {m.group(2)})"
        raise ScenarioError(path, f"invalid TOML: {msg}", line=line) from None
    return _Layer(path, text, data)


#: ``extends = "alliance-sim:<path>"`` names a file shipped with the package (seeds/, scenarios/)
SHIPPED_PREFIX = "alliance-sim:"
#: the folder of the shipped seeds and scenarios (the project's root)
SHIPPED_ROOT = Path(__file__).resolve().parents[2]


def _root_for(path: Path) -> Path:
    """The folder that ``extends`` may not leave: the nearest ancestor holding ``seeds/``."""
    for parent in path.resolve().parents:
        if (parent / "seeds").is_dir() or (parent / "pyproject.toml").is_file():
            return parent
    return path.resolve().parent


def _chain(path: Path) -> list[_Layer]:
    """The inheritance chain, base first.

    Each ``extends`` is confined to the folder tree of the file that names it (the nearest ancestor
    holding ``seeds/`` or ``pyproject.toml``), so that no scenario can read files from elsewhere
    by ``..`` or an absolute path; ``alliance-sim:<path>`` names a shipped file instead and is
    confined to the shipped tree.
    """
    layers: list[_Layer] = []
    seen: list[Path] = []
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(p.name for p in [*seen, resolved])
            raise ScenarioError(
                layers[-1].path,
                f"extends forms a cycle: {cycle}",
                line=_line_of_key(layers[-1].text, "extends"),
                path="extends",
            )
        seen.append(resolved)
        if layers:  # a parent: its own errors also say which file extends it
            try:
                layer = _read_layer(current)
            except ScenarioError as e:
                child = layers[-1]
                e.message += f" (extended by {child.path}:{_line_of_key(child.text, 'extends')})"
                raise ScenarioError(e.file, e.message, line=e.line, path=e.path) from None
        else:
            layer = _read_layer(current)
        layers.append(layer)
        parent = layer.data.get("extends")
        if parent is None:
            current = None
            continue
        if not isinstance(parent, str) or not parent:
            raise ScenarioError(
                current,
                "expected a relative path string",
                path="extends",
                line=_line_of_key(layer.text, "extends"),
            )
        if parent.startswith(SHIPPED_PREFIX):
            root = SHIPPED_ROOT
            target = SHIPPED_ROOT / parent[len(SHIPPED_PREFIX) :]
        else:
            root = _root_for(current)
            target = current.parent / parent
        if not target.resolve().is_relative_to(root):
            raise ScenarioError(
                current,
                f"expected a path inside {root}, got {parent!r}; to "
                f"extend a shipped file name it as "
                f"'{SHIPPED_PREFIX}seeds/baseline.toml' (paths that leave the "
                "folder are refused so that a scenario cannot read other files)",
                path="extends",
                line=_line_of_key(layer.text, "extends"),
            )
        if not target.exists():
            raise ScenarioError(
                current,
                f"no such file {parent!r} (looked in {current.parent})",
                path="extends",
                line=_line_of_key(layer.text, "extends"),
            )
        if not target.is_file():
            raise ScenarioError(
                current,
                f"expected a TOML file, got {parent!r}, which is not a file",
                path="extends",
                line=_line_of_key(layer.text, "extends"),
            )
        current = target
    layers.reverse()
    return layers


def scenario_chain(path: str | Path) -> list[Path]:
    """The files of a scenario's ``extends`` chain, base first, the file itself last."""
    return [layer.path for layer in _chain(Path(path))]


def merge(base: dict, child: dict) -> dict:
    """Deep merge: tables key by key, arrays of tables concatenated, anything else replaced."""
    out = dict(base)
    for key, value in child.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict) and "dist" not in value and "dist" not in old:
            out[key] = merge(old, value)
        elif key == "ties" and isinstance(old, list) and isinstance(value, list):
            out[key] = old + value
        else:
            out[key] = value
    return out


def _resolve_claims(layers: list[_Layer]) -> Path | None:
    """The claims file, which like ``extends`` must lie inside the project (see :func:`_root_for`):
    a scenario cannot make a report read files from elsewhere. Each layer's claims path is confined
    to that layer's own tree (a shipped parent's claims to the shipped tree)."""
    for layer in reversed(layers):
        claims = layer.data.get("claims")
        if isinstance(claims, str):
            root = _root_for(layer.path)
            target = (layer.path.parent / claims).resolve()
            if not target.is_relative_to(root):
                raise ScenarioError(
                    layer.path,
                    f"expected a path inside {root}, got {claims!r}",
                    path="claims",
                    line=_line_of_key(layer.text, "claims"),
                )
            return target
    return None


def load_scenario(path: str | Path, *, point: bool = False) -> Scenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path
        The TOML file.
    point
        Replace every uncertain value by its point value (mean, or mode for triangular).

    Raises
    ------
    ScenarioError
        With the file, line, field path and what was expected.
    """
    path = Path(path)
    layers = _chain(path)
    data: dict = {}
    for layer in layers:
        data = merge(data, {k: v for k, v in layer.data.items() if k != "extends"})
    claims = _resolve_claims(layers)
    if claims is not None:
        data["claims"] = str(claims)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        error = _explain(e, layers)
        if error.file != str(layers[-1].path):
            error = ScenarioError(
                error.file,
                f"{error.message} (in a file extended by {layers[-1].path})",
                line=error.line,
                path=error.path,
            )
        raise error from None
    except RecursionError:
        raise ScenarioError(path, "expected a scenario, got values nested too deeply") from None
    except _LocError as e:  # pragma: no cover - pydantic wraps these
        raise _locate(layers, e.loc, str(e)) from None
    if point:
        scenario = pointwise(scenario)
    return scenario


def pointwise(scenario: Scenario) -> Scenario:
    """The same scenario with every uncertain value replaced by its point value."""

    def walk(obj):
        if isinstance(obj, dict):
            if "dist" in obj:
                return _DIST_TYPES[obj["dist"]].model_validate(obj).point()
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return Scenario.model_validate(walk(scenario.model_dump(by_alias=True, exclude_none=True)))


_DIST_TYPES = {"uniform": Uniform, "triangular": Triangular, "normal": Normal, "beta": Beta}


def _explain(error: ValidationError, layers: list[_Layer]) -> ScenarioError:
    errors = error.errors()
    # A table given where a number or a distribution may stand fails both branches of the union;
    # the distribution's complaint is the useful one.
    useful = [
        e
        for e in errors
        if not (e["type"] in ("float_type", "float_parsing") and isinstance(e.get("input"), dict))
    ]
    # A misspelt key also makes the key it was meant to be missing: the typo is the useful line.
    useful.sort(key=lambda e: e["type"] != "extra_forbidden")
    err = (useful or errors)[0]
    loc = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    inner = ctx.get("error")
    if isinstance(inner, _LocError):
        return _locate(layers, loc + inner.loc, str(inner))
    msg = err["msg"]
    msg = re.sub(r"^(Value error|Assertion failed), ", "", msg)
    # Drop pydantic's union bookkeeping from the path ("float", "uniform", ...).
    clean = tuple(
        p
        for p in loc
        if p
        not in (
            "float",
            "uniform",
            "triangular",
            "normal",
            "beta",
            "list[PressurePoint]",
            "function-after[<lambda>(), union[float,tagged-union[Uniform,Triangular,Normal,Beta]]]",
        )
        and not (isinstance(p, str) and p.startswith(("function-after", "union[", "tagged-union")))
    )
    if clean and clean[-1] == "[key]":  # a table key (a name) that is not a valid name
        clean = clean[:-1]
        msg = (
            f"expected a name of 1 to 200 characters, none of them control characters, got "
            f"{_shown(err.get('input'))}"
        )
    elif err["type"] == "extra_forbidden":
        msg = f"unknown key {clean[-1]!r}" + _suggest(clean, layers)
    elif err["type"] == "missing":
        msg = "required but missing"
    elif err["type"] in ("float_parsing", "float_type"):
        msg = f"expected a number or a {{dist = ...}} table, got {_shown(err.get('input'))}"
    elif err["type"] == "union_tag_invalid":
        msg = (
            f"unknown distribution {ctx.get('tag')!r}; expected one of 'uniform', "
            f"'triangular', 'normal', 'beta'"
        )
    elif err["type"] in _EXPECTED:
        msg = _EXPECTED[err["type"]].format(**ctx) + f", got {_shown(err.get('input'))}"
    elif err["type"] in ("too_short", "too_long"):
        bound = ctx.get("min_length") if err["type"] == "too_short" else ctx.get("max_length")
        word = "at least" if err["type"] == "too_short" else "at most"
        what = "entries" if ctx.get("field_type") == "Dictionary" else "items"
        if bound == 1:
            what = what[:-3] + "y" if what == "entries" else what[:-1]
        got = len(err["input"]) if hasattr(err.get("input"), "__len__") else ctx.get("actual_length")
        msg = f"expected {word} {bound} {what}, got {got}"
    return _locate(layers, clean, msg)


# pydantic's complaints, phrased as what was expected (the input is appended).
_EXPECTED = {
    "greater_than": "expected a number > {gt}",
    "greater_than_equal": "expected a number >= {ge}",
    "less_than": "expected a number < {lt}",
    "less_than_equal": "expected a number <= {le}",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "list_type": "expected an array",
    "literal_error": "expected one of {expected}",
    "string_too_short": "expected at least {min_length} character(s)",
    "string_too_long": "expected at most {max_length} characters",
    "string_pattern_mismatch": "expected a name without control characters",
}


def _shown(value: Any) -> str:
    """A short rendering of a user's value for an error line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return f"an array of {len(value)}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else "a huge integer"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "...")
    return f"a {type(value).__name__} ({str(value)[:40]})"


_FIELDS_AT = {
    (): Scenario,
    ("run",): Run,
    ("mechanisms",): Mechanisms,
}


# The model of an entry nested under a table, by (table, depth of the entry's location).
_NESTED_MODELS: dict[tuple[str, int], type[BaseModel]] = {
    ("actors", 2): Actor,
    ("issues", 2): Issue,
    ("alliances", 2): Alliance,
    ("events", 2): Event,
    ("events", 4): Effect,
    ("ties", 2): Tie,
    ("pressure", 3): PressurePoint,
    ("levers", 2): Lever,
    ("levers", 4): LeverEffect,
    ("metrics", 2): Metric,
}


def _suggest(loc, layers) -> str:
    import difflib

    parent = loc[:-1]
    model = _FIELDS_AT.get(parent)
    if model is None and parent:
        model = _NESTED_MODELS.get((parent[0], len(parent)))
    if model is None:
        return ""
    fields = typing.cast(type[BaseModel], model).model_fields
    names = [f.alias or n for n, f in fields.items()] + (["extends"] if model is Scenario else [])
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return "; expected one of " + ", ".join(repr(n) for n in names)


def _locate(layers: list[_Layer], loc: tuple, message: str) -> ScenarioError:
    """Find which file (most derived first) and line defines ``loc``."""
    dotted = ".".join(_part(p) for p in loc)
    # List positions in a merged 'ties' array map back to the layer that contributed them.
    if loc and loc[0] == "ties" and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        for layer in layers:
            ties = layer.data.get("ties", [])
            n = len(ties) if isinstance(ties, list) else 0
            if index < n:
                return ScenarioError(
                    layer.path, message, path=dotted, line=_line_of_array_item(layer.text, "ties", index)
                )
            index -= n
    for layer in reversed(layers):
        node: Any = layer.data
        found = True
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                found = False
                break
        if found and loc:
            return ScenarioError(layer.path, message, path=dotted, line=_line_of_path(layer.text, loc))
    # Not written anywhere (a missing key): point at the most derived file's deepest table.
    for layer in reversed(layers):
        for cut in range(len(loc) - 1, 0, -1):
            node = layer.data
            ok = True
            for part in loc[:cut]:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                else:
                    ok = False
                    break
            if ok:
                return ScenarioError(
                    layer.path, message, path=dotted, line=_line_of_path(layer.text, loc[:cut])
                )
    return ScenarioError(layers[-1].path, message, path=dotted or None)


def _part(p) -> str:
    """One component of a dotted field path as shown to users."""
    text = str(p)
    if not text:
        return '""'
    return text if len(text) <= 40 else text[:40] + "..."


def _key_pattern(key: str) -> str:
    return r'(?:"' + re.escape(key) + r'"|' + re.escape(key) + r")"


def _line_of_key(text: str, key: str, start: int = 0) -> int | None:
    m = re.compile(r"^\s*" + _key_pattern(key) + r"\s*=", re.M).search(text, start)
    return text.count("\n", 0, m.start()) + 1 if m else None


def _line_of_array_item(text: str, key: str, index: int) -> int | None:
    headers = [m for m in re.finditer(r"^\s*\[\[\s*" + re.escape(key) + r"\s*\]\]", text, re.M)]
    if index < len(headers):
        return text.count("\n", 0, headers[index].start()) + 1
    return _line_of_key(text, key)


def _line_of_path(text: str, loc: tuple) -> int | None:
    """Best-effort line of a dotted key path in TOML text (table headers, dotted and inline keys)."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    # Longest table header that is a prefix of the path, then the remaining key after it.
    for cut in range(len(parts), 0, -1):
        header = r"\.".join(r"\s*" + _key_pattern(p) + r"\s*" for p in parts[:cut])
        m = re.compile(r"^\s*\[\[?" + header + r"\]\]?\s*(#.*)?$", re.M).search(text)
        if m:
            if cut == len(parts):
                return text.count("\n", 0, m.start()) + 1
            rest = parts[cut:]
            pattern = r"^\s*" + r"\s*\.\s*".join(_key_pattern(p) for p in rest[:1]) + r"\s*[=.]"
            found = re.compile(pattern, re.M).search(text, m.end())
            nxt = re.compile(r"^\s*\[", re.M).search(text, m.end())
            if found and (nxt is None or found.start() < nxt.start()):
                return text.count("\n", 0, found.start()) + 1
            return text.count("\n", 0, m.start()) + 1
    # A table written only through its sub-tables ([actors.A] for 'actors'): its first one.
    if parts:
        prefix = r"\.".join(r"\s*" + _key_pattern(p) + r"\s*" for p in parts)
        m = re.compile(r"^\s*\[\[?" + prefix + r"\.", re.M).search(text)
        if m:
            return text.count("\n", 0, m.start()) + 1
    # A top-level key, possibly holding an inline table.
    line = _line_of_key(text, parts[0]) if parts else None
    if line is not None and len(parts) > 1:
        start = sum(len(s) + 1 for s in text.split("\n")[: line - 1])
        for p in parts[1:]:
            m = re.compile(_key_pattern(p) + r"\s*=").search(text, start)
            if m:
                start = m.start()
                line = text.count("\n", 0, m.start()) + 1
    return line
