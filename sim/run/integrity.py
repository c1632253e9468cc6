"""What a finished output folder must be, checked whenever it is read.

When a run completes, its manifest records the SHA-256 and size of every final file
(``replicates.parquet``, ``summary.npz``, ``trajectories.npy``) under ``files``, and then a seal:
the SHA-256 of the manifest's own canonical JSON. Every reader (:func:`sim.run.store.load_results`
and through it ``report``, ``sensitivity DIR``, ``discover``, ``landscape DIR``; the levers and
calibration folders' readers) validates the manifest against its schema (:class:`ResultManifest`),
checks the seal, the fields that must agree (seed, steps, replicates, the scenario's hash against
the stored scenario) and every recorded file's checksum, and refuses with one line naming the file
at the first mismatch. :func:`verify` checks a folder on demand, row counts included, and re-runs
its first and last chunks to compare them with the stored rows.

Checksums catch damage and careless edits (a flipped byte, a file copied in from another run, a
hand-edited seed); they are not signatures: whoever rewrites a file and its manifest together,
seal included, is not detected, except by the re-run of :func:`verify`.

Cost: hashing streams the file in 4 MB blocks; SHA-256 runs at about 1 GB/s per core where the CPU
has the SHA extensions (0.3–1.4 GB/s measured on a shared two-core machine), so a
1,000,000-replicate table adds about a second to every load (README, "Results").
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from sim.run.store import (
    FORMAT,
    MANIFEST,
    REPLICATES,
    SUMMARY,
    TRAJECTORIES,
    ResultsError,
    read_manifest,
    sha256_file,
)

FILES = "files"
SEAL = "manifest_sha256"

Hex64 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Count = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(gt=0)]


class IntegrityError(ResultsError):
    """A folder whose files or manifest are not what was written (one line naming the file)."""


# --------------------------------------------------------------------------------------------
# Checksums of files
# --------------------------------------------------------------------------------------------


def file_record(path: Path) -> dict:
    """``{"sha256", "bytes"}`` of a file, read in blocks (constant memory)."""
    return {"sha256": sha256_file(path), "bytes": Path(path).stat().st_size}


def seal_files(directory: Path, names, known: dict[str, dict] | None = None) -> dict[str, dict]:
    """The checksum records of those of ``names`` that exist in ``directory``; ``known`` holds
    records of files hashed as they were written (:class:`sim.run.store.HashingFile`), used for a
    file whose size still matches (read and hashed otherwise)."""
    directory = Path(directory)
    out = {}
    for n in names:
        path = directory / n
        if path.is_file():
            record = (known or {}).get(n)
            if record is not None and record.get("bytes") == path.stat().st_size:
                out[n] = dict(record)
            else:
                out[n] = file_record(path)
    return out


def check_files(directory: Path, records: Any, manifest: str = MANIFEST) -> None:
    """Raise :class:`IntegrityError` naming the first file of ``directory`` that is missing or
    differs from its record (size first, the cheap test, then the SHA-256)."""
    directory = Path(directory)
    where = directory / manifest
    if not isinstance(records, dict) or not records:
        raise IntegrityError(
            f"{where}: records no checksums of the files (written by an older alliance-sim, or "
            "edited); write the folder again with the same command and --force"
        )
    for name, record in records.items():
        path = directory / name
        if Path(name).name != name or name.startswith("."):
            raise IntegrityError(f"{where}: files: expected plain file names, got {name!r}")
        if not isinstance(record, dict) or not {"sha256", "bytes"} <= set(record):
            raise IntegrityError(f"{where}: files.{name}: expected {{sha256, bytes}}, got {record!r:.80}")
        if not path.is_file():
            raise IntegrityError(f"{path}: missing, but {manifest} records it; the folder is incomplete")
        size = path.stat().st_size
        if size != record["bytes"]:
            raise IntegrityError(
                f"{path}: {size} bytes where {manifest} records {record['bytes']}: the file was "
                "truncated or changed after it was written"
            )
        if sha256_file(path) != record["sha256"]:
            raise IntegrityError(
                f"{path}: its SHA-256 differs from the one {manifest} records: the file was "
                "changed or damaged after it was written"
            )


def manifest_digest(manifest: dict) -> str:
    """SHA-256 of a manifest's canonical JSON, its seal left out."""
    body = {k: v for k, v in manifest.items() if k != SEAL}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def seal(manifest: dict, directory: Path, names, known: dict[str, dict] | None = None) -> dict:
    """``manifest`` with the checksums of its folder's final files and its own seal (the last
    step of writing a folder); ``known``: see :func:`seal_files`."""
    out = {k: v for k, v in manifest.items() if k != SEAL}
    out[FILES] = seal_files(directory, names, known)
    out[SEAL] = manifest_digest(out)
    return out


def check_seal(manifest: dict, where: Path) -> None:
    """Raise when a sealed manifest's fields were edited after it was sealed."""
    if manifest.get(SEAL) != manifest_digest(manifest):
        raise IntegrityError(
            f"{where}: its fields were edited after the run completed (the {SEAL} seal does not "
            "match them); run it again or restore the original manifest"
        )


# --------------------------------------------------------------------------------------------
# The manifest's schema
# --------------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class FileRecord(_Strict):
    """The checksum of one final file."""

    sha256: Hex64
    bytes: Count


class ChunkSums(_Strict):
    """The checksums of one finished chunk's files."""

    table: Hex64
    summary: Hex64


class Chunks(_Strict):
    """How many chunks a run has and which are finished."""

    total: Count
    done: dict[str, ChunkSums]


class Settings(_Strict):
    """The run settings every reader relies on (designs add their own keys)."""

    replicates: Positive
    steps: Positive
    seed: Count
    chunk_size: Positive
    points: Positive = 1
    trajectories: bool = False
    dtype: Literal["float32", "float64"] = "float32"
    engine: str = "numpy"
    why: Count = 0


class ResultManifest(_Strict):
    """``manifest.json`` of a result folder (:mod:`sim.run.store`)."""

    format: int
    name: str
    status: Literal["running", "complete"]
    scenario_hash: Hex64
    scenario: dict[str, Any]
    focal: str | None
    settings: Settings
    actors: list[str]
    issues: list[str]
    alliances: list[str]
    steps: Positive
    seed: Count
    versions: dict[str, str]
    chunks: Chunks
    files: dict[str, FileRecord] | None = None
    manifest_sha256: Hex64 | None = None

    @model_validator(mode="after")
    def _agree(self) -> ResultManifest:
        if self.format != FORMAT:
            raise ValueError(
                f"format {self.format}: expected {FORMAT}, the layout this version of alliance-sim "
                "reads; write the folder again with this version"
            )
        s = self.settings
        for field, value, recorded in (("seed", self.seed, s.seed), ("steps", self.steps, s.steps)):
            if value != recorded:
                raise ValueError(f"{field} {value} differs from settings.{field} {recorded}")
        if self.status == "complete":
            need = [REPLICATES, SUMMARY] + ([TRAJECTORIES] if s.trajectories else [])
            missing = [n for n in need if n not in (self.files or {})]
            if missing or self.manifest_sha256 is None:
                raise ValueError(
                    f"a complete run records the checksums of {', '.join(need)} and its seal; "
                    f"missing: {', '.join(missing) or SEAL}"
                )
        return self


class LeversManifest(_Strict):
    """``manifest.json`` of an ``alliance-sim levers`` folder."""

    kind: Literal["levers"]
    scenario: dict[str, Any]
    scenario_sha256: Hex64
    metrics: dict[str, dict[str, Any]]
    files: dict[str, FileRecord]


class CalibrationManifest(_Strict):
    """``calibration.json`` of an ``alliance-sim calibrate`` folder."""

    format: Literal[1]
    scenario: dict[str, Any]
    scenario_hash: Hex64
    start: str
    unit: str
    last_step: Count
    last_date: str
    seed: Count
    replicates: Positive
    accepted: Count
    files: dict[str, FileRecord]


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    place = ".".join(str(p) for p in err["loc"])
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "value_error":  # a rule across fields: its message names them
        return f"{place}: {message}" if place else message
    if err["type"] == "missing":
        return f"{place}: required but missing"
    shown = repr(err.get("input"))
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{place or 'the top level'}: {message} (got {shown})"


def validated(manifest: Any, schema: type[BaseModel], where: Path) -> dict:
    """``manifest`` when it has ``schema``'s shape; otherwise one line naming the place."""
    try:
        schema.model_validate(manifest)
    except ValidationError as e:
        raise IntegrityError(f"{where}: {_first_error(e)}") from None
    return manifest


# --------------------------------------------------------------------------------------------
# Reading a result folder's manifest for use
# --------------------------------------------------------------------------------------------


def check_scenario_hash(manifest: dict, where: Path, key: str = "scenario_hash") -> None:
    """Raise when the stored scenario does not have the hash the manifest records."""
    from sim.spec.scenario import ScenarioError, stored_scenario

    try:
        digest = stored_scenario(manifest["scenario"]).digest()
    except (ScenarioError, ValueError) as e:
        raise IntegrityError(f"{where}: scenario: not a valid stored scenario ({e})") from None
    if digest != manifest[key]:
        raise IntegrityError(
            f"{where}: {key} {manifest[key][:12]}... is not the hash of the stored scenario "
            f"({digest[:12]}...): the manifest was edited"
        )


def complete_manifest(directory: Path) -> dict:
    """The manifest of a finished result folder, checked: its shape, its seal, the fields that must
    agree and every final file's checksum (see the module docstring)."""
    from sim.run.store import unfinished

    directory = Path(directory)
    where = directory / MANIFEST
    manifest = read_manifest(directory)
    if manifest is None:
        raise ResultsError(
            f"{directory}: no {MANIFEST}; expected a result directory written by 'alliance-sim run'"
        )
    if isinstance(manifest, dict) and manifest.get("status") == "running":
        raise unfinished(directory, manifest)
    validated(manifest, ResultManifest, where)
    check_seal(manifest, where)
    check_files(directory, manifest[FILES])
    return manifest


def expected_rows(manifest: dict) -> int:
    """Rows of a run's replicate table: replicates per point times points."""
    s = manifest["settings"]
    return int(s["replicates"]) * int(s.get("points", 1))


def check_rows(directory: Path, manifest: dict) -> int:
    """Raise unless ``replicates.parquet`` has the rows the settings promise; returns them."""
    import pyarrow.parquet as pq

    path = Path(directory) / REPLICATES
    try:
        rows = pq.read_metadata(path).num_rows
    except (OSError, ValueError) as e:
        raise IntegrityError(f"{path}: unreadable ({e})") from None
    if rows != expected_rows(manifest):
        s = manifest["settings"]
        raise IntegrityError(
            f"{path}: {rows} rows where settings.replicates {s['replicates']} x points "
            f"{s.get('points', 1)} promise {expected_rows(manifest)}"
        )
    return rows


# --------------------------------------------------------------------------------------------
# verify
# --------------------------------------------------------------------------------------------


def verify(directory: str | Path, *, replay: bool = True) -> list[str]:
    """Check an output folder on demand; returns what was checked, one line each, and raises
    :class:`IntegrityError` (one line naming the file) at the first thing that is wrong.

    A result folder (``alliance-sim run``): the manifest's schema and seal, every recorded
    checksum, the row count against ``settings.replicates``, the seed and steps against the
    settings and the stored scenario, the scenario hash against the stored scenario, and (with
    ``replay``) its first and last chunks re-run and compared row by row with the table, which
    ties the rows to the seed and the scenario. A levers folder: its manifest, checksums and
    ``runs/``; a calibration folder: its manifest, checksums and that the posterior samples and
    the saved states are of the same replicates. A folder of such folders (``compare --out``):
    each of them.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ResultsError(f"{directory}: expected a folder written by alliance-sim, got no such folder")
    if (directory / MANIFEST).exists():
        manifest = read_manifest(directory)
        if isinstance(manifest, dict) and manifest.get("kind") == "levers":
            return _verify_levers(directory, replay)
        return _verify_run(directory, replay)
    if (directory / CALIBRATION).exists():
        return _verify_calibration(directory)
    inner = sorted(p for p in directory.iterdir() if p.is_dir() and (p / MANIFEST).exists())
    if not inner:
        raise ResultsError(
            f"{directory}: no {MANIFEST} or {CALIBRATION}; expected a folder written by alliance-sim "
            "run, compare, levers or calibrate"
        )
    return [f"{p.name}: {line}" for p in inner for line in verify(p, replay=replay)]


#: the manifest of a calibration folder (written by :mod:`sim.analysis.calibration`)
CALIBRATION = "calibration.json"


def _verify_run(directory: Path, replay: bool) -> list[str]:
    manifest = complete_manifest(directory)
    done = [
        f"{MANIFEST}: the schema of a result folder, its seal, seed and steps agree with the settings",
        *(f"{n}: SHA-256 {r['sha256'][:12]}..., {r['bytes']:,} bytes" for n, r in manifest[FILES].items()),
    ]
    rows = check_rows(directory, manifest)
    done.append(f"{REPLICATES}: {rows:,} rows, as settings.replicates promises")
    check_scenario_hash(manifest, directory / MANIFEST)
    done.append(f"scenario_hash {manifest['scenario_hash'][:12]}...: the hash of the stored scenario")
    s = manifest["settings"]
    if "points" not in s:  # a plain run: the stored scenario carries the run's own settings
        run = manifest["scenario"].get("run", {})
        for key in ("replicates", "steps", "seed"):
            if run.get(key) != s[key]:
                raise IntegrityError(
                    f"{directory / MANIFEST}: scenario.run.{key} {run.get(key)} differs from "
                    f"settings.{key} {s[key]}"
                )
        done.append("scenario.run: replicates, steps and seed agree with the settings")
        if replay:
            done += replay_chunks(directory, manifest)
    return done


def replay_chunks(directory: Path, manifest: dict) -> list[str]:
    """Re-run a plain run's first and last chunks and compare them with the stored rows: rows
    from another seed or scenario, or edited cells, differ."""
    import pyarrow.parquet as pq

    from sim.run.chunks import replicate_task, run_chunk
    from sim.run.replicate_table import widened
    from sim.run.store import decode_table
    from sim.spec.scenario import stored_scenario

    s = manifest["settings"]
    if s.get("engine", "numpy") != "numpy":
        from sim.model.engines import get_engine

        try:
            get_engine(s["engine"])
        except Exception:  # noqa: BLE001 - an engine not installed here: the re-run is skipped
            return [f"re-run skipped: the {s['engine']} engine is not available here"]
    scenario = stored_scenario(manifest["scenario"])
    size, total = int(s["chunk_size"]), int(s["replicates"])
    chunks = sorted({0, (total - 1) // size})
    parquet = pq.ParquetFile(Path(directory) / REPLICATES)
    done = []
    for c in chunks:
        start = c * size
        n = min(size, total - start)
        task = replicate_task(
            scenario,
            c,
            start,
            n,
            int(s["seed"]),
            dtype=s.get("dtype", "float32"),
            engine=s.get("engine", "numpy"),
            why=int(s.get("why", 0)),
        )
        fresh = decode_table(run_chunk(task).table_bytes).to_pandas()
        stored = _rows(parquet, start, n).to_pandas()
        for col in widened(parquet.schema_arrow):  # stored as float32 where every value is one
            if col in stored:
                stored[col] = stored[col].astype("float64")
        if list(fresh.columns) != list(stored.columns) or not fresh.equals(stored):
            differ = [col for col in fresh.columns if col not in stored or not fresh[col].equals(stored[col])]
            raise IntegrityError(
                f"{Path(directory) / REPLICATES}: replicates {start}-{start + n - 1} run again with "
                f"the stored scenario and seed {s['seed']} differ from the stored rows (in "
                f"{', '.join(differ[:3]) or 'the columns'}): the table is not this run's"
            )
        done.append(f"chunk {c} (replicates {start}-{start + n - 1}) run again: the same rows")
    return done


def _rows(parquet, start: int, n: int):
    """Rows ``start .. start + n`` of a Parquet file, reading only the row groups that hold them."""
    import pyarrow as pa

    parts, first = [], 0
    meta = parquet.metadata
    for g in range(meta.num_row_groups):
        rows = meta.row_group(g).num_rows
        if first + rows > start and first < start + n:
            parts.append((first, parquet.read_row_group(g)))
        first += rows
    table = pa.concat_tables([t for _, t in parts])
    return table.slice(start - parts[0][0], n)


def _verify_levers(directory: Path, replay: bool) -> list[str]:
    manifest = levers_manifest(directory)
    done = [f"{MANIFEST}: the schema of a levers folder"]
    done += [f"{name}: SHA-256 {r['sha256'][:12]}..." for name, r in manifest[FILES].items()]
    check_scenario_hash(manifest, directory / MANIFEST, "scenario_sha256")
    done.append("scenario_sha256: the hash of the stored scenario")
    if (directory / "runs" / MANIFEST).exists():
        done += [f"runs: {line}" for line in _verify_run(directory / "runs", replay)]
    return done


def levers_manifest(directory: Path) -> dict:
    """The manifest of a levers folder, checked (schema and every recorded checksum); one line
    for a folder whose evaluation is in progress or was interrupted."""
    from sim.run.lock import describe, holder_of

    directory = Path(directory)
    where = directory / MANIFEST
    manifest = read_manifest(directory)
    if manifest is None:
        if not (directory / "runs").is_dir():
            raise ResultsError(
                f"{directory}: no {MANIFEST}; expected the folder of an 'alliance-sim levers' run"
            )
        holder = holder_of(directory) or holder_of(directory / "runs")
        if holder is not None:
            raise ResultsError(
                f"{directory}: a levers evaluation is in progress there ({describe(holder)}); wait "
                "for it to finish"
            )
        raise ResultsError(
            f"{directory}: the levers evaluation was interrupted; finish it with the same "
            f"'alliance-sim levers' command and --resume --out {directory}"
        )
    validated(manifest, LeversManifest, where)
    check_files(directory, manifest[FILES])
    return manifest


def calibration_manifest(directory: Path) -> dict:
    """The manifest of a calibration folder, checked (schema and every recorded checksum)."""
    directory = Path(directory)
    where = directory / CALIBRATION
    manifest = validated(read_manifest(directory, CALIBRATION), CalibrationManifest, where)
    check_files(directory, manifest[FILES], CALIBRATION)
    return manifest


def _verify_calibration(directory: Path) -> list[str]:
    import numpy as np
    import pyarrow.parquet as pq

    manifest = calibration_manifest(directory)
    done = [f"{CALIBRATION}: the schema of a calibration folder"]
    done += [f"{name}: SHA-256 {r['sha256'][:12]}..." for name, r in manifest[FILES].items()]
    check_scenario_hash(manifest, directory / CALIBRATION)
    done.append("scenario_hash: the hash of the stored scenario")
    table, states = directory / "posterior.parquet", directory / "states.npz"
    if table.is_file():
        rows = pq.read_metadata(table).num_rows
        if rows != manifest["accepted"]:
            raise IntegrityError(
                f"{table}: {rows} rows where {CALIBRATION} records {manifest['accepted']} accepted"
            )
        done.append(f"posterior.parquet: {rows:,} rows, the accepted replicates")
        if states.is_file():
            with np.load(states, allow_pickle=False) as z:
                kept = z["replicate"] if "replicate" in z.files else None
            column = pq.read_table(table, columns=["replicate"]).column(0).to_numpy()
            if kept is None or not np.array_equal(kept, column):
                raise IntegrityError(f"{states}: holds other replicates than posterior.parquet")
            done.append("states.npz: the states of the same replicates")
    return done


# --------------------------------------------------------------------------------------------
# Output files that are not ours
# --------------------------------------------------------------------------------------------


def refuse_overwrite(path: Path, *, force: bool, ours, what: str) -> None:
    """Refuse to write ``path`` over a file that is not this command's output (``ours(path)``
    false) unless ``force``, and over a folder's manifest, lock or a file a manifest records
    even with it: those would break the folder they belong to."""
    from sim.run.lock import LOCK_FILE

    path = Path(path)
    if path.is_dir():
        raise ResultsError(f"{path}: is a folder; expected the name of the file to write")
    if not (path.exists() or path.is_symlink()):
        return
    recorded: set[str] = set()
    for name in (MANIFEST, CALIBRATION):
        try:
            manifest = read_manifest(path.parent, name)
        except ResultsError:
            manifest = None
        if manifest is not None and isinstance(manifest.get(FILES), dict):
            recorded |= set(manifest[FILES])
    if path.name in {MANIFEST, CALIBRATION, LOCK_FILE} | recorded:
        raise ResultsError(
            f"{path}: is part of the result folder {path.parent}, not {what}; choose another --out"
        )
    if not force and not (path.is_file() and ours(path)):
        raise ResultsError(
            f"{path}: exists and is not {what}; choose another --out or pass --force to replace it"
        )
