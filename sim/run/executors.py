"""Executors: where a design's chunks run, and how the runner drives them.

Executors follow :class:`concurrent.futures.Executor`: in-process for one worker
(:class:`InlineExecutor`), a process pool with an explicit ``spawn`` context otherwise (the global
start method is never touched), or any executor passed in, such as a Dask client's
``get_executor()``. :func:`execute` keeps a few chunks in flight, hands each finished one on in
chunk order of completion, retries a failed chunk once, replaces a broken local pool and stops the
pool at once on an interrupt. No other module owns a pool.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from sim.errors import AllianceError, Interrupted, RunError
from sim.model import dynamics
from sim.run.chunks import ChunkTask
from sim.spec.scenario import ScenarioError

MAX_ATTEMPTS = 2


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the process that drives them, which stops the pool and keeps the
    finished chunks."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int) -> cf.Executor:
    """A process pool with an explicit spawn context (never the global start method)."""
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint
    )


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


def _pool(workers: int | None, executor: cf.Executor | None, n_tasks: int):
    """``(pool, renew, own)``: the executor to use in ``pool[0]``, how to replace a broken local
    pool (None for a given executor) and whether this call owns (and shuts down) it."""
    if executor is not None:
        return [executor], None, False
    workers = (os.cpu_count() or 1) if workers is None else workers
    size = max(1, min(workers, n_tasks))

    def make_executor():
        return InlineExecutor() if size <= 1 else local_executor(size)

    return [make_executor()], make_executor, True


def progress_bar(progress: bool, total: int, initial: int, unit: str, desc: str):
    """A tqdm bar on stderr over ``total`` units (None when ``progress`` is off)."""
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, smoothing=0.1, file=sys.stderr
    )


def execute(
    tasks: dict[int, ChunkTask],
    sink,
    *,
    workers,
    executor,
    fn,
    bar,
    hint: str,
    kept=None,
    where: Path | None = None,
    source: Path | None = None,
) -> None:
    """Run ``tasks`` on a pool, handing each finished chunk to ``sink(c, payload)``; failed chunks
    are retried once, a broken local pool is replaced, an interrupt stops the pool at once."""
    pool, renew, own = _pool(workers, executor, len(tasks))
    interrupted = False
    try:
        _drive(pool, renew, tasks, sink, bar, fn, kept or (lambda: 0), where)
    except KeyboardInterrupt:
        interrupted = True
        raise Interrupted("interrupted") from None
    except dynamics.NumericalError as e:
        raise ScenarioError(source, str(e), path=f"mechanisms.{e.mechanism}") from None
    finally:
        if bar is not None:
            bar.close()
        if own:
            pool[0].shutdown(wait=not interrupted, cancel_futures=True)


def _drive(
    pool: list[cf.Executor], renew, tasks: dict[int, ChunkTask], sink, bar, fn, kept, where: Path | None
) -> None:
    """Run the tasks on ``pool[0]``, retrying each failed chunk once; a broken local pool is
    replaced (in ``pool[0]``) through ``renew``."""
    attempts = {c: 0 for c in tasks}
    queue = sorted(tasks)
    while queue:
        executor = pool[0]
        # A few chunks in flight at a time: each finished chunk is handed on before the next is
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
                broken |= _hand_on_or_retry(future, c, tasks, attempts, queue, sink, bar, kept, where)
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
