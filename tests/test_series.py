"""Quantitative series as observations (sim/spec/series.py): a `tie_series` entry reads a CSV file
through the scenario's measurement model `value = a + b * tie + error`; a and b are parameters like
any other (drawn, shown, calibrated); a bad file is one line naming the file, the line, the column
and what was expected."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from sim import cli, load_scenario
from sim.analysis import likelihood
from sim.analysis.calibration import calibrate, simulate
from sim.spec.observations import ObservationError, load_record, read_observations
from sim.spec.parammap import slot_map

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "tests" / "data" / "two_params.toml"
GAUGE = '\n[measurements.gauge]\na = {dist = "uniform", low = -1.0, high = 1.0}\nb = 2.0\n'
ENTRY = (
    'start = 2022-02-04\nunit = "month"\n[[observations]]\nid = "gauge"\nkind = "tie_series"\n'
    'file = "{file}"\nmeasurement = "{measurement}"\nbasis = "a series of the tie"\n'
    '[observations.source]\noutlet = "synthetic"\npublished = 2022-02-04\n'
    'url = "https://example.org/g"\nparaphrase = "a series simulated for the tests, not a report"\n'
)
GOOD = "date,from,to,value,sd\n2022-06-04,A,B,0.3,0.1\n2023-01-10,B,A,-0.2,0.05\n"


@pytest.fixture
def scenario_path(tmp_path):
    path = tmp_path / "gauged.toml"
    path.write_text(TWO.read_text() + GAUGE)
    return path


def files(tmp_path: Path, csv: str, measurement="gauge", name="series.csv") -> Path:
    (tmp_path / name).write_text(csv)
    obs = tmp_path / "obs.toml"
    obs.write_text(ENTRY.format(file=name, measurement=measurement))
    return obs


def test_rows_become_observations_read_at_their_steps(tmp_path, scenario_path):
    scenario = load_scenario(scenario_path)
    record = load_record(files(tmp_path, GOOD), scenario)
    assert [o.id for o in record.observations] == ["gauge.2", "gauge.3"]
    assert record.steps == (4, 11)
    first = record.observations[0]
    assert (first.from_, first.to, first.value, first.sd, first.line) == ("A", "B", 0.3, 0.1, 2)
    assert first.describe() == "A->B read 0.3 +- 0.1 (gauge)"


def test_excluding_the_series_leaves_out_every_row(tmp_path, scenario_path):
    scenario = load_scenario(scenario_path)
    obs = files(tmp_path, GOOD)
    text = obs.read_text() + (
        '[[observations]]\nid = "early"\ndate = 2022-03-10\nkind = "tie_sign"\nfrom = "A"\nto = "B"\n'
        'sign = "positive"\nbasis = "b"\n[observations.source]\noutlet = "x"\npublished = 2022-03-10\n'
        'url = "https://example.org/e"\nparaphrase = "the two were said to be on good terms then"\n'
    )
    obs.write_text(text)
    record = load_record(obs, scenario)
    assert [o.id for o in record.without(["gauge"]).observations] == ["early"]
    assert [o.id for o in record.without(["gauge.3"]).observations] == ["gauge.2", "early"]


def test_measurement_values_are_parameters_shown_and_drawn(scenario_path, capsys):
    """a and b are slots of the parameter map (last in the walk, so no other draw moves), drawn
    per replicate when uncertain, and shown by `show`."""
    scenario = load_scenario(scenario_path)
    slots = slot_map(scenario)
    assert list(slots)[-2:] == ["measurements.gauge.a", "measurements.gauge.b"]
    assert slots["measurements.gauge.a"].uncertain and not slots["measurements.gauge.b"].uncertain
    plain = load_scenario(TWO)
    a = simulate(plain, _tie_record(plain), replicates=64, seed=1, keep_states=False)
    b = simulate(scenario, _tie_record(scenario), replicates=64, seed=1, keep_states=False)
    assert np.array_equal(a.sampled["mechanisms.affinity"], b.sampled["mechanisms.affinity"])
    assert np.ptp(b.sampled["measurements.gauge.a"]) > 0
    assert cli.main(["show", str(scenario_path)]) == 0
    assert "measurements.gauge.a" in capsys.readouterr().out


def _tie_record(scenario):
    from sim.analysis.sbc import tie_record

    return tie_record([("A", "B", 5)])


def test_the_collector_reads_a_plus_b_tie_and_the_likelihood_is_the_normal_density(tmp_path, scenario_path):
    scenario = load_scenario(scenario_path)
    record = load_record(files(tmp_path, GOOD), scenario)
    ens = simulate(scenario, record, replicates=200, seed=3, keep_states=False)
    ties = simulate(scenario, _range_record(record), replicates=200, seed=3, keep_states=False)
    a = ens.sampled["measurements.gauge.a"]
    assert np.allclose(ens.values[:, 0], a + 2.0 * ties.values[:, 0], atol=1e-6)
    lik = likelihood.likelihoods(record.observations, ens.values)
    assert np.allclose(lik[:, 0], norm.pdf(0.3, loc=ens.values[:, 0], scale=0.1))
    assert likelihood.log_sup(record.observations)[1] == pytest.approx(
        -math.log(0.05 * math.sqrt(2 * math.pi))
    )
    assert (likelihood.relative(record.observations, ens.values) <= 1.0).all()


def _range_record(record):
    """The same steps, reading the raw ties A->B and B->A."""
    from sim.analysis.sbc import tie_record

    return tie_record([("A", "B", record.steps[0]), ("B", "A", record.steps[1])])


def test_a_series_calibrates_its_measurement_model(tmp_path, scenario_path):
    """Readings 1.0 above what a tie near its start would give move the level a up."""
    rows = "".join(f"2022-{m:02d}-04,A,B,{1.6 - 0.05 * m},0.05\n" for m in range(3, 10))
    cal = calibrate(
        scenario_path,
        files(tmp_path, "date,from,to,value,sd\n" + rows),
        replicates=20_000,
        seed=1,
        min_accepted=50,
    )
    a = cal.posterior.sampled["measurements.gauge.a"]
    assert a.mean() > 0.3 and a.std() < 0.5 / math.sqrt(3)


H = "date,from,to,value,sd\n"
COLUMNS = "series.csv:1: expected the columns date, from, to, value, sd (any order), "
BAD = [
    ("", "series.csv:1: expected a header line 'date,from,to,value,sd', got an empty file"),
    ("date,from,to,value\n2022-06-04,A,B,0.3\n", COLUMNS + "missing 'sd'"),
    ("date,from,to,value,sd,note\n", COLUMNS + "got 'note'"),
    (H, "series.csv:1: expected at least one reading after the header, got none"),
    (
        H + "2022-13-04,A,B,0.3,0.1\n",
        "series.csv:2: date: expected a date such as 2023-02-04, got '2022-13-04'",
    ),
    (H + "2021-06-04,A,B,0.3,0.1\n", "series.csv:2: date: expected a date on or after the start 2022-02-04"),
    (H + "2022-06-04,A,B,high,0.1\n", "series.csv:2: value: expected a number, got 'high'"),
    (H + "2022-06-04,A,B,nan,0.1\n", "series.csv:2: value: expected a finite number, got 'nan'"),
    (H + "2022-06-04,A,B,0.3,-0.1\n", "series.csv:2: sd: expected a number > 0, got -0.1"),
    (H + "2022-06-04,A,B,0.3\n", "series.csv:2: expected 5 fields (date, from, to, value, sd), got 4"),
    (H + "2022-06-04,A,A,0.3,0.1\n", "series.csv:2: to: expected two different actors, got 'A' twice"),
    (
        H + "2022-06-04,A,B,0.3,0.1\n2022-07-04,A,Chna,0.3,0.1\n",
        "series.csv:3: to: unknown actor 'Chna'; expected one of 'A', 'B'",
    ),
    (H + "2030-06-04,A,B,0.3,0.1\n", "series.csv:2: date: expected a date before the horizon 2024-02-04"),
]


@pytest.mark.parametrize(("csv", "message"), BAD, ids=[m.split(": ", 1)[1][:40] for _, m in BAD])
def test_a_bad_csv_file_is_one_line_naming_file_line_and_column(
    tmp_path, scenario_path, capsys, csv, message
):
    obs = files(tmp_path, csv)
    with pytest.raises(ObservationError) as info:
        load_record(obs, load_scenario(scenario_path))
    assert str(info.value).startswith(str(tmp_path / message.split(":")[0]) + ":" + message.split(":", 1)[1])
    code = cli.main(
        ["calibrate", str(scenario_path), "--observations", str(obs), "-n", "50", "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message.split(": ", 1)[1] in err


def test_a_missing_file_or_measurement_names_the_observations_entry(tmp_path, scenario_path):
    obs = files(tmp_path, GOOD)
    obs.write_text(obs.read_text().replace('file = "series.csv"', 'file = "nowhere.csv"'))
    with pytest.raises(
        ObservationError, match=r"obs.toml:6: observations.0.file: cannot read 'nowhere.csv': no such file"
    ):
        read_observations(obs)
    obs = files(tmp_path, GOOD, measurement="tone")
    with pytest.raises(
        ObservationError,
        match=r"obs.toml: measurement: unknown measurement 'tone' \(series gauge\); expected a "
        r"\[measurements.NAME\] table of the scenario \(it has 'gauge'\)",
    ):
        load_record(obs, load_scenario(scenario_path))


def test_a_series_entry_takes_its_dates_from_the_rows(tmp_path):
    obs = files(tmp_path, GOOD)
    obs.write_text(obs.read_text().replace('kind = "tie_series"', 'kind = "tie_series"\ndate = 2022-03-04'))
    with pytest.raises(ObservationError, match="a 'tie_series' observation takes no 'date'"):
        read_observations(obs)
    obs.write_text(obs.read_text().replace("date = 2022-03-04", 'from = "A"'))
    with pytest.raises(ObservationError, match="a 'tie_series' observation takes no 'from'"):
        read_observations(obs)


def test_the_shipped_synthetic_example_loads():
    scenario = load_scenario(ROOT / "seeds" / "synthetic_tone.toml")
    record = load_record(ROOT / "seeds" / "synthetic_tone_observations.toml", scenario)
    assert len(record) == 30 and all(o.kind == "tie_series" for o in record.observations)
    assert "synthetic" in scenario.title.lower() and "synthetic" in scenario.description.lower()
    assert all(o.source.outlet == "synthetic" for o in record.observations)
