"""alliance-sim: an agent-based model of how alignments between states hold or break.

The public names, flat (``import sim`` loads each on first use, so that it stays quick):

- scenarios: :func:`load_scenario`, :class:`Scenario`, :class:`ScenarioError`;
- runs: :func:`run_ensemble` (an ensemble of replicates, stored), :func:`load_results`,
  :class:`Results`, and :class:`AllianceModel` (the Mesa model, one replicate step by step);
- analyses (:mod:`sim.api`): :func:`compare`, :func:`sweep`, :func:`sensitivity`,
  :func:`discover`, :func:`levers`, :func:`optimize`, :func:`vulnerability`, :func:`calibrate`,
  :func:`score`.

``help(sim.sweep)`` and the others say what each takes and returns, with an example.
"""

from __future__ import annotations

import importlib

from sim.version import __version__

# name -> the module that defines it
_HOMES = {
    "Scenario": "sim.spec.schema",
    "ScenarioError": "sim.spec.locations",
    "load_scenario": "sim.spec.scenario",
    "run_ensemble": "sim.run.engine",
    "load_results": "sim.run.store",
    "Results": "sim.run.store",
    "AllianceModel": "sim.model.agents",
    **{
        name: "sim.api"
        for name in (
            "compare",
            "sweep",
            "sensitivity",
            "discover",
            "levers",
            "optimize",
            "vulnerability",
            "calibrate",
            "score",
        )
    },
}

__all__ = sorted(_HOMES) + ["__version__"]


def __getattr__(name: str):
    """Load a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    """The module's names and the public names not loaded yet (for ``dir()`` and completion)."""
    return sorted(set(globals()) | set(__all__))
