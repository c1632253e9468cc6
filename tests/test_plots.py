"""Figures checked by what they show: titles, axis labels, number of series and bars."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from sim.analysis import outcomes
from sim.present import plots

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import sim

    out = tmp_path_factory.mktemp("plots") / "b2b"
    return sim.run_ensemble(
        ROOT / "scenarios" / "back_to_back.toml", replicates=150, steps=18, out=out, progress=False
    )


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    import sim

    out = tmp_path_factory.mktemp("plots") / "sitb"
    return sim.run_ensemble(
        ROOT / "scenarios" / "stab_in_the_back.toml", replicates=150, steps=18, out=out, progress=False
    )


def renders(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_actor_colors_are_stable_distinct_and_colour_blind_safe_first():
    actors = [f"a{i}" for i in range(17)]
    colors = plots.actor_colors(actors)
    assert len(set(colors.values())) == 17
    assert colors["a0"] == plots.OKABE_ITO[0] and colors["a7"] == plots.OKABE_ITO[7]
    assert plots.actor_colors(actors[:3]) == {a: colors[a] for a in actors[:3]}


def test_text_escapes_mathtext_and_wraps():
    assert plots.text("costs $5 and $6") == r"costs \$5 and \$6"
    assert plots.text("one two three four", 9) == "one two\nthree\nfour"


def test_fate_chart_has_one_bar_per_outcome_and_wilson_error_bars(run):
    fig = plots.fate_chart(run)
    ax = fig.axes[0]
    table = outcomes.fate_table(run.replicates, run.focal, run.actors)
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert ticks == [plots.fate_label(o) for o in table["outcome"][::-1]]
    drawn = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(drawn) == len(table)
    np.testing.assert_allclose(sorted(p.get_width() for p in drawn), sorted(table["p"]))
    assert "probability" in ax.get_xlabel() and "Wilson" in ax.get_xlabel()
    assert run.focal in ax.get_title() and "months" in ax.get_title()
    renders(fig)


def test_survival_chart_has_one_curve_and_band_per_alliance_in_months(run):
    fig = plots.survival_chart(run)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(run.alliances)
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)]) == len(run.alliances)
    assert ax.get_xlabel() == "time (months)"
    assert ax.get_ylabel() == "P(alliance still active)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith(run.focal)  # the focal alliance comes first
    x, y = ax.get_lines()[0].get_data()
    assert x[0] == 0 and x[-1] == run.steps and y[0] <= 1 and np.all(np.diff(y) <= 1e-12)
    renders(fig)


def test_cohesion_fan_has_a_panel_per_alliance_with_median_and_two_bands(run):
    fig = plots.cohesion_fan(run)
    assert len(fig.axes) == len(run.alliances)
    for ax, name in zip(fig.axes, [run.focal] + [a for a in run.alliances if a != run.focal], strict=True):
        assert name in ax.get_title(loc="left")
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[:3] == ["5-95 %", "25-75 %", "median"]
        assert ax.get_ylim() == (-1, 1)
    assert fig.axes[-1].get_xlabel() == "time (months)"
    median = fig.axes[0].get_lines()[0].get_ydata()
    want = outcomes.cohesion_quantiles(run.summary, [0.5])[:, run.alliances.index(run.focal), 0]
    np.testing.assert_allclose(median, want)
    renders(fig)


def test_cohesion_fan_draws_an_uncertain_trust_threshold_as_its_range_and_median(run):
    """Every shipped scenario draws theta_trust per replicate: the caption's dashed line is there."""
    column = f"param:alliances.{run.focal}.theta_trust"
    assert column in run.columns
    v = run.read([column])[column].to_numpy()
    fig = plots.cohesion_fan(run)
    ax = fig.axes[0]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1
    np.testing.assert_allclose(dashed[0].get_ydata()[0], np.median(v), rtol=1e-6)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("trust threshold 5-95 %") for t in labels)
    renders(fig)


def test_bloc_network_draws_every_tie_above_its_stated_threshold(run):
    """No edge is dropped silently: every pair at or above the threshold is drawn and the legend
    counts the pairs under it."""
    W = outcomes.mean_ties(run.summary, run.actors).to_numpy()
    S = (W + W.T) / 2
    A = len(run.actors)
    for threshold in (plots.BLOC_EDGE_THRESHOLD, 0.5):
        fig = plots.bloc_network(run, threshold=threshold)
        ax = fig.axes[0]
        edges = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 2]
        strong = sum(abs(S[i, j]) >= threshold for i in range(A) for j in range(i + 1, A))
        assert len(edges) == strong
        legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
        assert f"{A * (A - 1) // 2 - strong} pairs with |mean tie| < {threshold:g}" in legend
        renders(fig)


def test_ties_heatmap_shows_the_mean_ties_with_actor_labels(run):
    fig = plots.ties_heatmap(run)
    ax = fig.axes[0]
    image = [c for c in ax.get_children() if isinstance(c, AxesImage)][0]
    W = outcomes.mean_ties(run.summary, run.actors).to_numpy()
    shown = np.asarray(image.get_array())
    off = ~np.eye(len(run.actors), dtype=bool)
    np.testing.assert_allclose(shown[off], W[off])
    assert [t.get_text() for t in ax.get_xticklabels()] == run.actors
    assert [t.get_text() for t in ax.get_yticklabels()] == run.actors
    assert image.get_clim() == (-1, 1)
    renders(fig)


def test_bloc_network_draws_every_actor_sized_by_capability(run):
    fig = plots.bloc_network(run)
    ax = fig.axes[0]
    nodes = [c for c in ax.collections if isinstance(c, PathCollection)][0]
    assert len(nodes.get_offsets()) == len(run.actors)
    sizes = nodes.get_sizes()
    cap = outcomes.mean_capability(run.replicates, run.actors).to_numpy()
    assert np.argmax(sizes) == np.argmax(cap) and np.argmin(sizes) == np.argmin(cap)
    labels = " ".join(t.get_text() for t in ax.texts)
    assert all(a in labels for a in run.actors)
    assert f"bloc with {run.actors[0]}" in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("friendly" in t for t in legend) and any("hostile" in t for t in legend)
    renders(fig)


def test_stab_matrix_lists_alliance_members_only(run):
    fig = plots.stab_matrix(run)
    ax = fig.axes[0]
    members = {m for g in outcomes.alliance_members(run.manifest["scenario"]).values() for m in g}
    ticks = [t.get_text() for t in ax.get_xticklabels()]
    assert set(ticks) == members
    assert ax.get_xlabel() == "betrayed partner" and "defector" in ax.get_ylabel()
    renders(fig)


def test_balance_and_same_bloc_figures(run):
    fig = plots.balance_chart(run)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), outcomes.balance_index(run.summary))
    assert ax.get_xlabel() == "time (months)"
    renders(fig)
    fig = plots.same_bloc_heatmap(run)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == run.actors
    renders(fig)


def test_comparison_panels_show_each_scenario(run, other):
    fig = plots.compare_fates([run, other])
    ax = fig.axes[0]
    drawn = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(drawn) == 3 * 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [run.name, other.name]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["holds", "stab in the back", "drift apart"]
    renders(fig)
    fig = plots.compare_survival([run, other])
    curves = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]
    assert len(curves) == 2
    # each band is outlined (dotted) in its scenario's colour, so overlaid bands stay apart
    edges = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == ":"]
    assert len(edges) == 4
    assert {ln.get_color() for ln in edges} == {ln.get_color() for ln in curves}
    assert fig.axes[0].get_xlabel() == "time (months)"
    renders(fig)
    fig = plots.compare_cohesion([run, other])
    medians = [ln for ln in fig.axes[0].get_lines() if ln.get_label().endswith("median")]
    assert len(medians) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [
        f"{run.name}: 5-95 %",
        f"{run.name}: median",
        f"{other.name}: 5-95 %",
        f"{other.name}: median",
    ]
    hatches = [c.get_hatch() for c in fig.axes[0].collections if c.get_hatch()]
    assert len(set(hatches)) == 2  # the two bands are told apart by their hatching
    renders(fig)


def test_figures_accept_hostile_names(run):
    """Names with mathtext and markup characters render as plain text."""
    run.manifest["scenario"]["title"] = "A $x^2$ <b>title</b> with \\ and $"
    try:
        fig = plots.survival_chart(run)
        renders(fig)
        assert "<b>title</b>" in fig.axes[0].get_title()
    finally:
        run.manifest["scenario"]["title"] = "restored"


def test_heat_map_labels_contrast_with_their_cell_and_the_same_bloc_map_has_no_diagonal(run):
    """Label ink is chosen by the cell's colour (black on yellow, white on navy, whatever the
    value), and the same-bloc map leaves out the diagonal, which says nothing."""
    from matplotlib import colormaps

    cividis = colormaps["cividis"]
    assert plots.ink_on(cividis(1.0)) == "black" and plots.ink_on(cividis(0.0)) == "white"
    assert plots.ink_on(colormaps["magma_r"](1.0)) == "white"
    fig = plots.same_bloc_heatmap(run)
    ax = fig.axes[0]
    data = ax.images[0].get_array()
    assert np.all(np.isnan(np.diag(np.asarray(data, dtype=float))))
    n = len(run.actors)
    assert len([t for t in ax.texts if t.get_text()]) == n * n - n
    for t in ax.texts:  # the text is rounded: a cell on the edge between inks may show either
        value = float(t.get_text())
        assert t.get_color() in {plots.ink_on(cividis(value - 0.005)), plots.ink_on(cividis(value + 0.005))}
