"""Scenario files: reading, inheritance (``extends``) and validation into a :class:`Scenario`.

``extends = "path.toml"`` inherits from another file (relative to the file that names it, and inside
the same project: see :func:`root_for`), or ``extends = "alliance-sim:seeds/baseline.toml"`` from a
file shipped with alliance-sim, from anywhere (:data:`SHIPPED_PREFIX`). Tables are
merged key by key (the child wins); arrays of tables (``ties``) are concatenated, the child's entries
applied after the parent's; any other value is replaced. The merged data is validated by the schema
(:mod:`sim.spec.schema`); whatever it refuses is reported as one line naming the file, the line and
the field (:mod:`sim.spec.locations`).
"""

from __future__ import annotations

import re
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.files import NotRegularFileError, read_regular
from sim.spec.locations import (
    FieldError,
    Layer,
    ScenarioError,
    line_of_key,
    line_of_path,
    locate,
    shown,
)
from sim.spec.schema import (
    Actor,
    Alliance,
    Effect,
    Event,
    Issue,
    Lever,
    LeverEffect,
    Mechanisms,
    Metric,
    PressurePoint,
    Run,
    Scenario,
    Tie,
)
from sim.spec.set_values import COMMAND_LINE, OVERRIDES, apply_values
from sim.spec.values import DISTRIBUTIONS

MAX_FILE_BYTES = 16 * 2**20  # a scenario file (the 200-actor tie matrix is well under 1 MB)


def stored_scenario(data: dict) -> Scenario:
    """The scenario a result directory's manifest stores (resolved, with the run's own settings).

    Validated like a file, except that events after a horizon shortened for the run are kept.
    """
    return Scenario.model_validate(data, context={"stored": True})


def read_layer(path: Path) -> Layer:
    """Read one TOML file of ours (a scenario or an observations file) with its text, refusing
    what is not a readable UTF-8 TOML file of a sensible size in one :class:`ScenarioError`."""
    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except NotRegularFileError:
        raise ScenarioError(path, "expected a TOML file, got a device, pipe or socket") from None
    except ValueError:
        size = path.stat().st_size
        raise ScenarioError(
            path,
            f"expected a scenario file of at most {MAX_FILE_BYTES >> 20} MB, got {size / 2**20:.0f} MB",
        ) from None
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
    return Layer(path, text, data)


#: ``extends = "alliance-sim:<path>"`` names a file shipped with the package (seeds/, scenarios/)
SHIPPED_PREFIX = "alliance-sim:"
#: the folders of shipped files ``extends`` may name with :data:`SHIPPED_PREFIX`
SHIPPED_FOLDERS = ("seeds", "scenarios")
#: the folder of the shipped seeds and scenarios (the project's root)
SHIPPED_ROOT = Path(__file__).resolve().parents[2]


#: the top-level keys a scenario file may have
SCENARIO_KEYS = frozenset({"extends", *((f.alias or n) for n, f in Scenario.model_fields.items())})


def root_for(path: Path) -> Path:
    """The folder that ``extends`` may not leave: the nearest ancestor holding ``seeds/``."""
    return _root_of(path.resolve().parent)


def _root_of(folder: Path) -> Path:
    folder = folder.resolve()
    for parent in (folder, *folder.parents):
        if (parent / "seeds").is_dir() or (parent / "pyproject.toml").is_file():
            return parent
    return folder


def relative_to_file(current: Path, name: str) -> tuple[Path, Path]:
    """``(target, root)``: the file a relative ``name`` written in ``current`` means, and the
    project folder it must stay inside.

    A scenario reached through a symbolic link reads a relative path beside the link first (the
    folder the user sees it in, inside that folder's project), and beside the file the link points
    to when nothing of that name is beside the link (inside that file's project): a linked
    scenario can extend the files around it in either place, the link's folder winning when both
    have one. Without a link the two are the same folder."""
    beside_link = (current.parent / name, _root_of(current.parent))
    if not current.is_symlink() or beside_link[0].exists():
        return beside_link
    real = current.resolve().parent
    beside_target = (real / name, _root_of(real))
    return beside_target if beside_target[0].exists() else beside_link


def _chain(path: Path) -> list[Layer]:
    """The inheritance chain, base first.

    Each ``extends`` is confined to the folder tree of the file that names it (the nearest ancestor
    holding ``seeds/`` or ``pyproject.toml``), so that no scenario can read files from elsewhere
    by ``..`` or an absolute path; ``alliance-sim:<path>`` names a shipped file instead and is
    confined to the shipped tree.
    """
    layers: list[Layer] = []
    seen: list[Path] = []
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            cycle = " -> ".join(p.name for p in [*seen, resolved])
            raise ScenarioError(
                layers[-1].path,
                f"extends forms a cycle: {cycle}",
                line=line_of_key(layers[-1].text, "extends"),
                path="extends",
            )
        seen.append(resolved)
        if layers:  # a parent: its own errors also say which file extends it
            try:
                layer = read_layer(current)
            except ScenarioError as e:
                child = layers[-1]
                e.message += f" (extended by {child.path}:{line_of_key(child.text, 'extends')})"
                raise ScenarioError(e.file, e.message, line=e.line, path=e.path) from None
            if not set(layer.data) <= SCENARIO_KEYS:  # say nothing of what another file holds
                raise _bad_extends(
                    layers[-1], f"expected a scenario file, got {current.name!r}, which is not one"
                )
        else:
            layer = read_layer(current)
        layers.append(layer)
        parent = layer.data.get("extends")
        if parent is None:
            current = None
            continue
        if not isinstance(parent, str) or not parent:
            raise _bad_extends(layer, "expected a relative path string")
        if parent.startswith(SHIPPED_PREFIX):
            root = SHIPPED_ROOT
            target = SHIPPED_ROOT / parent[len(SHIPPED_PREFIX) :]
            shipped = target.resolve()
            if shipped.suffix != ".toml" or not any(
                shipped.parent == SHIPPED_ROOT / folder for folder in SHIPPED_FOLDERS
            ):
                raise _bad_extends(
                    layer,
                    f"expected a shipped scenario ({SHIPPED_PREFIX}seeds/NAME.toml or "
                    f"{SHIPPED_PREFIX}scenarios/NAME.toml), got {parent!r}",
                )
        else:
            target, root = relative_to_file(current, parent)
        if not target.resolve().is_relative_to(root):
            raise _bad_extends(
                layer,
                f"expected a path inside {root}, got {parent!r}; to "
                f"extend a shipped file name it as "
                f"'{SHIPPED_PREFIX}seeds/baseline.toml' (paths that leave the "
                "folder are refused so that a scenario cannot read other files)",
            )
        if not target.exists():
            raise _bad_extends(layer, f"no such file {parent!r} (looked in {current.parent})")
        if not target.is_file():
            raise _bad_extends(layer, f"expected a TOML file, got {parent!r}, which is not a file")
        if target.suffix != ".toml":
            raise _bad_extends(layer, f"expected a scenario file (NAME.toml), got {parent!r}")
        current = target
    layers.reverse()
    return layers


def _bad_extends(layer: Layer, message: str) -> ScenarioError:
    """The error at a layer's ``extends`` line."""
    return ScenarioError(layer.path, message, path="extends", line=line_of_key(layer.text, "extends"))


def scenario_chain(path: str | Path) -> list[Path]:
    """The files of a scenario's ``extends`` chain, base first, the file itself last."""
    return [layer.path for layer in _chain(Path(path))]


def error_at(path: str | Path, loc: tuple, message: str) -> ScenarioError:
    """The error naming the file of ``path``'s ``extends`` chain, and the line, that write ``loc``
    (for checks made outside validation, such as whether a run fits in memory)."""
    return locate(_chain(Path(path)), loc, message)


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


def _resolve_claims(layers: list[Layer]) -> Path | None:
    """The claims file, which like ``extends`` must lie inside the project (see :func:`root_for`):
    a scenario cannot make a report read files from elsewhere. Each layer's claims path is confined
    to that layer's own tree (a shipped parent's claims to the shipped tree)."""
    for layer in reversed(layers):
        claims = layer.data.get("claims")
        if isinstance(claims, str):
            target, root = relative_to_file(layer.path, claims)
            target = target.resolve()
            line = line_of_key(layer.text, "claims")
            problem = None
            if not target.is_relative_to(root):
                problem = f"expected a path inside {root}, got {claims!r}"
            elif not target.is_file():
                what = "no such file" if not target.exists() else "not a file"
                problem = f"expected a claims file, got {claims!r} ({what})"
            if problem:
                raise ScenarioError(layer.path, problem, path="claims", line=line)
            return target
    return None


def load_scenario(
    path: str | Path, *, point: bool = False, values: Mapping[str, Any] | None = None
) -> Scenario:
    """Read, merge and validate a scenario file.

    Parameters
    ----------
    path
        The TOML file.
    point
        Replace every uncertain value by its point value (mean, or mode for triangular).
    values
        Parameter values set on top of the file, as ``--set PATH=VALUE`` sets them (path -> a
        number or a distribution's table; :mod:`sim.spec.set_values`), before ``point``.

    Raises
    ------
    ScenarioError
        With the file, line, field path and what was expected.
    """
    path = Path(path)
    layers = _chain(path)
    data: dict = {}
    for layer in layers:
        if OVERRIDES in layer.data:
            raise ScenarioError(
                layer.path,
                "expected each value in its own place (mechanisms.pressure = 0.1 under "
                f"[mechanisms]); '{OVERRIDES}' records the values set with --set and is not read "
                "from files",
                path=OVERRIDES,
                line=line_of_key(layer.text, OVERRIDES) or line_of_path(layer.text, (OVERRIDES,)),
            )
        data = merge(data, {k: v for k, v in layer.data.items() if k != "extends"})
    claims = _resolve_claims(layers)
    if claims is not None:
        data["claims"] = str(claims)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        error = explain_validation(e, layers)
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
    except FieldError as e:  # pragma: no cover - pydantic wraps these
        raise locate(layers, e.loc, str(e)) from None
    if values:
        scenario = apply_values(scenario, values, origin=COMMAND_LINE, layers=layers)
    if point:
        scenario = pointwise(scenario)
    return scenario


def pointwise(scenario: Scenario) -> Scenario:
    """The same scenario with every uncertain value replaced by its point value."""

    def walk(obj):
        if isinstance(obj, dict):
            if "dist" in obj:
                return DISTRIBUTIONS[obj["dist"]].model_validate(obj).point()
            return {k: walk(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [walk(v) for v in obj]
        return obj

    return Scenario.model_validate(walk(scenario.model_dump(by_alias=True, exclude_none=True)))


def explain_validation(error: ValidationError, layers: list[Layer]) -> ScenarioError:
    """The one-line error of a failed validation, located in the files ``layers`` (base first)."""
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
    if isinstance(inner, FieldError):
        return locate(layers, loc + inner.loc, str(inner))
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
        what = (
            msg
            if err["type"] == "value_error"
            else "expected a name of 1 to 200 characters, none of them control characters"
        )
        msg = f"{what}, got {shown(err.get('input'))}"
    elif err["type"] == "extra_forbidden":
        msg = f"unknown key {clean[-1]!r}" + _suggest(clean, layers)
    elif err["type"] == "missing":
        msg = "required but missing"
    elif err["type"] in ("float_parsing", "float_type"):
        msg = f"expected a number or a {{dist = ...}} table, got {shown(err.get('input'))}"
    elif err["type"] == "union_tag_invalid":
        msg = (
            f"unknown distribution {ctx.get('tag')!r}; expected one of 'uniform', "
            f"'triangular', 'normal', 'beta'"
        )
    elif err["type"] in _EXPECTED:
        msg = _EXPECTED[err["type"]].format(**ctx) + f", got {shown(err.get('input'))}"
    elif err["type"] in ("too_short", "too_long"):
        bound = ctx.get("min_length") if err["type"] == "too_short" else ctx.get("max_length")
        word = "at least" if err["type"] == "too_short" else "at most"
        what = "entries" if ctx.get("field_type") == "Dictionary" else "items"
        if bound == 1:
            what = what[:-3] + "y" if what == "entries" else what[:-1]
        got = len(err["input"]) if hasattr(err.get("input"), "__len__") else ctx.get("actual_length")
        msg = f"expected {word} {bound} {what}, got {got}"
    return locate(layers, clean, msg)


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
