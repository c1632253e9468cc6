"""Validation of sim.model.landscape against Axelrod & Bennett (1993).

Axelrod, R., & Bennett, D. S. (1993). A landscape theory of aggregation.
British Journal of Political Science, 23(2), 211-233.

The theory's checkable claims are used: the energy definition on small systems
computed by hand, the fact that a local minimum is a configuration no single
switch can improve, and that myopic descent from many starts finds the same
global minimum as enumeration. The paper's 1936 Europe case needs its
17-nation size and propensity data, which are not reproduced here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.model.landscape import all_partitions, best_partition, energies, frustration, minima


def test_three_actors_with_one_hostile_pair():
    """Axelrod & Bennett (1993): sizes (1, 2, 3); 0 likes 1 and 2, 1 and 2 are hostile.

    Energies by hand (only split pairs count, s_i s_j p_ij):
    all together 0; {0,1}|{2}: 1*3 - 2*3 = -3; {0,2}|{1}: 1*2 - 2*3 = -4;
    {0}|{1,2}: 1*2 + 1*3 = 5. The only local minimum is {0,2}|{1} at -4, and
    every configuration descends to it.
    """
    size = np.array([1.0, 2.0, 3.0])
    prop = np.array([[0, 1, 1], [1, 0, -1], [1, -1, 0]], dtype=float)
    parts = all_partitions(3)  # rows: 000, 010, 001, 011
    np.testing.assert_allclose(energies(size, prop, parts), [0.0, -4.0, -3.0, 5.0])
    found = minima(size, prop)
    assert len(found) == 1
    assert list(found[0].blocs) == [0, 1, 0]
    assert found[0].energy == pytest.approx(-4.0)
    assert found[0].basin == 4
    labels, energy = best_partition(size[None], prop[None])
    assert list(labels[0]) == [0, 1, 0] and energy[0] == pytest.approx(-4.0)
    # the hostile pair is split: actor 1 is not frustrated by anyone it likes more
    np.testing.assert_allclose(frustration(size, prop, labels[0]), [2.0, -2.0, -2.0])


def test_balanced_four_actors_split_into_the_obvious_blocs():
    """Axelrod & Bennett (1993): a perfectly balanced sign pattern, {0,1} friends, {2,3} friends,
    all cross pairs hostile, sizes (1, 2, 3, 4).

    The global minimum splits {0,1} from {2,3} with energy
    -(1*3 + 1*4 + 2*3 + 2*4) = -21; no other configuration is a local minimum.
    """
    size = np.array([1.0, 2.0, 3.0, 4.0])
    prop = np.array([[0, 1, -1, -1], [1, 0, -1, -1], [-1, -1, 0, 1], [-1, -1, 1, 0]], dtype=float)
    found = minima(size, prop)
    assert len(found) == 1
    assert list(found[0].blocs) == [0, 0, 1, 1]
    assert found[0].energy == pytest.approx(-21.0)
    assert found[0].basin == 8
    labels, energy = best_partition(size[None], prop[None])
    assert list(labels[0]) == [0, 0, 1, 1] and energy[0] == pytest.approx(-21.0)
    # nobody in the balanced split is frustrated
    assert np.all(frustration(size, prop, labels[0]) <= 0)


@st.composite
def landscapes(draw, min_actors=3, max_actors=9):
    a = draw(st.integers(min_actors, max_actors))
    size = draw(arrays(np.float64, a, elements=st.floats(0.05, 5.0)))
    prop = draw(arrays(np.float64, (a, a), elements=st.floats(-1.0, 1.0)))
    return size, prop


@settings(max_examples=60, deadline=None)
@given(landscapes())
def test_no_single_switch_improves_a_reported_minimum(system):
    """Axelrod & Bennett (1993): a local minimum is stable against any one actor switching."""
    size, prop = system
    for m in minima(size, prop):
        neighbours = np.repeat(m.blocs[None, :], len(size), axis=0)
        neighbours[np.arange(len(size)), np.arange(len(size))] ^= 1
        moved = energies(size, prop, neighbours)
        assert np.all(moved >= m.energy - 1e-9 * (1 + abs(m.energy)))


@pytest.mark.parametrize("n_actors", range(5, 11))
@pytest.mark.parametrize("seed", range(4))
def test_greedy_descent_finds_the_exhaustive_global_minimum(n_actors, seed):
    """Axelrod & Bennett (1993): myopic switching from many starts reaches the global minimum
    found by enumeration, and every configuration it ends in is an exhaustive local minimum.

    With 20 starts per configuration even a basin of a single configuration is
    missed with probability about exp(-20).
    """
    rng = np.random.default_rng(1000 * n_actors + seed)
    size = rng.uniform(0.1, 1.0, n_actors)
    prop = rng.uniform(-1.0, 1.0, (n_actors, n_actors))
    exact = minima(size, prop)
    greedy = minima(size, prop, exhaustive_max=0, starts=20 * 2 ** (n_actors - 1), rng=seed)
    assert list(greedy[0].blocs) == list(exact[0].blocs)
    assert greedy[0].energy == pytest.approx(exact[0].energy, abs=1e-12)
    exact_set = {tuple(m.blocs) for m in exact}
    assert {tuple(m.blocs) for m in greedy} <= exact_set
