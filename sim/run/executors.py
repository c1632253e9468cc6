"""Executors: where a design's chunks run, and how the runner drives them.

Executors follow :class:`concurrent.futures.Executor`: in-process for one worker
(:class:`InlineExecutor`), a local process pool otherwise, or any executor passed in, such as a
Dask client's ``get_executor()`` or a pool the caller holds across calls.

Local pools are *warm* (:func:`warm_executor`): the process keeps one pool alive from one call to
the next (same worker count, same environment), so short runs, sweeps, the app's ensemble view and
the many stretches of sequential assimilation pay the workers' start-up (an interpreter importing
numpy, pandas and the model; numba loading its compiled kernel) once per process, not once per
call. Its workers all start at once, from an explicit ``spawn`` context (the global start method is
never touched), and load the compiled kernel in their initializer when the numba engine is asked
for. The pool is shut down at interpreter exit.

Child processes die with their parent. A worker ignores Ctrl-C (the driver stops the pool and
keeps the finished chunks); on Linux it asks the kernel for SIGKILL when the thread that started
it ends (``prctl(PR_SET_PDEATHSIG)``, set only when the pool was started from the main thread),
and everywhere a watchdog thread ends it when the driver's process ends (a ``pidfd`` on Linux, the
parent's pid polled elsewhere). The driver turns SIGTERM and SIGHUP, like SIGINT, into an
:class:`~sim.errors.Interrupted` while it drives a pool: it kills the workers at once, keeps what
finished, and the command exits with ``128 + signal`` (130, 129, 143) and one line. The
multiprocessing resource tracker ends on its own when the driver and the workers are gone (it
reads a pipe they hold until end of file).

:func:`execute` keeps a few chunks in flight, hands each finished one on (to a writer thread when
the sink stores it, so that storing a chunk overlaps the next chunk's simulation), retries a
failed chunk once, replaces a broken local pool and stops the pool at once on an interrupt. No
other module owns a pool.
"""

from __future__ import annotations

import atexit
import concurrent.futures as cf
import multiprocessing
import os
import queue
import select
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, suppress
from pathlib import Path

from sim.errors import AllianceError, Interrupted, RunError
from sim.model import dynamics
from sim.run.chunks import DEFAULT_DTYPE, ChunkTask
from sim.spec.scenario import ScenarioError

MAX_ATTEMPTS = 2
#: how often a worker checks that its driver still lives, where no pidfd can tell it at once
WATCH_SECONDS = 0.5
#: the exit status of a worker that ends because its driver is gone
ORPHANED = 70
#: signals the driver turns into an interrupt while it drives a pool (SIGINT raises on its own)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


# --------------------------------------------------------------------------------------------
# Workers: started warm, dying with their driver
# --------------------------------------------------------------------------------------------


def _worker_init(parent: int, pdeathsig: bool, engine: str | None, dtype: str) -> None:
    """Initializer of every worker: leave Ctrl-C to the driver, die with it, and load what a
    chunk needs (this module has imported the runner's; the compiled kernel for the numba
    engine)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(parent, pdeathsig)
    single_blas_thread()  # for the life of the worker: it runs chunks and nothing else
    if engine is not None:
        try:
            from sim.model.engines import get_engine

            get_engine(engine).warm(dtype)
        except Exception:  # noqa: BLE001 - the first chunk reports what is wrong, in one line
            pass


# OpenBLAS's exported names, as numpy's and scipy's wheels build it and as a system library has it
_BLAS_SET = tuple(f"{p}openblas_set_num_threads{s}" for p, s in (("scipy_", "64_"), ("scipy_", ""), ("", "")))
_BLAS_GET = tuple(f"{p}openblas_get_num_threads{s}" for p, s in (("scipy_", "64_"), ("scipy_", ""), ("", "")))
_blas_lock = threading.Lock()
_blas_users = 0
_blas_before: list[tuple[Callable[[int], None], int]] = []


def _openblas() -> list[tuple[Callable[[int], None], Callable[[], int]]]:
    """The thread-count setter and getter of every OpenBLAS this process has loaded (Linux: read
    from /proc/self/maps; elsewhere none, and the libraries keep their threads)."""
    found: list[tuple[Callable[[int], None], Callable[[], int]]] = []
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "openblas" in line}
    except OSError:
        return found
    import ctypes

    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(lib, n) for n in _BLAS_SET if hasattr(lib, n)), None)
        getter = next((getattr(lib, n) for n in _BLAS_GET if hasattr(lib, n)), None)
        if setter is not None and getter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            getter.argtypes, getter.restype = [], ctypes.c_int
            found.append((setter, getter))
    return found


def single_blas_thread() -> None:
    """Let numpy's (and scipy's) OpenBLAS run one thread while chunks run here, until
    :func:`release_blas_threads`.

    The runner brings its own parallelism (worker processes, the pipeline's threads). OpenBLAS's
    own threads add nothing to the small matrix products of a chunk but, after each larger one
    (the blocs' search), they spin for a while waiting for more work: on two cores that spinning
    took a fifth of a run's CPU time from the threads that step the chunks. Matrix products give
    the same bytes with any number of threads (they split the output, not the sums)."""
    global _blas_users
    with _blas_lock:
        _blas_users += 1
        if _blas_users == 1:
            for setter, getter in _openblas():
                _blas_before.append((setter, getter()))
                setter(1)


def release_blas_threads() -> None:
    """Give OpenBLAS back its threads when the last user of :func:`single_blas_thread` is done."""
    global _blas_users
    with _blas_lock:
        _blas_users = max(_blas_users - 1, 0)
        if _blas_users == 0:
            while _blas_before:
                setter, n = _blas_before.pop()
                setter(n)


def die_with(parent: int, pdeathsig: bool) -> None:
    """End this process when ``parent`` ends: SIGKILL from the kernel on Linux (when the thread
    that started this process is the parent's main thread, whose end is the parent's), and a
    watchdog thread everywhere."""
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog remains
            pass
    if os.getppid() != parent:  # the driver ended before the request could be made
        os._exit(ORPHANED)
    threading.Thread(target=_watch, args=(parent,), name="alliance-sim-watchdog", daemon=True).start()


def _watch(parent: int) -> None:
    """Wait for ``parent`` to end, then end this process at once."""
    fd = None
    try:
        fd = os.pidfd_open(parent)  # Linux 5.3+: readable when the process has ended
    except (AttributeError, OSError):
        pass
    if fd is not None:
        select.select([fd], [], [])
    else:  # pragma: no cover - other systems: the parent's pid changes when it ends
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
    os._exit(ORPHANED)


def _ready() -> int:
    """A no-op a new pool runs once per worker (it starts the pool's manager thread)."""
    return os.getpid()


class WarmPool(cf.ProcessPoolExecutor):
    """A process pool whose workers all start at once, warm for the engine asked for.

    Parameters
    ----------
    workers
        Worker processes.
    engine, dtype
        The engine whose kernel each worker loads as it starts (``numpy``: nothing to load), and
        the precision it is loaded for. A pool warmed for one engine runs chunks of any engine;
        a worker loads another engine's kernel on its first chunk of it.
    """

    def __init__(self, workers: int, engine: str | None = None, dtype: str = DEFAULT_DTYPE):
        main = threading.current_thread() is threading.main_thread()
        super().__init__(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(), main, engine, dtype),
        )
        self.workers = workers
        self.environment = dict(os.environ)  # what the workers inherited
        launch = getattr(self, "_launch_processes", None)
        if launch is not None:  # every worker from this thread now (PR_SET_PDEATHSIG is per thread)
            launch()
        for _ in range(workers):
            self.submit(_ready)

    def stop(self) -> None:
        """Kill the workers now and drop queued work (an interrupt, a broken pool; the pool is
        unusable after).

        The workers go first, so that the pool's manager thread finds them dead and takes its
        broken-pool path; then nothing may keep that thread waiting: the feeder of the task queue
        could be blocked writing tasks that no worker will read, so this process's end of that
        pipe is closed too (what the manager thread itself does on a broken pool), and so is its
        end of the result pipe, and the interpreter can end without waiting for it.
        """
        # taken before shutdown(), which forgets the processes and both queues
        processes = list((getattr(self, "_processes", None) or {}).values())
        reader = getattr(getattr(self, "_call_queue", None), "_reader", None)
        writer = getattr(getattr(self, "_result_queue", None), "_writer", None)
        for process in processes:
            with suppress(OSError, ValueError):
                if process.is_alive():
                    process.kill()
        self.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with suppress(OSError, ValueError, AssertionError):
                process.join(timeout=5)
        if reader is not None:
            with suppress(OSError):
                reader.close()
        # a worker killed while it sent a chunk's result leaves half a message in the result
        # pipe, and the manager thread would wait for the rest for ever (this process holds the
        # pipe's other end too): closed here, the pipe ends and the thread takes its broken path
        if writer is not None:
            with suppress(OSError):
                writer.close()

    @property
    def broken(self) -> bool:
        """Whether a worker died (the pool cannot take more work)."""
        return bool(getattr(self, "_broken", False))


_WARM: dict[str, WarmPool] = {}
_WARM_LOCK = threading.Lock()


def warm_executor(
    workers: int, engine: str | None = None, dtype: str = DEFAULT_DTYPE, *, up_to: int | None = None
) -> WarmPool:
    """The process's warm pool of ``workers`` workers (or of up to ``up_to``, if it has them),
    started now if there is none.

    Consecutive calls with the same worker count (and an unchanged environment, which the workers
    inherit when they start) return the same pool; another count, a broken pool or a changed
    environment replaces it. Hold it and pass it as ``executor=`` to keep it across calls made
    with other worker counts; it is shut down at interpreter exit.
    """
    most = max(workers, up_to or workers)
    with _WARM_LOCK:
        pool = _WARM.get("pool")
        if pool is not None and pool.broken:
            pool.stop()
            pool = None
        elif pool is not None and (not workers <= pool.workers <= most or pool.environment != os.environ):
            pool.shutdown(wait=False)  # its workers finish what they were given, then end
            pool = None
        if pool is None:
            pool = _WARM["pool"] = WarmPool(workers, engine, dtype)
        return pool


def _discard(pool: cf.Executor) -> None:
    """Stop a warm pool that broke or was interrupted, and forget it."""
    with _WARM_LOCK:
        if _WARM.get("pool") is pool:
            del _WARM["pool"]
    if isinstance(pool, WarmPool):
        pool.stop()


@atexit.register
def shutdown_warm() -> None:
    """End the warm pool's workers now (they hold memory while the process lives, about 200 MB
    each); the next call that needs workers starts a new pool. Runs at interpreter exit."""
    with _WARM_LOCK:
        pool = _WARM.pop("pool", None)
    if pool is not None:
        pool.stop()


def local_executor(workers: int) -> cf.Executor:
    """A process pool of its own for the caller (which shuts it down): explicit spawn context,
    workers that die with their driver."""
    return WarmPool(workers)


class InlineExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (one worker)."""

    def submit(self, fn, /, *args, **kwargs):
        """Run fn now and return a finished future."""
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(e, KeyboardInterrupt):
                raise
            future.set_exception(e)
        return future


class PipelineExecutor(cf.Executor):
    """One worker in this process, as a pipeline of chunk phases (:func:`sim.run.chunks.run_chunk`
    is ``end_chunk(step_chunk(begin_chunk(task)))``): one thread steps chunk after chunk while
    another draws the next chunk's parameters and turns the last one's final state into its
    payload (blocs, the replicate table), so that only the stepping is on the critical path.

    The threads are daemons: an interrupt ends the process without waiting for the chunk that is
    stepping (it is discarded; what finished is kept by the driver).
    """

    window = 3  # chunks in flight: one beginning, one stepping, one ending

    def __init__(self):
        single_blas_thread()  # given back at shutdown
        self._blas = True
        self._step: queue.SimpleQueue = queue.SimpleQueue()
        self._aux: queue.SimpleQueue = queue.SimpleQueue()
        for q, name in ((self._step, "step"), (self._aux, "chunk")):
            threading.Thread(target=self._serve, args=(q,), name=f"alliance-sim-{name}", daemon=True).start()

    @staticmethod
    def _serve(q: queue.SimpleQueue) -> None:
        while (item := q.get()) is not None:
            fn, arg, out, then = item
            if out.cancelled():
                continue
            try:
                result = fn(arg)
            except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
                if out.set_running_or_notify_cancel():
                    out.set_exception(e)
                continue
            then(result)

    def submit(self, fn, /, *args, **kwargs):
        """Queue ``run_chunk(task)`` through the pipeline; a finished future when it is done."""
        from sim.run.chunks import begin_chunk, end_chunk, run_chunk, step_chunk

        if fn is not run_chunk or kwargs or len(args) != 1:
            raise TypeError("the pipeline runs run_chunk(task) only")
        out: cf.Future = cf.Future()

        def done(payload) -> None:
            if out.set_running_or_notify_cancel():
                out.set_result(payload)

        def ended(run) -> None:
            self._aux.put((end_chunk, run, out, done))

        def begun(run) -> None:
            self._step.put((step_chunk, run, out, ended))

        self._aux.put((begin_chunk, args[0], out, begun))
        return out

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """End the threads once they finish what they hold (they are daemons: never waited for)."""
        self._step.put(None)
        self._aux.put(None)
        if self._blas:
            self._blas = False
            release_blas_threads()


class Pool:
    """Where one call's chunks run: the executor given, or the warm local pool (in-process for
    one worker), and how a broken local pool is replaced."""

    def __init__(
        self,
        workers: int | None = 1,
        executor: cf.Executor | None = None,
        engine: str = "numpy",
        dtype: str = DEFAULT_DTYPE,
    ):
        self.given = executor
        self.workers = (os.cpu_count() or 1) if workers is None else int(workers)
        self.engine, self.dtype = engine, dtype
        self.executor: cf.Executor | None = executor

    def open(self, n_tasks: int, fn=None) -> cf.Executor:
        """The executor for ``n_tasks`` chunks of ``fn`` (starting the warm pool's workers if need
        be): one worker runs :func:`~sim.run.chunks.run_chunk` as a pipeline in this process,
        another chunk function inline."""
        if self.given is None:
            from sim.run.chunks import run_chunk

            size = max(1, min(self.workers, n_tasks))
            if size > 1:  # a warm pool of more workers than this call has chunks will do
                self.executor = warm_executor(size, self.engine, self.dtype, up_to=self.workers)
            else:
                self.executor = PipelineExecutor() if fn is run_chunk else InlineExecutor()
        assert self.executor is not None
        return self.executor

    @property
    def local(self) -> bool:
        """Whether the pool is ours (not given by the caller)."""
        return self.given is None

    def renew(self) -> cf.Executor:
        """A fresh local pool in place of a broken one."""
        assert self.executor is not None and self.local
        _discard(self.executor)
        workers = getattr(self.executor, "workers", 1)
        self.executor = warm_executor(workers, self.engine, self.dtype)
        return self.executor

    def stop(self) -> None:
        """Kill a local pool's workers at once (an interrupt)."""
        if self.local and isinstance(self.executor, WarmPool):
            _discard(self.executor)

    def close(self) -> None:
        """Let go of a pipeline's threads (a warm pool stays for the next call)."""
        if self.local and isinstance(self.executor, PipelineExecutor):
            self.executor.shutdown(wait=False)


# --------------------------------------------------------------------------------------------
# Driving the chunks
# --------------------------------------------------------------------------------------------


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised in the driver like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum, frame) -> None:
    raise Stopped(signum)


@contextmanager
def stop_signals():
    """SIGTERM and SIGHUP raise :class:`Stopped` in this (main) thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.signal(s, _raise_stopped) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


#: the terminal row of this process's progress bars while runs go side by side, each in a
#: process of its own (:mod:`sim.run.lanes`), each bar cleared when its run is done; None: the
#: bars stack as usual and stay
BAR_ROW: int | None = None


def progress_bar(progress: bool, total: int, initial: int, unit: str, desc: str):
    """A tqdm bar on stderr over ``total`` units (None when ``progress`` is off), on the row
    :data:`BAR_ROW` says."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit=unit,
        desc=desc,
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
        position=BAR_ROW,
        leave=BAR_ROW is None,
    )


class Writer:
    """Hands finished chunks to a sink in a thread of its own, in order, at most ``ahead`` at a
    time: storing a chunk (writing its files, their checksums, the manifest) overlaps the
    simulation of the next ones."""

    def __init__(self, sink: Callable, ahead: int = 2):
        self.sink, self.ahead = sink, ahead
        self.thread = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="alliance-sim-writer")
        self.pending: list[cf.Future] = []

    def __call__(self, c: int, payload) -> None:
        """Queue chunk ``c`` for the sink; raises what an earlier sink call raised."""
        self.check(len(self.pending) >= self.ahead)
        self.pending.append(self.thread.submit(self.sink, c, payload))

    def check(self, wait: bool = False) -> None:
        """Raise the first error of a finished sink call (waiting for the oldest if ``wait``)."""
        if wait and self.pending:
            cf.wait(self.pending[:1])
        while self.pending and self.pending[0].done():
            self.pending.pop(0).result()

    def drain(self) -> None:
        """Wait for every queued chunk to be handed on, then stop the thread; raises the first
        error."""
        try:
            cf.wait(self.pending)
            for future in self.pending:
                future.result()
        finally:
            self.pending.clear()
            self.thread.shutdown(wait=True)


def execute(
    tasks: dict[int, ChunkTask],
    sink,
    *,
    pool: Pool,
    fn,
    bar,
    kept=None,
    where: Path | None = None,
    source: Path | None = None,
    background: bool = False,
) -> None:
    """Run ``tasks`` on ``pool``, handing each finished chunk to ``sink(c, payload)`` (from a
    writer thread when ``background``); failed chunks are retried once, a broken local pool is
    replaced, an interrupt (Ctrl-C, SIGTERM, SIGHUP) stops the pool at once and raises
    :class:`~sim.errors.Interrupted` once the chunks that finished are handed on."""
    writer = Writer(sink) if background else None
    count = kept or (lambda: 0)

    def settled() -> int:  # finished chunks, once those queued for the writer are stored
        if writer is not None:
            writer.check(wait=True)
            cf.wait(writer.pending)
        return count()

    try:
        with stop_signals():
            try:
                pool.open(len(tasks), fn)
                _drive(pool, tasks, writer or sink, bar, fn, settled, where)
                if writer is not None:
                    writer.drain()
            except KeyboardInterrupt as e:
                pool.stop()
                if writer is not None:
                    writer.drain()  # what finished is kept
                raise Interrupted("interrupted", signum=getattr(e, "signum", signal.SIGINT)) from None
    except dynamics.NumericalError as e:
        raise ScenarioError(source, str(e), path=f"mechanisms.{e.mechanism}") from None
    finally:
        pool.close()
        if writer is not None:
            writer.thread.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()


def _drive(pool: Pool, tasks: dict[int, ChunkTask], sink, bar, fn, kept, where: Path | None) -> None:
    """Run the tasks on ``pool``, retrying each failed chunk once; a broken local pool is
    replaced. Chunks still queued when it stops early (an error, an interrupt) are cancelled."""
    attempts = {c: 0 for c in tasks}
    queue = sorted(tasks)
    futures: dict[cf.Future, int] = {}
    try:
        while queue:
            executor = pool.executor
            assert executor is not None
            # A few chunks in flight at a time: each finished chunk is handed on before the next
            # is submitted, so memory stays bounded and an interrupt loses at most those in flight.
            window = _window(executor)
            waiting, queue = queue, []
            broken = False
            while waiting or futures:
                while waiting and len(futures) < window and not broken:
                    c = waiting.pop(0)
                    try:
                        futures[executor.submit(fn, tasks[c])] = c
                    except BrokenProcessPool:
                        if not pool.local:
                            raise
                        broken = True
                        waiting.insert(0, c)
                if not futures:
                    break
                done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
                for future in sorted(done, key=futures.__getitem__):
                    c = futures.pop(future)
                    broken |= _hand_on_or_retry(future, c, tasks, attempts, queue, sink, bar, kept, where)
            queue.extend(waiting)
            if queue and broken and pool.local:
                pool.renew()
            queue.sort()
    finally:
        for future in futures:
            future.cancel()


def _window(executor: cf.Executor) -> int:
    """How many chunks to keep submitted to ``executor`` at once."""
    if isinstance(executor, InlineExecutor):
        return 1  # it runs a chunk when it is submitted
    if isinstance(executor, PipelineExecutor):
        return executor.window
    workers = getattr(executor, "_max_workers", None)
    return 2 * workers if workers else 1 << 30


def _hand_on_or_retry(
    future: cf.Future, c: int, tasks, attempts, queue, sink, bar, kept, where: Path | None
) -> bool:
    """Hand a finished chunk to ``sink``, or queue a failed one for its retry; says if the pool
    broke."""
    broken = False
    try:
        payload = future.result()
    except (dynamics.NumericalError, AllianceError):
        raise  # deterministic: a retry would fail the same way
    except Exception as e:  # noqa: BLE001 - a failed chunk is retried once
        attempts[c] += 1
        broken |= isinstance(e, BrokenProcessPool)
        if attempts[c] >= MAX_ATTEMPTS:
            kept_where = f" in {where}" if where is not None else ""
            raise RunError(
                f"chunk {c} failed {attempts[c]} times ({type(e).__name__}: {e}); "
                f"{kept()} finished chunks are kept{kept_where}"
            ) from e
        queue.append(c)
        return broken
    sink(c, payload)
    if bar is not None:
        bar.update(tasks[c].size)
    return broken
