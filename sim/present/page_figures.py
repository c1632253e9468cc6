"""The page kit's figures: what a figure is, its PNG bytes at a bounded width, and drawing a page's
figures here or in forked processes while the rest of the page is still being computed
(:mod:`sim.present.page` lays them out in cards)."""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.run.lanes import cores, fork_available

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
    #: how long it takes to draw, relative to a one-panel chart: heavier figures are drawn first so
    #: that no process is left with a long one at the end
    weight: float = 1.0


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG (read from its header)."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def figure_png(fig, max_px: int = MAX_PX) -> bytes:
    """The PNG bytes of a matplotlib Figure, drawn at :data:`DPI` or at the resolution that makes
    it ``max_px`` pixels wide when it is wider (never stretched afterwards). PNG bytes already
    drawn (a figure also written to a file of its own) are returned as they are.

    The pixels are those ``Figure.savefig`` draws; an opaque figure (every figure of the pages) is
    stored as RGB rather than RGBA, with zlib at level 1: measured on a two-panel chart, encoding
    took 22 ms instead of the 39 ms of savefig's RGBA at level 6, for a file of the same size."""
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    width_in = float(fig.get_figwidth())
    dpi = min(DPI, max_px / width_in) if width_in > 0 else DPI
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    image = Image.fromarray(rgba[..., :3] if (rgba[..., 3] == 255).all() else rgba)
    buf = io.BytesIO()
    image.save(buf, format="png", compress_level=1, dpi=(dpi, dpi))
    return buf.getvalue()


#: matplotlib settings while a page's figures are made and drawn: a title sits at the top of its
#: axes (where the automatic placement puts it when no tick labels are above the axes, as on
#: every page figure) instead of being placed again after measuring every tick label of the axes
#: on each draw (a sixth of the samples in a profile of a comparison page's drawing); the same pixels
DRAWING_RC: dict[Any, Any] = {"axes.titley": 1.0}


def drawn(draw: Callable[[], object]) -> bytes:
    """The PNG bytes of the figure ``draw`` makes, made and drawn under :data:`DRAWING_RC`."""
    import matplotlib

    with matplotlib.rc_context(DRAWING_RC):
        return figure_png(draw())


#: a page draws its figures in other processes when it has at least this many and more than one
#: core is free to use (below it, starting a process costs more than it saves)
PARALLEL_MIN = 4


#: the most processes that draw a page's figures, this one included
MAX_DRAWERS = 4


#: environment variable that sets how many processes draw a page's figures, this one included (1: in
#: this process only, after the rest of the page)
DRAWERS_ENV = "ALLIANCE_PAGE_WORKERS"


#: how often (seconds) the page looks for figures other processes finished, for the progress bar
POLL_SECONDS = 0.05


def drawers() -> int:
    """How many processes draw a page's figures, this one included: :data:`DRAWERS_ENV` when set,
    else the cores this process may use, at most :data:`MAX_DRAWERS` either way; 1 where processes
    cannot be forked (under :data:`PARALLEL_MIN` figures :class:`Drawing` starts none)."""
    import os

    if not fork_available():
        return 1
    wanted = os.environ.get(DRAWERS_ENV, "").strip()
    if wanted:
        try:
            return max(1, min(int(wanted), MAX_DRAWERS))
        except ValueError:
            return 1
    return max(1, min(cores(), MAX_DRAWERS))


class Drawing:
    """A page's figures, drawn as soon as they are known.

    Matplotlib draws on one core and a page's figures are independent, so while this process goes
    on computing the rest of the page (summaries, the variance split, re-running the typical
    replicates), forked processes draw the figures already known: a fork inherits the callables
    with the summaries they close over, so nothing is pickled. :meth:`add` queues a figure,
    :meth:`publish` makes the queued ones known (heaviest first, :attr:`FigureEntry.weight`) and
    starts a drawing process when fewer than ``workers - 1`` are at work; :meth:`finish` draws what
    is left here and in up to ``workers - 1`` other processes and returns every figure's PNG bytes
    in the order they were added.

    The processes take the next figure from a counter they share and write its PNG to a private
    folder; a process knows only the figures published before it started and stops when those are
    taken. A figure no process delivered (its drawing raised, or the process died) is drawn again
    here, where an error is raised as it would be without other processes. The processes end with
    this one, and :meth:`close` (also run when the object is collected) stops them and removes the
    folder. With ``workers`` 1 every figure is drawn here, in :meth:`finish`.
    """

    def __init__(self, workers: int | None = None):
        self.workers = drawers() if workers is None else max(1, int(workers))
        if self.workers > 1 and not fork_available():
            self.workers = 1
        self.draws: list[Callable[[], object]] = []  # published, in drawing order
        self.ids: list[int] = []  # the order of addition of each published figure
        self.staged: list[tuple[float, int, Callable[[], object]]] = []
        self.added = 0
        self.children: list = []  # every drawing process started (kept for the cleanup)
        self.knows: list[int] = []  # how many figures each of them knew when it started
        self.folder: str | None = None
        self._here = 0  # the next figure to draw when this process draws alone
        #: (lock, next figure to take), made before the first process starts
        self.shared: tuple[Any, Any] | None = None
        self._finalizer: Any = None

    def add(self, draw: Callable[[], object], weight: float = 1.0) -> int:
        """Queue a figure; returns its number (the order of addition)."""
        self.staged.append((float(weight), self.added, draw))
        self.added += 1
        return self.added - 1

    def publish(self) -> None:
        """Make the queued figures known, heaviest first, and start a drawing process for them
        when fewer than ``workers - 1`` are at work (and the page has :data:`PARALLEL_MIN` figures
        or more so far)."""
        for _, k, draw in sorted(self.staged, key=lambda s: (-s[0], s[1])):
            self.draws.append(draw)
            self.ids.append(k)
        self.staged.clear()
        if self.workers > 1 and len(self.draws) >= PARALLEL_MIN:
            self._start(self.workers - 1)

    def refill(self) -> None:
        """Start a drawing process in place of one that ran out of the figures it knew, while
        published figures are untaken (cheap: called between a page's parts)."""
        if self.shared is not None:
            self._start(self.workers - 1)

    def finish(self, done: Callable[[], object] | None = None) -> list[bytes]:
        """The PNG bytes of every figure added, in the order of addition; ``done`` is called once
        per figure drawn (a progress bar's step)."""
        import gc

        self.publish()
        tick = done or (lambda: None)
        n = len(self.draws)
        pngs: dict[int, bytes] = {}
        counted = 0
        parallel = self.workers > 1 and n >= PARALLEL_MIN
        # the page's objects (digests, tables) are left out of the garbage collector's passes
        # while figures are drawn: they outlive the drawing, and matplotlib makes enough objects
        # to set off full collections over all of them
        thaw = gc.get_freeze_count() == 0
        gc.freeze()
        try:
            while True:
                if parallel:  # in place of processes that ran out of the figures they knew
                    self._start(self.workers - 1)
                if (k := self._take(n)) is None:
                    break
                pngs[k] = drawn(self.draws[k])
                counted = self._tick(tick, counted, len(pngs))
            for child in self.children:
                while child.is_alive():
                    counted = self._tick(tick, counted, len(pngs))
                    child.join(POLL_SECONDS)
            for k in range(n):
                if k not in pngs:
                    pngs[k] = self._delivered(k) or drawn(self.draws[k])
            self._tick(tick, counted, n)
        finally:
            if thaw:
                gc.unfreeze()
            self.close()
        by_id = dict(zip(self.ids, (pngs[k] for k in range(n)), strict=True))
        return [by_id[i] for i in range(self.added)]

    def close(self) -> None:
        """Stop the drawing processes and remove their folder (nothing is drawn after this)."""
        if self._finalizer is not None:
            self._finalizer()

    # -- inner workings ------------------------------------------------------------------------

    def _take(self, limit: int) -> int | None:
        """The next figure to draw among the first ``limit`` published, or None when all are taken."""
        if self.shared is None:  # drawn here alone
            k = self._here
            if k >= limit:
                return None
            self._here = k + 1
            return k
        lock, following = self.shared
        with lock:
            k = following.value
            if k >= limit:
                return None
            following.value = k + 1
            return k

    def _start(self, at_most: int) -> None:
        """Start drawing processes (up to ``at_most`` at work) while published figures are untaken."""
        import multiprocessing
        import os
        import tempfile
        import threading
        import warnings
        import weakref

        from sim.run.background import settle

        settle()  # no fork while a thread of this process loads a module
        context = multiprocessing.get_context("fork")
        if self.shared is None:
            prepare_drawing()  # imported and loaded once here, not in every process
            self.shared = (context.Lock(), context.RawValue("q", 0))
            self.folder = tempfile.mkdtemp(prefix="alliance-figures-")
            self._finalizer = weakref.finalize(self, _stop, self.children, self.folder)
        _, following = self.shared
        dies = (os.getpid(), threading.current_thread() is threading.main_thread())
        while self._at_work() < at_most and following.value < len(self.draws):
            child = context.Process(
                target=_drain, args=(self, len(self.draws), dies), daemon=True, name="alliance-sim-figures"
            )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # fork with library threads idle
                    child.start()
            except OSError:  # no processes to be had: the figures are drawn here
                return
            self.children.append(child)  # the finalizer holds this list: only ever appended to
            self.knows.append(len(self.draws))

    def _at_work(self) -> int:
        """Drawing processes with figures left to take: one that is drawing the last figure it
        knew counts as done, so that another starts on the figures published since at once
        rather than after that figure."""
        assert self.shared is not None
        taken = self.shared[1].value
        return sum(c.is_alive() and known > taken for c, known in zip(self.children, self.knows, strict=True))

    def _delivered(self, k: int) -> bytes | None:
        """The PNG another process wrote for figure ``k``, if it did."""
        if self.folder is None:
            return None
        try:
            with open(f"{self.folder}/{k}.png", "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def _tick(self, tick: Callable[[], object], counted: int, here: int) -> int:
        """Call ``tick`` for each figure finished since the last call; returns the new count."""
        import os

        there = sum(f.endswith(".png") for f in os.listdir(self.folder)) if self.folder else 0
        for _ in range(counted, min(here + there, len(self.draws))):
            tick()
        return max(counted, min(here + there, len(self.draws)))


def prepare_drawing() -> None:
    """What every drawing needs, loaded once before processes are forked: matplotlib's figure and
    Agg canvas and its font list."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    from matplotlib import font_manager

    font_manager.findfont(font_manager.FontProperties())


def _drain(drawing: Drawing, limit: int, dies: tuple[int, bool]) -> None:
    """A forked process's work: draw published figures until the first ``limit`` are all taken,
    each into ``<folder>/<k>.png`` (written under another name, then renamed, so that a file there
    is whole)."""
    import gc
    import os
    import signal

    from sim.run.executors import die_with, single_blas_thread

    gc.freeze()  # what the process inherited is never collected here (nor copied by the collector)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the page's own process answers an interrupt
    die_with(*dies)
    single_blas_thread()  # no idle OpenBLAS threads spinning beside the page's other processes
    while (k := drawing._take(limit)) is not None:
        try:
            png = drawn(drawing.draws[k])
        except Exception:  # noqa: BLE001 - drawn again by the page's process, which raises it
            continue
        part = f"{drawing.folder}/{k}.png.part"
        with open(part, "wb") as fh:
            fh.write(png)
        os.replace(part, f"{drawing.folder}/{k}.png")


def _stop(children: list, folder: str | None) -> None:
    """Stop drawing processes and remove their folder."""
    import shutil

    for c in children:
        if c.is_alive():
            c.kill()
    for c in children:
        c.join(5)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
