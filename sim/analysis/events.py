"""Fates conditional on the stochastic events: did an alliance fare differently in the runs where
an event fired, and do its stabs come after the event?

A run records, for every stochastic event, the step it first fired (``event:<name>.first_step``,
-1 if never) and how often it fired (``event:<name>.count``). Splitting the runs by whether an
event fired before the horizon gives each fate's share in both groups, each with its 95 % Wilson
interval (Wilson 1927). These are associations across runs, not effects: runs where a rare event
fired differ from the others also by the hazard drawn for it, so read a difference as "the runs
with this event" rather than "this event causes".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.fates import wilson_interval
from sim.vocabulary import (
    EVENT_PREFIX,
    FATES,
    end_step_column,
    event_first_step_column,
    fate_column,
)


def recorded_events(columns) -> list[str]:
    """Names of the events a result table records (from its ``event:<name>.first_step`` columns)."""
    suffix = ".first_step"
    return [
        c[len(EVENT_PREFIX) : -len(suffix)]
        for c in columns
        if c.startswith(EVENT_PREFIX) and c.endswith(suffix)
    ]


def fates_given_events(replicates: pd.DataFrame, alliance: str) -> pd.DataFrame:
    """Each fate's share among the runs where each event fired and among those where it did not.

    Parameters
    ----------
    replicates : DataFrame
        The replicate table with ``<alliance>.fate``, ``<alliance>.end_step`` and the event columns.
    alliance : str
        The declared alliance.

    Returns
    -------
    DataFrame
        One row per event and fate: ``event``, ``fate``, ``fired`` (runs where it fired),
        ``p_fired``, ``low_fired``, ``high_fired``, ``p_not``, ``low_not``, ``high_not``
        (NaN where a group is empty) and, for stabs and drifts, ``after_event``: the share of the
        runs that ended that way in which the event had fired at or before the alliance ended.
    """
    fate = replicates[fate_column(alliance)].to_numpy()
    end = replicates[end_step_column(alliance)].to_numpy()
    rows = []
    for name in recorded_events(replicates.columns):
        first = replicates[event_first_step_column(name)].to_numpy()
        fired = first >= 0
        for word in FATES:
            hit = fate == word
            row = {"event": name, "fate": word, "fired": int(fired.sum())}
            for key, group in (("fired", fired), ("not", ~fired)):
                n = int(group.sum())
                if n:
                    lo, hi = wilson_interval(int(hit[group].sum()), n)
                    row |= {f"p_{key}": hit[group].mean(), f"low_{key}": float(lo), f"high_{key}": float(hi)}
                else:
                    row |= {f"p_{key}": np.nan, f"low_{key}": np.nan, f"high_{key}": np.nan}
            ended = hit & (word != "holds")
            row["after_event"] = (
                float(np.mean(fired[ended] & (first[ended] <= end[ended]))) if ended.any() else np.nan
            )
            rows.append(row)
    return pd.DataFrame(rows)
