"""Unit and property tests of sim.model.landscape (Axelrod-Bennett landscape energy)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.model.landscape import (
    all_partitions,
    best_partition,
    energies,
    frustration,
    minima,
    switch_gains,
)


def loop_energy(size, propensity, blocs):
    """E = sum over i < j of s_i s_j p_ij [i, j in different blocs], written out."""
    a = len(size)
    sym = (np.asarray(propensity) + np.asarray(propensity).T) / 2
    return sum(
        size[i] * size[j] * sym[i, j] for i, j in itertools.combinations(range(a), 2) if blocs[i] != blocs[j]
    )


@st.composite
def landscapes(draw, min_actors=2, max_actors=8):
    a = draw(st.integers(min_actors, max_actors))
    size = draw(arrays(np.float64, a, elements=st.floats(0.05, 5.0)))
    prop = draw(arrays(np.float64, (a, a), elements=st.floats(-1.0, 1.0)))
    return size, prop


def test_all_partitions_lists_each_alignment_once():
    """2^(A-1) distinct rows, actor 0 always in bloc 0, no row the mirror of another."""
    parts = all_partitions(5)
    assert parts.shape == (16, 5)
    assert np.all(parts[:, 0] == 0)
    assert len({tuple(r) for r in parts}) == 16
    mirrors = {tuple(1 - r) for r in parts}
    assert not mirrors & {tuple(r) for r in parts}
    assert all_partitions(1).shape == (1, 1)
    with pytest.raises(ValueError):
        all_partitions(0)


@settings(max_examples=60, deadline=None)
@given(landscapes())
def test_energies_equal_pairwise_sum(system):
    """The algebraic form b.r - b'Mb equals the pair sum of the definition."""
    size, prop = system
    parts = all_partitions(len(size))
    got = energies(size, prop, parts)
    want = [loop_energy(size, prop, b) for b in parts]
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_energies_symmetrise_and_ignore_the_diagonal():
    """Only (p + p.T) / 2 off the diagonal matters."""
    rng = np.random.default_rng(0)
    size = rng.uniform(0.1, 1, 6)
    prop = rng.normal(size=(6, 6))
    parts = all_partitions(6)
    sym = (prop + prop.T) / 2
    np.fill_diagonal(sym, 0.0)
    noisy_diag = prop + np.diag(rng.normal(size=6) * 100)
    np.testing.assert_allclose(energies(size, prop, parts), energies(size, sym, parts))
    np.testing.assert_allclose(energies(size, prop, parts), energies(size, noisy_diag, parts))


def test_energies_broadcast_over_systems():
    """A batch of systems gives each system's own energies."""
    rng = np.random.default_rng(1)
    size = rng.uniform(0.1, 1, (3, 4, 5))
    prop = rng.normal(size=(3, 4, 5, 5))
    parts = all_partitions(5)
    e = energies(size, prop, parts)
    assert e.shape == (3, 4, 16)
    np.testing.assert_allclose(e[2, 1], energies(size[2, 1], prop[2, 1], parts))


@settings(max_examples=60, deadline=None)
@given(landscapes(), st.data())
def test_energy_is_half_size_weighted_frustration(system, data):
    """E = (1/2) sum_i s_i F_i for every configuration (Axelrod & Bennett's identity)."""
    size, prop = system
    labels = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(size), max_size=len(size))))
    f = frustration(size, prop, labels)
    assert 0.5 * np.dot(size, f) == pytest.approx(loop_energy(size, prop, labels), abs=1e-9)


def test_frustration_by_hand():
    """Actors 0, 2 together against 1: F_0 = s_1 p_01, F_1 = s_0 p_10 + s_2 p_12, F_2 = s_1 p_21."""
    size = np.array([1.0, 2.0, 3.0])
    prop = np.array([[0, 1, 1], [1, 0, -1], [1, -1, 0]], dtype=float)
    np.testing.assert_allclose(frustration(size, prop, [0, 1, 0]), [2.0, -2.0, -2.0])


@settings(max_examples=60, deadline=None)
@given(landscapes(), st.data())
def test_switch_gains_are_energy_differences(system, data):
    """dE_i predicts exactly the energy change when actor i alone switches."""
    size, prop = system
    a = len(size)
    labels = np.array(data.draw(st.lists(st.integers(0, 1), min_size=a, max_size=a)))
    gains = switch_gains(size, prop, labels)
    base = loop_energy(size, prop, labels)
    for i in range(a):
        moved = labels.copy()
        moved[i] = 1 - moved[i]
        assert gains[i] == pytest.approx(loop_energy(size, prop, moved) - base, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(landscapes(max_actors=9))
def test_minima_cover_every_configuration(system):
    """Exhaustive basins partition the 2^(A-1) configurations; the lowest is the global minimum."""
    size, prop = system
    found = minima(size, prop)
    parts = all_partitions(len(size))
    assert sum(m.basin for m in found) == parts.shape[0]
    assert found[0].energy == pytest.approx(energies(size, prop, parts).min(), abs=1e-12)
    assert [m.energy for m in found] == sorted(m.energy for m in found)
    for m in found:
        assert m.blocs[0] == 0
        assert m.energy == pytest.approx(loop_energy(size, prop, m.blocs), abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 10), st.integers(0, 2**32 - 1))
def test_best_partition_is_the_minimum_over_all_energies(n, a, seed):
    """Batched enumeration agrees with the energies of every partition, system by system."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(0.1, 2, (n, a))
    prop = rng.uniform(-1, 1, (n, a, a))
    labels, energy = best_partition(size, prop)
    assert labels.dtype == np.int8 and labels.shape == (n, a)
    assert np.all(labels[:, 0] == 0)
    every = energies(size, prop, all_partitions(a))
    np.testing.assert_allclose(energy, every.min(axis=-1), atol=1e-12)
    for i in range(n):
        assert loop_energy(size[i], prop[i], labels[i]) == pytest.approx(energy[i], abs=1e-9)


def test_best_partition_blocks_do_not_change_the_answer():
    """Small memory blocks (many chunks over systems and partitions) give the same result."""
    rng = np.random.default_rng(7)
    size = rng.uniform(0.1, 2, (37, 9))
    prop = rng.normal(size=(37, 9, 9))
    big = best_partition(size, prop)
    small = best_partition(size, prop, max_elements=100)
    np.testing.assert_array_equal(big[0], small[0])
    np.testing.assert_allclose(big[1], small[1])


def test_best_partition_rejects_too_many_actors():
    with pytest.raises(ValueError):
        best_partition(np.ones((1, 21)), np.zeros((1, 21, 21)))


def test_greedy_minima_are_reported_with_start_counts():
    """Beyond the exhaustive limit, basins count random starts and still sum to ``starts``."""
    rng = np.random.default_rng(3)
    size = rng.uniform(0.1, 1, 7)
    prop = rng.normal(size=(7, 7))
    found = minima(size, prop, exhaustive_max=3, starts=300, rng=1)
    assert sum(m.basin for m in found) == 300
    exact = {tuple(m.blocs) for m in minima(size, prop)}
    assert {tuple(m.blocs) for m in found} <= exact


def test_descend_partition_ends_in_local_minima_never_below_the_global_one():
    """Steepest descent (used for the final blocs beyond 14 actors) stops where no single
    switch lowers the energy, and never claims an energy below the exhaustive minimum."""
    from sim.model.landscape import descend_partition, switch_gains

    rng = np.random.default_rng(3)
    n, A = 300, 8
    W = rng.uniform(-1, 1, (n, A, A))
    c = rng.uniform(0.1, 1, (n, A))
    labels, energy = descend_partition(c, W)
    p = 0.5 * (W + W.transpose(0, 2, 1))
    assert (switch_gains(c, p, labels) >= -1e-9).all()
    assert (labels[:, 0] == 0).all()
    _, best = best_partition(c, p)
    assert (energy >= best - 1e-9).all()
    assert np.isclose(energy, best).mean() > 0.5  # the eigenvector start is usually the basin


def test_descend_partition_finds_planted_factions():
    """A perfectly balanced two-faction pattern is found exactly, whatever its size."""
    from sim.model.landscape import descend_partition

    rng = np.random.default_rng(4)
    A = 30
    s = np.where(rng.random(A) < 0.5, 1.0, -1.0)
    W = np.outer(s, s)[None]
    labels, _ = descend_partition(np.ones((1, A)), W)
    expected = (s != s[0]).astype(np.int8)
    np.testing.assert_array_equal(labels[0], expected)
