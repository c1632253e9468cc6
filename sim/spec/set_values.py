"""Values set on top of a scenario: ``--set PATH=VALUE`` on the command line, ``with_values`` in
Python.

A path is a slot of the parameter map (:mod:`sim.spec.parammap`, as ``alliance-sim show`` lists
it: ``mechanisms.pressure``, ``alliances.china_russia.theta_trust``); a value is a number or a
distribution written as in a scenario file (``{dist = "uniform", low = 0.05, high = 0.2}``). The
value goes where the slot is written in the scenario's data and the whole scenario is validated
again, exactly as a file is, so a value a file could not hold is refused with the same words;
the error names the origin (``--set``) and the path. A path that is not a slot is refused with
the closest ones.

The scenario records what was set in its ``overrides`` table (path -> value, in the order given),
so a run's manifest, and therefore its scenario hash, says that the values did not come from the
file; ``show`` and ``diff`` mark them.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sim.spec.locations import Layer, ScenarioError, shown
from sim.spec.parammap import Slot, slot_map
from sim.spec.values import Distribution

if TYPE_CHECKING:
    from sim.spec.schema import Scenario

#: the scenario's table that records the values set on top of its files
OVERRIDES = "overrides"
#: how the command line names a value's origin in its errors
COMMAND_LINE = "--set"


class SetError(ScenarioError):
    """A value set on top of a scenario that cannot be used: one line naming where it was set
    (``--set``, ``with_values``), the path and what was expected."""

    def __init__(self, origin: str, path: str, message: str):
        self.origin = origin
        super().__init__(None, message, path=path)

    def one_line(self) -> str:
        """``--set mechanisms.pressure: expected a number >= 0, got -1``."""
        return f"{self.origin} {self.path}: {self.message}"


def unknown_path(path: str, known, origin: str = "") -> str:
    """The words refusing ``path``, which is not a slot: the closest slots, or where to look."""
    close = difflib.get_close_matches(path, list(known), n=4, cutoff=0.5)
    if close:
        return f"not a parameter of the scenario; did you mean {', '.join(close)}?"
    from sim.extras import command

    return f"not a parameter of the scenario; {command('show SCENARIO')} lists every parameter path"


def parse_assignment(text: str) -> tuple[str, Any]:
    """``PATH=VALUE`` as ``(path, value)``: the value read as TOML (a number, or an inline table
    such as ``{dist="uniform",low=0,high=1}``); ``ValueError`` with what was expected otherwise."""
    path, sep, value = text.partition("=")
    path, value = path.strip(), value.strip()
    if not sep or not path:
        raise ValueError(f"expected PATH=VALUE (e.g. mechanisms.pressure=0.1), got {text!r}")
    if not value:
        raise ValueError(f"{path}: expected a number or a {{dist = ...}} table after '=', got nothing")
    try:
        parsed = tomllib.loads(f"v = {value}")["v"]
    except tomllib.TOMLDecodeError:
        raise ValueError(
            f"{path}: expected a number or a {{dist = ...}} table in TOML syntax "
            f'(e.g. {{dist="uniform",low=0.05,high=0.2}}), got {value!r}'
        ) from None
    return path, parsed


def assignment_text(path: str, value: Any) -> str:
    """``PATH=VALUE`` as ``--set`` takes it (the inverse of :func:`parse_assignment`): a number as
    Python writes it, a distribution as an inline TOML table."""

    def inline(v: Any) -> str:
        v = _plain(v)
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, dict):
            return "{" + ",".join(f"{k}={inline(x)}" for k, x in v.items()) + "}"
        return json.dumps(str(v))

    return f"{path}={inline(value)}"


def _plain(value: Any) -> Any:
    """A value as scenario data: a number, or a distribution's table."""
    if isinstance(value, Distribution):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if hasattr(value, "item") and not isinstance(value, (dict, list, str)):  # a numpy scalar
        return value.item()
    return value


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc)


def _related(a: str, b: str) -> bool:
    """Whether one dotted location is the other or lies inside it."""
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def apply_values(
    scenario: Scenario,
    values: Mapping[str, Any],
    *,
    origin: str = "with_values",
    layers: list[Layer] | None = None,
) -> Scenario:
    """``scenario`` with ``values`` (path -> number, distribution or its table) set, validated and
    recorded in its ``overrides``.

    Parameters
    ----------
    scenario
        A validated scenario.
    values
        Slot paths and their new values.
    origin
        How errors name where the values come from (``--set`` on the command line).
    layers
        The files the scenario was read from (its ``extends`` chain), so that an error the new
        values cause elsewhere (a correlation that now names a certain value) names its line.

    Raises
    ------
    SetError
        One line: the origin, the path and what was expected.
    """
    from sim.spec.scenario import explain_validation
    from sim.spec.schema import Scenario

    if not values:
        return scenario
    known = slot_map(scenario)
    placed: dict[str, Slot] = {}
    for path in values:
        if path not in known:
            raise SetError(origin, path, unknown_path(path, known))
        placed[path] = known[path]
    data = scenario.to_data()
    given = {path: _plain(v) for path, v in values.items()}
    for path, value in given.items():
        node = data
        *head, last = placed[path].loc
        for key in head:
            node = node[key]
        node[last] = value
    data[OVERRIDES] = {**(data.get(OVERRIDES) or {}), **given}
    try:
        # "stored": a horizon shortened by with_run keeps the file's later events; no value a
        # slot holds bears on that check
        return Scenario.model_validate(data, context={"stored": True})
    except ValidationError as e:
        error = explain_validation(e, layers or [Layer(Path("<scenario>"), "", {})])
    for path, value in given.items():
        loc = _dotted(placed[path].loc)
        if error.path and _related(error.path, loc):
            rest = error.path[len(loc) :] if error.path.startswith(loc) else ""
            message = error.message
            if not isinstance(value, (int, float, dict)) or isinstance(value, bool):
                message = f"expected a number or a {{dist = ...}} table, got {shown(value)}"
            raise SetError(origin, path + rest, message)
    setting = ", ".join(given)
    raise SetError(origin, setting, f"the scenario is then invalid: {error}")
