"""A comparison's report, begun while its scenarios still run.

:func:`sim.analysis.compare.compare` hands each run over as it finishes (``on_run``): its part of
the report (figures, evidence, typical replicates re-run) is made at once and its figures start
drawing in other processes while the other scenarios run; :func:`sim.present.report.write_report`
takes the parts over (``early=``). This module loads nothing heavy itself, so that the command
can start its runs first and load the report's modules (matplotlib among them) while they run
(:meth:`EarlyFigures.prepare`, ``compare(meanwhile=)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.present.page import FigureQueue

if TYPE_CHECKING:
    from sim.run.store import Results


class EarlyFigures:
    """A report's scenario parts, made before the report is written.

    :meth:`start` makes the part of a finished run and starts drawing its figures; nothing is
    written until :func:`~sim.present.report.write_report` takes the parts over, and :meth:`close`
    stops the drawing when the report is not written after all."""

    def __init__(self) -> None:
        self.queue = FigureQueue()
        self.runs: dict[int, Results] = {}
        self.parts: dict[int, str] = {}

    @staticmethod
    def prepare() -> None:
        """Load what the report needs (its modules, matplotlib's canvas and font list)."""
        import sim.present.report  # noqa: F401
        from sim.present.page_figures import prepare_drawing

        prepare_drawing()

    def start(self, k: int, results: Results) -> None:
        """Make the part of the ``k``-th scenario (from 0) and start drawing its figures."""
        from sim.analysis.digest import digested
        from sim.present.report import scenario_part
        from sim.run.executors import release_blas_threads, single_blas_thread

        single_blas_thread()  # as while a report is written (:func:`write_report`)
        try:
            r = self.runs[k] = digested(results)
            self.parts[k] = scenario_part(r, k, self.queue)
        finally:
            release_blas_threads()

    def close(self) -> None:
        """Stop drawing (the figures are not needed)."""
        self.queue.drawing.close()
