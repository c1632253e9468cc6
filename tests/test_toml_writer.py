"""The one TOML writer (sim.spec.toml_writer): what it writes reads back as the same data.

What these protect: numpy numbers (which analyses hand over) are written as TOML numbers, a number
that is not finite is refused with where it was rather than written as ``nan`` for the loader to
trip on, and a written scenario loads to the same scenario as the data it was written from.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from sim.spec.params import sample
from sim.spec.scenario import load_scenario
from sim.spec.toml_writer import dumps, plain
from tests.conftest import ROOT


def test_numpy_numbers_and_tuples_become_toml_values():
    data = {"n": np.int64(3), "x": np.float32(0.5), "ok": np.bool_(True), "pair": (1, 2), "v": np.arange(2)}
    back = tomllib.loads(dumps(data))
    assert back == {"n": 3, "x": 0.5, "ok": True, "pair": [1, 2], "v": [0, 1]}
    assert type(back["n"]) is int


@pytest.mark.parametrize("bad", [float("nan"), np.inf, -np.float64("inf")])
def test_a_number_that_is_not_finite_is_refused_with_its_place(bad):
    with pytest.raises(ValueError, match=r"mechanisms\.noise: expected a finite number"):
        dumps({"mechanisms": {"noise": bad}})


def test_values_toml_cannot_hold_are_refused():
    with pytest.raises(TypeError, match=r"ties\[0\]: cannot write NoneType"):
        plain({"ties": [None]})


def test_comments_come_first_and_the_text_is_valid_toml():
    text = dumps({"title": 'a "quoted"\nline', "a b": {"c": 1}}, ["first", "", "third"])
    assert text.startswith("# first\n#\n# third\n")
    assert tomllib.loads(text) == {"title": 'a "quoted"\nline', "a b": {"c": 1}}


def test_a_scenario_written_from_its_data_loads_as_the_same_scenario(tmp_path):
    """Every table, distribution and array of tables of the shipped baseline, written out whole,
    reads back as the same values and draws the same numbers. (TOML puts a table's plain values
    before its sub-tables, so where a table mixes numbers and distributions the key order, and with
    it the scenario's hash, can differ; the order of the uncertain values, which fixes the draws,
    does not.)"""
    scenario = load_scenario(ROOT / "seeds" / "baseline.toml")
    data = scenario.to_data()
    data.pop("claims", None)
    path = tmp_path / "again.toml"
    path.write_text(dumps(data))
    again = load_scenario(path)
    assert again.model_dump(exclude={"claims"}) == scenario.model_dump(exclude={"claims"})
    drawn, redrawn = (sample(s, 4, np.random.default_rng(1)) for s in (scenario, again))
    assert list(drawn) == list(redrawn)
    assert all(np.array_equal(drawn[k], redrawn[k]) for k in drawn)
