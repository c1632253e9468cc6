"""The scenario schema: the parts of a scenario file, validated with pydantic.

A scenario describes actors, the issues they care about, their initial dispositions toward one
another, spheres of influence, dependences, pressure schedules, events, declared alliances,
levers and metrics, the mechanism coefficients of :mod:`sim.model.dynamics` and the run settings.
Files are data only: nothing in a scenario is evaluated, imported or executed. Every numeric
field may hold an uncertain value (:mod:`sim.spec.values`). Reading files, ``extends`` and the
error lines are :mod:`sim.spec.scenario`'s; the memory a run needs is the run layer's
(:mod:`sim.run.footprint`).
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator, model_validator

from sim.errors import InputError
from sim.spec.limits import MAX_ACTORS, MAX_ISSUES, MAX_REPLICATES, MAX_STEPS
from sim.spec.locations import FieldError, listed
from sim.spec.values import (
    AnyValue,
    Coefficient,
    Distribution,
    GrowthValue,
    NonNegative,
    RateValue,
    ShockValue,
    Strict,
    TieValue,
    UnitValue,
    check_bounds,
    finite,
    point_value,
)

# --------------------------------------------------------------------------------------------
# The scenario's parts
# --------------------------------------------------------------------------------------------


def _distinct_name(text: str) -> str:
    """Refuse a name that would look like another: decomposed characters (NFD ``é`` beside NFC
    ``é``), invisible format characters (zero-width spaces, direction marks) or surrounding
    spaces; two such names print alike but would be two actors."""
    if unicodedata.normalize("NFC", text) != text:
        raise ValueError("expected a name in composed Unicode (NFC: é as one character, not e and an accent)")
    if any(unicodedata.category(ch) == "Cf" for ch in text):
        raise ValueError("expected a name without invisible characters (zero-width spaces, direction marks)")
    if text != text.strip():
        raise ValueError("expected a name without leading or trailing spaces")
    return text


# Names (of actors, issues, alliances, events) appear in paths, tables, figures and terminals:
# no control characters, and none that only looks like another.
Name = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$"),
    AfterValidator(_distinct_name),
]


class Actor(Strict):
    """A state or alliance: its share of power and how fast that grows (per unit time)."""

    label: str = ""
    capability: NonNegative
    growth: GrowthValue = 0.0


class Issue(Strict):
    """An issue dimension with its scale [low, high]."""

    label: str = ""
    low: float = 0.0
    high: float = 10.0

    @model_validator(mode="after")
    def _order(self):
        for bound in (self.low, self.high):
            finite(bound)
            if abs(bound) > 1e9:  # positions live in [-1e9, 1e9]; wider scales overflow float32
                raise ValueError(
                    f"expected a scale inside [-1e9, 1e9], got low={self.low:g}, high={self.high:g}"
                )
        if not self.low < self.high:
            raise ValueError(f"expected low < high, got low={self.low:g}, high={self.high:g}")
        return self


class Tie(Strict):
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


class PressurePoint(Strict):
    """One knot of a piecewise-linear pressure schedule."""

    at: Annotated[int, Field(ge=0)]
    value: PressureValue


EffectKind = Literal["tie", "position", "salience", "ambition", "dependence", "pressure", "growth"]

# What each kind of effect names: the event effects' kinds, and two that only levers change (a
# client's strategic value, a stochastic event's hazard).
TARGET_KEYS: dict[str, tuple[str, ...]] = {
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


def check_targets(effect: Effect | LeverEffect, what: str) -> None:
    """The shape check of event and lever effects alike: the keys the effect's kind names are
    given and no other target key is; ``symmetric`` only on ties and dependences; no actor paired
    with itself. ``what`` names the effect in the message ("effect", "lever effect")."""
    kind = effect.kind
    needs = TARGET_KEYS[kind]
    for f in ("from_", "to", "actor", "issue", "target", "event"):
        key = "from" if f == "from_" else f
        given = getattr(effect, f, None) is not None
        if f in needs and not given:
            raise ValueError(f"a {kind!r} {what} needs {key!r}")
        if f not in needs and given:
            raise ValueError(
                f"a {kind!r} {what} takes no {key!r} (it takes "
                + ", ".join(repr("from" if n == "from_" else n) for n in needs)
                + ")"
            )
    if effect.symmetric and kind not in ("tie", "dependence"):
        raise ValueError(f"'symmetric' applies to tie and dependence effects, not {kind!r}")
    if kind in ("tie", "dependence") and effect.from_ == effect.to:
        raise ValueError(f"expected two different actors, got {effect.from_!r} twice")
    if kind == "ambition" and effect.actor == effect.target:
        raise ValueError(f"an actor cannot hold itself as a client ({effect.actor!r})")


class Effect(Strict):
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
        check_targets(self, "effect")
        if self.kind == "pressure" and self.set is not None:
            raise ValueError("a 'pressure' effect takes 'shift' only (it adds to the schedule)")
        return self


class Event(Strict):
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


class Alliance(Strict):
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


class LeverEffect(Strict):
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
        finite(self.scale)
        check_targets(self, "lever effect")
        return self


class Lever(Strict):
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
                finite(v)
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
            finite(self.status_quo)
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
                finite(v)
            sq = self.status_quo
            if isinstance(sq, str):
                if sq not in self.options:
                    raise ValueError(
                        f"expected status_quo to name an option ({listed(self.options)}), got {sq!r}"
                    )
            elif sq not in self.options.values():
                raise ValueError(
                    f"expected status_quo to name an option ({listed(self.options)}), got {sq:g}"
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


class Metric(Strict):
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
            finite(self.threshold)
        return self

    @property
    def sign(self) -> float:
        """+1 when larger is better, -1 when smaller is."""
        return 1.0 if self.direction == "maximize" else -1.0


class Mechanisms(Strict):
    """Coefficients of the forces on the ties (docs/design.md, "The forces on the ties"); 0 switches
    a force off."""

    affinity: NonNegative = 0.0
    balance: NonNegative = 0.0
    threat: NonNegative = 0.0
    pressure: NonNegative = 0.0
    competition: NonNegative = 0.0
    dependence: NonNegative = 0.0
    noise: NonNegative = 0.0
    bargain_every: Annotated[int, Field(ge=0)] = 0


class Measurement(Strict):
    """How a quantitative series reads a tie (``tie_series`` observations, :mod:`sim.spec.observations`):
    ``value = a + b * tie + error``, the error normal with each row's ``sd``. ``a`` and ``b`` are
    numbers or uncertain values, drawn per replicate and calibrated like every other value."""

    label: str = ""
    a: AnyValue = 0.0
    b: AnyValue = 1.0


class Run(Strict):
    """Run settings: steps (months by default), replicates, seed and step length."""

    steps: Annotated[int, Field(gt=0, le=MAX_STEPS)] = 120
    replicates: Annotated[int, Field(gt=0, le=MAX_REPLICATES)] = 1000
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    dt: Annotated[float, Field(gt=0.0, le=100.0)] = 1.0
    unit: str = "month"

    @field_validator("dt")
    @classmethod
    def _finite_dt(cls, v):
        return finite(v)


class Scenario(Strict):
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
    # the values set on top of the files (--set, with_values): path -> value, recorded so that a
    # run's manifest and hash say where they came from (sim.spec.set_values); never in a file
    overrides: dict[str, AnyValue] | None = None

    # -- cross-references ------------------------------------------------------------------
    @model_validator(mode="after")
    def _references(self, info: ValidationInfo):
        actors, issues = self.actors, self.issues

        def actor(name, *loc):
            if name not in actors:
                raise FieldError(loc, f"unknown actor {name!r}; expected one of {listed(actors)}")

        def issue(name, *loc):
            if name not in issues:
                raise FieldError(loc, f"unknown issue {name!r}; expected one of {listed(issues)}")

        for table in ("positions", "salience"):
            for a, per in getattr(self, table).items():
                actor(a, table, a)
                for k, v in per.items():
                    issue(k, table, a, k)
                    if table == "positions":
                        lo, hi = issues[k].low, issues[k].high
                        try:
                            check_bounds(v, lo, hi)
                        except ValueError as e:
                            raise FieldError((table, a, k), f"{e} (the scale of issue {k!r})") from None
        for a, per in self.salience.items():
            if (
                per
                and all(point_value(v) == 0 and not isinstance(v, Distribution) for v in per.values())
                and len(per) == len(issues)
            ):
                raise FieldError(("salience", a), "expected at least one positive salience, got all zero")
        for n, t in enumerate(self.ties):
            actor(t.from_, "ties", n, "from")
            actor(t.to, "ties", n, "to")
        if self.tie_matrix is not None:
            if len(self.tie_matrix) != len(actors) or any(len(r) != len(actors) for r in self.tie_matrix):
                raise FieldError(
                    ("tie_matrix",), f"expected a {len(actors)}x{len(actors)} matrix in actor order"
                )
        for table in ("spheres", "dependence"):
            for a, per in getattr(self, table).items():
                actor(a, table, a)
                for m in per:
                    actor(m, table, a, m)
                    if m == a:
                        raise FieldError((table, a, m), "expected another actor, got the actor itself")
        for m in self.strategic_value:
            actor(m, "strategic_value", m)
        for a, sched in self.pressure.items():
            actor(a, "pressure", a)
            if isinstance(sched, list):
                if not sched:
                    raise FieldError(("pressure", a), "expected at least one [at, value] point")
                ats = [p.at for p in sched]
                if any(b <= x for x, b in zip(ats, ats[1:])):
                    raise FieldError(("pressure", a), f"expected strictly increasing steps, got {ats}")
        # A stored run's scenario may have had its horizon shortened (``-t``): events after it
        # simply never fire there; in a file, an event past the horizon is a mistake.
        self._check_events(actor, issue, stored=bool(info.context and info.context.get("stored")))
        for name, al in self.alliances.items():
            for n, m in enumerate(al.members):
                actor(m, "alliances", name, "members", n)
        self._check_levers(actor, issue)
        self._check_metrics(actor)
        self._check_correlations()
        self._check_overrides()
        if self.focal is not None and self.focal not in self.alliances:
            raise FieldError(
                ("focal",), f"unknown alliance {self.focal!r}; expected one of {listed(self.alliances)}"
            )
        return self

    def _check_events(self, actor, issue, stored: bool):
        for event, ev in self.events.items():
            if ev.at is not None and ev.at >= self.run.steps and not stored:
                raise FieldError(
                    ("events", event, "at"),
                    f"expected a step before the horizon ({self.run.steps}), got {ev.at}",
                )
            for n, f in enumerate(ev.effects):
                _check_names(f, ("events", event, "effects", n), actor, issue)

    def _check_levers(self, actor, issue):
        set_by: dict[tuple, str] = {}
        for name, lever in self.levers.items():
            actor(lever.owner, "levers", name, "owner")
            for n, f in enumerate(lever.effects):
                loc = ("levers", name, "effects", n)
                _check_names(f, loc, actor, issue)
                if f.kind == "hazard":
                    ev = self.events.get(f.event)
                    if ev is None:
                        raise FieldError(
                            (*loc, "event"),
                            f"unknown event {f.event!r}; expected one of {listed(self.events)}",
                        )
                    if ev.hazard is None:
                        raise FieldError(
                            (*loc, "event"),
                            f"expected a stochastic event (with 'hazard'), "
                            f"got {f.event!r}, scheduled at step {ev.at}",
                        )
                if f.op != "set":
                    continue
                for target in lever_targets(f):
                    if target in set_by:
                        raise FieldError(
                            loc,
                            f"expected one lever to set {_target_name(target)}, got "
                            f"{set_by[target]!r} and {name!r}",
                        )
                    set_by[target] = name
                    path, value = self._value_at(target)
                    if value is not None and _uncertain(value):
                        raise FieldError(
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
                raise FieldError(
                    ("metrics", name, "alliance"),
                    f"unknown alliance {m.alliance!r}; expected one of {listed(self.alliances)}",
                )
            for key, attr in (("from", "from_"), ("to", "to"), ("owner", "owner")):
                if getattr(m, attr) is not None:
                    actor(getattr(m, attr), "metrics", name, key)
            if m.from_ is not None and m.from_ == m.to:
                raise FieldError(("metrics", name), f"expected two different actors, got {m.to!r} twice")
            for n, lever in enumerate(m.levers or []):
                if lever not in self.levers:
                    raise FieldError(
                        ("metrics", name, "levers", n),
                        f"unknown lever {lever!r}; expected one of {listed(self.levers)}",
                    )

    def _check_correlations(self):
        if not self.correlations:
            return
        from sim.spec.correlation import correlation_matrix  # same layer; needs the value paths

        try:
            correlation_matrix(self)
        except FieldError:
            raise
        except ValueError as e:  # pragma: no cover - correlation_matrix raises FieldError
            raise FieldError(("correlations",), str(e)) from None

    def _check_overrides(self):
        if not self.overrides:
            return
        from sim.spec.parammap import slot_map  # same layer; the walk reads this class

        known = slot_map(self)
        for path in self.overrides:
            if path not in known:
                raise FieldError(("overrides", path), "expected a parameter path of the scenario")

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

    def with_values(self, values: dict[str, Any], *, origin: str = "with_values") -> Scenario:
        """A copy with parameter values set and validated as a file's are.

        Parameters
        ----------
        values
            Parameter path (as ``alliance-sim show`` lists it) -> a number, a distribution, or a
            distribution's table (``{"dist": "uniform", "low": 0.05, "high": 0.2}``).
        origin
            How an error names where the values come from.

        Returns
        -------
        Scenario
            The scenario with the values in place and recorded in ``overrides`` (so that its
            hash, and a run's manifest, say they were set on top of the file).

        Raises
        ------
        sim.spec.set_values.SetError
            One line naming the path and what was expected (a path that is not a parameter gets
            the closest ones).

        Examples
        --------
        >>> import sim
        >>> s = sim.load_scenario("scenarios/stab_in_the_back.toml")  # doctest: +SKIP
        >>> s.with_values({"mechanisms.pressure": 0.1}).mechanisms.pressure  # doctest: +SKIP
        0.1
        """
        from sim.spec.set_values import apply_values

        return apply_values(self, values, origin=origin)

    def with_run(self, **changes) -> Scenario:
        """A copy with run settings replaced (e.g. ``steps=60``)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        try:
            run = Run.model_validate({**self.run.model_dump(), **changes})
        except ValidationError as e:  # e.g. more replicates than a run may have: one line
            first = e.errors()[0]
            where = ".".join(str(k) for k in first["loc"])
            raise InputError(f"{where}: {first['msg']}, got {first.get('input')!r}") from None
        return self.model_copy(update={"run": run})


def _check_names(effect: Effect | LeverEffect, loc: tuple, actor, issue) -> None:
    """The actors and the issue an effect names are the scenario's (``actor``/``issue`` raise)."""
    for key, attr in (("from", "from_"), ("to", "to"), ("actor", "actor"), ("target", "target")):
        if getattr(effect, attr) is not None:
            actor(getattr(effect, attr), *loc, key)
    if effect.issue is not None:
        issue(effect.issue, *loc, "issue")


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
    return isinstance(value, Distribution)
