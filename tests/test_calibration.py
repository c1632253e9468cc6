"""Conditioning on observations (sim/analysis/calibration.py): what the collector records, the
refusal naming the binding observation, the posterior as a scenario that every command accepts,
scores and Bayes factors between scenarios, and the view from today continued from the accepted
replicates' own states."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import cli, load_scenario, run_ensemble
from sim.analysis.calibration import (
    CalibrationError,
    calibrate,
    project,
    score_scenarios,
    simulate,
)
from sim.errors import InputError
from sim.model import dynamics
from sim.run.designs import stream_seeds
from sim.run.integrity import file_record
from sim.spec.observations import load_record
from sim.spec.params import compile_params

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "history_small.toml"

HEAD = 'start = 2022-02-04\nunit = "month"\n'
SOURCE = textwrap.dedent("""\
    [observations.source]
    outlet = "Example"
    published = {date}
    url = "https://example.org/{id}"
    paraphrase = "a report on how the two partners stood toward each other at that time"
    """)


def entry(id, date, body):
    return f'[[observations]]\nid = "{id}"\ndate = {date}\n{body}basis = "test reading"\n' + SOURCE.format(
        date=date, id=id
    )


def record_file(tmp_path, *entries, name="obs.toml") -> Path:
    path = tmp_path / name
    path.write_text(HEAD + "\n".join(entries), encoding="utf-8")
    return path


TIE_LOW = 'kind = "tie_range"\nfrom = "A"\nto = "B"\nlow = -0.25\nhigh = -0.12\nwidth = 0.03\n'
ACTIVE = 'kind = "alliance_active"\nalliance = "ab"\n'


@pytest.fixture
def small_record(tmp_path):
    return record_file(
        tmp_path,
        entry("early", "2022-08-10", TIE_LOW.replace("-0.25", "-0.2").replace("-0.12\n", "0.4\n")),
        entry("late", "2024-01-05", TIE_LOW),
        entry("still", "2024-01-05", ACTIVE),
    )


def test_the_collector_reads_each_observation_at_its_step(small_record):
    """Tie values recorded at steps 6 and 23 are the kernel's own ties at those steps."""
    scenario = load_scenario(SMALL)
    record = load_record(small_record, scenario)
    assert record.steps == (6, 23, 23)
    ens = simulate(scenario, record, replicates=64, seed=5, chunk_size=64, keep_states=False)
    params_seed, dyn_seed = stream_seeds(5, 0, 0)
    params = compile_params(scenario, 64, np.random.default_rng(params_seed))
    seen = {}
    dynamics.run(
        params,
        np.random.default_rng(dyn_seed),
        steps=23,
        dtype=np.float32,
        record=lambda s: seen.setdefault(s.t, (s.ties.copy(), s.active.copy())),
    )
    assert np.allclose(ens.values[:, 0], seen[6][0][:, 0, 1])
    assert np.allclose(ens.values[:, 1], seen[23][0][:, 0, 1])
    assert np.array_equal(ens.values[:, 2], seen[23][1][:, 0])
    assert np.allclose(ens.sampled["mechanisms.affinity"], params.sampled["mechanisms.affinity"])


def test_calibration_narrows_towards_the_record_and_writes_a_posterior(small_record, tmp_path):
    """A record of a tie that sank to about -0.18 by step 23 moves the affinity up (a faster pull
    toward the interests' -0.2); posterior.toml extends the scenario, and `run` accepts it."""
    project_dir = tmp_path / "proj"
    (project_dir / "seeds").mkdir(parents=True)
    shutil.copy(SMALL, project_dir / "seeds" / "small.toml")
    out = project_dir / "results" / "cal"
    cal = calibrate(
        project_dir / "seeds" / "small.toml", small_record, replicates=4000, seed=3, out=out, min_accepted=50
    )
    assert 0 < cal.acceptance < 1 and len(cal.accepted) >= 50
    assert cal.ess > len(cal.accepted)  # the weights use every replicate
    moved = {m.path: m for m in cal.moved}
    assert "mechanisms.affinity" in moved
    assert moved["mechanisms.affinity"].post_mean > moved["mechanisms.affinity"].prior_mean
    assert "late" in moved["mechanisms.affinity"].cited
    assert "events.quarrel.hazard" not in moved  # nothing observed depends on it
    # a high starting tie needs a fast pull to reach -0.18: the record ties the two together
    pairs = {(a, b): rho for a, b, rho in cal.correlations}
    rho = pairs.get(("ties.0.A.B", "mechanisms.affinity"), pairs.get(("mechanisms.affinity", "ties.0.A.B")))
    assert rho is not None and rho > 0.2
    text = (out / "posterior.toml").read_text()
    assert 'extends = "../../seeds/small.toml"' in text
    post = load_scenario(out / "posterior.toml")
    aff = post.mechanisms.affinity
    assert aff.dist == "beta" and (aff.low, aff.high) == (0.02, 0.2) and "late" in aff.claim
    table = pd.read_parquet(out / "posterior.parquet")
    assert len(table) == len(cal.accepted)
    assert table["param:mechanisms.affinity"].mean() == pytest.approx(moved["mechanisms.affinity"].post_mean)
    results = run_ensemble(out / "posterior.toml", replicates=32, out=tmp_path / "run", progress=False)
    assert len(results.replicates) == 32
    # the posterior draws the affinity higher than the prior did
    assert results.replicates["param:mechanisms.affinity"].mean() > 0.11
    # the prior and posterior predictive tables: the record's observations more often happen
    prior = cal.prior_predictive.set_index("id")
    posterior = cal.posterior_predictive.set_index("id")
    assert posterior.loc["late", "p_happened"] > prior.loc["late", "p_happened"]
    assert (prior["low"] <= prior["p_happened"]).all() and (prior["p_happened"] <= prior["high"]).all()


def test_a_posterior_outside_the_project_is_written_whole(small_record, tmp_path):
    """extends may not leave the project: a calibration written elsewhere carries the whole
    resolved scenario instead of a path out of its folder."""
    cal = calibrate(SMALL, small_record, replicates=2000, seed=3, out=tmp_path / "cal", min_accepted=20)
    text = (tmp_path / "cal" / "posterior.toml").read_text()
    assert "extends" not in text.replace("# ", "") or "written out whole" in text
    assert not any(line.startswith("extends") for line in text.splitlines())
    post = load_scenario(tmp_path / "cal" / "posterior.toml")
    assert post.actor_names == ["A", "B", "C"] and len(cal.accepted) >= 20


def test_an_improbable_record_is_refused_naming_the_binding_observation(tmp_path):
    impossible = 'kind = "tie_range"\nfrom = "A"\nto = "B"\nlow = 0.95\nhigh = 1.0\nwidth = 0.0\n'
    path = record_file(
        tmp_path, entry("fine", "2022-08-10", ACTIVE), entry("absurd", "2023-02-10", impossible)
    )
    with pytest.raises(
        CalibrationError,
        match=r"the binding observation is absurd \(A->B in "
        r"\[0.95, 1\] on 2023-02-10\), which happened in 0.0% of the replicates; .*"
        r"rejection would need more replicates than can be run \(--replicates\), or --exclude "
        r"absurd to see the record without it, or --method smc",
    ):
        calibrate(SMALL, path, replicates=500, seed=1, out=tmp_path / "cal", method="rejection")
    assert not (tmp_path / "cal").exists()
    # the default chooses sequential Monte Carlo for a record rejection cannot take, which refuses
    # a reading no particle can show, naming it
    with pytest.raises(
        InputError, match=r"no particle can show absurd \(A->B in \[0.95, 1\] on 2023-02-10\)"
    ):
        calibrate(SMALL, path, replicates=500, seed=1, out=tmp_path / "cal", particles=32)
    assert not (tmp_path / "cal").exists()
    code = cli.main(
        [
            "calibrate",
            str(SMALL),
            "--observations",
            str(path),
            "-n",
            "300",
            "--out",
            str(tmp_path / "cal2"),
            "--no-progress",
        ]
    )
    assert code == 2


def test_scores_rank_the_scenario_that_anticipated_the_record_first(small_record, tmp_path):
    """A copy of the case whose tie cannot sink (no affinity, the tie held high) gives the record
    a far lower probability: ranked second, with a negative log Bayes factor beyond its error."""
    stiff = tmp_path / "stiff.toml"
    stiff.write_text(
        SMALL.read_text()
        .replace('affinity = {dist = "uniform", low = 0.02, high = 0.2}', "affinity = 0.0")
        .replace('value = {dist = "uniform", low = -0.2, high = 0.8}', "value = 0.7")
    )
    predictive: dict = {}
    table = score_scenarios([stiff, SMALL], small_record, replicates=3000, seed=2, predictive=predictive)
    assert set(predictive) == {"stiff", "history_small"}
    assert predictive["stiff"].set_index("id").loc["late", "p_happened"] < 0.01
    assert list(table["scenario"]) == ["history_small", "stiff"]
    worst = table.iloc[1]
    assert worst["log_bf_vs_best"] < -3 * worst["log_bf_se"]
    assert np.isfinite(table["log_se"]).all()


def test_restored_state_continues_exactly_like_an_uninterrupted_run():
    """restore_state + run(state=...) from step 10 gives the same ties at step 24 as one run of
    24 steps with the same stream of random numbers (float64)."""
    scenario = load_scenario(ROOT / "tests" / "data" / "all_mechanisms.toml")
    params = compile_params(scenario, 16, np.random.default_rng(0))
    full = dynamics.run(params, np.random.default_rng(9), steps=24)
    rng = np.random.default_rng(9)
    half = dynamics.run(params, rng, steps=10)
    arrays = {k: getattr(half, k) for k in dynamics.STATE_ARRAYS}
    again = dynamics.run(params, rng, steps=14, state=dynamics.restore_state(params, 10, arrays))
    assert again.t == 24
    assert np.allclose(again.ties, full.ties, atol=1e-9)
    assert np.array_equal(again.fate, full.fate) and np.array_equal(again.active, full.active)


def test_the_view_from_today_continues_the_accepted_states(small_record, tmp_path, monkeypatch):
    """The projection starts at the last observation's step from the stored states of the
    accepted replicates (not from the scenario's start), and the same seed gives the same bytes."""
    out = tmp_path / "cal"
    cal = calibrate(SMALL, small_record, replicates=3000, seed=4, out=out, min_accepted=20)
    with np.load(out / "states.npz", allow_pickle=False) as z:
        stored = {k: z[k] for k in z.files}
    assert len(stored["ties"]) == len(cal.accepted)
    starts = []
    real_run = dynamics.run

    def spy(params, rng, **kw):
        starts.append((kw["state"].t, kw["state"].ties.copy(), params.ties.copy()))
        return real_run(params, rng, **kw)

    monkeypatch.setattr(dynamics, "run", spy)
    proj = project(out / "posterior.toml", steps=12, out=tmp_path / "p1")
    monkeypatch.setattr(dynamics, "run", real_run)
    t0s = {t for t, _, _ in starts}
    assert t0s == {23}
    ties = np.concatenate([w for _, w, _ in starts])
    assert np.allclose(ties, stored["ties"])
    initial = np.concatenate([p for _, _, p in starts])
    assert not np.allclose(ties[:, 0, 1], initial[:, 0, 1])  # not February's ties
    assert proj.start_step == 23 and proj.end_step == 35 and len(proj.fates) == len(cal.accepted)
    assert proj.sentence().startswith("From January 2024 (the last sourced observation)")
    project(out / "posterior.toml", steps=12, out=tmp_path / "p2")
    one = (tmp_path / "p1" / "projection.parquet").read_bytes()
    assert one == (tmp_path / "p2" / "projection.parquet").read_bytes()
    project(out / "posterior.toml", steps=12, seed=99, out=tmp_path / "p3")
    assert one != (tmp_path / "p3" / "projection.parquet").read_bytes()


def test_same_seed_same_calibration_bytes(small_record, tmp_path):
    for name in ("a", "b"):
        calibrate(SMALL, small_record, replicates=1000, seed=8, out=tmp_path / name, min_accepted=10)
    for f in ("states.npz", "posterior.parquet", "posterior.toml"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_cli_calibrate_then_run_from_observations(small_record, tmp_path, capsys):
    out = tmp_path / "cal"
    assert (
        cli.main(
            [
                "calibrate",
                str(SMALL),
                "--observations",
                str(small_record),
                "-n",
                "2000",
                "--seed",
                "5",
                "--min-accepted",
                "20",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "acceptance rate" in text and "effective sample size" in text and "binding observation" in text
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "The view from today" in page
    assert "What the record moved" in page and "Predictive checks" in page
    assert "A-&gt;B in [-0.25, -0.12]" in page  # observations are escaped
    assert (out / "report_figures" / "moved.png").is_file()
    assert (
        cli.main(
            [
                "run",
                str(out / "posterior.toml"),
                "--from-observations",
                "--until",
                "2026-01-04",
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "From January 2024 (the last sourced observation)" in text
    assert "P(ab holds to January 2026)" in text
    # the same full report as `run`: fates, who stabs whom, the figures
    page = (tmp_path / "p" / "report.html").read_text(encoding="utf-8")
    assert "Who stabs whom" in page and "stab in the back" in page.lower()
    assert (tmp_path / "p" / "replicates.parquet").is_file() and "report:" in text
    assert (
        cli.main(
            [
                "calibrate",
                str(SMALL),
                "--observations",
                str(small_record),
                "-n",
                "2000",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 2
    )  # no silent overwrite


def test_every_command_takes_the_posterior_scenario(small_record, tmp_path, capsys):
    """posterior.toml is a scenario like any other: `validate`, `show`, `compare` (against the
    scenario it came from) and `sensitivity` accept it."""
    project_dir = tmp_path / "proj"
    (project_dir / "seeds").mkdir(parents=True)
    shutil.copy(SMALL, project_dir / "seeds" / "small.toml")
    out = project_dir / "results" / "cal"
    calibrate(
        project_dir / "seeds" / "small.toml", small_record, replicates=3000, seed=3, out=out, min_accepted=50
    )
    post = str(out / "posterior.toml")
    assert cli.main(["validate", post]) == 0
    assert cli.main(["show", post]) == 0
    shown = [line for line in capsys.readouterr().out.splitlines() if line.startswith("mechanisms.affinity")]
    assert shown and "B(" in shown[0]  # the fitted beta
    assert "posterior given" in shown[0] and "(none)" not in shown[0]
    assert (
        cli.main(
            [
                "compare",
                str(project_dir / "seeds" / "small.toml"),
                post,
                "-n",
                "64",
                "--out",
                str(tmp_path / "cmp"),
                "--no-progress",
                "-j",
                "1",
            ]
        )
        == 0
    )
    assert (tmp_path / "cmp" / "report.html").is_file()
    pytest.importorskip("SALib")
    assert (
        cli.main(
            [
                "sensitivity",
                post,
                "--method",
                "morris",
                "-N",
                "4",
                "-R",
                "2",
                "-j",
                "1",
                "--out",
                str(tmp_path / "sens"),
                "--no-progress",
            ]
        )
        == 0
    )


def test_prior_replicates_are_the_replicates_of_run_with_the_same_seed(small_record, tmp_path):
    """Replicate r of a calibration draws what replicate r of `run` draws (same seed and chunk
    size), whatever the number of workers."""
    scenario = load_scenario(SMALL)
    record = load_record(small_record, scenario)
    ens = simulate(scenario, record, replicates=96, seed=11, chunk_size=32, keep_states=False)
    two = simulate(scenario, record, replicates=96, seed=11, chunk_size=32, keep_states=False, workers=2)
    assert np.array_equal(ens.values, two.values) and np.array_equal(ens.accepted, two.accepted)
    results = run_ensemble(SMALL, replicates=96, seed=11, chunk_size=32, out=tmp_path / "run", progress=False)
    table = results.replicates.sort_values("replicate")
    assert np.array_equal(ens.replicate, np.arange(96))
    assert np.allclose(table["param:mechanisms.affinity"], ens.sampled["mechanisms.affinity"])


def test_a_posterior_of_a_shipped_scenario_extends_it_from_anywhere(tmp_path):
    """Written outside the project, the posterior of a shipped scenario extends it by the
    ``alliance-sim:`` prefix (so it keeps the scenario's claims and key order, and its hash) rather
    than carrying the whole scenario."""
    from types import SimpleNamespace

    from sim.analysis.calibration import write_posterior_toml

    source = ROOT / "scenarios" / "back_to_back.toml"
    scenario = load_scenario(source)
    record = SimpleNamespace(
        path=Path("obs.toml"), observations=(1,), start=dt.date(2022, 2, 4), last_date=dt.date(2023, 2, 4)
    )
    cal = SimpleNamespace(
        scenario=scenario,
        source=source,
        record=record,
        moved=[],
        accepted=np.arange(10),
        acceptance=0.5,
        ess=10.0,
        ensemble=SimpleNamespace(sampled={}, n=20, seed=1),
        posterior=SimpleNamespace(sampled={}),
        method="rejection",
    )
    out = tmp_path / "posterior.toml"
    write_posterior_toml(cal, out)
    assert 'extends = "alliance-sim:scenarios/back_to_back.toml"' in out.read_text()
    post = load_scenario(out)
    assert post.claims == scenario.claims
    assert (
        post.model_copy(update={"title": "", "description": ""}).digest()
        == scenario.model_copy(update={"title": "", "description": ""}).digest()
    )


def test_posterior_toml_writes_every_kind_of_value(tmp_path):
    """Each kind of parameter path (actor, position, salience, tie, sphere, strategic value,
    dependence, a knot of a pressure schedule, mechanism, event hazard and effect, alliance rule)
    is written as a beta on its prior range with the accepted draws' mean, and the file loads."""
    from types import SimpleNamespace

    from sim.analysis.calibration import Moved, write_posterior_toml
    from sim.spec.parammap import slot_map
    from sim.spec.values import point_value

    project_dir = tmp_path / "proj"
    shutil.copytree(ROOT / "seeds", project_dir / "seeds")
    (project_dir / "scenarios").mkdir()
    shutil.copy(ROOT / "scenarios" / "back_to_back.toml", project_dir / "scenarios")
    source = project_dir / "scenarios" / "back_to_back.toml"
    scenario = load_scenario(source)
    paths = [
        "actors.China.capability",
        "positions.China.nato_expansion",
        "salience.Russia.taiwan",
        "ties.0.China.Russia",
        "spheres.Russia.Kazakhstan",
        "strategic_value.Uzbekistan",
        "dependence.China.Ukraine",
        "pressure.China.24",
        "mechanisms.affinity",
        "events.csto_in_kazakhstan.hazard",
        "events.csto_in_kazakhstan.effects.0.shift",
        "alliances.china_russia.theta_stay",
    ]
    known = slot_map(scenario)
    rng = np.random.default_rng(0)
    sampled, moved = {}, []
    for path in paths:
        slot = known[path]
        lo, hi = slot.value.support()
        x = lo + (hi - lo) * rng.beta(2.0, 6.0, 400)  # the low quarter of the range
        sampled[path] = x
        moved.append(
            Moved(path, 0.5, point_value(slot.value), 0.1, float(x.mean()), float(x.std()), lo, hi, ["obs-a"])
        )
    import datetime as dt

    record = SimpleNamespace(
        path=Path("obs.toml"), observations=(1, 2), start=dt.date(2022, 2, 4), last_date=dt.date(2026, 3, 6)
    )
    cal = SimpleNamespace(
        scenario=scenario,
        source=source,
        record=record,
        moved=moved,
        accepted=np.arange(400),
        acceptance=0.01,
        ess=400.0,
        ensemble=SimpleNamespace(sampled=sampled, n=40_000, seed=1),
        posterior=SimpleNamespace(sampled=sampled),
        method="rejection",
    )
    out = project_dir / "results" / "cal" / "posterior.toml"
    out.parent.mkdir(parents=True)
    write_posterior_toml(cal, out)
    assert 'extends = "../../scenarios/back_to_back.toml"' in out.read_text()
    post = slot_map(load_scenario(out))
    ties = [p for p in post if p.startswith("ties.") and p.endswith(".China.Russia")]
    assert len(ties) == 2  # the narrowed tie is appended and wins
    for path in paths:
        target = ties[-1] if path.startswith("ties.") else path
        value = post[target].value
        assert value.dist == "beta", path
        lo, hi = known[path].value.support()
        assert (value.low, value.high) == pytest.approx((lo, hi)), path
        mean = value.low + (value.high - value.low) * value.a / (value.a + value.b)
        assert mean == pytest.approx(sampled[path].mean(), rel=1e-4), path
        assert value.claim == "posterior given obs-a"
    # what was not moved keeps its prior; the other knot of the schedule too
    assert post["pressure.China.0"].value == known["pressure.China.0"].value
    assert post["actors.Russia.capability"].value == known["actors.Russia.capability"].value


def test_cli_score_writes_the_ranking_and_the_predictive_check(small_record, tmp_path, capsys):
    out = tmp_path / "scores"
    assert (
        cli.main(
            [
                "score",
                str(SMALL),
                str(SMALL),
                "--observations",
                str(small_record),
                "-n",
                "500",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "log BF vs best" in text and "history_small" in text
    table = pd.read_csv(out / "predictive.csv")
    assert list(table["id"]) == ["early", "late", "still"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Prior predictive check" in page and "<script" not in page.lower()


def test_from_observations_refuses_states_that_do_not_fit(small_record, tmp_path):
    out = tmp_path / "cal"
    calibrate(SMALL, small_record, replicates=1000, seed=8, out=out, min_accepted=10)
    with np.load(out / "states.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["ties"] = arrays["ties"][:, :2, :2]
    np.savez(out / "states.npz", **arrays)
    with pytest.raises(InputError, match="states.npz: .* bytes where calibration.json records"):
        project(out / "posterior.toml", steps=3)  # the checksum catches the edit first
    manifest = json.loads((out / "calibration.json").read_text())
    manifest["files"]["states.npz"] = file_record(out / "states.npz")  # as if written so
    (out / "calibration.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="states.npz: expected the states of the accepted replicates"):
        project(out / "posterior.toml", steps=3)
    with pytest.raises(InputError, match="needs states.npz and calibration.json beside it"):
        project(tmp_path, steps=3)
    with pytest.raises(InputError, match="--until: expected a date after the last observation"):
        import datetime as dt

        calibrate(SMALL, small_record, replicates=1000, seed=8, out=tmp_path / "c2", min_accepted=10)
        project(tmp_path / "c2", until=dt.date(2023, 1, 1))


def test_excluding_the_binding_observation(tmp_path):
    """--exclude leaves an observation out: without the impossible one the record is accepted;
    an unknown id is a one-line error naming the option."""
    impossible = 'kind = "tie_range"\nfrom = "A"\nto = "B"\nlow = 0.95\nhigh = 1.0\nwidth = 0.0\n'
    path = record_file(
        tmp_path, entry("fine", "2022-08-10", ACTIVE), entry("absurd", "2023-02-10", impossible)
    )
    cal = calibrate(SMALL, path, replicates=500, seed=1, exclude=["absurd"], min_accepted=50)
    assert [o.id for o in cal.record.observations] == ["fine"] and cal.acceptance > 0.5
    with pytest.raises(InputError, match=r"--exclude: unknown observation 'nope'"):
        calibrate(SMALL, path, replicates=500, seed=1, exclude=["nope"])
    with pytest.raises(InputError, match="expected at least one observation left"):
        calibrate(SMALL, path, replicates=500, seed=1, exclude=["fine", "absurd"])


def test_run_options_that_do_not_apply_to_the_view_from_today(tmp_path, capsys):
    code = cli.main(["run", str(SMALL), "--from-observations", "--point"])
    assert code == 2
    assert "--point does not apply with --from-observations" in capsys.readouterr().err
    assert cli.main(["run", str(SMALL), "--until", "2030-01-01"]) == 2


def test_calibrate_with_set_writes_the_posterior_whole_with_the_values(small_record, tmp_path, capsys):
    """`calibrate --set`: the prior has the value set, and the posterior scenario (written out
    whole, since no file holds that value) keeps it and says so."""
    out = tmp_path / "cal"
    argv = ["calibrate", str(SMALL), "--observations", str(small_record), "-n", "2000", "--seed", "3"]
    code = cli.main([*argv, "--min-accepted", "20", "--set", "mechanisms.noise=0.02", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    text = (out / "posterior.toml").read_text()
    assert "mechanisms.noise=0.02" in text and not any(
        line.startswith("extends") for line in text.splitlines()
    )
    post = load_scenario(out / "posterior.toml")
    assert post.mechanisms.noise == 0.02 and post.overrides is None
    manifest = json.loads((out / "calibration.json").read_text())
    assert (
        manifest["scenario"]["overrides"] == {"mechanisms.noise": 0.02}
        and "sources_sha256" in manifest["code"]
    )
