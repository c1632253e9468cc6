"""Entry point for ``solara run sim/app.py``: the interactive page of :mod:`sim.present.app_page`."""

from sim.present.app_page import page

__all__ = ["page"]
