"""The page kit's figures: what a figure is, its PNG bytes at a bounded width, and drawing a page's
figures here or in forked worker processes (:mod:`sim.present.page` lays them out in cards)."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: the widest a figure is drawn (pixels): the page's content width less the card's frame
MAX_PX = 1100


#: resolution figures are drawn at unless they must be narrowed to :data:`MAX_PX`
DPI = 120


@dataclass
class FigureEntry:
    """A figure of a page: file name, heading, alt text, caption and how to draw it."""

    key: str
    title: str
    alt: str
    caption: str
    draw: Callable[[], object]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG (read from its header)."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def figure_png(fig, max_px: int = MAX_PX) -> bytes:
    """The PNG bytes of a matplotlib Figure, drawn at :data:`DPI` or at the resolution that makes
    it ``max_px`` pixels wide when it is wider (never stretched afterwards). PNG bytes already
    drawn (a figure also written to a file of its own) are returned as they are."""
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    width_in = float(fig.get_figwidth())
    dpi = min(DPI, max_px / width_in) if width_in > 0 else DPI
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


#: a page draws its figures in worker processes when it has at least this many and more than one
#: core is free to use (below it, starting the workers costs more than it saves)
PARALLEL_MIN = 4


#: the most figure-drawing processes a page starts
MAX_DRAWERS = 4


#: environment variable that sets how many processes draw a page's figures (1: in this process)
DRAWERS_ENV = "ALLIANCE_PAGE_WORKERS"


_DRAWS: Sequence[Callable[[], object]] = ()


def _draw_png(k: int) -> bytes:
    """Draw figure ``k`` of the page being written (in a forked worker, which inherited them)."""
    return figure_png(_DRAWS[k]())


def drawers(count: int) -> int:
    """How many processes draw ``count`` figures: :data:`DRAWERS_ENV` when set, else the cores
    this process may use (at most :data:`MAX_DRAWERS`), and 1 under :data:`PARALLEL_MIN` figures
    or where processes cannot be forked."""
    import multiprocessing
    import os

    if count < PARALLEL_MIN or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = os.environ.get(DRAWERS_ENV, "").strip()
    if wanted:
        try:
            return max(1, min(int(wanted), count))
        except ValueError:
            return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_DRAWERS, count))


def draw_pngs(
    draws: Sequence[Callable[[], object]],
    workers: int | None = None,
    done: Callable[[], object] | None = None,
) -> list[bytes]:
    """The PNG bytes of every figure ``draws`` makes, in order (:func:`figure_png`).

    Matplotlib draws on one core, and a page's figures are independent, so with several cores
    they are drawn in forked worker processes: a fork inherits the callables with the summaries
    they close over (nothing is pickled but the PNG bytes coming back). ``workers`` defaults to
    :func:`drawers`; with 1, or when forking fails, they are drawn here one after the other.
    ``done`` is called once per figure drawn (a progress bar's step).
    """
    global _DRAWS
    workers = drawers(len(draws)) if workers is None else workers
    tick = done or (lambda: None)

    def here() -> list[bytes]:
        pngs = []
        for d in draws:
            pngs.append(figure_png(d()))
            tick()
        return pngs

    if workers <= 1:
        return here()
    import multiprocessing
    import os
    import threading
    import warnings
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from sim.run.executors import die_with

    _DRAWS = draws
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with library threads idle
            context = multiprocessing.get_context("fork")
            # the drawing processes die with this one, like the runner's workers
            dies = (os.getpid(), threading.current_thread() is threading.main_thread())
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=die_with, initargs=dies
            ) as pool:
                pngs = []
                for png in pool.map(_draw_png, range(len(draws))):
                    pngs.append(png)
                    tick()
                return pngs
    except (OSError, BrokenProcessPool):  # no processes to be had, or one died: draw here
        return here()
    finally:
        _DRAWS = ()
