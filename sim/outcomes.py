"""What an ensemble means: the fate of each declared alliance, with intervals.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    J. American Statistical Association 22(158), 209-212.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

Z95 = 1.959963984540054


def wilson_interval(successes, n, z: float = Z95):
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, n : array_like
        Counts (``n`` > 0).
    z : float
        Normal quantile (1.96 for 95 %).

    Returns
    -------
    (low, high) : arrays

    References
    ----------
    Wilson (1927).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def fate_table(replicates: pd.DataFrame, alliance: str, actors: list[str] | None = None) -> pd.DataFrame:
    """P(holds), P(stab in the back) by who stabbed, P(drift apart), with 95 % Wilson intervals.

    Returns a frame with columns ``outcome``, ``count``, ``p``, ``low``, ``high``; stabs are split
    into rows ``stab_in_the_back`` (any defector) and ``stab_in_the_back by <actor>``.
    """
    fate = replicates[f"{alliance}.fate"]
    defector = replicates[f"{alliance}.defector"]
    n = len(fate)
    rows = []

    def add(label, count):
        low, high = wilson_interval(count, n)
        rows.append({"outcome": label, "count": int(count), "p": count / n, "low": float(low),
                     "high": float(high)})

    add("holds", int((fate == "holds").sum()))
    stab = fate == "stab_in_the_back"
    add("stab_in_the_back", int(stab.sum()))
    who = sorted(set(defector[stab])) if actors is None else [a for a in actors if a in set(defector[stab])]
    for a in who:
        add(f"stab_in_the_back by {a}", int((stab & (defector == a)).sum()))
    add("drift_apart", int((fate == "drift_apart").sum()))
    return pd.DataFrame(rows)


def format_fate_table(table: pd.DataFrame, title: str = "") -> str:
    """The fate table as aligned text for the terminal."""
    lines = [title] if title else []
    width = max(len(o) for o in table["outcome"]) + 2
    lines.append(f"  {'outcome':<{width}}{'P':>7}   {'95% interval':<17}{'count':>8}")
    for r in table.itertuples():
        lines.append(f"  {r.outcome:<{width}}{r.p:>7.3f}   [{r.low:.3f}, {r.high:.3f}]  {r.count:>8d}")
    return "\n".join(lines)
