"""Validation of sim.model.bargaining against BDM's emission-standards example.

Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling Bueno de
Mesquita's group decision model. Journal of Theoretical Politics, 23(4),
510-531 -- replicating Bueno de Mesquita (1994), Political forecasting: an
expected utility method, in European Community Decision Making, Yale
University Press, table of p. 78.

Issue: years until emission standards for medium-sized cars apply.
Published: the capability x salience weighted median of the initial positions
is 7.0 and the weighted mean 7.39; over ten rounds of bargaining the weighted
mean stays within about 7.2 to 7.6.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.model.bargaining import bdm_rounds, bdm_step, weighted_mean, weighted_median

#                 capability  position  salience
EMISSIONS = {
    "Netherlands": (0.08, 4.0, 80.0),
    "Belgium": (0.08, 7.0, 40.0),
    "Luxembourg": (0.03, 4.0, 20.0),
    "Germany": (0.16, 4.0, 80.0),
    "France": (0.16, 10.0, 60.0),
    "Italy": (0.16, 10.0, 60.0),
    "UK": (0.16, 10.0, 90.0),
    "Ireland": (0.05, 7.0, 10.0),
    "Denmark": (0.05, 4.0, 100.0),
    "Greece": (0.08, 7.0, 70.0),
}
CAPABILITY, POSITION, SALIENCE = (np.array(col) for col in zip(*EMISSIONS.values(), strict=True))
WEIGHT = CAPABILITY * SALIENCE


def test_initial_forecast_matches_published_median_and_mean():
    """Scholz et al. (2011) / BDM (1994): weighted median 7.0 and weighted mean 7.39."""
    assert weighted_median(POSITION, WEIGHT) == 7.0
    assert round(float(weighted_mean(POSITION, WEIGHT)), 2) == 7.39


def test_weighted_mean_stays_in_published_band_for_ten_rounds():
    """Scholz et al. (2011): the weighted mean position stays within about 7.2-7.6 over ten rounds."""
    path = bdm_rounds(CAPABILITY, POSITION, SALIENCE, rounds=10)
    means = weighted_mean(path, WEIGHT)
    assert means.shape == (11,)
    assert round(float(means[0]), 2) == 7.39
    assert np.all((means >= 7.2) & (means <= 7.6)), np.round(means, 3)


def test_bargaining_actually_moves_positions():
    """Scholz et al. (2011): the example is not static -- actors change position in round one."""
    path = bdm_rounds(CAPABILITY, POSITION, SALIENCE, rounds=1)
    assert np.any(path[1] != path[0])
    assert np.all((path >= 4.0) & (path <= 10.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_replicated_example_gives_identical_replicates(dtype):
    """Scholz et al. (2011) example stacked as replicates and issues: every copy follows the
    single-issue trajectory."""
    n, k = 5, 3
    c = np.tile(CAPABILITY.astype(dtype), (n, 1))
    x = np.tile(POSITION.astype(dtype)[None, :, None], (n, 1, k))
    s = np.tile(SALIENCE.astype(dtype)[None, :, None], (n, 1, k))
    path = bdm_rounds(CAPABILITY.astype(dtype), POSITION.astype(dtype), SALIENCE.astype(dtype), 3)
    for r in range(3):
        x = bdm_step(c, x, s, np.full(k, 4.0), np.full(k, 10.0))
        assert x.dtype == dtype
        np.testing.assert_array_equal(x, np.broadcast_to(path[r + 1][None, :, None], x.shape))
