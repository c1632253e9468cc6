"""Policy levers from Python: evaluate policies on common worlds, search for non-dominated ones,
and find where a policy fails.

```python
import sim.levers

result = sim.levers.evaluate("scenarios/policy.toml", policies=32, worlds=64, replicates=4,
                             owner="NATO")
result.table                        # one row per policy: lever:, metric:, regret:, satisficing, rank
box = sim.levers.vulnerability(result)        # PRIM on the worlds where the top policy fails
front = sim.levers.optimize("scenarios/policy.toml", evaluations=500, owner="China")
front.pareto, front.convergence
```

Definitions and references: :mod:`sim.analysis.policy` (XLRM, common worlds),
:mod:`sim.analysis.robustness` (regret, satisficing), :mod:`sim.analysis.search` (NSGA-II).
"""

from __future__ import annotations

from sim.analysis.policy import (
    PolicyResults,
    evaluate,
    load_policy_results,
    vulnerability,
)
from sim.analysis.robustness import Robustness, regret, robustness, satisfied
from sim.analysis.search import SearchResults, optimize

__all__ = [
    "PolicyResults",
    "Robustness",
    "SearchResults",
    "evaluate",
    "load_policy_results",
    "optimize",
    "regret",
    "robustness",
    "satisfied",
    "vulnerability",
]
