"""Many replicates: chunks, seeding, executors, progress and resume.

Replicates run in chunks of ``chunk_size``; chunk ``c`` draws everything (its uncertain parameters,
then each step's random numbers) from ``SeedSequence(seed).spawn(...)[c]``, so the results depend
on the seed and the chunk size only, never on the number of workers or on the executor.

Executors follow :class:`concurrent.futures.Executor`: in-process for one worker, a process pool
with an explicit ``spawn`` context otherwise (the global start method is never touched), or any
executor passed in, such as a Dask client's ``get_executor()``.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import platform
import sys
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.model import dynamics
from sim.model.landscape import best_partition, descend_partition
from sim.run.store import (
    MANIFEST,
    ChunkData,
    Results,
    ResultsError,
    chunk_intact,
    encode_table,
    finalize,
    load_results,
    read_manifest,
    save_chunk,
    write_json,
)
from sim.spec.params import compile_params
from sim.spec.scenario import Scenario, ScenarioError, check_footprint, footprint, load_scenario

DEFAULT_CHUNK_SIZE = 4096  # measured in benchmarks/bench.py: 2048-4096 are fastest on 2 cores
# The balance index over time (a per-step summary) is averaged over the first replicates of each
# chunk, up to this many: an unbiased estimate of the ensemble mean (replicates are independent)
# at a quarter of the cost; each replicate's final balance is computed for all of them.
BALANCE_SAMPLE = 1024
DEFAULT_DTYPE = "float32"  # held within 1e-5 of the float64 reference over 60 steps (tests)
HIST_BINS = 200  # cohesion histogram bins over [-1, 1]
MAX_ATTEMPTS = 2
# Final blocs: the Axelrod-Bennett global minimum by exhaustive search up to this many actors
# (2^(A-1) partitions per replicate), a local minimum by steepest descent beyond.
BLOC_EXHAUSTIVE_MAX = 14


# What a run (and its report) writes into its result directory.
RESULT_ENTRIES = frozenset({"manifest.json", "replicates.parquet", "summary.npz", "trajectories.npy",
                            "chunks", "report.html", "report_figures"})


class EnsembleError(RuntimeError):
    """A run that could not finish; what finished is kept on disk."""


def chunk_seed(seed: int, index: int) -> np.random.SeedSequence:
    """The seed of chunk ``index``: the ``index``-th child of ``SeedSequence(seed)``."""
    return np.random.SeedSequence(seed, spawn_key=(index,))


def balanced_share(W: np.ndarray) -> np.ndarray:
    """Share of balanced triads (Heider): triads whose product of mean-tie signs is positive.

    Uses ``trace(S^3) = 6 sum_{i<j<k} s_ij s_jk s_ki`` for the symmetric sign matrix ``S``.
    """
    A = W.shape[-1]
    if A < 3:
        return np.ones(W.shape[0])
    S = W + np.swapaxes(W, -1, -2)
    # sign(S) as (S > 0) - (S < 0): much faster than np.sign for float32
    np.subtract((S > 0).view(np.int8), (S < 0).view(np.int8), out=S, casting="unsafe")
    triads = A * (A - 1) * (A - 2) / 6
    SS = S @ S
    SS *= S  # S is symmetric, so trace(S^3) = sum_ij (S S)_ij S_ij
    tr = SS.reshape(len(S), -1).sum(axis=1, dtype=np.float64)
    return 0.5 * (1.0 + tr / (6.0 * triads))


def cohesion_bins(values: np.ndarray) -> np.ndarray:
    """Bin index of each cohesion value among HIST_BINS equal bins on [-1, 1] (1 in the last)."""
    index = ((np.asarray(values, dtype=np.float64) + 1.0) * (HIST_BINS / 2.0)).astype(np.intp)
    return np.clip(index, 0, HIST_BINS - 1)


@dataclass
class ChunkTask:
    """Everything a worker needs to run one chunk (picklable)."""

    scenario: Scenario
    index: int
    start: int
    size: int
    seed: int
    trajectories: bool = False
    dtype: str = DEFAULT_DTYPE


def run_chunk(task: ChunkTask) -> ChunkData:
    """Run one chunk of replicates and summarise it."""
    scenario = task.scenario
    params_seed, dyn_seed = chunk_seed(task.seed, task.index).spawn(2)
    params = compile_params(scenario, task.size, np.random.default_rng(params_seed))
    rng = np.random.default_rng(dyn_seed)
    dtype = np.dtype(task.dtype)
    T, L, A = params.steps, len(params.alliances), params.A
    hist = np.zeros((T + 1, L, HIST_BINS), dtype=np.int64)
    active = np.zeros((T + 1, L), dtype=np.int64)
    balance_sum = np.zeros(T + 1)
    sample = min(task.size, BALANCE_SAMPLE)
    traj = np.empty((task.size, T + 1, A, A), dtype=np.float32) if task.trajectories else None

    def record(state):
        t = state.t
        for a, al in enumerate(params.alliances):
            c = dynamics.cohesion(state.ties, al.members)
            hist[t, a] = np.bincount(cohesion_bins(c), minlength=HIST_BINS)
        active[t] = state.active.sum(axis=0)
        balance_sum[t] = balanced_share(state.ties[:sample]).sum()
        if traj is not None:
            traj[:, t] = state.ties

    state = dynamics.run(params, rng, dtype=dtype, record=record)
    columns: dict[str, np.ndarray] = {
        "replicate": np.arange(task.start, task.start + task.size, dtype=np.int64)}
    for path, values in params.sampled.items():
        columns[f"param:{path}"] = values.astype(np.float32)  # 7 significant digits
    fates = np.array(dynamics.FATES)
    names = np.array(params.actors + [""], dtype=object)
    for a, al in enumerate(params.alliances):
        ended = ~state.active[:, a]
        columns[f"{al.name}.fate"] = fates[state.fate[:, a]]
        columns[f"{al.name}.end_step"] = np.where(ended, state.end_step[:, a], T).astype(np.int32)
        columns[f"{al.name}.defector"] = names[np.where(ended, state.defector[:, a], -1)]
        columns[f"{al.name}.cohesion"] = dynamics.cohesion(state.ties, al.members).astype(np.float64)
    columns["balance"] = balanced_share(state.ties)
    W64 = state.ties.astype(np.float64)
    propensity = 0.5 * (W64 + np.swapaxes(W64, 1, 2))
    find = best_partition if A <= BLOC_EXHAUSTIVE_MAX else descend_partition
    labels, _ = find(state.capability.astype(np.float64), propensity)
    for i, name in enumerate(params.actors):
        columns[f"bloc:{name}"] = labels[:, i].astype(np.int8)
    for i, name in enumerate(params.actors):
        columns[f"capability:{name}"] = state.capability[:, i].astype(np.float64)
    table = encode_table(columns)
    W = W64
    summary = {
        "cohesion_hist": hist, "active": active, "balance_sum": balance_sum,
        "ties_sum": W.sum(axis=0), "ties_sq": (W * W).sum(axis=0),
        "n": np.array([task.size], dtype=np.int64),
        "balance_n": np.array([sample], dtype=np.int64),
    }
    return ChunkData(task.index, table, summary, traj)


# --------------------------------------------------------------------------------------------
# Running an ensemble
# --------------------------------------------------------------------------------------------

def versions() -> dict[str, str]:
    import mesa
    import pyarrow

    from sim import __version__

    return {"alliance-sim": __version__, "python": platform.python_version(),
            "numpy": np.__version__, "pandas": pd.__version__, "pyarrow": pyarrow.__version__,
            "mesa": mesa.__version__}


def _settings(scenario: Scenario, chunk_size: int, trajectories: bool, dtype: str) -> dict:
    run = scenario.run
    return {"replicates": run.replicates, "steps": run.steps, "seed": run.seed, "dt": run.dt,
            "chunk_size": chunk_size, "trajectories": trajectories, "dtype": dtype}


def local_executor(workers: int) -> cf.Executor:
    """A process pool with an explicit spawn context (never the global start method)."""
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


class InlineExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (one worker)."""

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(e, KeyboardInterrupt):
                raise
            future.set_exception(e)
        return future


def run_ensemble(scenario: Scenario | str | Path, *, replicates: int | None = None,
                 steps: int | None = None, seed: int | None = None, out: str | Path | None = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE, workers: int | None = 1,
                 executor: cf.Executor | None = None, resume: bool = False, force: bool = False,
                 trajectories: bool = False, dtype: str = DEFAULT_DTYPE, progress: bool = True,
                 name: str | None = None, point: bool = False, chunk_fn=None) -> Results:
    """Run the replicates of a scenario and return (and, with ``out``, store) the results.

    Parameters
    ----------
    scenario
        A scenario or the path of a scenario file.
    replicates, steps, seed
        Override the scenario's run settings.
    out
        Result directory; a temporary one is used when omitted.
    chunk_size
        Replicates per chunk (the unit of work, of seeding and of memory).
    workers
        Processes for the local pool (``None``: all cores; 1: run in this process).
    executor
        Any ``concurrent.futures.Executor`` (e.g. a Dask client's ``get_executor()``); overrides
        ``workers``.
    resume, force
        Finish an interrupted run in ``out``, or overwrite another run's results there.
    trajectories
        Keep every replicate's full tie trajectory (small runs only).
    dtype
        Precision of the ties: ``"float32"`` (default) or ``"float64"``.
    progress
        Show a progress bar over replicates.
    name
        Label for the progress bar and the manifest (default: the file's stem).
    point
        When ``scenario`` is a path, use the point value of every uncertain value.
    chunk_fn
        The function run on each :class:`ChunkTask` (default :func:`run_chunk`); a picklable
        stand-in lets tests inject faults.
    """
    source = None
    if not isinstance(scenario, Scenario):
        source = path = Path(scenario)
        scenario = load_scenario(path, point=point)
        name = name or path.stem
    scenario = scenario.with_run(replicates=replicates, steps=steps, seed=seed)
    if chunk_size <= 0:
        raise ValueError(f"expected a positive chunk size, got {chunk_size}")
    _check_footprint(scenario, chunk_size, trajectories, source)
    if out is None:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="alliance-sim-"))
        force = True
    out = Path(out)
    total = scenario.run.replicates
    n_chunks = -(-total // chunk_size)
    settings = _settings(scenario, chunk_size, trajectories, dtype)
    digest = scenario.digest()
    _check_writable(out, _disk_need(scenario, chunk_size, trajectories))
    manifest = _prepare(out, scenario, digest, settings, n_chunks, resume, force, name)

    done = manifest["chunks"]["done"]
    pending = [c for c in range(n_chunks) if not chunk_intact(out, c, done.get(str(c)))]
    for key in [k for k in done if int(k) in pending]:
        del done[key]

    tasks = {c: ChunkTask(scenario, c, c * chunk_size, min(chunk_size, total - c * chunk_size),
                          scenario.run.seed, trajectories, dtype) for c in pending}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=total - sum(t.size for t in tasks.values()),
                   unit="replicate", desc=name or "run", dynamic_ncols=True, smoothing=0.1,
                   file=sys.stderr)
    own = executor is None
    if own:
        workers = (os.cpu_count() or 1) if workers is None else workers
        size = max(1, min(workers, len(tasks)))

        def make_executor():
            return InlineExecutor() if size <= 1 else local_executor(size)
    else:
        given = executor

        def make_executor():
            return given
    pool = [make_executor()]  # the executor in use (a broken local pool is replaced)
    interrupted = False
    try:
        _drive(pool, make_executor if own else None, tasks, out, manifest, bar,
               chunk_fn or run_chunk, hint=resume_command(source, out, settings, point))
    except KeyboardInterrupt:
        interrupted = True
        raise EnsembleError(
            f"interrupted; {len(manifest['chunks']['done'])} of {n_chunks} chunks are kept in "
            f"{out}; finish with: {resume_command(source, out, settings, point)}") from None
    except dynamics.NumericalError as e:
        raise ScenarioError(source, str(e), path=f"mechanisms.{e.mechanism}") from None
    finally:
        if bar is not None:
            bar.close()
        if own:
            pool[0].shutdown(wait=not interrupted, cancel_futures=True)
    try:
        finalize(out, n_chunks, trajectories)
    except OSError as e:
        raise EnsembleError(
            f"cannot write the results to {out} ({e.strerror}); all {n_chunks} chunks are kept; "
            f"free some space and finish with: {resume_command(source, out, settings, point)}"
        ) from None
    manifest["status"] = "complete"
    manifest["chunks"]["done"] = {}
    write_json(out / MANIFEST, manifest)
    return load_results(out)


def resume_command(source: Path | None, out: Path, settings: dict, point: bool = False) -> str:
    """The command that finishes an interrupted run (same scenario, same settings)."""
    import shlex

    parts = ["alliance-sim", "run", shlex.quote(str(source)) if source else "SCENARIO.toml",
             "--resume", "--out", shlex.quote(str(out)), "-n", str(settings["replicates"]),
             "-t", str(settings["steps"]), "--seed", str(settings["seed"]),
             "--chunk-size", str(settings["chunk_size"])]
    if settings.get("trajectories"):
        parts.append("--trajectories")
    if point:
        parts.append("--point")
    if settings.get("dtype") != DEFAULT_DTYPE:
        parts += ["--dtype", str(settings["dtype"])]
    return " ".join(parts)


def _check_footprint(scenario: Scenario, chunk_size: int, trajectories: bool,
                     source: Path | None) -> None:
    """Refuse, before anything is written, a run that would not fit in memory."""
    run = scenario.run
    need = footprint(len(scenario.actors), len(scenario.issues), len(scenario.alliances), run.steps,
                     run.replicates, chunk_size, trajectories, HIST_BINS)
    too_big = check_footprint(need)
    if too_big is None:
        return
    if "trajectories of" not in too_big and need["replicate state"] > need["per-step summaries"] \
            and need["replicate state"] > need["trajectories"]:
        per_replicate = max(need["replicate state"] // min(run.replicates, chunk_size), 1)
        fits = 1 << max(int(0.8 * 2**32 // per_replicate).bit_length() - 1, 0)
        too_big += f"; use --chunk-size {fits} or fewer"
    raise ScenarioError(source, too_big, path="--trajectories" if "trajectories" in too_big else "run")


def _disk_need(scenario: Scenario, chunk_size: int, trajectories: bool) -> int:
    """A rough lower bound on the bytes a run writes (chunk files, then the merged results)."""
    run = scenario.run
    n_chunks = -(-run.replicates // chunk_size)
    columns = 8 + 4 * len(scenario.alliances) + 3 * len(scenario.actors)
    summary = (run.steps + 1) * (len(scenario.alliances) * HIST_BINS + 2) * 8
    need = footprint(len(scenario.actors), len(scenario.issues), len(scenario.alliances),
                     run.steps, run.replicates, chunk_size, trajectories, HIST_BINS)
    return (run.replicates * columns * 2 + summary * (n_chunks + 1)
            + 2 * need["trajectories file"])


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
        raise ResultsError(f"{out}: cannot write results there ({e.strerror}); choose another "
                           "--out") from None
    if free < need:
        raise ResultsError(f"{out}: expected at least {need / 2**20:.1f} MB free for the results, "
                           f"got {free / 2**20:.1f} MB; free some space or choose another --out")


def _prepare(out: Path, scenario: Scenario, digest: str, settings: dict, n_chunks: int,
             resume: bool, force: bool, name: str | None) -> dict:
    existing = read_manifest(out) if out.exists() else None
    if existing is not None:
        same = existing.get("scenario_hash") == digest and existing.get("settings") == settings
        if resume:
            if not same:
                raise ResultsError(
                    f"{out}: holds a run of another scenario or other settings "
                    f"(hash {existing.get('scenario_hash', '?')[:12]}); --resume needs the same "
                    "scenario and settings")
            if existing.get("status") == "complete":
                return existing
            return existing
        if not force:
            raise ResultsError(f"{out}: already holds results; use --resume to finish them or "
                               "--force to replace them")
        import shutil

        # Only what a run writes goes: --force never deletes a file it did not make.
        for item in out.iterdir():
            if not (item.name in RESULT_ENTRIES or item.name.startswith(".") and ".tmp-" in item.name):
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
    elif out.exists() and any(out.iterdir()) and not force:
        raise ResultsError(f"{out}: is not empty and holds no results; choose another --out "
                           "or use --force")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": 1, "name": name or "", "status": "running", "scenario_hash": digest,
        "scenario": scenario.to_data(), "focal": scenario.focal_alliance, "settings": settings,
        "actors": scenario.actor_names, "issues": scenario.issue_names,
        "alliances": list(scenario.alliances),
        "steps": settings["steps"], "seed": settings["seed"], "versions": versions(),
        "chunks": {"total": n_chunks, "done": {}},
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def _drive(pool: list[cf.Executor], renew, tasks: dict[int, ChunkTask], out: Path,
           manifest: dict, bar, fn=run_chunk, hint: str = "alliance-sim run --resume ...") -> None:
    """Run the tasks on ``pool[0]``, retrying each failed chunk once; a broken local pool is
    replaced (in ``pool[0]``) through ``renew``."""
    attempts = {c: 0 for c in tasks}
    queue = sorted(tasks)
    while queue:
        executor = pool[0]
        # A few chunks in flight at a time: each finished chunk is saved before the next is
        # submitted, so memory stays bounded and an interrupt loses at most the chunks in flight.
        window = _window(executor)
        waiting, queue = queue, []
        futures: dict[cf.Future, int] = {}
        broken = False
        while waiting or futures:
            while waiting and len(futures) < window and not broken:
                c = waiting.pop(0)
                try:
                    futures[executor.submit(fn, tasks[c])] = c
                except BrokenProcessPool:
                    if renew is None:
                        raise
                    broken = True
                    waiting.insert(0, c)
            if not futures:
                break
            done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=futures.__getitem__):
                c = futures.pop(future)
                broken |= _save_or_retry(future, c, tasks, attempts, queue, out, manifest, bar,
                                         hint)
        queue.extend(waiting)
        if queue and broken and renew is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            pool[0] = renew()
        queue.sort()


def _window(executor: cf.Executor) -> int:
    """How many chunks to keep submitted to ``executor`` at once."""
    if isinstance(executor, InlineExecutor):
        return 1  # it runs a chunk when it is submitted
    workers = getattr(executor, "_max_workers", None)
    return 2 * workers if workers else 1 << 30


def _save_or_retry(future: cf.Future, c: int, tasks, attempts, queue, out: Path, manifest: dict,
                   bar, hint: str) -> bool:
    """Save a finished chunk, or queue a failed one for its retry; says if the pool broke."""
    broken = False
    try:
        chunk = future.result()
    except dynamics.NumericalError:
        raise  # deterministic: a retry would fail the same way
    except Exception as e:  # noqa: BLE001 - a failed chunk is retried once
        attempts[c] += 1
        broken |= isinstance(e, BrokenProcessPool)
        if attempts[c] >= MAX_ATTEMPTS:
            raise EnsembleError(
                f"chunk {c} failed {attempts[c]} times ({type(e).__name__}: {e}); "
                f"{len(manifest['chunks']['done'])} finished chunks are kept in {out}"
            ) from e
        queue.append(c)
        return broken
    try:
        manifest["chunks"]["done"][str(c)] = save_chunk(out, chunk)
        write_json(out / MANIFEST, manifest)
    except OSError as e:
        manifest["chunks"]["done"].pop(str(c), None)
        raise EnsembleError(
            f"cannot write chunk {c} to {out} ({e.strerror}); "
            f"{len(manifest['chunks']['done'])} finished chunks are kept; free some space "
            f"and finish with: {hint}") from None
    if bar is not None:
        bar.update(tasks[c].size)
    return broken


def reusable(path: Path, out: Path, args) -> Results | None:
    """Finished results in ``out`` for exactly this scenario and these settings, if any."""
    manifest = read_manifest(out) if out.exists() else None
    if manifest is None or manifest.get("status") != "complete":
        return None
    scenario = load_scenario(path, point=getattr(args, "point", False)).with_run(
        replicates=args.replicates, steps=args.steps, seed=args.seed)
    settings = _settings(scenario, args.chunk_size or DEFAULT_CHUNK_SIZE, False,
                         getattr(args, "dtype", None) or DEFAULT_DTYPE)
    if manifest.get("scenario_hash") != scenario.digest() or manifest.get("settings") != settings:
        return None
    return load_results(out)
