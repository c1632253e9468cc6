"""The replicate table on disk: how ``replicates.parquet`` is encoded, and how it is read back.

The table is written once, as a run's chunks are merged (:class:`sim.run.store.Merger`), and read
many times, so it is stored as small as Parquet allows without changing a single value:

- every column keeps its values: a float64 column whose every value is a float32 (the final
  capabilities of a float32 run) is stored as float32 and marked so (the field's metadata
  ``alliance-sim.logical_type = double``); :func:`read_frame` and :class:`RowGroups` give it back
  as float64, value for value;
- text and integer columns (fates, defectors, end steps, event steps and counts, blocs) and float
  columns with few distinct values (the balance share) are dictionary encoded: a handful of values
  per column, each row a few bits;
- the other float columns (sampled values, cohesion, attribution) are split into byte streams
  (Parquet's BYTE_STREAM_SPLIT), which puts the exponents, whose bytes repeat, side by side for the
  compressor; the replicate number is delta encoded;
- every page is compressed with zstd at level 1 (measured on 100,000 ``status_quo`` replicates:
  level 3 saves 0.2 % more and writes 1.3 times slower, level 9 saves 0.5 % and writes 3 times
  slower).

What the encoding is follows only from the chunks' contents, so a resumed run still writes the same
bytes as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.vocabulary import REPLICATE

#: field metadata key naming the type a column had before it was stored narrower
LOGICAL_TYPE = b"alliance-sim.logical_type"
DOUBLE = b"double"
#: a float column with at most this many distinct values in the first chunk (and at most one per
#: sixteen rows) is dictionary encoded rather than split into byte streams
DICTIONARY_MAX = 4096
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1
#: columns decoded per read of a row group (see :meth:`RowGroups.batches`)
COLUMNS_PER_READ = 32


def narrowable(values) -> bool:
    """Whether every value of a float64 array (or Arrow array) is a float32: it round-trips
    through float32 unchanged (NaN stays NaN)."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        return bool(np.array_equal(x.astype(np.float32).astype(np.float64), x, equal_nan=True))


@dataclass(frozen=True)
class StoragePlan:
    """How each column of a replicate table is stored.

    Attributes
    ----------
    narrow : frozenset of str
        float64 columns stored as float32 (every value of them is a float32).
    dictionary : tuple of str
        Columns dictionary encoded.
    split : tuple of str
        Float columns split into byte streams.
    delta : tuple of str
        Integer columns delta encoded (the replicate number).
    """

    narrow: frozenset[str]
    dictionary: tuple[str, ...]
    split: tuple[str, ...]
    delta: tuple[str, ...]


def numeric_values(column) -> np.ndarray:
    """A column of numbers (``pyarrow`` Array or ChunkedArray of integers or floats) as a numpy
    array, read from its buffers when it has no nulls: ``to_numpy`` imports pandas on its first
    call, a third of a second in the process that merges a run's chunks or prints its fate counts,
    which otherwise never need it. Anything else (nulls, booleans, text) goes through
    ``to_numpy``."""
    import pyarrow as pa

    kind, chunked = column.type, isinstance(column, pa.ChunkedArray)
    if column.null_count or not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return column.to_numpy() if chunked else column.to_numpy(zero_copy_only=False)
    dtype = np.dtype(kind.to_pandas_dtype())
    chunks = column.chunks if chunked else [column]
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype=dtype, count=chunk.offset + len(chunk))[chunk.offset :]
        for chunk in chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def plan_storage(tables: Iterable) -> StoragePlan:
    """The storage of a replicate table given as its chunks (``pyarrow.Table`` each, in order).

    Every chunk is looked at for the float64 columns that may be stored as float32
    (:func:`narrow_columns`); the first chunk alone chooses between dictionary and byte-stream
    encoding (both keep every value, so the choice only moves bytes; :func:`storage_plan`).
    """
    narrow: set[str] | None = None
    first = None
    for table in tables:
        if first is None:
            first = table
        narrow = narrow_columns(table, narrow)
    if first is None:
        return StoragePlan(frozenset(), (), (), ())
    return storage_plan(first, narrow or set())


def narrow_columns(table, candidates: set[str] | None = None) -> set[str]:
    """The float64 columns of ``table`` (of ``candidates`` only, when given) whose every value is
    a float32: what a table of several chunks may store narrowed is what every chunk allows."""
    import pyarrow as pa

    names = [f.name for f in table.schema if pa.types.is_float64(f.type)]
    if candidates is not None:
        names = [c for c in names if c in candidates]
    return {c for c in names if narrowable(numeric_values(table.column(c)))}


def storage_plan(first, narrow: set[str]) -> StoragePlan:
    """The plan of a table whose first chunk is ``first`` and whose narrowed columns are ``narrow``."""
    import pyarrow as pa

    dictionary: list[str] = []
    split: list[str] = []
    delta: list[str] = []
    for f in first.schema:
        if f.name == REPLICATE and pa.types.is_integer(f.type):
            delta.append(f.name)
        elif pa.types.is_floating(f.type):
            distinct = len(np.unique(numeric_values(first.column(f.name))))
            few = first.num_rows > 0 and distinct <= min(DICTIONARY_MAX, max(first.num_rows // 16, 1))
            (dictionary if few else split).append(f.name)
        else:
            dictionary.append(f.name)
    return StoragePlan(frozenset(narrow), tuple(dictionary), tuple(split), tuple(delta))


def storage_schema(schema, plan: StoragePlan):
    """The schema written to Parquet: narrowed columns as float32, marked with their logical type."""
    import pyarrow as pa

    fields = []
    for f in schema:
        if f.name in plan.narrow:
            meta = dict(f.metadata or {})
            meta[LOGICAL_TYPE] = DOUBLE
            f = pa.field(f.name, pa.float32(), nullable=f.nullable, metadata=meta)
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def parquet_options(plan: StoragePlan) -> dict:
    """Keyword arguments of ``pyarrow.parquet.ParquetWriter`` for a table stored by ``plan``."""
    encodings = {c: "BYTE_STREAM_SPLIT" for c in plan.split}
    encodings |= {c: "DELTA_BINARY_PACKED" for c in plan.delta}
    return {
        "compression": COMPRESSION,
        "compression_level": COMPRESSION_LEVEL,
        "use_dictionary": list(plan.dictionary),
        "column_encoding": encodings,
        "write_statistics": False,
    }


def to_storage(table, schema):
    """A chunk's table in the storage schema (narrowed columns cast to float32, exactly).

    The narrowed columns are cast by numpy, piece by piece as the table holds them (what
    ``Table.cast`` does, without importing ``pyarrow.compute``: about 0.05 s of every
    merge); a column with nulls, which no chunk has, goes through ``Table.cast``."""
    import pyarrow as pa

    if table.schema.equals(schema):
        return table
    columns = []
    for field in schema:
        column = table.column(field.name)
        if column.type != field.type:
            if column.null_count or not (
                pa.types.is_float64(column.type) and pa.types.is_float32(field.type)
            ):
                return table.cast(schema)
            pieces = [
                pa.Array.from_buffers(
                    pa.float32(), len(p), [None, pa.py_buffer(numeric_values(p).astype(np.float32))]
                )
                for p in column.chunks
            ]
            column = pa.chunked_array(pieces, type=pa.float32())
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def widened(schema) -> list[str]:
    """Columns stored narrower than their logical type (see :data:`LOGICAL_TYPE`)."""
    return [f.name for f in schema if (f.metadata or {}).get(LOGICAL_TYPE) == DOUBLE]


def read_schema(path: Path):
    """The stored schema of a replicate table."""
    import pyarrow.parquet as pq

    return pq.read_schema(path)


def read_frame(path: Path, columns: Sequence[str] | None = None):
    """Columns of a replicate table as a pandas DataFrame, every column in its logical type (the
    same frame ``pandas.read_parquet`` gave before any column was stored narrower)."""
    import pandas as pd

    frame = pd.read_parquet(path, columns=None if columns is None else list(columns))
    for c in widened(read_schema(path)):
        if c in frame:
            frame[c] = frame[c].astype(np.float64)
    return frame


class RowGroups:
    """A replicate table read one row group at a time, only the columns asked for.

    Each batch is a dict of column name to numpy array, float64 where the column's logical type
    is float64; text columns come as :class:`TextColumn` (each row an index into its words), which is how
    the aggregates count them without making a Python string per row.
    """

    def __init__(self, path: Path):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.schema = read_schema(self.path)
        self.names = list(self.schema.names)
        self._text = [f.name for f in self.schema if _is_text(f.type)]
        self._file = pq.ParquetFile(self.path, read_dictionary=self._text)
        self._widen = set(widened(self.schema))
        self.num_rows = self._file.metadata.num_rows
        self.num_row_groups = self._file.metadata.num_row_groups

    def close(self) -> None:
        """Release the file."""
        self._file.close()

    def batches(self, columns: Sequence[str]) -> Iterator[tuple[int, dict]]:
        """``(first row, {column: array})`` per row group; text columns as :class:`TextColumn`.

        A row group is read :data:`COLUMNS_PER_READ` columns at a time: the buffers Arrow holds
        while it decodes grow with the columns of one read, the arrays handed out do not.
        """
        missing = [c for c in columns if c not in self.names]
        if missing:
            raise KeyError(f"{self.path}: no column {', '.join(missing)}")
        columns = list(dict.fromkeys(columns))
        start = 0
        for g in range(self.num_row_groups):
            yield start, self._read(g, columns)
            start += self._file.metadata.row_group(g).num_rows

    def _read(self, g: int, columns: list[str]) -> dict:
        batch: dict = {}
        for k in range(0, len(columns), COLUMNS_PER_READ):
            part = columns[k : k + COLUMNS_PER_READ]
            table = self._file.read_row_group(g, columns=part)
            for name in part:
                chunked = table.column(name)
                if name in self._text:
                    batch[name] = TextColumn.of(chunked)
                else:
                    values = numeric_values(chunked)
                    batch[name] = values.astype(np.float64) if name in self._widen else values
            del table
        return batch


def _is_text(arrow_type) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type))


@dataclass
class TextColumn:
    """A text column of one row group: the distinct words and each row's index among them."""

    words: list[str]
    index: np.ndarray  # (rows,) int32 index into words

    @classmethod
    def of(cls, chunked) -> TextColumn:
        """From a dictionary-encoded (or plain) Arrow column."""
        import pyarrow as pa
        import pyarrow.compute as pc

        combined = chunked.combine_chunks() if isinstance(chunked, pa.ChunkedArray) else chunked
        if not pa.types.is_dictionary(combined.type):
            combined = pc.dictionary_encode(combined)
        if combined.null_count:
            raise ValueError("text columns of a replicate table hold no nulls")
        return cls(
            [str(w) for w in combined.dictionary.to_pylist()],
            numeric_values(combined.indices).astype(np.int32, copy=False),
        )

    def codes(self, vocabulary: Sequence[str]) -> np.ndarray:
        """Each row's position in ``vocabulary`` (-1 for a word not in it)."""
        where = {w: k for k, w in enumerate(vocabulary)}
        lookup = np.array([where.get(w, -1) for w in self.words] or [-1], dtype=np.int32)
        return lookup[self.index]

    def take(self, rows: np.ndarray) -> np.ndarray:
        """The words of chosen rows, as an object array (one Python string per row)."""
        return np.array(self.words, dtype=object)[self.index[rows]]
