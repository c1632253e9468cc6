"""Writing TOML: every file of ours written from data (a calibration's posterior scenario, a
setting saved from the app) goes through :func:`dumps`, a thin layer over tomli-w that says once
what may be written.

TOML has no null, no NaN we would want to read back as a parameter, and no numpy types: numpy
scalars and arrays become Python numbers and lists, tuples become arrays, and a number that is not
finite, or a value TOML cannot hold, is refused with the key path it was found at. tomli-w writes
nested tables (distributions too) as ``[a.b]`` sections and tables inside arrays inline; comments
(which TOML data cannot carry) are put before the data. A table's plain values come before its
sub-tables, so a table that mixes numbers with distributions reads back with its numbers first:
the same values, and the uncertain values in the same order (which fixes what is drawn) unless
one table mixes distributions with arrays holding distributions (a pressure table of values and
schedules); the scenario's hash, which keeps key order, can differ. A posterior that extends its
scenario is not affected: what it overrides keeps the order of the file it extends.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tomli_w


def plain(value: Any, path: str = "") -> Any:
    """``value`` in the types TOML holds (see the module docstring); ValueError for a number that
    is not finite, TypeError for anything else TOML cannot hold, each naming ``path``."""
    where = path or "value"
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{where}: expected a finite number, got {number}")
        return number
    if isinstance(value, (str, _dt.date, _dt.time)):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise TypeError(f"{where}: cannot write {type(value).__name__} as TOML")


def dumps(data: Mapping[str, Any], comments: Sequence[str] = ()) -> str:
    """The TOML text of ``data`` (made :func:`plain`), after ``comments`` as ``#`` lines."""
    header = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comments)
    return header + tomli_w.dumps(plain(data))
