"""Entry point for ``solara run sim/app.py``: the interactive page of :mod:`sim.present.app`."""

from sim.present.app import page

__all__ = ["page"]
