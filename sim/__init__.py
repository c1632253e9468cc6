"""alliance-sim: an agent-based model of how alignments between states hold or break.

The public names, flat (``import sim`` loads each on first use, so that it stays quick):

- scenarios: :func:`load_scenario`, :class:`Scenario`, :class:`ScenarioError`;
- runs: :func:`run_ensemble` (an ensemble of replicates, stored), :func:`load_results`,
  :class:`Results`, and :class:`AllianceModel` (the Mesa model, one replicate step by step);
- analyses (:mod:`sim.api`): :func:`compare`, :func:`sweep`, :func:`experiment`, :func:`export`,
  :func:`sensitivity`,
  :func:`discover`, :func:`levers`, :func:`optimize`, :func:`vulnerability`, :func:`calibrate`,
  :func:`score`.

``help(sim.sweep)`` and the others say what each takes and returns, with an example.
"""

from __future__ import annotations

from sim.version import __version__

# the analyses' entry points (sim.api)
_ANALYSES = (
    "compare",
    "sweep",
    "experiment",
    "export",
    "sensitivity",
    "discover",
    "levers",
    "optimize",
    "vulnerability",
    "calibrate",
    "score",
)

__all__ = sorted(
    [
        "Scenario",
        "ScenarioError",
        "load_scenario",
        "run_ensemble",
        "load_results",
        "Results",
        "AllianceModel",
        *_ANALYSES,
    ]
) + ["__version__"]


def __getattr__(name: str):
    """Load a public name from its module on first use."""
    value: object
    if name in _ANALYSES:
        from sim import api

        value = getattr(api, name)
    elif name == "Scenario":
        from sim.spec.schema import Scenario

        value = Scenario
    elif name == "ScenarioError":
        from sim.spec.locations import ScenarioError

        value = ScenarioError
    elif name == "load_scenario":
        from sim.spec.scenario import load_scenario

        value = load_scenario
    elif name == "run_ensemble":
        from sim.run.ensemble import run_ensemble

        value = run_ensemble
    elif name in ("load_results", "Results"):
        from sim.run import store

        value = getattr(store, name)
    elif name == "AllianceModel":
        from sim.model.agents import AllianceModel

        value = AllianceModel
    else:
        raise AttributeError(f"module 'sim' has no attribute {name!r}")
    globals()[name] = value  # loaded once
    return value


def __dir__() -> list[str]:
    """The module's names and the public names not loaded yet (for ``dir()`` and completion)."""
    return sorted(set(globals()) | set(__all__))
