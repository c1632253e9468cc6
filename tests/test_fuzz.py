"""Fuzzing the scenario reader and the kernel with valid and nearly valid scenarios.

A valid scenario (every section, every distribution and event kind) is mutated at random: keys
deleted or misspelt, values replaced by other types, numbers pushed out of range or to NaN/inf,
names swapped for unknown ones, list entries duplicated, and the TOML text itself edited character
by character. Whatever comes out, reading it either gives a scenario that runs (finite ties in
[-1, 1], capabilities that are shares, fates that are one of the three and whose shares sum to one)
or raises :class:`ScenarioError` whose message is one line naming the file. Nothing else may
escape.
"""

from __future__ import annotations

import atexit
import copy
import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.model import dynamics
from sim.run.chunks import replicate_task, run_chunk
from sim.spec.params import compile_params
from sim.spec.scenario import Scenario, ScenarioError, load_scenario

BASE = {
    "title": "Fuzz",
    "focal": "ab",
    "run": {"steps": 8, "replicates": 3, "seed": 1, "dt": 1.0},
    "mechanisms": {
        "affinity": 0.1,
        "balance": 0.2,
        "threat": 0.1,
        "pressure": 0.05,
        "competition": 0.1,
        "dependence": 0.05,
        "noise": 0.05,
        "bargain_every": 4,
    },
    "actors": {
        "A": {"capability": 0.5, "growth": 0.01},
        "B": {"capability": {"dist": "uniform", "low": 0.1, "high": 0.3}},
        "C": {"capability": 0.2, "label": "Third"},
    },
    "issues": {"x": {"low": 0, "high": 10}, "y": {"low": -1.0, "high": 1.0}},
    "positions": {"A": {"x": 3, "y": 0.5}, "B": {"x": {"dist": "normal", "mean": 7, "sd": 1}}},
    "salience": {"A": {"x": 0.5, "y": 0.2}, "B": {"x": {"dist": "beta", "a": 2, "b": 3}}},
    "ties": [
        {"from": "A", "to": "B", "value": 0.4, "symmetric": True},
        {"from": "C", "to": "A", "value": {"dist": "triangular", "low": -0.8, "mode": -0.5, "high": -0.2}},
    ],
    "spheres": {"A": {"C": 0.6}, "B": {"C": 0.4}},
    "strategic_value": {"C": 2.0},
    "dependence": {"A": {"C": 0.3}},
    "pressure": {"A": [{"at": 0, "value": 0.5}, {"at": 5, "value": 0.9}], "B": 0.3},
    "events": {
        "e1": {
            "at": 3,
            "effects": [
                {"kind": "tie", "from": "A", "to": "B", "shift": -0.2, "symmetric": True},
                {"kind": "position", "actor": "B", "issue": "x", "set": 2},
            ],
        },
        "e2": {
            "hazard": 0.1,
            "repeat": True,
            "effects": [
                {"kind": "pressure", "actor": "A", "shift": 0.2},
                {"kind": "ambition", "actor": "A", "target": "C", "shift": 0.1},
                {"kind": "dependence", "from": "B", "to": "C", "set": 0.2},
                {"kind": "salience", "actor": "A", "issue": "y", "shift": 0.3},
                {"kind": "growth", "actor": "C", "set": 0.02},
            ],
        },
    },
    "alliances": {
        "ab": {"members": ["A", "B"], "h0": 0.05, "beta": 3, "theta_trust": 0.2},
        "abc": {"members": ["A", "B", "C"], "power_shift": 2},
    },
}

EXAMPLES = {"valid": 0, "mutated": 0, "text": 0, "accepted": 0, "rejected": 0}


# --------------------------------------------------------------------------------------------
# TOML text from data (tomllib only reads)
# --------------------------------------------------------------------------------------------


def _key(k: str) -> str:
    return k if k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k) else json.dumps(k)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON's escapes are TOML's (\uXXXX for control characters)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(data: dict) -> str:
    """One ``key = inline value`` line per top-level key, tables as [headers] one level down."""
    lines = []
    for k, v in data.items():
        if isinstance(v, dict) and v and all(isinstance(x, dict) for x in v.values()):
            for sub, table in v.items():
                lines.append(f"[{_key(k)}.{_key(sub)}]")
                lines += [f"{_key(a)} = {_value(b)}" for a, b in table.items()]
        elif k == "ties" and isinstance(v, list) and all(isinstance(x, dict) for x in v):
            for table in v:
                lines.append("[[ties]]")
                lines += [f"{_key(a)} = {_value(b)}" for a, b in table.items()]
        else:
            lines.insert(0, f"{_key(k)} = {_value(v)}")
    return "\n".join(lines) + "\n"


def test_to_toml_round_trips():
    import tomllib

    assert tomllib.loads(to_toml(BASE)) == BASE
    assert load_scenario(_write(to_toml(BASE))).actor_names == ["A", "B", "C"]


# --------------------------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------------------------


def _paths(node, prefix=()):
    """Every (path, value) in nested dicts and lists."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


NAMES = st.sampled_from(["A", "B", "C", "Z", "x", "y", "ab", "", "a" * 201, "A\x1b[2J", "../x"])
JUNK = st.one_of(
    st.booleans(),
    NAMES,
    st.text(max_size=8),
    st.integers(-(2**70), 2**70),
    st.integers(-3, 12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-2.0, 2.0),
    st.sampled_from([0.0, -0.0, 1e-320, 1e6, 1e6 + 1, -1e9, 1e300, 2**63, -1]),
    st.lists(st.integers(-2, 3), max_size=3),
    st.just({}),
    st.just([]),
    st.fixed_dictionaries(
        {
            "dist": st.sampled_from(["uniform", "normal", "beta", "triangular", "gamma", ""]),
            "low": st.floats(-2, 2),
            "high": st.floats(-2, 2),
        }
    ),
    st.fixed_dictionaries({"dist": st.just("normal"), "mean": st.floats(-2, 2), "sd": st.floats(-1, 3)}),
)


@st.composite
def mutation(draw, data):
    """Apply one random mutation to ``data`` in place."""
    paths = [p for p, _ in _paths(data) if p]
    path = draw(st.sampled_from(paths))
    *head, last = path
    parent = data
    for p in head:
        parent = parent[p]
    kind = draw(st.sampled_from(["delete", "rename", "junk", "junk", "scale", "name", "duplicate"]))
    value = parent[last]
    if kind == "delete":
        del parent[last]
    elif kind == "rename" and isinstance(parent, dict):
        new = draw(st.sampled_from([last + "s", last[:-1], last.upper(), "Z", last + "_"]))
        parent[new] = parent.pop(last)
    elif kind == "scale" and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[last] = value * draw(st.sampled_from([-1, 10, 1e3, 1e7, 1e300, 0.5, 0]))
    elif kind == "name" and isinstance(value, str):
        parent[last] = draw(NAMES)
    elif kind == "duplicate" and isinstance(value, list) and value:
        value.append(copy.deepcopy(value[draw(st.integers(0, len(value) - 1))]))
    else:
        parent[last] = draw(JUNK)
    return path, kind


@st.composite
def mutated(draw):
    data = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        draw(mutation(data))
    return data


# --------------------------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------------------------

_TMP = Path(tempfile.mkdtemp(prefix="alliance-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)


def _write(text: str | bytes) -> Path:
    path = _TMP / "fuzz.toml"
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogatepass")
    path.write_bytes(text)
    return path


def check_runs(scenario: Scenario) -> None:
    """A small run of an accepted scenario: finite, bounded, fates whose shares sum to one."""
    scenario = scenario.with_run(steps=min(scenario.run.steps, 10))
    chunk = run_chunk(replicate_task(scenario, 0, 0, 3, 5, dtype="float64"))
    table = chunk.table
    for name in scenario.alliances:
        fates = table[f"{name}.fate"]
        assert set(fates) <= {"holds", "stab_in_the_back", "drift_apart"}
        assert fates.value_counts(normalize=True).sum() == pytest.approx(1.0)
    caps = table[[c for c in table if c.startswith("capability:")]].to_numpy()
    assert np.isfinite(caps).all() and (caps >= 0).all()
    np.testing.assert_allclose(caps.sum(axis=1), 1.0, rtol=1e-6)
    params = compile_params(scenario, 3, np.random.default_rng(1))
    W = dynamics.run(params, np.random.default_rng(2), dtype=np.float32).ties
    assert np.isfinite(W).all() and (np.abs(W) <= 1).all()


def read_or_reject(text: str | bytes, key: str) -> None:
    path = _write(text)
    EXAMPLES[key] += 1
    try:
        scenario = load_scenario(path)
    except ScenarioError as e:
        EXAMPLES["rejected"] += 1
        message = str(e)
        assert "\n" not in message and "\r" not in message
        assert message.startswith(str(path)), message
        return
    EXAMPLES["accepted"] += 1
    check_runs(scenario)
    check_runs(load_scenario(path, point=True))


# A fixed set of examples in the suite; ALLIANCE_FUZZ_EXAMPLES=5000 hunts with fresh ones.
HUNT = int(os.environ.get("ALLIANCE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=HUNT or 150,
    deadline=None,
    derandomize=not HUNT,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(mutated())
def test_mutated_scenarios_run_or_are_rejected_in_one_line(data):
    read_or_reject(to_toml(data), "mutated")


@FUZZ
@given(mutated())
def test_python_api_raises_only_validation_errors(data):
    """The same mutations given to the model directly (no TOML): pydantic's error or a scenario."""
    try:
        Scenario.model_validate(data)
    except ValidationError:
        pass


@FUZZ
@given(st.data())
def test_edited_toml_text_runs_or_is_rejected_in_one_line(data):
    text = to_toml(BASE)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        edit = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        char = data.draw(
            st.sampled_from(list("[]{}=\"'.,#\n 0123456789-+eEnaitfx_\x00\t\\") + ["\udc80", "é", "\ufeff"])
        )
        if edit == "insert":
            text = text[:at] + char + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    read_or_reject(text, "text")


# --------------------------------------------------------------------------------------------
# Valid scenarios at the validated extremes (numerical safety)
# --------------------------------------------------------------------------------------------

COEF_MAX = 1e6  # the validated maximum of every mechanism coefficient


@st.composite
def extreme_scenarios(draw):
    A = draw(st.integers(3, 6))
    names = [f"s{i}" for i in range(A)]
    low = draw(st.sampled_from([-1e9, 0.0]))
    coef = st.one_of(st.sampled_from([0.0, 1e-12, 1.0, COEF_MAX]), st.floats(0, COEF_MAX))
    big = st.one_of(st.sampled_from([0.0, 1e6]), st.floats(0, 1e6))
    data = {
        "actors": {
            n: {
                "capability": draw(st.sampled_from([0.0, 1e-9, 1.0, 1e6])),
                "growth": draw(st.sampled_from([-0.5, 0.0, 0.5])),
            }
            for n in names
        },
        "issues": {"k": {"low": low, "high": 1e9}},
        "positions": {n: {"k": draw(st.sampled_from([low, 0.0, 1e9]))} for n in names},
        "salience": {n: {"k": draw(st.sampled_from([1e-9, 0.5, 1.0]))} for n in names},
        "tie_matrix": [[draw(st.sampled_from([-1.0, 0.0, 1.0])) for _ in names] for _ in names],
        "spheres": {names[0]: {names[-1]: 1.0}, names[1]: {names[-1]: 1.0}},
        "strategic_value": {names[-1]: draw(big)},
        "dependence": {names[0]: {names[1]: draw(big)}},
        "pressure": {n: draw(big) for n in names},
        "mechanisms": {
            c: draw(coef)
            for c in ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")
        },
        "events": {
            "surge": {
                "hazard": 1000.0,
                "repeat": True,
                "effects": [
                    {"kind": "pressure", "actor": names[0], "shift": 1e9},
                    {"kind": "dependence", "from": names[1], "to": names[0], "shift": 1e9},
                    {"kind": "tie", "from": names[0], "to": names[1], "shift": -1e9},
                ],
            }
        },
        "alliances": {"pair": {"members": names[:2], "h0": 1.0, "beta": 100.0, "power_shift": 100.0}},
        "run": {
            "steps": draw(st.integers(1, 40)),
            "dt": draw(st.sampled_from([1e-300, 1e-9, 0.01, 1.0, 100.0])),
        },
    }
    if draw(st.booleans()):
        data["mechanisms"]["bargain_every"] = 1
    return Scenario.model_validate(data)


@settings(
    max_examples=HUNT or 60, deadline=None, derandomize=not HUNT, suppress_health_check=[HealthCheck.too_slow]
)
@given(extreme_scenarios(), st.sampled_from(["float32", "float64"]))
def test_validated_extremes_stay_finite(scenario, dtype):
    """Coefficients, pressures, dependences and event shifts at their validated maxima, with the
    smallest and largest step lengths: ties stay finite in [-1, 1], capabilities finite shares."""
    EXAMPLES["valid"] += 1
    params = compile_params(scenario, 4, np.random.default_rng(0))
    state = dynamics.run(params, np.random.default_rng(1), dtype=np.dtype(dtype))
    assert np.isfinite(state.ties).all() and (np.abs(state.ties) <= 1).all()
    assert np.isfinite(state.capability).all()
    np.testing.assert_allclose(state.capability.sum(axis=1), 1.0, rtol=1e-5)


def test_nan_guard_names_the_mechanism():
    """A state that is no longer finite stops the run with the mechanism most likely at fault."""
    scenario = load_scenario(_write(to_toml(BASE)))
    params = compile_params(scenario, 4, np.random.default_rng(0))
    params.position[1, 0, 0] = np.nan  # beyond validation: only a bug could put it there
    with pytest.raises(dynamics.NumericalError) as info:
        dynamics.run(params, np.random.default_rng(1))
    assert info.value.mechanism == "affinity"
    message = str(info.value)
    assert "NaN or inf" in message and "affinity" in message and "\n" not in message
    assert "1 of 4 replicates (the first: 1)" in message


def test_nan_guard_checks_every_few_steps():
    params = compile_params(load_scenario(_write(to_toml(BASE))), 2, np.random.default_rng(0))
    steps = []

    def record(state):
        steps.append(state.t)
        if state.t == 3:
            state.ties[0, 0, 1] = np.nan  # clipping keeps NaN (an inf would be clipped to 1)

    with pytest.raises(dynamics.NumericalError, match=f"by step {dynamics.CHECK_EVERY}"):
        dynamics.run(params, np.random.default_rng(1), steps=50, record=record)
    assert max(steps) == dynamics.CHECK_EVERY - 1


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # NaN bins
def test_nan_guard_from_the_command_line_is_one_line_naming_file_and_mechanism(tmp_path, monkeypatch, capsys):
    import sim.run.chunks as chunks_module
    from sim.cli import main

    real, calls = chunks_module.compile_params, []

    def poisoned(scenario, n, rng=None):
        calls.append(n)
        params = real(scenario, n, rng)
        params.position[:, 0, 0] = np.nan
        return params

    monkeypatch.setattr(chunks_module, "compile_params", poisoned)
    scenario = Path(__file__).parent / "data" / "all_mechanisms.toml"
    code = main(
        [
            "run",
            str(scenario),
            "-n",
            "20",
            "-t",
            "20",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "--no-report",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"alliance-sim: error: {scenario}: mechanisms.affinity: expected finite")
    assert calls == [20]  # a numerical failure is not retried: it would fail the same way
    assert json.loads((tmp_path / "o" / "manifest.json").read_text())["chunks"]["done"] == {}


def test_normal_draws_of_positions_stay_on_the_issue_scale():
    data = copy.deepcopy(BASE)
    data["positions"]["B"]["x"] = {"dist": "normal", "mean": 5, "sd": 1e300}
    params = compile_params(Scenario.model_validate(data), 50, np.random.default_rng(0))
    x = params.position[:, 1, 0]
    assert x.min() == 0 and x.max() == 10  # clipped to [low, high] of issue x


def test_examples_ran():
    """Runs last in this module: how many generated inputs were tried (see the report)."""
    total = EXAMPLES["mutated"] + EXAMPLES["text"]
    if not total:
        pytest.skip("run with the fuzz tests above")
    print(f"\nfuzz examples: {EXAMPLES}")
    assert EXAMPLES["accepted"] + EXAMPLES["rejected"] == total
