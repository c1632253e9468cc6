"""The ensemble: running a design (:func:`run_design`) and a plain run (:func:`run_ensemble`).

Every simulation of the program runs through :func:`run_design`: a plain run is the one-point
design, collected by :class:`~sim.run.collectors.ReplicateCollector` and stored in a result
directory (:mod:`sim.run.store`); sensitivity, sweeps, lever evaluation and calibration are
designs of more points. This module prepares a run (checks its settings, its memory and disk
needs, the manifest of its result directory, what a resume finds there), cuts the design into
chunk tasks and hands them to the executors (:mod:`sim.run.executors`).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import platform
import signal
import time
from contextlib import suppress
from pathlib import Path

import numpy as np

from sim.errors import InputError, Interrupted, RunError
from sim.model import dynamics
from sim.model.engines import BOOKS_FORCES, get_engine
from sim.run.background import prewarm
from sim.run.chunks import DEFAULT_DTYPE, ChunkTask, run_chunk
from sim.run.collectors import HIST_BINS, Collector, ReplicateCollector
from sim.run.designs import Block, Design, Start, blocks
from sim.run.executors import Pool, execute, progress_bar
from sim.run.footprint import check_fits, check_summaries, disk_need
from sim.run.integrity import seal
from sim.run.lock import LOCK_FILE, locks
from sim.run.provenance import code_provenance
from sim.run.store import (
    FINAL_FILES,
    FORMAT,
    MANIFEST,
    ChunkData,
    Merger,
    Results,
    ResultsError,
    chunk_intact,
    load_results,
    read_manifest,
    save_chunk,
    write_json,
)
from sim.spec.lever_values import lever_path
from sim.spec.parammap import slot_map
from sim.spec.params import compile_params
from sim.spec.scenario import Scenario, load_scenario

DEFAULT_CHUNK_SIZE = 4096  # measured in benchmarks/bench.py: 2048-4096 are fastest on 2 cores
MANIFEST_EVERY = 0.5  # seconds between rewrites of a running design's manifest (about 50 KB, synced)
WHY_AUTO_MAX = 10_000  # runs up to this many replicates book the forces by default (why_window)


# What a run (and its report) writes into its result directory.
RESULT_ENTRIES = frozenset(
    {
        "manifest.json",
        "replicates.parquet",
        "summary.npz",
        "trajectories.npy",
        "chunks",
        "report.html",
        "report_figures",
    }
)


EnsembleError = RunError  # a run that could not finish; what finished is kept on disk


def versions() -> dict[str, str]:
    """Versions of the package, Python and the libraries a result depends on (Mesa's and pandas's
    from their installed metadata: a run imports neither, and importing them would cost its
    start-up half a second and a third of one)."""
    from importlib.metadata import version

    import pyarrow

    from sim.version import __version__

    return {
        "alliance-sim": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": version("pandas"),
        "pyarrow": pyarrow.__version__,
        "mesa": version("mesa"),
    }


def _settings(
    scenario: Scenario, chunk_size: int, trajectories: bool, dtype: str, engine: str = "numpy", why: int = 0
) -> dict:
    run = scenario.run
    return {
        "replicates": run.replicates,
        "steps": run.steps,
        "seed": run.seed,
        "dt": run.dt,
        "chunk_size": chunk_size,
        "trajectories": trajectories,
        "dtype": dtype,
        "engine": engine,
        "why": why,
    }


def why_window(why: bool | int | None, replicates: int, engine: str = "numpy") -> int:
    """The attribution window of a run (0: off). ``None`` chooses: on (the default window) up to
    :data:`WHY_AUTO_MAX` replicates, off beyond and on an engine that does not book the forces
    (:data:`sim.model.engines.BOOKS_FORCES`); ``True``/``False`` force it; an int is the window.

    Booking the forces costs 50-80 % more time per step (measured in README, "Why it broke"), more
    than the 15 % a big run should pay by default.
    """
    from sim.model.attribution import DEFAULT_WINDOW

    if why is None:
        return DEFAULT_WINDOW if replicates <= WHY_AUTO_MAX and engine in BOOKS_FORCES else 0
    if why is True:
        return DEFAULT_WINDOW
    return int(why)


def design_tasks(
    scenario: Scenario,
    design: Design,
    collector: Collector,
    *,
    seed: int,
    chunk_size: int,
    dtype: str,
    engine: str,
) -> dict[int, ChunkTask]:
    """The chunks of a design, by chunk number."""
    if design.replicates <= 0:
        raise InputError(f"expected a positive number of replicates, got {design.replicates}")
    if chunk_size <= 0:
        raise InputError(f"expected a positive chunk size, got {chunk_size}")
    stepper = get_engine(engine)  # an unknown or missing engine fails here, before any work
    if design.start is not None and not stepper.continues_states:
        raise InputError(f"--engine {engine}: expected an engine that continues saved states (numpy, numba)")
    known = set(slot_map(scenario)) | {lever_path(name) for name in scenario.levers}
    unknown = sorted(set(design.values) - known)
    if unknown:
        raise InputError(f"not a parameter of the scenario: {', '.join(unknown[:5])}")
    for k, v in design.values.items():
        if np.ndim(v) == 2 and np.shape(v)[1] != design.replicates:
            raise InputError(
                f"{k}: expected per-replicate values of shape (points, {design.replicates}), "
                f"got {np.shape(v)}"
            )
    if design.start is not None:
        lengths = {len(v) for v in design.start.arrays.values()}
        if lengths != {design.replicates}:
            raise InputError(
                f"expected one saved state per replicate ({design.replicates}), got {sorted(lengths)}"
            )
        try:  # the first replicate's state must fit the scenario's arrays
            first = {k: np.asarray(v)[:1] for k, v in design.start.arrays.items()}
            dynamics.restore_state(compile_params(scenario, 1), design.start.t, first)
        except (KeyError, ValueError) as e:
            raise InputError(f"saved states that do not fit the scenario ({e})") from None
    streams = design.stream_of()
    rep_chunk = min(design.replicates, chunk_size)

    def values_of(b: Block) -> dict[str, np.ndarray]:
        reps = slice(b.rep_start, b.rep_start + b.size)
        return {
            k: (np.asarray(v)[b.points][:, reps] if np.ndim(v) == 2 else np.asarray(v)[b.points])
            for k, v in design.values.items()
        }

    def start_of(b: Block) -> Start | None:
        if design.start is None:
            return None
        reps = slice(b.rep_start, b.rep_start + b.size)
        return Start(design.start.t, {k: np.asarray(v)[reps] for k, v in design.start.arrays.items()})

    return {
        b.index: ChunkTask(
            scenario,
            b,
            values_of(b),
            streams[b.points],
            b.rep_start // rep_chunk,
            seed,
            collector,
            dtype,
            engine,
            start_of(b),
        )
        for b in blocks(design, chunk_size)
    }


@locks("out")  # one writer per result folder, for the whole call
def run_design(
    scenario: Scenario,
    design: Design,
    collector: Collector,
    *,
    seed: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = 1,
    executor: cf.Executor | None = None,
    progress: bool = True,
    desc: str | None = None,
    dtype: str = DEFAULT_DTYPE,
    engine: str = "numpy",
    resume: bool = False,
    force: bool = False,
    name: str | None = None,
    chunk_fn=None,
    source: Path | None = None,
    hint: str | None = None,
    settings: dict | None = None,
    finish: dict | None = None,
):
    """Run a design (points x replicates with common random numbers) and collect its chunks.

    Every simulation of the program runs through here: a plain run is the one-point design
    (:func:`run_ensemble`); sensitivity, sweeps, lever evaluation and calibration are designs.

    Parameters
    ----------
    scenario, design, collector
        The validated scenario; its points x replicates (:class:`Design`); what each chunk returns
        (:class:`Collector`, a fresh copy per chunk).
    seed
        Seed of every draw (default: the scenario's ``run.seed``).
    out
        Without it the chunks' payloads are returned in chunk order; with it they must be
        :class:`~sim.run.store.ChunkData`, are stored as they finish, and the
        :class:`~sim.run.store.Results` are returned (``resume`` finishes an interrupted design,
        ``force`` replaces another one).
    chunk_size
        Rows per chunk (the unit of work, of seeding and of memory).
    workers, executor
        Local processes (``None``: all cores; 1: in this process), kept warm for the next call
        (:func:`sim.run.executors.warm_executor`), or any ``concurrent.futures.Executor`` the
        caller holds across calls (a warm pool, a Dask client's ``get_executor()``).
    progress, desc
        A progress bar over rows, and its label.
    dtype, engine
        Precision of the ties and the engine that steps them (:func:`sim.model.engines.get_engine`).
    chunk_fn
        The function run on each :class:`ChunkTask` (default :func:`run_chunk`); a picklable
        stand-in lets tests inject faults.
    source, hint, settings, name, finish
        For stored designs: the scenario file, how to finish an interrupted design (said in the
        errors that keep chunks), the settings recorded in the manifest, the run's label, and the
        values a caller needs to say how to finish it (:attr:`sim.errors.RunError.resume`).
    """
    prewarm(engine, dtype, workers, executor)
    seed = scenario.run.seed if seed is None else int(seed)
    check_summaries(scenario, source, HIST_BINS)
    tasks = design_tasks(
        scenario, design, collector, seed=seed, chunk_size=chunk_size, dtype=dtype, engine=engine
    )
    pool = Pool(workers, executor, engine, dtype)
    fn = chunk_fn or run_chunk
    if out is None:
        bar = progress_bar(progress, design.points * design.replicates, 0, "run", desc or "design")
        return _collect(tasks, fn, pool, bar)
    settings = settings or _design_settings(design, seed, chunk_size, dtype, engine)
    out = Path(out)
    manifest = _prepare(out, scenario, scenario.digest(), settings, len(tasks), resume, force, name)
    if manifest.get("status") == "complete":  # --resume of a finished run: nothing is left to do
        return load_results(out)
    hint = hint or f"the same call with resume=True and out={out}"
    stored = _Stored(out, manifest, len(tasks), hint, finish, bool(settings.get("trajectories")))
    tasks = stored.pending(tasks)
    total, left = design.points * design.replicates, sum(t.size for t in tasks.values())
    unit = "replicate" if design.points == 1 else "run"
    bar = progress_bar(progress, total, total - left, unit, desc or name or "run")
    stored.run(tasks, fn, pool, bar, source)
    return stored.finish()


def _design_settings(design: Design, seed: int, chunk_size: int, dtype: str, engine: str) -> dict:
    """What the manifest of a stored design records by default."""
    return {
        "points": design.points,
        "replicates": design.replicates,
        "seed": seed,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "engine": engine,
    }


def _collect(tasks: dict[int, ChunkTask], fn, pool: Pool, bar) -> list:
    """Run the chunks and return their payloads in chunk order."""
    payloads: dict[int, object] = {}

    def keep(c: int, payload) -> None:
        payloads[c] = payload

    execute(tasks, keep, pool=pool, fn=fn, bar=bar)
    return [payloads[c] for c in sorted(payloads)]


class _Stored:
    """A design stored in a result directory as its chunks finish, merged as they come
    (:class:`~sim.run.store.Merger`)."""

    def __init__(
        self, out: Path, manifest: dict, n_chunks: int, hint: str, finish: dict | None, trajectories: bool
    ):
        self.out, self.manifest, self.n_chunks, self.hint = out, manifest, n_chunks, hint
        self.finish_with = finish  # the plain values a caller needs to say how to finish
        self.done: dict = manifest["chunks"]["done"]
        self.written = time.monotonic()
        self.merger = Merger(out, n_chunks, trajectories)

    def pending(self, tasks: dict[int, ChunkTask]) -> dict[int, ChunkTask]:
        """The tasks whose chunk is not on disk whole (a resume keeps the intact ones and hands
        them to the merger, which takes them up with the first chunk it is given)."""
        done = self.done
        pending = [c for c in range(self.n_chunks) if not chunk_intact(self.out, c, done.get(str(c)))]
        for key in [k for k in done if int(k) in pending]:
            del done[key]
        self.merger.on_disk(sorted(set(range(self.n_chunks)) - set(pending)))
        return {c: tasks[c] for c in pending}

    def save(self, c: int, chunk: ChunkData) -> None:
        """Store a finished chunk and record its checksums in the manifest (rewritten at most
        every :data:`MANIFEST_EVERY` seconds while chunks finish, and when the run stops: a chunk
        a killed run had not recorded yet is run again by the resume)."""
        try:
            self.done[str(c)] = save_chunk(self.out, chunk)
            if time.monotonic() - self.written >= MANIFEST_EVERY:
                self.record()
            self.merger.add(c, chunk)
        except OSError as e:
            self.done.pop(str(c), None)
            raise RunError(
                f"cannot write chunk {c} to {self.out} ({e.strerror}); {len(self.done)} finished "
                "chunks are kept; free some space and finish with: {hint}",
                hint=self.hint,
                resume=self.finish_with,
            ) from None

    def record(self) -> None:
        """Write the manifest with the chunks finished so far."""
        write_json(self.out / MANIFEST, self.manifest)
        self.written = time.monotonic()

    def run(self, tasks: dict[int, ChunkTask], fn, pool: Pool, bar, source: Path | None) -> None:
        """Run the pending chunks, storing each as it finishes."""
        try:
            self._execute(tasks, fn, pool, bar, source)
        except BaseException:
            self.merger.drop()  # the chunks are kept; a resume merges them again
            raise
        finally:
            with suppress(OSError):  # a full disk: the error already names what is kept
                self.record()

    def _execute(self, tasks: dict[int, ChunkTask], fn, pool: Pool, bar, source: Path | None) -> None:
        try:
            execute(
                tasks,
                self.save,
                pool=pool,
                fn=fn,
                bar=bar,
                kept=lambda: len(self.done),
                where=self.out,
                source=source,
                background=True,
            )
        except Interrupted as e:
            how = (
                "interrupted"
                if e.signum == signal.SIGINT
                else f"interrupted by {signal.Signals(e.signum).name}"
            )
            raise Interrupted(
                f"{how}; {len(self.done)} of {self.n_chunks} chunks are kept in {self.out}; "
                "finish with: {hint}",
                e.signum,
                hint=self.hint,
                resume=self.finish_with,
            ) from e

    def finish(self) -> Results:
        """Merge the chunks into the final files and mark the run complete."""
        try:
            self.merger.finish()
        except OSError as e:
            raise RunError(
                f"cannot write the results to {self.out} ({e.strerror}); all {self.n_chunks} chunks "
                "are kept; free some space and finish with: {hint}",
                hint=self.hint,
                resume=self.finish_with,
            ) from None
        self.manifest["status"] = "complete"
        self.manifest["chunks"]["done"] = {}
        # final checksums (replicates.parquet's were taken as it was written), then the seal
        self.manifest = seal(self.manifest, self.out, FINAL_FILES, self.merger.records)
        write_json(self.out / MANIFEST, self.manifest)
        # the files just written and sealed are not read back to be checked again (every later
        # reader checks them): a second pass over a large table took a quarter of a second
        return Results(self.out, self.manifest, self.merger.summary or {})


@locks("out")  # one writer per result folder, from its first check on
def run_ensemble(
    scenario: Scenario | str | Path,
    *,
    replicates: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = 1,
    executor: cf.Executor | None = None,
    resume: bool = False,
    force: bool = False,
    trajectories: bool = False,
    dtype: str = DEFAULT_DTYPE,
    progress: bool = True,
    name: str | None = None,
    point: bool = False,
    chunk_fn=None,
    engine: str = "numpy",
    why: bool | int | None = None,
    values: dict | None = None,
) -> Results:
    """Run the replicates of a scenario and return (and, with ``out``, store) the results.

    The one-point :class:`Design` of :func:`run_design`, collected by :class:`ReplicateCollector`.

    Parameters
    ----------
    scenario, point
        A scenario or the path of a scenario file (``point``: every uncertain value at its point).
    replicates, steps, seed
        Override the scenario's run settings.
    out, resume, force
        Result directory (a temporary one when omitted); finish an interrupted run there, or
        overwrite another run's results.
    chunk_size
        Replicates per chunk (the unit of work, of seeding and of memory).
    workers, executor
        Processes for the local pool (``None``: all cores; 1: in this process), or any
        ``concurrent.futures.Executor`` (a Dask client's ``get_executor()``), which overrides them.
    trajectories
        Keep every replicate's full tie trajectory (small runs only).
    dtype, engine
        Precision of the ties (``"float32"``, the default, or ``"float64"``) and the engine that
        steps them (``numpy`` or ``numba``; :mod:`sim.model.engines`).
    progress, name
        A progress bar over replicates; its label and the manifest's (default: the file's stem).
    chunk_fn
        The function run on each :class:`ChunkTask` (default :func:`run_chunk`; tests inject
        faults with a picklable stand-in).
    why
        Book each force's part in the alliances' ties (``why:`` columns): None (default) for runs
        of up to :data:`WHY_AUTO_MAX` replicates, True/False to force, an int for the window.
    values
        Parameter values set on top of the scenario (``--set``; :meth:`Scenario.with_values`),
        recorded in the manifest's scenario.
    """
    prewarm(engine, dtype, workers, executor)  # the compiled kernel loads while the run is prepared
    loaded, source, name = _resolve(scenario, point, name, values)
    check_summaries(loaded, source, HIST_BINS)  # the file's own steps, located in it
    spec = loaded.with_run(replicates=replicates, steps=steps, seed=seed)
    out, force = (Path(out), force) if out is not None else (None, True)
    out, settings = _plain_run(spec, source, out, chunk_size, trajectories, dtype, engine, why, resume)
    return run_design(
        spec,
        Design.single(spec.run.replicates),
        ReplicateCollector(trajectories, settings["why"]),
        seed=spec.run.seed,
        out=out,
        chunk_size=chunk_size,
        workers=workers,
        executor=executor,
        progress=progress,
        desc=name or "run",
        dtype=dtype,
        engine=engine,
        resume=resume,
        force=force,
        name=name,
        chunk_fn=chunk_fn,
        source=source,
        settings=settings,
        finish={"source": source, "out": out, "settings": settings, "point": point, "values": values},
    )


def _resolve(scenario: Scenario | str | Path, point: bool, name: str | None, values: dict | None = None):
    """``(scenario, source file or None, name)`` of a scenario or the path of its file, with
    ``values`` set on top."""
    if isinstance(scenario, Scenario):
        return (scenario.with_values(values) if values else scenario), None, name
    source = Path(scenario)
    return load_scenario(source, point=point, values=values), source, name or source.stem


def _plain_run(
    scenario: Scenario,
    source: Path | None,
    out: Path | None,
    chunk_size: int,
    trajectories: bool,
    dtype: str,
    engine: str,
    why: bool | int | None,
    resume: bool = False,
) -> tuple[Path, dict]:
    """Check a plain run before anything is written (chunk size, memory, the forces' parts on
    this engine, the result folder and its free space); its result folder (a temporary one when
    none is given) and the settings its manifest records."""
    if chunk_size <= 0:
        raise InputError(f"expected a positive chunk size, got {chunk_size}")
    check_fits(scenario, chunk_size, trajectories, source, HIST_BINS)
    if out is None:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="alliance-sim-"))
    window = why_window(why, scenario.run.replicates, engine)
    if window and engine not in BOOKS_FORCES:
        raise InputError(
            f"--why: expected an engine that books the forces' parts (numpy), got --engine "
            f"{engine}; drop --why or use --engine numpy"
        )
    settings = _settings(scenario, chunk_size, trajectories, dtype, engine, window)
    finished = read_manifest(out) if resume and out.is_dir() else None
    done = finished is not None and finished.get("status") == "complete"  # nothing left to write
    _check_writable(out, 0 if done else disk_need(scenario, chunk_size, trajectories, HIST_BINS))
    return out, settings


def _check_writable(out: Path, need: int) -> None:
    """Fail early, with one line, when ``out`` cannot take the results."""
    import shutil

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        try:
            with open(probe, "wb") as fh:
                fh.write(b"\0" * 4096)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(out).free
    except OSError as e:
        raise ResultsError(
            f"{out}: cannot write results there ({e.strerror}); choose another --out"
        ) from None
    if free < need:
        raise ResultsError(
            f"{out}: expected at least {need / 2**20:.1f} MB free for the results, "
            f"got {free / 2**20:.1f} MB; free some space or choose another --out"
        )


def _prepare(
    out: Path,
    scenario: Scenario,
    digest: str,
    settings: dict,
    n_chunks: int,
    resume: bool,
    force: bool,
    name: str | None,
) -> dict:
    existing = read_manifest(out) if out.exists() else None
    if existing is not None:
        same = existing.get("scenario_hash") == digest and existing.get("settings") == settings
        if resume:
            if not same:
                raise ResultsError(
                    f"{out}: holds a run of another scenario or other settings "
                    f"(hash {existing.get('scenario_hash', '?')[:12]}); --resume needs the same "
                    "scenario and settings"
                )
            if existing.get("status") == "complete":
                return existing
            return existing
        if not force:
            raise ResultsError(
                f"{out}: already holds results; use --resume to finish them or --force to replace them"
            )
        import shutil

        # Only what a run writes goes: --force never deletes a file it did not make.
        for item in out.iterdir():
            if not (item.name in RESULT_ENTRIES or item.name.startswith(".") and ".tmp-" in item.name):
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
    elif out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()) and not force:
        raise ResultsError(f"{out}: is not empty and holds no results; choose another --out or use --force")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": FORMAT,
        "name": name or "",
        "status": "running",
        "scenario_hash": digest,
        "scenario": scenario.to_data(),
        "focal": scenario.focal_alliance,
        "settings": settings,
        "actors": scenario.actor_names,
        "issues": scenario.issue_names,
        "alliances": list(scenario.alliances),
        "steps": settings["steps"],
        "seed": settings["seed"],
        "versions": versions(),
        "code": code_provenance(),  # sealed with the rest when the run completes
        "chunks": {"total": n_chunks, "done": {}},
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def recorded_run(
    path: Path,
    out: Path,
    *,
    replicates: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: str = DEFAULT_DTYPE,
    engine: str = "numpy",
    why: bool | int | None = None,
    point: bool = False,
    values: dict | None = None,
) -> dict | None:
    """The manifest in ``out`` when it records a run, finished or not, of exactly the scenario of
    ``path`` and the settings :func:`run_ensemble` would record with these arguments; None
    otherwise."""
    manifest = read_manifest(out) if out.exists() else None
    if manifest is None:
        return None
    scenario = load_scenario(path, point=point, values=values).with_run(
        replicates=replicates, steps=steps, seed=seed
    )
    window = why_window(why, scenario.run.replicates, engine)
    settings = _settings(scenario, chunk_size, False, dtype, engine, window)
    if manifest.get("scenario_hash") != scenario.digest() or manifest.get("settings") != settings:
        return None
    return manifest
