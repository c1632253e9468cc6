"""Quantitative series as observations: a ``tie_series`` entry reads a CSV file of readings of ties.

An observations file may name a CSV file (beside it, or a path relative to it)::

    [[observations]]
    id = "tone"
    kind = "tie_series"
    file = "tone.csv"            # columns date, from, to, value, sd (any order), one row a reading
    measurement = "tone"         # the scenario's [measurements.tone]: value = a + b * tie + error
    basis = "how the series reads a disposition"
    [observations.source]
    ...

Each row is one reading of the tie ``from -> to`` (``mutual = true`` on the entry: the mean of
both directions) on its date, with a normal reading error of standard deviation ``sd`` on the
series' own scale. The scenario says how the scale relates to the tie::

    [measurements.tone]
    a = {dist = "uniform", low = -0.5, high = 0.5}   # the series' level at a neutral tie
    b = {dist = "uniform", low = 2.0, high = 4.0}    # its change per unit of tie

so dyad-month event-data tone or UN voting agreement enter with their own units, and ``a`` and
``b`` are inferred with everything else when they are uncertain. The rows become ordinary
observations (id ``ENTRY.LINE``, the CSV line), each checked like every other: a bad file is
one line naming the file, the line, the column and what was expected.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import math
from pathlib import Path

from sim.spec.observations import (
    MAX_OBSERVATIONS,
    Observation,
    ObservationError,
    ObservationFile,
    _line,
)

COLUMNS = ("date", "from", "to", "value", "sd")
MAX_CSV_BYTES = 64 << 20


def _fail(file: Path, message: str, line: int | None = None, column: str | None = None):
    raise ObservationError(file, message, line=line, path=column)


def _number(text: str, file: Path, line: int, column: str, positive: bool = False) -> float:
    try:
        x = float(text)
    except ValueError:
        _fail(file, f"expected a number, got {text.strip()!r}", line, column)
    if not math.isfinite(x):
        _fail(file, f"expected a finite number, got {text.strip()!r}", line, column)
    if positive and x <= 0:
        _fail(file, f"expected a number > 0, got {text.strip()}", line, column)
    return x


def _date(text: str, file: Path, line: int) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        _fail(file, f"expected a date such as 2023-02-04, got {text.strip()!r}", line, "date")
    raise AssertionError  # pragma: no cover - _fail raises


def _text(file: Path, where: Path, toml_line: int | None, key: str) -> str:
    """The CSV file's text, or one line naming the observations file's entry that points at it."""
    try:
        if file.stat().st_size > MAX_CSV_BYTES:
            _fail(file, f"expected a CSV file of at most {MAX_CSV_BYTES >> 20} MB")
        raw = file.read_bytes()
    except FileNotFoundError:
        _fail(
            where,
            f"cannot read {file.name!r}: no such file (paths are relative to this file)",
            toml_line,
            key,
        )
    except IsADirectoryError:
        _fail(where, f"expected a CSV file, got the directory {file.name!r}", toml_line, key)
    except OSError as e:
        _fail(where, f"cannot read {file.name!r}: {e.strerror}", toml_line, key)
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        _fail(file, f"expected UTF-8 text, got byte 0x{raw[e.start]:02x}", raw[: e.start].count(b"\n") + 1)
    raise AssertionError  # pragma: no cover


def read_rows(entry: Observation, file: Path, start: _dt.date) -> list[Observation]:
    """The readings of one CSV file as observations (see the module docstring).

    Raises
    ------
    ObservationError
        One line: the CSV file, the line, the column and what was expected.
    """
    text = _text(file, file, None, "file")
    lines = [row for row in csv.reader(io.StringIO(text))]
    numbered = [(n + 1, row) for n, row in enumerate(lines) if any(c.strip() for c in row)]
    if not numbered:
        _fail(file, f"expected a header line '{','.join(COLUMNS)}', got an empty file", 1)
    head_line, header = numbered[0]
    names = [c.strip().lower() for c in header]
    missing = [c for c in COLUMNS if c not in names]
    unknown = [c for c in names if c not in COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        what = (
            f"missing {missing[0]!r}" if missing else f"got {unknown[0] if unknown else 'a column twice'!r}"
        )
        _fail(file, f"expected the columns {', '.join(COLUMNS)} (any order), {what}", head_line)
    at = {c: names.index(c) for c in COLUMNS}
    if len(numbered) == 1:
        _fail(file, "expected at least one reading after the header, got none", head_line)
    if len(numbered) - 1 > MAX_OBSERVATIONS:
        _fail(file, f"expected at most {MAX_OBSERVATIONS} readings, got {len(numbered) - 1}")
    rows = []
    for line, row in numbered[1:]:
        if len(row) != len(names):
            _fail(file, f"expected {len(names)} fields ({', '.join(names)}), got {len(row)}", line)
        date = _date(row[at["date"]], file, line)
        if date < start:
            _fail(
                file, f"expected a date on or after the start {start.isoformat()}, got {date}", line, "date"
            )
        a, b = row[at["from"]].strip(), row[at["to"]].strip()
        for column, name in (("from", a), ("to", b)):
            if not name:
                _fail(file, "expected an actor's name, got an empty field", line, column)
        if a == b:
            _fail(file, f"expected two different actors, got {a!r} twice", line, "to")
        value = _number(row[at["value"]], file, line, "value")
        sd = _number(row[at["sd"]], file, line, "sd", positive=True)
        rows.append(
            entry.model_copy(
                update={
                    "id": f"{entry.id}.{line}",
                    "date": date,
                    "from_": a,
                    "to": b,
                    "value": value,
                    "sd": sd,
                    "line": line,
                    "file": str(file),
                }
            )
        )
    return rows


def expand(data: ObservationFile, path: Path, text: str) -> ObservationFile:
    """The observations file with every ``tie_series`` entry replaced by its CSV rows."""
    out: list[Observation] = []
    for n, o in enumerate(data.observations):
        if o.kind != "tie_series":
            out.append(o)
            continue
        file = path.parent / str(o.file)
        if not file.is_file():  # name the entry in the observations file, not the CSV
            _text(file, path, _line(text, ("observations", n, "file")), f"observations.{n}.file")
        out.extend(read_rows(o, file, data.start))
    if len(out) > MAX_OBSERVATIONS:
        _fail(path, f"expected at most {MAX_OBSERVATIONS} observations with the series' rows, got {len(out)}")
    return data.model_copy(update={"observations": out})


def check_row(o: Observation, path: Path, actors, measurements, step: int, steps: int, horizon) -> None:
    """Check a series row against the scenario: known actors and measurement, a date within the
    horizon; errors name the CSV line (the measurement: the observations file)."""
    file, line = Path(str(o.file)), o.line
    for column, name in (("from", o.from_), ("to", o.to)):
        if name not in actors:
            shown = ", ".join(repr(x) for x in list(actors)[:12])
            _fail(file, f"unknown actor {name!r}; expected one of {shown}", line, column)
    if o.measurement not in measurements:
        have = ", ".join(repr(m) for m in measurements) or "none"
        _fail(
            path,
            f"unknown measurement {o.measurement!r} (series {o.series}); expected a "
            f"[measurements.NAME] table of the scenario (it has {have})",
            None,
            "measurement",
        )
    if step > steps:
        _fail(
            file,
            f"expected a date before the horizon {horizon.isoformat()} (step {steps}), got "
            f"{o.date.isoformat()} (step {step})",
            line,
            "date",
        )
