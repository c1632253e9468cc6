"""Observations: dated, sourced facts about what happened after a scenario's start, as data.

An observations file (TOML) names the date its clock starts and holds ``[[observations]]``::

    start = 2022-02-04           # the date of the scenario's step 0
    unit = "month"               # must equal the scenario's run.unit

    [[observations]]
    id = "o-xi-moscow-2023"
    date = 2023-03-21            # an unquoted TOML date
    kind = "tie_sign"            # see KINDS
    from = "China"
    to = "Russia"
    sign = "positive"
    width = 0.1                  # the error model (below)
    basis = "why this fact reads as this observation (a modelling judgement)"
    [observations.source]
    outlet = "Wikipedia"
    published = 2023-03-22
    url = "https://..."
    headline = "..."
    paraphrase = "what the source reports, in our own words"

What may be observed (``kind``) and what each needs:

- ``alliance_active``: ``alliance`` (a declared alliance still active at that date);
- ``alliance_ended``: ``alliance`` and ``fate`` (``stab_in_the_back``, ``drift_apart`` or ``any``);
- ``tie_sign``: ``from``, ``to``, ``sign`` (``positive`` or ``negative``);
- ``tie_range``: ``from``, ``to``, ``low``, ``high`` in [-1, 1];
- ``same_bloc``: ``actors`` (two names) and ``same`` (true: in one bloc, false: in opposite blocs),
  blocs as the kernel draws them (Axelrod & Bennett's landscape partition of the ties);
- ``event_fired``: ``event`` (a scenario event) and ``fired`` (true: it had happened by then);
- ``tie_series``: ``file`` (a CSV file beside the observations file, columns
  ``date,from,to,value,sd``: one row per reading) and ``measurement`` (a ``[measurements.NAME]``
  table of the scenario: ``value = a + b * tie + error``). It takes no ``date``: its rows carry
  theirs. Each row becomes one observation, with id ``ID.LINE`` (the CSV line); ``--exclude ID``
  leaves out the whole series. See :mod:`sim.spec.series`.

``mutual = true`` on a tie observation reads the mean of both directions.

The error model. A tie is a latent disposition; a news report is a noisy reading of it. A tie
observation says that the tie plus a normal error of standard deviation ``width`` fell inside the
range (a sign is the range [0, 1] or [-1, 0]; a bound at -1 or 1 is open), so its likelihood
is ``Phi((high - w) / width) - Phi((low - w) / width)`` (interval-censored normal error); width 0
is a hard range. A discrete observation (an alliance, a bloc, an event) is misrecorded with
probability ``error``: its likelihood is ``1 - error`` when the replicate agrees and ``error``
when it does not. A ``tie_series`` row reads ``value`` where the replicate predicts ``a + b * w``,
with a normal error of the row's ``sd``: its likelihood is the normal density
``phi((value - a - b w) / sd) / sd``. Observations are independent given a replicate's trajectory.

Dates become steps of the scenario's clock: ``step = floor(elapsed / dt)``, with ``elapsed`` the
whole months (or years, for ``unit = "year"``) from ``start`` to the date, a month counted once
its day of the month is reached (2022-02-04 to 2022-03-03 is 0 months, to 2022-03-04 is 1). The
state recorded at that step is the state after ``step`` steps, the last one not later than the
date. A date before ``start`` or past the scenario's horizon is an error.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, model_validator

from sim.spec.locations import key_pattern, shown
from sim.spec.scenario import Scenario, ScenarioError, read_layer
from sim.spec.schema import Name
from sim.spec.values import Strict

KINDS = (
    "alliance_active",
    "alliance_ended",
    "tie_sign",
    "tie_range",
    "same_bloc",
    "event_fired",
    "tie_series",
)
TIE_KINDS = ("tie_sign", "tie_range")
READ_TIES = ("tie_sign", "tie_range", "tie_series")  # the kinds that read a tie (from, to, mutual)
NO_DATE = _dt.date(1, 1, 1)  # the date of a tie_series entry, whose rows carry the dates
ENDED_FATES = ("stab_in_the_back", "drift_apart", "any")
UNITS = ("month", "year")
MAX_OBSERVATIONS = 10_000


class ObservationError(ScenarioError):
    """An observations file that cannot be used: ``file:line: observations.N.field: expected ...``."""


class _AtError(ValueError):
    """A validation error at a field below the one pydantic reports (``loc`` relative to it)."""

    def __init__(self, loc, message):
        self.loc = tuple(loc)
        super().__init__(message)


class Source(Strict):
    """The public source of an observation: outlet, date, address and a paraphrase of its report."""

    outlet: Annotated[str, Field(min_length=1, max_length=200)]
    published: _dt.date
    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=2000)]
    headline: str = ""
    paraphrase: Annotated[str, Field(min_length=1)]
    note: str = ""  # how far to trust it (state media, partisan outlet: used for the bare fact only)


class Observation(Strict):
    """One dated observation with its error model and its source (see the module docstring)."""

    id: Name
    date: _dt.date = NO_DATE
    kind: Literal[
        "alliance_active", "alliance_ended", "tie_sign", "tie_range", "same_bloc", "event_fired", "tie_series"
    ]
    alliance: Name | None = None
    fate: Literal["stab_in_the_back", "drift_apart", "any"] | None = None
    from_: Name | None = Field(default=None, alias="from")
    to: Name | None = None
    mutual: bool = False
    sign: Literal["positive", "negative"] | None = None
    low: float | None = None
    high: float | None = None
    width: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    actors: list[Name] | None = None
    same: bool | None = None
    event: Name | None = None
    fired: bool | None = None
    error: Annotated[float, Field(ge=0.0, lt=0.5)] | None = None
    file: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    measurement: Name | None = None
    basis: Annotated[str, Field(min_length=1)]
    source: Source
    # a tie_series row (set by sim.spec.series from its CSV line, not written in a file)
    value: float | None = None
    sd: float | None = None
    line: int | None = None

    @model_validator(mode="after")
    def _shape(self):
        needs = {
            "alliance_active": ("alliance",),
            "alliance_ended": ("alliance", "fate"),
            "tie_sign": ("from_", "to", "sign"),
            "tie_range": ("from_", "to", "low", "high"),
            "same_bloc": ("actors", "same"),
            "event_fired": ("event", "fired"),
            "tie_series": ("file", "measurement"),
        }[self.kind]
        optional = {"tie_sign": ("mutual", "width"), "tie_range": ("mutual", "width")}.get(
            self.kind, ("mutual",) if self.kind == "tie_series" else ("error",)
        )
        if self.kind == "tie_series":
            if "date" in self.model_fields_set:
                raise ValueError("a 'tie_series' observation takes no 'date' (its CSV rows carry theirs)")
        elif "date" not in self.model_fields_set:
            raise _AtError(("date",), "required but missing")
        for f in (
            "alliance",
            "fate",
            "from_",
            "to",
            "sign",
            "low",
            "high",
            "actors",
            "same",
            "event",
            "fired",
            "width",
            "error",
            "file",
            "measurement",
            "value",
            "sd",
            "line",
        ):
            key = "from" if f == "from_" else f
            if f in needs and getattr(self, f) is None:
                raise ValueError(f"a {self.kind!r} observation needs {key!r}")
            if f not in needs and f not in optional and getattr(self, f) is not None:
                wanted = ", ".join(repr("from" if n == "from_" else n) for n in needs + optional)
                raise ValueError(f"a {self.kind!r} observation takes no {key!r} (it takes {wanted})")
        if self.mutual and self.kind not in READ_TIES:
            raise ValueError("'mutual' applies to tie observations only")
        if self.kind == "tie_range":
            for key, bound in (("low", self.low), ("high", self.high)):
                if not (math.isfinite(bound) and -1.0 <= bound <= 1.0):
                    raise _AtError(
                        (key,),
                        f"expected a tie range inside [-1, 1], got low={self.low:g}, high={self.high:g}",
                    )
            if not self.low < self.high:
                raise ValueError(f"expected low < high, got low={self.low:g}, high={self.high:g}")
        if self.kind in TIE_KINDS and self.from_ == self.to:
            raise ValueError(f"expected two different actors, got {self.from_!r} twice")
        if self.kind == "same_bloc" and (len(self.actors) != 2 or self.actors[0] == self.actors[1]):
            raise ValueError(f"expected two different actors, got {self.actors}")
        return self

    # -- the error model -------------------------------------------------------------------
    @property
    def bounds(self) -> tuple[float, float]:
        """The observed range of a tie, with a bound at -1 or 1 opened to infinity."""
        lo, hi = (0.0, 1.0) if self.sign == "positive" else (-1.0, 0.0)
        if self.kind == "tie_range" and self.low is not None and self.high is not None:
            lo, hi = self.low, self.high
        return (-math.inf if lo <= -1.0 else lo), (math.inf if hi >= 1.0 else hi)

    @property
    def tie_width(self) -> float:
        """The reading error of a tie observation (``width``, default 0.1)."""
        return DEFAULT_WIDTH if self.width is None else self.width

    @property
    def is_series(self) -> bool:
        """Whether this is a row of a quantitative series (``tie_series``)."""
        return self.kind == "tie_series"

    @property
    def reading(self) -> tuple[float, float]:
        """A series row's value and the sd of its reading error."""
        if self.value is None or self.sd is None:
            raise ValueError(f"{self.id}: not a row of a series")
        return self.value, self.sd

    @property
    def series(self) -> str:
        """The id of the entry a series row comes from (its own id otherwise)."""
        return self.id.rsplit(".", 1)[0] if self.is_series and self.line is not None else self.id

    @property
    def misrecord(self) -> float:
        """The probability a discrete observation is misrecorded (``error``, default 0.02)."""
        return DEFAULT_ERROR if self.error is None else self.error

    def describe(self) -> str:
        """The observation in a few words, as tables print it."""
        if self.kind == "alliance_active":
            return f"{self.alliance} active"
        if self.kind == "alliance_ended":
            return f"{self.alliance} ended ({self.fate})"
        arrow = "<->" if self.mutual else "->"
        if self.kind == "tie_sign":
            return f"{self.from_}{arrow}{self.to} {self.sign}"
        if self.kind == "tie_range":
            return f"{self.from_}{arrow}{self.to} in [{self.low:g}, {self.high:g}]"
        if self.kind == "same_bloc":
            return f"{' and '.join(self.actors or [])} {'in one bloc' if self.same else 'in opposite blocs'}"
        if self.kind == "tie_series":
            if self.value is None:
                return f"series {self.file} on the {self.measurement} scale"
            return f"{self.from_}{arrow}{self.to} read {self.value:g} +- {self.sd:g} ({self.measurement})"
        return f"{self.event} {'fired' if self.fired else 'not fired'}"


DEFAULT_WIDTH = 0.1  # a tie read from a news report: about a tenth of the scale either way
DEFAULT_ERROR = 0.02  # a discrete fact (a summit held, an alliance in force) is rarely misread


class ObservationFile(Strict):
    """A whole observations file: the clock (``start``, ``unit``) and its observations."""

    start: _dt.date
    unit: Literal["month", "year"] = "month"
    observations: Annotated[list[Observation], Field(min_length=1, max_length=MAX_OBSERVATIONS)]

    @model_validator(mode="after")
    def _unique(self) -> ObservationFile:
        seen: set[str] = set()
        for n, o in enumerate(self.observations):
            if o.id in seen:
                raise _AtError(("observations", n, "id"), f"expected a unique id, got {o.id!r} again")
            seen.add(o.id)
            if o.kind != "tie_series" and o.date < self.start:
                raise _AtError(
                    ("observations", n, "date"),
                    f"expected a date on or after the start "
                    f"{self.start.isoformat()}, got {o.date.isoformat()}",
                )
        return self


@dataclass(frozen=True)
class Record:
    """Observations checked against a scenario, each with the step it is read at."""

    path: Path
    start: _dt.date
    unit: str
    observations: tuple[Observation, ...]
    steps: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.observations)

    @property
    def last_step(self) -> int:
        """The step of the latest observation."""
        return max(self.steps)

    @property
    def last_date(self) -> _dt.date:
        """The date of the latest observation."""
        return max(o.date for o in self.observations)

    def without(self, ids) -> Record:
        """The record without the observations ``ids`` (to see what one observation does).

        Raises
        ------
        ObservationError
            For an id the record does not hold, or when nothing would be left.
        """
        ids = list(ids)
        known = {o.id for o in self.observations} | {o.series for o in self.observations}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise ObservationError(
                self.path,
                f"unknown observation {unknown[0]!r}; expected one of "
                + ", ".join(repr(i) for i in sorted(known)[:8])
                + ", ...",
                path="--exclude",
            )
        keep = [k for k, o in enumerate(self.observations) if o.id not in ids and o.series not in ids]
        if not keep:
            raise ObservationError(
                self.path, "expected at least one observation left, got none", path="--exclude"
            )
        return Record(
            self.path,
            self.start,
            self.unit,
            tuple(self.observations[k] for k in keep),
            tuple(self.steps[k] for k in keep),
        )

    def date_of(self, step: int, dt: float = 1.0) -> _dt.date:
        """The date a step of the clock stands for."""
        return add_units(self.start, step * dt, self.unit)


def elapsed(start: _dt.date, date: _dt.date, unit: str) -> int:
    """Whole months (or years) from ``start`` to ``date``; a month counts once its day is reached."""
    months = (date.year - start.year) * 12 + (date.month - start.month) - (date.day < start.day)
    return months if unit == "month" else (months // 12)


def add_units(start: _dt.date, amount: float, unit: str) -> _dt.date:
    """``start`` moved on by ``amount`` whole months or years (day clipped to the month's end)."""
    months = int(math.floor(amount)) * (12 if unit == "year" else 1)
    y, m = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, m + 1
    import calendar

    return _dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def step_of(start: _dt.date, date: _dt.date, unit: str, dt: float) -> int:
    """The step of a scenario's clock at which a date is read: ``floor(elapsed / dt)``."""
    return int(math.floor(elapsed(start, date, unit) / dt + 1e-9))


def read_observations(path: str | Path) -> ObservationFile:
    """Read and validate an observations file on its own (no scenario needed).

    Raises
    ------
    ObservationError
        One line: the file, the line, the field (``observations.N.field``) and what was expected.
    """
    path = Path(path)
    try:
        layer = read_layer(path)
    except ScenarioError as e:
        raise ObservationError(
            e.file, e.message.replace("a scenario", "observations"), line=e.line, path=e.path
        ) from None
    try:
        data = ObservationFile.model_validate(layer.data)
    except ValidationError as e:
        err = _useful(e.errors())
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        ctx = err.get("ctx") or {}
        inner = ctx.get("error")
        if isinstance(inner, _AtError):
            loc, msg = loc + inner.loc, str(inner)
        else:
            msg = _message(err)
        raise ObservationError(path, msg, line=_line(layer.text, loc), path=_dotted(loc)) from None
    if any(o.kind == "tie_series" for o in data.observations):
        from sim.spec.series import expand

        data = expand(data, path, layer.text)
    return data


def _useful(errors):
    errors = sorted(errors, key=lambda e: e["type"] != "extra_forbidden")
    return errors[0]


def _message(err) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    msg = re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])
    if kind == "extra_forbidden":
        return f"unknown key {err['loc'][-1]!r}"
    if kind == "missing":
        return "required but missing"
    if kind.startswith("date"):
        return f"expected a date such as 2022-02-04 (unquoted), got {shown(value)}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected')}, got {shown(value)}"
    if kind in ("float_type", "float_parsing"):
        return f"expected a number, got {shown(value)}"
    if kind in ("greater_than_equal", "less_than", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("lt", ctx.get("le")))
        op = {"greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        return f"expected a number {op} {bound}, got {shown(value)}"
    if kind == "string_pattern_mismatch" and err["loc"][-1] == "url":
        return f"expected an http(s) address, got {shown(value)}"
    if kind in ("string_type", "bool_type", "list_type", "model_type", "dict_type"):
        what = {
            "string_type": "a string",
            "bool_type": "true or false",
            "list_type": "an array",
            "model_type": "a table",
            "dict_type": "a table",
        }[kind]
        return f"expected {what}, got {shown(value)}"
    if kind in ("too_short", "string_too_short"):
        return f"expected a non-empty value, got {shown(value)}"
    return msg


def _dotted(loc) -> str | None:
    return ".".join(str(p) for p in loc) or None


def _line(text: str, loc) -> int | None:
    """Line of ``observations.N[.source].field`` in the TOML text (headers, then keys)."""
    if not loc:
        return None
    if loc[0] != "observations" or len(loc) < 2 or not isinstance(loc[1], int):
        m = re.compile(r"^\s*" + key_pattern(str(loc[0])) + r"\s*=", re.M).search(text)
        if m:
            return text.count("\n", 0, m.start()) + 1
        m = re.compile(r"^\s*\[\[?\s*" + re.escape(str(loc[0])), re.M).search(text)
        return text.count("\n", 0, m.start()) + 1 if m else None
    heads = [m for m in re.finditer(r"^\s*\[\[\s*observations\s*\]\]", text, re.M)]
    if loc[1] >= len(heads):
        return None
    start = heads[loc[1]].start()
    end = heads[loc[1] + 1].start() if loc[1] + 1 < len(heads) else len(text)
    block = text[start:end]
    line = text.count("\n", 0, start) + 1
    rest = [str(p) for p in loc[2:] if not isinstance(p, int)]
    if rest and rest[0] == "source":
        m = re.compile(r"^\s*\[\s*observations\s*\.\s*source\s*\]", re.M).search(block)
        if m:
            line = text.count("\n", 0, start + m.start()) + 1
            block_start = m.end()
            rest = rest[1:]
        else:
            block_start = 0
    else:
        block_start = 0
        nested = re.compile(r"^\s*\[\s*observations\s*\.", re.M).search(block)
        block = block[: nested.start()] if nested else block
    if rest:
        key = "from" if rest[0] == "from_" else rest[0]
        m = re.compile(r"^\s*" + key_pattern(key) + r"\s*=", re.M).search(block, block_start)
        if m:
            return text.count("\n", 0, start + m.start()) + 1
    return line


def load_record(path: str | Path, scenario: Scenario) -> Record:
    """Read an observations file and check it against a scenario: every actor, alliance and event
    it names exists there, its unit is the scenario's and every date falls on the scenario's clock
    (on or after the start, not past the horizon).

    Raises
    ------
    ObservationError
        One line naming the file, the line, the field and what was expected.
    """
    path = Path(path)
    data = read_observations(path)
    text = path.read_text(encoding="utf-8")
    run = scenario.run

    def fail(n, field, message):
        loc = ("observations", n, field) if n is not None else (field,)
        raise ObservationError(path, message, line=_line(text, loc), path=_dotted(loc))

    if data.unit != run.unit:
        fail(None, "unit", f"expected the scenario's unit {run.unit!r}, got {data.unit!r}")
    if run.unit not in UNITS:  # pragma: no cover - data.unit is one of UNITS
        fail(None, "unit", f"expected a scenario clock in {UNITS}, got {run.unit!r}")
    actors = scenario.actor_names

    def known(name, n, field, names, what):
        if name not in names:
            shown = ", ".join(repr(x) for x in list(names)[:12])
            fail(n, field, f"unknown {what} {name!r}; expected one of {shown}")

    steps = []
    horizon = add_units(data.start, run.steps * run.dt, data.unit)
    for n, o in zip(_entries(data.observations), data.observations):
        step = step_of(data.start, o.date, data.unit, run.dt)
        steps.append(step)
        if o.kind == "tie_series":
            from sim.spec.series import check_row

            check_row(o, path, actors, scenario.measurements, step, run.steps, horizon)
            continue
        if step > run.steps:
            fail(
                n,
                "date",
                f"expected a date before the horizon {horizon.isoformat()} (step "
                f"{run.steps}), got {o.date.isoformat()} (step {step})",
            )
        if o.kind in TIE_KINDS:
            known(o.from_, n, "from", actors, "actor")
            known(o.to, n, "to", actors, "actor")
        elif o.kind == "same_bloc":
            for a in o.actors or []:
                known(a, n, "actors", actors, "actor")
        elif o.kind == "event_fired":
            known(o.event, n, "event", scenario.events, "event")
        else:
            known(o.alliance, n, "alliance", scenario.alliances, "alliance")
    return Record(path, data.start, data.unit, tuple(data.observations), tuple(steps))


def _entries(observations) -> list[int]:
    """The ``[[observations]]`` entry of the file each observation comes from (the rows of a
    ``tie_series`` share their entry's number)."""
    out, k, series = [], -1, None
    for o in observations:
        if o.kind != "tie_series" or o.series != series:
            k += 1
        series = o.series if o.kind == "tie_series" else None
        out.append(k)
    return out


# --------------------------------------------------------------------------------------------
# Provenance checks (the observation counterpart of sim.spec.claims.claim_problems)
# --------------------------------------------------------------------------------------------


def source_problems(observations) -> list[str]:
    """Observations whose source cannot stand: an empty outlet, a paraphrase of fewer than six
    words, a source published more than a month before the fact it reports or more than about a
    year after it, an empty basis."""
    problems = []
    for o in observations:
        s = o.source
        if not s.outlet.strip():
            problems.append(f"{o.id}: no outlet")
        if len(s.paraphrase.split()) < 6:
            problems.append(f"{o.id}: paraphrase too short to say what was reported")
        if (s.published - o.date).days < -31:
            problems.append(
                f"{o.id}: source published {s.published}, before the fact it is cited for ({o.date})"
            )
        if (s.published - o.date).days > 400:
            problems.append(f"{o.id}: source published {s.published}, over a year after {o.date}")
        if not o.basis.strip():
            problems.append(f"{o.id}: no basis")
    return problems
