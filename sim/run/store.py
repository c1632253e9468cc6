"""The on-disk result set of an ensemble and its reader.

A result directory holds:

``manifest.json``
    the resolved scenario and its hash, the run settings (replicates, steps, seed entropy, chunk
    size, dtype), package versions and the status of every chunk;
``replicates.parquet``
    one row per replicate: sampled parameters (``param:<path>``), and for each declared alliance
    its fate, end step, first defector and final cohesion;
``summary.npz``
    per-step summaries that merge exactly across chunks (cohesion histograms per alliance, the
    sum of the structural balance index, sums of the final ties);
``trajectories.npy``
    full tie trajectories (replicate, step, A, A), only when asked for.

While a run is in progress each finished chunk lives under ``chunks/`` (written to a temporary
name, then renamed, so a chunk file is either whole or absent), its replicate table in the Arrow
IPC format (written and read back with no encoding work); when all are done they are merged in
chunk order into the one Parquet file, so an interrupted run that is resumed produces the same
bytes as one that was not.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import InputError
from sim.extras import command
from sim.files import atomic_write_bytes, fsync_path
from sim.vocabulary import PARAM_PREFIX

if TYPE_CHECKING:  # only named in annotations: a worker, which writes chunks, need not import pandas (0.2 s)
    import pandas as pd

FORMAT = 1  # the layout of a result directory, recorded in its manifest
MANIFEST = "manifest.json"
REPLICATES = "replicates.parquet"
SUMMARY = "summary.npz"
TRAJECTORIES = "trajectories.npy"
CHUNKS = "chunks"
#: the final files of a run, whose checksums its manifest records when the run completes
FINAL_FILES = (REPLICATES, SUMMARY, TRAJECTORIES)
#: rows per row group of ``replicates.parquet`` (chunks are merged up to at least this many): every
#: row group costs a fixed amount per column to write and to read, and 224 columns of 4,096-row
#: groups spent a third of the merge on it
ROW_GROUP_ROWS = 65_536


class ResultsError(InputError):
    """A result directory that cannot be used as asked (one line for the user)."""


def safe_name(text: str, fallback: str = "scenario", limit: int = 80) -> str:
    """``text`` as one file or folder name that stays where it is put: letters, digits, ``-``,
    ``_`` and inner dots only (no separators, no ``..``, no leading dot), at most ``limit``
    characters; ``fallback`` when nothing is left."""
    import re

    name = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")
    name = re.sub(r"\.{2,}", ".", name)[:limit].rstrip("._")
    return name or fallback


def write_json(path: Path, data) -> None:
    """Write data as JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


#: the largest manifest read (a manifest holds the resolved scenario: a few hundred kB at most)
MANIFEST_LIMIT = 64 << 20


def read_manifest(directory: Path, name: str = MANIFEST) -> dict | None:
    """The manifest of a result directory, or None when there is none; one line when it cannot
    be read, is not a regular file (a FIFO would block the reader) or is not a JSON object."""
    import stat

    path = Path(directory) / name
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ResultsError(f"{path}: expected a regular file, got a special file")
            if info.st_size > MANIFEST_LIMIT:
                raise ResultsError(f"{path}: expected at most 64 MB, got {info.st_size:,} bytes")
            data = json.loads(fh.read())
    except ResultsError:
        raise
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: expected a JSON object, got a JSON {type(data).__name__}")
    return data


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 4 MB blocks into one buffer (constant memory)."""
    h = hashlib.sha256()
    buffer = bytearray(4 << 20)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            h.update(view[:n])
    return h.hexdigest()


class HashingFile:
    """A file opened for writing that hashes its bytes as they are written (SHA-256 and size, the
    record :mod:`sim.run.integrity` keeps of a final file), so that a large file need not be read
    back to be sealed. Only for writers that append, as Parquet's does (it never seeks)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._file = open(path, "wb")  # closed by close(), which the writer calls
        self._sha = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        """Write ``data`` (bytes-like), hashing it."""
        view = memoryview(data)
        self._sha.update(view)
        self.size += view.nbytes
        return self._file.write(view)

    def tell(self) -> int:
        """Bytes written so far."""
        return self.size

    def flush(self) -> None:
        """Flush Python's buffer to the file."""
        self._file.flush()

    def close(self) -> None:
        """Close the file (a second call does nothing)."""
        self._file.close()

    @property
    def closed(self) -> bool:
        """Whether the file is closed."""
        return self._file.closed

    def writable(self) -> bool:
        """A file to write."""
        return True

    def record(self) -> dict:
        """``{"sha256", "bytes"}`` of what was written (see :func:`sim.run.integrity.file_record`)."""
        return {"sha256": self._sha.hexdigest(), "bytes": self.size}


def parquet_options(schema, plan=None) -> dict:
    """How replicate tables are written (:mod:`sim.run.replicate_table`): zstd, dictionary encoding
    for text, integers and floats with few values, byte streams for the other floats. ``plan``
    (a :class:`~sim.run.replicate_table.StoragePlan`) defaults to the plan of an empty table of
    ``schema``: every float split into byte streams, nothing narrowed."""
    from sim.run.replicate_table import parquet_options as options
    from sim.run.replicate_table import plan_storage

    return options(plan if plan is not None else plan_storage([schema.empty_table()]))


@dataclass
class ChunkData:
    """What one chunk of replicates produced: its replicate table already serialised as Arrow IPC
    bytes (in the worker, so the process that collects the chunks only writes bytes)."""

    index: int
    table_bytes: bytes
    summary: dict[str, np.ndarray]
    trajectories: np.ndarray | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The chunk's replicate table."""
        return decode_table(self.table_bytes).to_pandas()


def encode_table(columns: dict[str, np.ndarray]) -> bytes:
    """A replicate table (column name -> array) as Arrow IPC file bytes, uncompressed: a chunk's
    table crosses from worker to driver and sits in ``chunks/`` in this form, and is encoded as
    Parquet once, when the chunks are merged (Parquet here would be encoded, decoded and encoded
    again)."""
    import pyarrow as pa

    table = pa.Table.from_arrays([_arrow_array(v) for v in columns.values()], names=list(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _arrow_array(values: np.ndarray):
    """A column as an Arrow array built from its buffers, as ``pyarrow.array`` would make it:
    numbers and booleans as they are, text as UTF-8 strings (``pyarrow.array`` imports pandas
    on its first call, a third of a second in every process that stores a chunk)."""
    import pyarrow as pa

    x = np.ascontiguousarray(values)
    kind, n = x.dtype.kind, len(x)
    if kind in "iuf" and x.ndim == 1:
        return pa.Array.from_buffers(pa.from_numpy_dtype(x.dtype), n, [None, pa.py_buffer(x)])
    if kind == "b" and x.ndim == 1:
        return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(x, bitorder="little"))])
    if x.ndim == 1 and (kind == "U" or (kind == "O" and all(isinstance(v, str) for v in x))):
        encoded = [v.encode("utf-8") for v in x.tolist()]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        if offsets[-1] < 2**31:
            kind_of, offsets = pa.string(), offsets.astype(np.int32)
        else:  # pragma: no cover - more than 2 GiB of text in one chunk
            kind_of = pa.large_string()
        return pa.Array.from_buffers(
            kind_of, n, [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        )
    return pa.array(x)


def decode_table(source):
    """The ``pyarrow.Table`` in Arrow IPC file bytes or a file (see :func:`encode_table`)."""
    import pyarrow as pa

    if isinstance(source, (bytes, bytearray, memoryview)):
        return pa.ipc.open_file(pa.py_buffer(source)).read_all()
    with pa.memory_map(str(source)) as mapped:
        return pa.ipc.open_file(mapped).read_all()


def chunk_paths(directory: Path, index: int) -> tuple[Path, Path]:
    """The replicate-table (Arrow IPC) and summary files of chunk index."""
    base = Path(directory) / CHUNKS / f"chunk-{index:06d}"
    return base.with_suffix(".arrow"), base.with_suffix(".npz")


def save_chunk(directory: Path, chunk: ChunkData) -> dict:
    """Write a finished chunk atomically; returns its checksums for the manifest."""
    (Path(directory) / CHUNKS).mkdir(parents=True, exist_ok=True)
    table_path, summary_path = chunk_paths(directory, chunk.index)
    arrays = dict(chunk.summary)
    if chunk.trajectories is not None:
        arrays["trajectories"] = chunk.trajectories
    temps = (
        table_path.with_name(f".{table_path.name}.tmp-{os.getpid()}"),
        summary_path.with_name(f".{summary_path.name}.tmp-{os.getpid()}.npz"),
    )
    try:
        with open(temps[0], "wb") as fh:
            fh.write(chunk.table_bytes)
        np.savez(temps[1], allow_pickle=False, **arrays)
        os.replace(temps[0], table_path)
        os.replace(temps[1], summary_path)
    finally:
        for tmp in temps:  # left only when writing failed (e.g. a full disk)
            tmp.unlink(missing_ok=True)
    return {"table": hashlib.sha256(chunk.table_bytes).hexdigest(), "summary": sha256_file(summary_path)}


def chunk_intact(directory: Path, index: int, checksums: dict | None) -> bool:
    """Whether a chunk on disk is whole and matches the checksums the manifest recorded."""
    table_path, summary_path = chunk_paths(directory, index)
    if not (table_path.exists() and summary_path.exists()) or not checksums:
        return False
    return sha256_file(table_path) == checksums.get("table") and sha256_file(summary_path) == checksums.get(
        "summary"
    )


def merge_summaries(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Add up per-chunk summaries (counts and sums), in chunk order."""
    out: dict[str, np.ndarray] = {}
    for part in parts:
        for key, value in part.items():
            if key == "trajectories":
                continue
            out[key] = value.copy() if key not in out else out[key] + value
    return out


def finalize(directory: Path, n_chunks: int, trajectories: bool) -> None:
    """Merge the chunk files in order into the final result files and remove ``chunks/``."""
    Merger(directory, n_chunks, trajectories).finish()


class Merger:
    """A run's chunks merged in order into its final files, as they are stored.

    The run's writer thread hands each stored chunk to :meth:`add`, which merges every chunk that
    now follows the merged ones and writes a row group of ``replicates.parquet`` (to a temporary
    file) whenever one is full: the merge overlaps the simulation instead of following it, and
    :meth:`finish` writes only what is left. How the table is stored depends on every chunk (a
    float64 column is narrowed only if every chunk allows it, :mod:`sim.run.replicate_table`), so
    the row groups written during the run use the narrowing of the chunks seen so far; if a later
    chunk rules out a narrowed column, or anything goes wrong while the run goes on, the early file
    is dropped and :meth:`finish` merges from the first chunk. Either way the files are those of a
    merge after the last chunk, byte for byte. Chunk files stay until the merged files are whole;
    a temporary file a killed run left is removed when the folder is written again.
    """

    def __init__(self, directory: Path, n_chunks: int, trajectories: bool):
        self.directory = Path(directory)
        self.n_chunks = n_chunks
        self.trajectories = trajectories
        self.tmp = self.directory / f".{REPLICATES}.tmp-{os.getpid()}"
        self.stored: dict[int, ChunkData | None] = {}  # stored, not merged yet (None: on disk only)
        self.dropped = False  # the early merge was given up: finish() starts again
        #: checksum records of the final files whose bytes were hashed as they were written
        self.records: dict[str, dict] = {}
        for stale in self.directory.glob(f".{REPLICATES}.tmp-*"):  # a killed run's early merge
            stale.unlink(missing_ok=True)  # (the folder's lock is this process's)
        self._start()

    def _start(self) -> None:
        self.next = 0  # the first chunk not merged yet
        self.first: Any = None  # the first chunk's table: it chooses each column's encoding
        self.narrow: set[str] | None = None  # float64 columns every chunk seen so far allows narrowed
        self.writer: Any = None
        self.sink: HashingFile | None = None
        self.schema = None
        self.opened_with: frozenset[str] = frozenset()  # the narrowing the writer was opened with
        self.pending: list = []  # merged tables not written yet: a row group of ROW_GROUP_ROWS or more
        self.summary: dict[str, Any] | None = None
        self.trajs: list[np.ndarray] = []

    def on_disk(self, indices) -> None:
        """Chunks a resumed run finds stored: merged with the first chunk it stores (or by
        :meth:`finish`), in the thread that stores chunks rather than before the run goes on."""
        if not self.dropped:
            self.stored.update(dict.fromkeys(indices))

    def add(self, index: int, chunk: ChunkData | None = None) -> None:
        """Chunk ``index`` is stored (``chunk``: what it holds, so that it is not read back from
        disk); merge what now follows the merged chunks."""
        if self.dropped:
            return
        self.stored[index] = chunk
        try:
            while self.next in self.stored:
                table, part, traj = self._read(self.next, self.stored.pop(self.next))
                self._see(table)
                self._merge(table, part, traj)
        except Exception:  # noqa: BLE001 - only an early start is lost: finish() merges from the chunks
            self.drop()

    def finish(self) -> None:
        """Merge the chunks not merged yet (every chunk is stored by now), write the final files
        and remove ``chunks/``."""
        if not self.dropped:
            try:
                self._finish()
                return
            except _WidenedError:
                pass
            except BaseException:
                self.drop()
                raise
        self.drop()
        self.dropped = False
        self._start()
        try:
            self._finish()
        except BaseException:
            self.drop()
            raise

    def _finish(self) -> None:
        rest = [self._read(c, self.stored.pop(c, None)) for c in range(self.next, self.n_chunks)]
        for table, _, _ in rest:
            self._see(table)
        for item in rest:
            self._merge(*item)
        self._flush()
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if self.sink is not None:
            self.sink.close()
            self.records = {REPLICATES: self.sink.record()}
        self._write_final()

    def drop(self) -> None:
        """Give up the early merge: close and remove its file."""
        self.dropped = True
        self.stored.clear()
        writer, self.writer = self.writer, None
        if writer is not None:
            with suppress(Exception):  # noqa: BLE001 - the file goes anyway
                writer.close()
        if self.sink is not None:
            self.sink.close()
        self.tmp.unlink(missing_ok=True)

    def _read(self, c: int, chunk: ChunkData | None):
        """Chunk ``c``'s table, summary and trajectories, from memory or from its files."""
        if chunk is not None:
            return decode_table(chunk.table_bytes), dict(chunk.summary), chunk.trajectories
        table_path, summary_path = chunk_paths(self.directory, c)
        with np.load(summary_path, allow_pickle=False) as z:
            part = {k: z[k] for k in z.files}
        return decode_table(table_path), part, part.pop("trajectories", None)

    def _see(self, table) -> None:
        """Take a chunk's table into the narrowing; raise :class:`_WidenedError` when it rules out a
        column the row groups already written were narrowed in."""
        from sim.run.replicate_table import narrow_columns

        if self.first is None:
            self.first = table
        self.narrow = narrow_columns(table, self.narrow)
        if self.writer is not None and self.narrow != self.opened_with:
            raise _WidenedError

    def _merge(self, table, part: dict[str, np.ndarray], traj: np.ndarray | None) -> None:
        self.pending.append(table)
        if sum(t.num_rows for t in self.pending) >= ROW_GROUP_ROWS:
            self._flush()
        if self.trajectories and traj is not None:
            self.trajs.append(traj)
        part.pop("trajectories", None)
        self.summary = part if self.summary is None else merge_summaries([self.summary, part])
        self.next += 1

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from sim.run.replicate_table import storage_plan, storage_schema, to_storage

        if not self.pending:
            return
        if self.writer is None:
            plan = storage_plan(self.first, self.narrow or set())
            self.schema = storage_schema(self.first.schema, plan)
            self.opened_with = frozenset(self.narrow or ())
            self.sink = HashingFile(self.tmp)
            self.writer = pq.ParquetWriter(self.sink, self.schema, **parquet_options(self.schema, plan))
        self.writer.write_table(to_storage(pa.concat_tables(self.pending), self.schema))
        self.pending.clear()

    def _write_final(self) -> None:
        directory = self.directory
        temps = [
            self.tmp,
            directory / f".{SUMMARY}.tmp-{os.getpid()}.npz",
            directory / f".{TRAJECTORIES}.tmp-{os.getpid()}.npy",
        ]
        try:
            np.savez(temps[1], **(self.summary or {}))
            if self.trajectories and self.trajs:
                np.save(temps[2], np.concatenate(self.trajs))
            for tmp in temps:  # on the disk before the renames make them final
                if tmp.exists():
                    fsync_path(tmp)
            # Chunk files go only once every merged file is whole: a failure before leaves a
            # resumable run.
            os.replace(temps[0], directory / REPLICATES)
            os.replace(temps[1], directory / SUMMARY)
            if self.trajectories and self.trajs:
                os.replace(temps[2], directory / TRAJECTORIES)
        finally:
            for tmp in temps:
                tmp.unlink(missing_ok=True)
        shutil.rmtree(directory / CHUNKS, ignore_errors=True)


class _WidenedError(Exception):
    """A chunk rules out the narrowing the early merge was written with."""


class Results:
    """A finished result set: the manifest, one row per replicate, and the merged summaries.

    The replicate table is read from ``replicates.parquet`` when first used, and only the columns
    asked for: :attr:`outcomes` (every column but the sampled parameters) stays small for a million
    replicates, :meth:`read` gives chosen columns, :attr:`replicates` the whole table.
    """

    def __init__(
        self,
        directory: Path,
        manifest: dict,
        summary: dict[str, np.ndarray],
        replicates: pd.DataFrame | None = None,
    ):
        self.directory = Path(directory)
        self.manifest = manifest
        self.summary = summary
        self._replicates = replicates
        self._outcomes: pd.DataFrame | None = None

    def _path(self) -> Path:
        return self.directory / REPLICATES

    @property
    def columns(self) -> list[str]:
        """Names of the replicate table's columns (read from the file's schema)."""
        if self._replicates is not None:
            return list(self._replicates.columns)
        import pyarrow.parquet as pq

        return list(pq.read_schema(self._path()).names)

    @property
    def n(self) -> int:
        """Number of replicates."""
        if self._replicates is not None:
            return len(self._replicates)
        import pyarrow.parquet as pq

        return pq.read_metadata(self._path()).num_rows

    def read(self, columns: list[str]) -> pd.DataFrame:
        """Chosen columns of the replicate table."""
        if self._replicates is not None:
            return self._replicates[columns]
        from sim.run.replicate_table import read_frame

        return read_frame(self._path(), columns)

    @property
    def replicates(self) -> pd.DataFrame:
        """The whole replicate table (one row per replicate)."""
        if self._replicates is None:
            from sim.run.replicate_table import read_frame

            self._replicates = read_frame(self._path())
        return self._replicates

    @property
    def outcomes(self) -> pd.DataFrame:
        """Every column but the sampled parameters: fates, end steps, defectors, cohesion,
        balance, final capabilities and blocs."""
        if self._outcomes is None:
            if self._replicates is not None:
                cols = [c for c in self._replicates.columns if not c.startswith(PARAM_PREFIX)]
                self._outcomes = self._replicates[cols]
            else:
                self._outcomes = self.read([c for c in self.columns if not c.startswith(PARAM_PREFIX)])
        return self._outcomes

    @property
    def actors(self) -> list[str]:
        """Actor names, in the scenario's order."""
        return list(self.manifest["actors"])

    @property
    def alliances(self) -> list[str]:
        """Declared alliance names."""
        return list(self.manifest["alliances"])

    @property
    def focal(self) -> str | None:
        """The alliance a report leads with."""
        return self.manifest.get("focal")

    @property
    def steps(self) -> int:
        """Steps per replicate."""
        return int(self.manifest["steps"])

    @property
    def title(self) -> str:
        """The scenario's title."""
        return self.manifest["scenario"].get("title") or self.manifest.get("name", "")

    @property
    def name(self) -> str:
        """The run's label (the scenario file's stem)."""
        return self.manifest.get("name", self.directory.name)

    def trajectories(self) -> np.ndarray | None:
        """Every replicate's tie trajectory, when the run kept them."""
        path = self.directory / TRAJECTORIES
        return np.load(path, mmap_mode="r", allow_pickle=False) if path.exists() else None


def unfinished(directory: Path, manifest: dict) -> ResultsError:
    """The error that refuses to read a run that is not finished: in progress (another process
    holds the folder's lock: which one) or interrupted (with what finishes it: the command line
    turns ``resume`` into the command to type)."""
    from sim.run.lock import describe, holder_of

    holder = holder_of(directory)
    if holder is not None:
        return ResultsError(
            f"{directory}: a run is in progress there ({describe(holder)}); wait for it to "
            "finish, then read it"
        )
    chunks = manifest.get("chunks")
    chunks = chunks if isinstance(chunks, dict) else {}
    done, total = len(chunks.get("done") or {}), chunks.get("total", "?")
    settings = manifest.get("settings")
    resume = None
    if isinstance(settings, dict) and "points" not in settings:
        scenario = manifest.get("scenario")
        values = scenario.get("overrides") if isinstance(scenario, dict) else None
        resume = {
            "source": None,
            "out": Path(directory),
            "settings": settings,
            "values": values if isinstance(values, dict) else None,
        }
    return ResultsError(
        f"{directory}: the run was interrupted ({done} of {total} chunks finished); finish it with: {{hint}}",
        hint=command(f"run SCENARIO --resume --out {directory}"),
        resume=resume,
    )


def load_results(directory: str | Path) -> Results:
    """Read a finished result directory, checked before use: its manifest's schema and seal and
    every final file's SHA-256 (:mod:`sim.run.integrity`).

    Returns
    -------
    Results
        ``.replicates`` is a pandas DataFrame (one row per replicate), ``.summary`` a dict of
        arrays and ``.manifest`` the run's manifest.

    Raises
    ------
    ResultsError
        One line: no manifest, a run in progress or interrupted, a manifest of the wrong shape,
        or a file that is not the one the run wrote (named).
    """
    from sim.run.integrity import check_rows, complete_manifest

    directory = Path(directory)
    manifest = complete_manifest(directory)
    check_rows(directory, manifest)
    try:
        with np.load(directory / SUMMARY, allow_pickle=False) as z:
            summary = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ResultsError(f"{directory}: unreadable results ({e})") from None
    return Results(directory, manifest, summary)
