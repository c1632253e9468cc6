"""A result folder's replicate table written out for other tools: CSV for a spreadsheet or R,
plain Parquet for anything that reads it.

The table is read one row group at a time and written as it is read, so a table of a million
replicates never sits in memory whole. Every column comes out in its logical type (a value stored
narrower, see :mod:`sim.run.replicate_table`, is widened back, as :func:`read_frame` widens it)
and text columns as plain text. The folder is checked first, as every reader checks it (its seal
and every file's SHA-256).
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.errors import InputError
from sim.files import atomic_write
from sim.run.replicate_table import widened
from sim.run.store import REPLICATES

FORMATS = ("csv", "parquet")
#: what ``--out -`` means: the CSV on standard output
STDOUT = "-"


def table_rows(folder: str | Path) -> int | None:
    """Rows of a folder's replicate table, read from its footer (None when it cannot be read)."""
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(Path(folder) / REPLICATES).num_rows)
    except (OSError, ValueError):
        return None


def pick_columns(names: Sequence[str], asked: Sequence[str] | None) -> list[str]:
    """The columns named by ``asked`` (names or glob patterns such as ``fate:*``), in the table's
    order; all of them without ``asked``. A name or pattern that matches nothing is refused with
    the closest columns."""
    if not asked:
        return list(names)
    keep: set[str] = set()
    for pattern in asked:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            close = difflib.get_close_matches(pattern, names, n=4, cutoff=0.5)
            hint = (
                f"; did you mean {', '.join(close)}?"
                if close
                else f"; the table has {', '.join(names[:8])}, ..."
            )
            raise InputError(f"--columns {pattern}: no column of the replicate table matches{hint}")
        keep.update(hits)
    return [n for n in names if n in keep]


def export_table(
    folder: str | Path,
    out: str | Path,
    *,
    fmt: str = "csv",
    columns: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write the replicate table of the result folder ``folder`` to ``out`` (``-``: standard
    output, CSV only), one row group at a time.

    Returns ``{"rows", "columns", "path"}``.

    Raises
    ------
    InputError
        Not a result folder with a replicate table, a column that is not there, a format unknown.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    from sim.run.folders import checked_manifest

    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    folder = Path(folder)
    checked_manifest(folder, rows=False)  # the seal and every recorded file's checksum
    source = folder / REPLICATES
    if not source.is_file():
        raise InputError(f"{folder}: no {REPLICATES}; expected a folder written by run or experiment")
    pf = pq.ParquetFile(source)
    schema = pf.schema_arrow
    names = pick_columns(schema.names, columns)
    wide = set(widened(schema))
    fields = []
    for name in names:
        f = schema.field(name)
        kind = f.type
        if name in wide:
            kind = pa.float64()
        elif pa.types.is_dictionary(kind):
            kind = kind.value_type
        fields.append(pa.field(name, kind))
    target = pa.schema(fields)

    def batches():
        for g in range(pf.metadata.num_row_groups):
            table = pf.read_row_group(g, columns=names).cast(target)
            if progress is not None:
                progress(table.num_rows)
            yield table

    rows = 0
    if str(out) == STDOUT:
        if fmt != "csv":
            raise InputError("--out -: standard output takes CSV only; expected --csv or a file")
        sink = pa.PythonFile(sys.stdout.buffer, mode="w")
        with pcsv.CSVWriter(sink, target) as writer:
            for table in batches():
                writer.write_table(table)
                rows += table.num_rows
        sys.stdout.buffer.flush()
        return {"rows": rows, "columns": len(names), "path": STDOUT}

    out = Path(out)

    def write(path: str | os.PathLike) -> None:
        nonlocal rows
        rows = 0
        if fmt == "csv":
            with pcsv.CSVWriter(str(path), target) as writer:
                for table in batches():
                    writer.write_table(table)
                    rows += table.num_rows
        else:
            with pq.ParquetWriter(str(path), target, compression="zstd") as writer:
                for table in batches():
                    writer.write_table(table)
                    rows += table.num_rows

    atomic_write(write, out)
    return {"rows": rows, "columns": len(names), "path": out}
