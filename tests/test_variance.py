"""Given-data first-order indices grouped by basis: right where the answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.analysis.variance import describe, first_order_given_data, variance_by_basis
from sim.vocabulary import BASIS_ARTICLE, BASIS_ASSUMPTION


def test_first_order_index_recovers_a_known_share_and_is_unbiased_under_no_effect():
    rng = np.random.default_rng(0)
    n = 20000
    x1, x2 = rng.uniform(size=n), rng.uniform(size=n)
    # y = x1 + x2 with equal variances: each explains half
    y = x1 + x2
    assert abs(first_order_given_data(x1, y) - 0.5) < 0.02
    # an input with no effect: the corrected index averages zero (the raw one would not)
    noise = [first_order_given_data(rng.uniform(size=2000), rng.integers(0, 2, 2000)) for _ in range(200)]
    assert abs(np.mean(noise)) < 0.002


def test_variance_by_basis_gives_the_share_to_the_basis_of_the_driving_input():
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame(
        {f"param:a{k}": rng.uniform(size=n) for k in range(5)}
        | {f"param:m{k}": rng.uniform(size=n) for k in range(5)}
    )
    # a yes/no outcome whose chance depends on m0 only
    y = rng.uniform(size=n) < 0.1 + 0.8 * frame["param:m0"].to_numpy()
    table = variance_by_basis(
        frame, y, lambda p: BASIS_ARTICLE if p.startswith("a") else BASIS_ASSUMPTION
    ).set_index("basis")
    # Var(E[y|m0]) / Var(y) = 0.8^2/12 / (0.5 * 0.5) = 0.213
    assert abs(table.loc[BASIS_ASSUMPTION, "share"] - 0.213) < 3 * table.loc[BASIS_ASSUMPTION, "noise"]
    assert abs(table.loc[BASIS_ARTICLE, "share"]) < table.loc[BASIS_ARTICLE, "noise"] + 0.01
    assert table.loc[BASIS_ASSUMPTION, "inputs"] == 5
    text = describe(table.reset_index(), "holds")
    assert "rests more on modelling assumptions" in text


def test_counts_and_shares_read_as_words_never_negative():
    """No "ungroundeds", no "1 values", no negative share: a share within its noise is a bound."""
    from sim.analysis.variance import basis_count, share_text
    from sim.vocabulary import BASIS_ARTICLE, BASIS_NONE

    assert basis_count(1, BASIS_NONE) == "1 ungrounded value"
    assert basis_count(3, BASIS_NONE) == "3 ungrounded values"
    assert basis_count(1, BASIS_ARTICLE) == "1 article claim"
    assert share_text(0.35, 0.10) == "35 ± 10 %"
    assert share_text(-0.02, 0.06) == "under 4 % (within noise)"
    assert "−" not in share_text(-0.2, 0.05) and "-" not in share_text(-0.2, 0.05)
