"""Where in a scenario file a value is: the error that names file, line and field, and the TOML
line locator behind it.

Validation knows a field by its location (``("alliances", "china_russia", "h0")``); a user knows
a file and a line. :func:`locate` finds, in an ``extends`` chain of :class:`Layer` (base first),
the most derived file that writes the location and the line that writes it (table headers, dotted
and inline keys, arrays of tables), and returns the :class:`ScenarioError` shown to users as one
line: ``file:line: dotted.path: what was expected``. Other files of ours (observations) use the
same locator for their own tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import InputError, printable


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
        return printable(f"{where}: {self.message}", newlines=False)


def listed(d) -> str:
    """The first dozen names of ``d`` quoted and joined, for an error line's "expected one of"."""
    names = list(d)
    shown = ", ".join(repr(n) for n in names[:12])
    return shown + (", ..." if len(names) > 12 else "")


class FieldError(ValueError):
    """Raised inside validation with the field's location (a tuple of keys and indices), so that
    the error line can name the file, the line and the dotted path (:func:`locate`)."""

    def __init__(self, loc, message):
        self.loc = tuple(loc)
        super().__init__(message)


@dataclass(frozen=True)
class Layer:
    """One file of a scenario's ``extends`` chain: its path, its text and the data read from it."""

    path: Path
    text: str
    data: dict


def shown(value: Any) -> str:
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


def locate(layers: list[Layer], loc: tuple, message: str) -> ScenarioError:
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
                    layer.path, message, path=dotted, line=line_of_array_item(layer.text, "ties", index)
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
            return ScenarioError(layer.path, message, path=dotted, line=line_of_path(layer.text, loc))
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
                    layer.path, message, path=dotted, line=line_of_path(layer.text, loc[:cut])
                )
    return ScenarioError(layers[-1].path, message, path=dotted or None)


def _part(p) -> str:
    """One component of a dotted field path as shown to users."""
    text = str(p)
    if not text:
        return '""'
    return text if len(text) <= 40 else text[:40] + "..."


def key_pattern(key: str) -> str:
    """A regular expression matching ``key`` bare or quoted, as TOML allows it to be written."""
    return r'(?:"' + re.escape(key) + r'"|' + re.escape(key) + r")"


def line_of_key(text: str, key: str, start: int = 0) -> int | None:
    """The line of the first ``key = ...`` at or after ``start`` in TOML text, or None."""
    m = re.compile(r"^\s*" + key_pattern(key) + r"\s*=", re.M).search(text, start)
    return text.count("\n", 0, m.start()) + 1 if m else None


def line_of_array_item(text: str, key: str, index: int) -> int | None:
    """The line of the ``index``-th ``[[key]]`` header, or of ``key = [...]`` when it is inline."""
    headers = [m for m in re.finditer(r"^\s*\[\[\s*" + re.escape(key) + r"\s*\]\]", text, re.M)]
    if index < len(headers):
        return text.count("\n", 0, headers[index].start()) + 1
    return line_of_key(text, key)


def line_of_path(text: str, loc: tuple) -> int | None:
    """Best-effort line of a dotted key path in TOML text (table headers, dotted and inline keys)."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    # Longest table header that is a prefix of the path, then the remaining key after it.
    for cut in range(len(parts), 0, -1):
        header = r"\.".join(r"\s*" + key_pattern(p) + r"\s*" for p in parts[:cut])
        m = re.compile(r"^\s*\[\[?" + header + r"\]\]?\s*(#.*)?$", re.M).search(text)
        if m:
            if cut == len(parts):
                return text.count("\n", 0, m.start()) + 1
            rest = parts[cut:]
            pattern = r"^\s*" + r"\s*\.\s*".join(key_pattern(p) for p in rest[:1]) + r"\s*[=.]"
            found = re.compile(pattern, re.M).search(text, m.end())
            nxt = re.compile(r"^\s*\[", re.M).search(text, m.end())
            if found and (nxt is None or found.start() < nxt.start()):
                return text.count("\n", 0, found.start()) + 1
            return text.count("\n", 0, m.start()) + 1
    # A table written only through its sub-tables ([actors.A] for 'actors'): its first one.
    if parts:
        prefix = r"\.".join(r"\s*" + key_pattern(p) + r"\s*" for p in parts)
        m = re.compile(r"^\s*\[\[?" + prefix + r"\.", re.M).search(text)
        if m:
            return text.count("\n", 0, m.start()) + 1
    # A top-level key, possibly holding an inline table.
    line = line_of_key(text, parts[0]) if parts else None
    if line is not None and len(parts) > 1:
        start = sum(len(s) + 1 for s in text.split("\n")[: line - 1])
        for p in parts[1:]:
            m = re.compile(key_pattern(p) + r"\s*=").search(text, start)
            if m:
                start = m.start()
                line = text.count("\n", 0, m.start()) + 1
    return line
