"""alliance-sim: an agent-based model of how alignments between states hold or break."""

from .scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"

__all__ = ["Scenario", "ScenarioError", "load_scenario", "__version__"]


def __getattr__(name):
    # Heavier entry points load on first use so that `import sim` stays quick.
    if name == "AllianceModel":
        from .model import AllianceModel

        return AllianceModel
    if name == "run_ensemble":
        from .ensemble import run_ensemble

        return run_ensemble
    if name == "load_results":
        from .results import load_results

        return load_results
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
