"""Events in the results: when each stochastic event first fired and how often, per replicate,
and the fates conditional on each event."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.analysis.events import fates_given_events, recorded_events
from sim.present.report import write_report

SCENARIO = """
title = "events"
[run]
steps = 40
replicates = 3000
seed = 3
[mechanisms]
noise = 0.05
[actors.A]
capability = 0.5
[actors.B]
capability = 0.5
[[ties]]
from = "A"
to = "B"
value = 0.5
symmetric = true
[alliances.ab]
members = ["A", "B"]
h0 = 0.05
[events.always]
hazard = 1000
repeat = true
effects = [{kind = "tie", from = "A", to = "B", shift = 0.0}]
[events.never]
hazard = 0
effects = [{kind = "tie", from = "A", to = "B", shift = 0.0}]
[events.sometimes]
hazard = 0.05
effects = [{kind = "tie", from = "A", to = "B", set = -1.0, symmetric = true}]
[events.scheduled]
at = 3
effects = [{kind = "tie", from = "A", to = "B", shift = 0.0}]
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("events")
    path = tmp / "events.toml"
    path.write_text(SCENARIO)
    return sim.run_ensemble(path, out=tmp / "r", progress=False)


def test_first_step_and_count_of_each_stochastic_event(run):
    df = run.replicates
    assert recorded_events(df.columns) == ["always", "never", "sometimes"]  # not the scheduled one
    assert (df["event:always.first_step"] == 0).all() and (df["event:always.count"] == 40).all()
    assert (df["event:never.first_step"] == -1).all() and (df["event:never.count"] == 0).all()
    first, count = df["event:sometimes.first_step"], df["event:sometimes.count"]
    assert ((first == -1) == (count == 0)).all() and count.max() == 1  # fires once: no repeat
    # per-step probability q = 1 - exp(-0.05): P(fired within 40 steps) = 1 - (1 - q)^40
    q = -np.expm1(-0.05)
    assert (first >= 0).mean() == pytest.approx(1 - (1 - q) ** 40, abs=0.03)
    assert (first[first >= 0] < 40).all()


def test_fates_given_an_event_that_breaks_the_tie(run):
    """'sometimes' sets both ties to -1: where it fired the alliance holds far less often."""
    table = fates_given_events(run.replicates, "ab").set_index(["event", "fate"])
    holds = table.loc[("sometimes", "holds")]
    assert holds["p_fired"] < holds["p_not"] - 0.2
    assert holds["high_fired"] < holds["low_not"]
    drift = table.loc[("sometimes", "drift_apart")]
    assert drift["after_event"] > 0.9  # the drifts follow the event
    assert np.isnan(table.loc[("never", "holds"), "p_fired"])


def test_report_shows_fates_conditional_on_events(run, tmp_path):
    page = write_report([run], tmp_path / "r.html").read_text(encoding="utf-8")
    section = page[page.index("Fates and events") :]
    assert "<code>sometimes</code>" in section and "<code>scheduled</code>" not in section
