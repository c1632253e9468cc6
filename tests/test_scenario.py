"""Scenario files: loading, inheritance, uncertain values and one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.spec.params import compile_params
from sim.spec.scenario import ScenarioError, load_scenario

BASE = """
title = "base"
[actors.A]
capability = 0.6
[actors.B]
capability = {dist = "uniform", low = 0.2, high = 0.4}
[issues.x]
[positions.A]
x = 2
[salience.A]
x = 0.5
[[ties]]
from = "A"
to = "B"
value = 0.5
symmetric = true
[alliances.ab]
members = ["A", "B"]
[run]
steps = 10
replicates = 4
"""


def test_extends_deep_merges(write):
    """Tables merge key by key, ties concatenate (child applied last), the child wins."""
    write(BASE, "base.toml")
    child = write(
        """
        extends = "base.toml"
        title = "child"
        [actors.B]
        growth = 0.01
        [[ties]]
        from = "B"
        to = "A"
        value = -0.2
        """,
        "child.toml",
    )
    s = load_scenario(child)
    assert s.title == "child"
    assert s.actors["B"].growth == 0.01
    assert s.actors["B"].capability.dist == "uniform"  # kept from the base
    p = compile_params(s, 3, np.random.default_rng(0))
    assert np.all(p.ties[:, 0, 1] == 0.5)
    assert np.all(p.ties[:, 1, 0] == -0.2)


def test_uncertain_values_are_sampled_once_per_replicate(write):
    s = load_scenario(write(BASE))
    p = compile_params(s, 1000, np.random.default_rng(1))
    draws = p.sampled["actors.B.capability"]
    assert draws.shape == (1000,)
    assert draws.min() >= 0.2 and draws.max() <= 0.4
    assert len(np.unique(draws)) == 1000
    # capabilities are renormalised to shares
    np.testing.assert_allclose(p.capability.sum(axis=1), 1.0)


def test_distributions_respect_field_bounds(write):
    """A normal draw is clipped to the field's bounds (a tie never leaves [-1, 1])."""
    s = load_scenario(write(BASE.replace("value = 0.5", 'value = {dist = "normal", mean = 0.9, sd = 0.5}')))
    p = compile_params(s, 2000, np.random.default_rng(2))
    v = p.sampled["ties.0.A.B"]
    assert v.max() <= 1.0 and v.max() == 1.0


def test_point_values(write):
    s = load_scenario(write(BASE), point=True)
    assert s.actors["B"].capability == pytest.approx(0.3)


def test_digest_changes_with_content_and_order(write):
    a = load_scenario(write(BASE, "a.toml"))
    b = load_scenario(write(BASE.replace("capability = 0.6", "capability = 0.61"), "b.toml"))
    assert a.digest() != b.digest()
    assert a.digest() == load_scenario(write(BASE, "c.toml")).digest()


BAD = [
    ("[actors.A\ncapability=1", 1, "invalid TOML"),
    (BASE.replace("[run]", "[run]\nstepz = 3"), None, "unknown key 'stepz'; did you mean 'steps'?"),
    (BASE.replace('to = "B"', 'to = "Z"'), None, "unknown actor 'Z'"),
    (BASE.replace("x = 0.5", "x = -0.5"), None, "expected a number in [0, 1], got -0.5"),
    (BASE.replace("capability = 0.6", "capability = nan"), None, "expected a finite number"),
    (BASE.replace("steps = 10", "steps = 0"), None, "expected a number > 0"),
    (BASE.replace("x = 2", "y = 2"), None, "unknown issue 'y'"),
    (BASE.replace('members = ["A", "B"]', 'members = ["A"]'), None, "at least 2"),
    (BASE.replace("low = 0.2, high = 0.4", "low = 0.4, high = 0.2"), None, "expected low <= high"),
    (BASE.replace('"uniform"', '"lognormal"'), None, "unknown distribution 'lognormal'"),
    (BASE.replace("value = 0.5", "value = 1.5"), None, "expected a number in [-1, 1]"),
]


@pytest.mark.parametrize("text,line,expected", BAD)
def test_bad_input_is_one_clear_line(write, text, line, expected):
    path = write(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path))
    assert expected in message
    if line is not None:
        assert f":{line}:" in message


def test_error_names_the_line_and_field(write):
    path = write(BASE.replace("x = 0.5", "x = -0.5"))
    err = pytest.raises(ScenarioError, load_scenario, path).value
    assert err.path == "salience.A.x"
    assert path.read_text().splitlines()[err.line - 1].strip() == "x = -0.5"


def test_error_in_a_base_file_names_the_base(write):
    base = write(BASE.replace("capability = 0.6", "capability = -1"), "base.toml")
    child = write('extends = "base.toml"\n', "child.toml")
    err = pytest.raises(ScenarioError, load_scenario, child).value
    assert err.file == str(base)


def test_extends_cycle_and_missing(write):
    write('extends = "b.toml"\n', "a.toml")
    b = write('extends = "a.toml"\n', "b.toml")
    assert "cycle" in str(pytest.raises(ScenarioError, load_scenario, b).value)
    c = write('extends = "nowhere.toml"\n', "c.toml")
    assert "no such file" in str(pytest.raises(ScenarioError, load_scenario, c).value)


def test_event_after_horizon_and_self_tie(write):
    text = BASE + '[events.late]\nat = 10\neffects = [{kind = "growth", actor = "A", shift = 0.1}]\n'
    assert "before the horizon" in str(pytest.raises(ScenarioError, load_scenario, write(text)).value)
    text = BASE.replace('to = "B"', 'to = "A"')
    assert "itself" in str(pytest.raises(ScenarioError, load_scenario, write(text)).value)


def test_infinity_is_rejected_everywhere(write):
    text = BASE.replace("[run]", "[mechanisms]\nbalance = inf\n[run]")
    assert "finite" in str(pytest.raises(ScenarioError, load_scenario, write(text)).value)
    assert not math.isfinite(float("inf"))
