"""discover, sensitivity and landscape say what they found and what to do next."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from sim.analysis import discovery as disc
from sim.analysis import sensitivity as an
from sim.cli import main
from sim.present import text as terminal
from sim.present.exploration import write_discovery
from sim.present.show import describe_path, readable_label
from tests.conftest import DATA, ROOT, stand_in_run


def _noise_only(n=3000, seed=1, members=("X", "Y")):
    """Outcomes unrelated to the parameters: no region can stand out."""
    rng = np.random.default_rng(seed)
    reps = pd.DataFrame({f"param:p{k}": rng.random(n) for k in range(4)})
    hit = rng.random(n) < 0.2
    reps["al.fate"] = np.where(hit, "stab_in_the_back", "holds")
    reps["al.defector"] = np.where(hit, "X", "")
    manifest = {"scenario": {"alliances": {"al": {"members": list(members)}}}}
    return stand_in_run(reps, directory="noise", manifest=manifest)


def test_unknown_actor_in_the_outcome_is_an_error_naming_the_members():
    with pytest.raises(an.AnalysisError, match="members of al are X, Y"):
        disc.discover(_noise_only(), "stab_in_the_back by Narnia")


def test_no_significant_box_says_how_many_replicates_it_would_need_and_shows_no_empty_box(tmp_path):
    d = disc.discover(_noise_only(), "stab_in_the_back", boxes=3, min_coverage=0.3)
    assert len(d.boxes) == 1 and d.boxes[0].limits.empty  # no second box searched in nothing
    text = terminal.format_discovery(d)
    assert "no region can be named" in text and "coverage" not in text  # no whole-space statistics
    assert (
        ("stand out only from about" in text) or ("would not change that" in text) or ("on its own" in text)
    )
    paths = write_discovery(d, tmp_path)
    page = paths["report"].read_text()
    assert "<h3>Box" not in page  # said in words (in the answer), no empty table
    assert "not a forecast" in page and "No region can be named" in page
    # no figure with empty axes: the peeling trajectory and its colour bar, no panel of limits
    from sim.present.exploration import discovery_figure

    assert len(discovery_figure(d).axes) == 2


def test_replicates_needed_makes_the_box_significant():
    from statistics import NormalDist

    d = disc.discover(_noise_only(), "stab_in_the_back", boxes=1, min_coverage=0.3, max_qp=1.0)
    box = d.boxes[0]
    row = box.trajectory.loc[box.chosen]
    need = disc.replicates_needed(d, box, max_qp=0.05)
    if need is None:
        assert float(row.density) <= d.base_rate
        return
    p, density, mass = d.base_rate, float(row.density), float(row.mass)
    z = (density - p) / np.sqrt(p * (1 - p) / (need * mass))
    assert z >= NormalDist().inv_cdf(0.95) - 1e-9
    z_before = (density - p) / np.sqrt(p * (1 - p) / ((need - 1) * mass))
    assert z_before < NormalDist().inv_cdf(0.95)


def test_powers_of_two_and_replicates_for_noise():
    assert [an.next_power_of_two(n) for n in (1, 2, 3, 6, 8, 1000, 1024)] == [1, 2, 4, 8, 8, 1024, 1024]
    assert an.replicates_for_noise(0.2, 16) == 16
    # share 0.6 at R = 16: noise 0.6, signal 0.4; R' with noise 0.6 * 16 / R' = 0.3 / 0.7 * 0.4
    assert an.replicates_for_noise(0.6, 16) == 56
    assert an.replicates_for_noise(1.0, 16) is None


def test_sensitivity_accepts_any_sample_count_warns_on_noise_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "sens"
    args = [
        "sensitivity",
        str(DATA / "all_mechanisms.toml"),
        "--samples",
        "6",
        "-R",
        "2",
        "--include",
        "actors.*",
        "--alliance",
        "ab",
        "-j",
        "1",
        "--steps",
        "10",
        "--no-progress",
        "--out",
        str(out),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a library warning would fail here
        assert main(args) == 0
    captured = capsys.readouterr()
    assert "using 8, the next power of two" in captured.err
    assert "actors.B.capability (B's capability share)" in captured.out  # readable names
    if "warning: binomial noise" in captured.out:
        assert "--replicates" in captured.out or "mostly noise" in captured.out
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_readable_names_for_every_kind_of_path():
    assert describe_path("positions.China.taiwan") == "China's position on taiwan"
    assert describe_path("ties.3.Russia.Ukraine") == "initial tie Russia → Ukraine"
    assert describe_path("events.trade_war.hazard") == "event trade_war: monthly hazard"
    assert describe_path("alliances.cr.h0") == "cr: base defection hazard (h0)"
    assert describe_path("mechanisms.threat") == "balance-of-threat coefficient"
    assert describe_path("something.else") == "something.else"
    from sim.spec.claims import claims_by_param, load_claims

    claims = claims_by_param(load_claims(ROOT / "seeds" / "claims.toml"))
    assert (
        readable_label("mechanisms.competition", claims)
        == "mechanisms.competition (sphere competition coefficient) [m-competition]"
    )


def test_landscape_explains_itself_and_reads_a_result_directory(tmp_path, capsys):
    import sim

    assert main(["landscape", "stab_in_the_back", "--top", "1"]) == 0
    text = capsys.readouterr().out
    assert "initial ties" in text and "energy:" in text and "basin:" in text
    sim.run_ensemble(
        ROOT / "scenarios" / "stab_in_the_back.toml",
        replicates=50,
        steps=12,
        out=tmp_path / "r",
        progress=False,
    )
    assert main(["landscape", str(tmp_path / "r"), "--top", "1"]) == 0
    text = capsys.readouterr().out
    assert "final ties averaged over the 50 replicates" in text and "bloc 1:" in text
