"""alliance-sim: an agent-based model of how alignments between states hold or break."""

from sim.spec.scenario import Scenario, ScenarioError, load_scenario
from sim.version import __version__

__all__ = ["Scenario", "ScenarioError", "load_scenario", "__version__"]


def __getattr__(name):
    # Heavier entry points load on first use so that `import sim` stays quick.
    if name == "AllianceModel":
        from sim.model.agents import AllianceModel

        return AllianceModel
    if name == "run_ensemble":
        from sim.run.ensemble import run_ensemble

        return run_ensemble
    if name == "levers":
        import importlib

        return importlib.import_module("sim.levers")
    if name == "load_results":
        from sim.run.store import load_results

        return load_results
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
