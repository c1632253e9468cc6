"""The streaming digest of a run: every quantity a report shows, read row group by row group, equal
to what the in-memory functions compute on the whole table; and the replicate table's encoding,
which must give back every value as it was."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.analysis import compare, events, outcomes, why
from sim.analysis.digest import SampleInfo, digest, fate_differences, sampled
from sim.analysis.streaming import (
    Moments,
    Nearest,
    OrderStatistics,
    key_values,
    sample_rows,
    sortable_keys,
    stream,
)
from sim.analysis.variance import variance_by_basis
from sim.present.text import format_fate_table
from sim.run import store
from sim.run.chunks import replicate_task, run_chunk
from sim.run.ensemble import run_ensemble
from sim.run.replicate_table import LOGICAL_TYPE, RowGroups, narrowable, plan_storage, widened
from sim.run.store import decode_table, load_results
from sim.spec.scenario import load_scenario
from sim.vocabulary import PARAM_PREFIX, fate_column
from tests.conftest import ROOT

STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"
ROWS_PER_GROUP = 1024  # small row groups, so that every aggregate is merged across several


def _run(out, scenario=STATUS_QUO, n=3000, seed=7, **kw):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(store, "ROW_GROUP_ROWS", ROWS_PER_GROUP)
        return run_ensemble(
            scenario, replicates=n, seed=seed, out=out, chunk_size=512, workers=1, progress=False, **kw
        )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 3,000-replicate status_quo run with attribution, in three row groups."""
    results = _run(tmp_path_factory.mktemp("digest") / "r")
    assert pq.ParquetFile(results.directory / "replicates.parquet").metadata.num_row_groups == 3
    return results


@pytest.fixture(scope="module")
def table(run):
    """The whole replicate table, in memory (what the report reads today)."""
    return run.replicates


@pytest.fixture(scope="module")
def d(run):
    """The digest of the run, with five typical replicates per group."""
    return digest(run, typical=5)


# --------------------------------------------------------------------------------------------
# The replicate table on disk
# --------------------------------------------------------------------------------------------


def _chunk_table(scenario, n, chunk, seed=7, **kw):
    """The replicate table of the whole run as the engine's chunks hold it (before any encoding)."""
    tables = [
        decode_table(
            run_chunk(
                replicate_task(scenario, c, c * chunk, min(chunk, n - c * chunk), seed, **kw)
            ).table_bytes
        )
        for c in range(-(-n // chunk))
    ]
    return pa.concat_tables(tables)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_value_reads_back_as_the_engine_made_it(tmp_path, dtype):
    """What the run's chunks computed, column by column and value by value, in the same dtypes
    (a float64 column stored as float32 comes back as float64), for a float32 and a float64 run."""
    scenario = load_scenario(STATUS_QUO).with_run(steps=24)
    results = _run(tmp_path / "r", scenario, n=1500, dtype=dtype)
    made = _chunk_table(scenario, 1500, 512, dtype=dtype, why=results.manifest["settings"]["why"])
    # what pandas gave for these arrays when the table was written without any narrowing
    plain = tmp_path / "plain.parquet"
    pq.write_table(made, plain)
    pd.testing.assert_frame_equal(
        load_results(tmp_path / "r").replicates, pd.read_parquet(plain), check_exact=True
    )
    schema = pq.read_schema(results.directory / "replicates.parquet")
    narrowed = widened(schema)
    if dtype == "float32":  # the final capabilities are float32 numbers kept in float64 columns
        assert any(c.startswith("capability:") for c in narrowed)
    else:  # a float64 run's capabilities are not float32 numbers: they stay float64
        assert not any(c.startswith("capability:") for c in narrowed)
    for c in narrowed:  # the round trip through float32 loses nothing
        x = made.column(c).to_numpy()
        assert made.schema.field(c).type == pa.float64()
        np.testing.assert_array_equal(x.astype(np.float32).astype(np.float64), x)
        assert schema.field(c).type == pa.float32()
        assert schema.field(c).metadata[LOGICAL_TYPE] == b"double"


def test_a_column_narrows_only_when_every_chunk_allows_it():
    exact = pa.table({"x": np.array([0.5, 0.25]), "y": np.array([1.0, 2.0])})
    inexact = pa.table({"x": np.array([0.1, 0.5]), "y": np.array([3.0, np.nan])})
    assert narrowable([0.5, np.nan, -2.0, np.inf]) and not narrowable([0.1])
    assert plan_storage([exact]).narrow == {"x", "y"}
    assert plan_storage([exact, inexact]).narrow == {"y"}
    # a float with few values in the first chunk gets a dictionary, one with many byte streams
    first = pa.table({"few": np.tile([0.25, 0.5], 500), "many": np.linspace(0, 1, 1000)})
    plan = plan_storage([first])
    assert "few" in plan.dictionary and "many" in plan.split
    assert plan_storage([first.schema.empty_table()]).split == ("few", "many")


def _stored_chunks(folder, scenario, n, chunk, **kw):
    """The chunks of a run, each stored in ``folder`` as a run's writer thread stores it."""
    out = []
    for c in range(-(-n // chunk)):
        data = run_chunk(replicate_task(scenario, c, c * chunk, min(chunk, n - c * chunk), 7, **kw))
        store.save_chunk(folder, data)
        out.append(data)
    return out


def _merged_after(folder, n_chunks, trajectories, into):
    """The files of a merge of ``folder``'s chunks after the last one (every chunk read from disk)."""
    shutil.copytree(folder, into)
    store.finalize(into, n_chunks, trajectories)
    return into


MERGED = ("replicates.parquet", "summary.npz", "trajectories.npy")


@pytest.mark.parametrize("order", ["in order", "shuffled"])
def test_chunks_merged_as_they_come_give_the_bytes_of_a_merge_after_the_last(tmp_path, monkeypatch, order):
    """Row groups are written while chunks still arrive (in any order, some read back from disk
    as a resumed run's are): the files are those of a merge after the run, byte for byte."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 256)
    scenario = load_scenario(STATUS_QUO).with_run(steps=6)
    chunks = _stored_chunks(tmp_path / "r", scenario, 1000, 100, trajectories=True)
    reference = _merged_after(tmp_path / "r", len(chunks), True, tmp_path / "after")
    merger = store.Merger(tmp_path / "r", len(chunks), True)
    arrival = list(range(len(chunks)))
    if order == "shuffled":
        arrival = [3, 1, 0, 2, 9, 5, 4, 8, 7, 6]
    merger.on_disk(arrival[:2])  # found on disk by a resume: read back, not handed over
    written = []
    for c in arrival[2:]:
        merger.add(c, chunks[c])
        written.append(merger.tmp.exists())
    assert not merger.dropped and any(written)  # row groups were written before the last chunk
    merger.finish()
    for name in MERGED:
        assert (tmp_path / "r" / name).read_bytes() == (reference / name).read_bytes(), name
    assert not (tmp_path / "r" / "chunks").exists() and not merger.tmp.exists()


def test_a_chunk_that_rules_out_a_narrowed_column_starts_the_merge_again(tmp_path, monkeypatch):
    """Row groups written with a column narrowed to float32 are dropped when a later chunk holds
    a value float32 cannot keep; the files are still those of a merge after the run."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 64)
    folder = tmp_path / "r"
    rng = np.random.default_rng(3)
    chunks = []
    for c in range(4):
        x = np.round(rng.normal(size=64), 2).astype(np.float32).astype(np.float64)
        if c == 3:
            x[5] = 0.1  # not a float32
        columns = {"replicate": np.arange(c * 64, (c + 1) * 64), "x": x, "y": rng.normal(size=64)}
        data = store.ChunkData(c, store.encode_table(columns), {"count": np.array([64])})
        store.save_chunk(folder, data)
        chunks.append(data)
    reference = _merged_after(folder, 4, False, tmp_path / "after")
    merger = store.Merger(folder, 4, False)
    for c in range(3):
        merger.add(c, chunks[c])
    assert merger.tmp.exists() and merger.opened_with == {"x"}  # written narrowed
    merger.add(3, chunks[3])
    assert merger.dropped and not merger.tmp.exists()
    merger.finish()
    assert (folder / "replicates.parquet").read_bytes() == (reference / "replicates.parquet").read_bytes()
    assert pq.read_schema(folder / "replicates.parquet").field("x").type == pa.float64()
    assert pq.read_table(folder / "replicates.parquet")["x"].to_numpy()[3 * 64 + 5] == 0.1


def test_a_failure_while_merging_early_leaves_the_merge_to_the_end(tmp_path, monkeypatch):
    """A row group that cannot be written during the run (a full disk, say) costs only the early
    start: the merge at the end writes the same files, and no temporary file is left."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 256)
    scenario = load_scenario(STATUS_QUO).with_run(steps=6)
    chunks = _stored_chunks(tmp_path / "r", scenario, 800, 100)
    reference = _merged_after(tmp_path / "r", len(chunks), False, tmp_path / "after")
    merger = store.Merger(tmp_path / "r", len(chunks), False)
    real = store.Merger._flush
    calls = []

    def full_disk(self):
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(self)

    monkeypatch.setattr(store.Merger, "_flush", full_disk)
    for c, data in enumerate(chunks):
        merger.add(c, data)
    assert merger.dropped and not merger.tmp.exists()
    merger.finish()
    for name in MERGED[:2]:
        assert (tmp_path / "r" / name).read_bytes() == (reference / name).read_bytes(), name
    assert [p.name for p in (tmp_path / "r").iterdir() if ".tmp-" in p.name] == []


def test_the_run_seals_the_bytes_it_wrote_and_returns_what_a_reader_loads(tmp_path, monkeypatch):
    """replicates.parquet is hashed as it is written, not read back: its record is the file's
    own checksum, and the results the run returns are those a reader loads (and checks)."""
    from sim.run import integrity
    from sim.run.integrity import file_record

    hashed = []
    real = integrity.sha256_file
    monkeypatch.setattr(integrity, "sha256_file", lambda path: hashed.append(Path(path).name) or real(path))
    results = _run(tmp_path / "r", n=1500)
    folder = tmp_path / "r"
    assert "replicates.parquet" not in hashed and "summary.npz" in hashed
    assert results.manifest["files"]["replicates.parquet"] == file_record(folder / "replicates.parquet")
    again = load_results(folder)
    assert again.manifest == results.manifest
    assert again.summary.keys() == results.summary.keys()
    for key, value in again.summary.items():
        assert value.dtype == results.summary[key].dtype
        np.testing.assert_array_equal(value, results.summary[key])


def test_a_recorded_checksum_is_used_only_for_a_file_of_its_size(tmp_path):
    from sim.run.integrity import file_record, seal_files

    (tmp_path / "a").write_bytes(b"alliance")
    sink = store.HashingFile(tmp_path / "b")
    sink.write(b"back to ")
    sink.write(memoryview(b"back"))
    sink.close()
    assert sink.tell() == 12 and sink.closed
    assert sink.record() == file_record(tmp_path / "b")
    stale = {"a": {"sha256": "0" * 64, "bytes": 3}, "b": sink.record()}
    assert seal_files(tmp_path, ["a", "b", "c"], stale) == {
        "a": file_record(tmp_path / "a"),  # another size: read and hashed
        "b": sink.record(),
    }


def test_the_table_is_compressed_with_dictionaries_and_byte_streams(run):
    meta = pq.ParquetFile(run.directory / "replicates.parquet").metadata.row_group(0)
    enc = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert enc["china_russia.fate"].has_dictionary_page
    assert enc["china_russia.end_step"].has_dictionary_page
    assert enc["bloc:China"].has_dictionary_page
    assert "BYTE_STREAM_SPLIT" in enc["param:mechanisms.noise"].encodings
    assert "DELTA_BINARY_PACKED" in enc["replicate"].encodings
    assert all(c.compression == "ZSTD" for c in enc.values())


# --------------------------------------------------------------------------------------------
# The digest against the in-memory functions
# --------------------------------------------------------------------------------------------


def test_the_digest_reads_row_groups_and_never_the_whole_table(run, monkeypatch):
    def whole(*a, **k):
        raise AssertionError("read the whole table")

    monkeypatch.setattr(store.Results, "replicates", property(whole))
    monkeypatch.setattr(pd, "read_parquet", whole)
    seen = []
    batches = RowGroups.batches

    def spy(self, columns):
        for start, batch in batches(self, columns):
            seen.append(start)
            yield start, batch

    monkeypatch.setattr(RowGroups, "batches", spy)
    found = digest(run, sample_size=500)
    assert found.passes == 2
    assert seen == [0, 1024, 2048] * 2
    # the sample for the given-data analyses was gathered in those passes
    table = found.variance_by_basis(run.focal, "holds", lambda path: "modelling assumption")
    assert len(seen) == 6 and found.sample.n == 500
    assert table["sampling"].iloc[0] == pytest.approx(table["noise"].iloc[0] * np.sqrt(1 - 500 / 3000))


def test_a_table_with_a_foreign_fate_is_refused_in_one_line(run, tmp_path):
    import shutil

    folder = tmp_path / "foreign"
    shutil.copytree(run.directory, folder)
    t = pq.read_table(folder / "replicates.parquet")
    fates = pa.array(["holds"] * (t.num_rows - 1) + ["eaten by bears"])
    t = t.set_column(t.schema.get_field_index("csto.fate"), "csto.fate", fates)
    pq.write_table(t, folder / "replicates.parquet")
    foreign = store.Results(folder, run.manifest, run.summary)  # the files' checksums no longer hold
    with pytest.raises(store.ResultsError, match="replicates.parquet: unknown fate 'eaten by bears'"):
        digest(foreign)


def test_fates_equal_the_terminal_summary(run, d, table):
    """P, interval and count of every fate of every alliance: the same as ``run`` prints."""
    for a in run.alliances:
        pd.testing.assert_frame_equal(d.fate_table(a, run.actors), outcomes.fate_table(table, a, run.actors))
        pd.testing.assert_frame_equal(d.fate_table(a), outcomes.fate_table(table, a))


def test_the_printed_summary_of_a_run_matches_the_digest(tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            str(STATUS_QUO),
            "-n",
            "1200",
            "--seed",
            "3",
            "--out",
            str(out),
        ]
        + ["--no-report", "--no-progress", "--no-why"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    results = load_results(out)
    found = digest(results)
    for a in results.alliances:
        text = format_fate_table(found.fate_table(a, results.actors), title=f"alliance {a}")
        assert text in done.stdout
    assert re.search(r"holds\s+0\.\d{3}\s+\[0\.\d{3}, 0\.\d{3}\]", done.stdout)


def test_who_stabs_whom_blocs_and_capabilities(run, d, table):
    members = outcomes.alliance_members(run.manifest["scenario"])
    for normalize in (False, True):
        pd.testing.assert_frame_equal(
            d.who_stabs_whom(run.actors, normalize),
            outcomes.who_stabs_whom(table, members, run.actors, normalize),
        )
    pd.testing.assert_frame_equal(
        d.same_bloc_probability(), outcomes.same_bloc_probability(table, run.actors)
    )
    np.testing.assert_array_equal(d.modal_blocs(), outcomes.modal_blocs(table, run.actors))
    pd.testing.assert_series_equal(
        d.mean_capability(), outcomes.mean_capability(table, run.actors), rtol=1e-13
    )


@pytest.mark.parametrize("fate", [None, "stab_in_the_back", "drift_apart"])
@pytest.mark.parametrize("conf_type", ["log-log", "plain"])
def test_survival_equals_kaplan_meier_of_the_whole_table(run, d, table, fate, conf_type):
    for a in run.alliances:
        got = d.survival(a, fate=fate, conf_type=conf_type)
        want = outcomes.alliance_survival(table, a, run.steps, fate=fate, conf_type=conf_type)
        for key in ("time", "at_risk", "events", "survival", "low", "high"):
            np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)
        assert (got.n, got.horizon, got.final) == (want.n, want.horizon, want.final)
        np.testing.assert_array_equal(got.median(), want.median())  # NaN when never below 1/2


def test_fates_given_events(run, d, table):
    for a in run.alliances:
        pd.testing.assert_frame_equal(d.fates_given_events(a), events.fates_given_events(table, a))


def test_quantiles_of_every_sampled_value_are_numpys(run, d, table):
    from sim.present.plots import trust_threshold

    for c in (c for c in table.columns if c.startswith(PARAM_PREFIX)):
        v = table[c].to_numpy(dtype=float)
        q = d.quantiles(c)
        assert (q[0.05], q[0.95]) == (np.quantile(v, 0.05), np.quantile(v, 0.95)), c
        assert list(q.values()) == np.quantile(v, [0.05, 0.5, 0.95]).tolist(), c
    for a in run.alliances:
        assert d.trust_threshold(a) == trust_threshold(run, a)


def test_blocs_and_fates_reading_note(run, d, table):
    for a in run.alliances:
        members = outcomes.alliance_members(run.manifest["scenario"])[a]
        ended = (table[fate_column(a)] != "holds").to_numpy()
        together = (table[[f"bloc:{m}" for m in members]].nunique(axis=1) == 1).to_numpy()
        note = d.blocs_and_fates(a)
        assert note.ended == ended.mean()
        assert note.together == together.mean()
        assert note.together_ended == together[ended].mean()
        assert note.at_top == np.mean(table[f"{a}.cohesion"].to_numpy(dtype=float) >= 0.995)


@pytest.mark.parametrize("window", [False, True])
def test_what_broke_it_groups_and_typical_replicates(run, d, table, window):
    for a in run.alliances:
        mine, theirs = d.why_groups(a, window), why.why_groups(table, a, run.alliances, window=window)
        assert theirs and [g.label for g in mine] == [g.label for g in theirs]
        for x, y in zip(mine, theirs, strict=True):
            assert (x.n, x.forces, x.fate, x.defector) == (y.n, y.forces, y.fate, y.defector)
            np.testing.assert_allclose(x.mean, y.mean, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(x.low, y.low, rtol=1e-12, atol=1e-14)
            net = y.parts.sum(axis=1)
            np.testing.assert_allclose(x.net_mean, net.mean(), rtol=1e-12, atol=1e-15)
            half = 1.959963984540054 * net.std(ddof=1) / np.sqrt(y.n) if y.n > 1 else 0.0
            np.testing.assert_allclose(x.net_half, half, rtol=1e-10, atol=1e-15)
            assert x.typical(5) == y.typical(5)
            assert why.why_sentence(x) == why.why_sentence(y)
        pd.testing.assert_frame_equal(why.why_frame(mine), why.why_frame(theirs), rtol=1e-10)
    with pytest.raises(ValueError, match="kept 5"):
        max(d.why_groups(run.alliances[0]), key=lambda g: g.n).typical(6)


def test_typical_replicates_replay_to_their_recorded_fates(run, d, table):
    from sim.run.replay import replay

    a = run.focal
    wanted = d.typical(a, 1)
    plays = replay(run, wanted)
    fates = table.set_index("replicate")[fate_column(a)]
    index = run.alliances.index(a)
    for r in wanted:
        assert outcomes.FATES[int(plays[r].fate[index])] == fates[r]


# --------------------------------------------------------------------------------------------
# Samples of rows
# --------------------------------------------------------------------------------------------


def test_a_sample_as_large_as_the_run_is_the_whole_table(run, d, table):
    assert d.sample.info == SampleInfo(3000, 3000, 0) and d.sample.info.whole
    pd.testing.assert_frame_equal(d.sample.replicates, table)
    basis = lambda path: "modelling assumption" if "mechanisms" in path else "public figure"  # noqa: E731
    y = (table[fate_column(run.focal)] == "holds").to_numpy()
    want = variance_by_basis(table, y, basis)
    got = d.variance_by_basis(run.focal, "holds", basis)
    pd.testing.assert_frame_equal(got.drop(columns="sampling"), want)
    assert (got["sampling"] == 0).all()


def test_a_smaller_sample_holds_the_chosen_rows(run, table):
    s = sampled(run, 700, seed=4)
    assert s.n == 700 and s.info.describe().startswith("a uniform sample of 700 of the 3,000")
    pd.testing.assert_frame_equal(s.replicates, table.iloc[s.rows].reset_index(drop=True))
    assert s.actors == run.actors and s.steps == run.steps  # everything else is the run's


def test_given_data_and_discovery_run_on_a_sample_as_on_the_run(run):
    """Delta indices and PRIM boxes of a sample as large as the run are those of the run; a
    smaller sample reports its own size."""
    from sim.analysis.discovery import discover
    from sim.analysis.given_data import given_data

    whole = sampled(run, 10**9)
    a, b = given_data(run, "delta"), given_data(whole, "delta")
    pd.testing.assert_frame_equal(a.indices, b.indices)
    pd.testing.assert_frame_equal(a.over_time, b.over_time)
    mine, theirs = discover(whole, "stab_in_the_back"), discover(run, "stab_in_the_back")
    assert [b.limits.to_dict() for b in mine.boxes] == [b.limits.to_dict() for b in theirs.boxes]
    assert given_data(sampled(run, 800, seed=1), "pawn").settings["replicates"] == 800


def test_sample_rows_is_seeded_uniform_and_nested():
    a = sample_rows(10_000, 1000, seed=1)
    assert len(a) == 1000 and len(np.unique(a)) == 1000 and np.all(np.diff(a) > 0)
    np.testing.assert_array_equal(a, sample_rows(10_000, 1000, seed=1))
    assert not np.array_equal(a, sample_rows(10_000, 1000, seed=2))
    # a row's key depends on the seed and the row only: a larger run's sample, restricted to the
    # smaller run's rows, lies within the smaller run's sample
    big = sample_rows(30_000, 1000, seed=1)
    assert set(big[big < 10_000]) <= set(a)
    # every row equally likely: inclusion counts over 200 seeds are binomial(200, 0.1)
    hits = np.bincount(np.concatenate([sample_rows(2000, 200, seed=s) for s in range(200)]), minlength=2000)
    assert abs(hits.mean() - 20) < 1e-9 and 2.5 < hits.std() < 5.5  # sd sqrt(200 * 0.1 * 0.9) = 4.2


def test_the_noise_a_sample_adds_is_what_different_samples_show(run, table):
    """Shares estimated on samples of 1,000 of the 3,000 rows spread, from seed to seed, about as
    :meth:`SampleInfo.added_noise` says (two standard deviations)."""
    basis = lambda path: "modelling assumption" if "mechanisms" in path else "public figure"  # noqa: E731
    a = run.focal
    shares, predicted = [], []
    for seed in range(12):
        s = sampled(run, 1000, seed=seed)
        frame = s.read([fate_column(a), *[c for c in table.columns if c.startswith(PARAM_PREFIX)]])
        t = variance_by_basis(frame, (frame[fate_column(a)] == "holds").to_numpy(), basis, permutations=10)
        shares.append(t.set_index("basis")["share"])
        predicted.append(s.info.added_noise(t.set_index("basis")["noise"]))
    spread = 2 * pd.concat(shares, axis=1).std(axis=1)
    expected = pd.concat(predicted, axis=1).mean(axis=1)
    ratio = (spread / expected).drop("interactions and chance")
    assert ((ratio > 0.4) & (ratio < 2.5)).all(), ratio


# --------------------------------------------------------------------------------------------
# Two runs, paired by replicate
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("pair")
    return [
        _run(base / name, ROOT / "scenarios" / f"{scenario}.toml", n=1500, seed=seed, why=False)
        for name, scenario, seed in (
            ("a", "back_to_back", 7),
            ("b", "stab_in_the_back", 7),
            ("c", "stab_in_the_back", 8),
        )
    ]


def test_paired_differences_equal_the_in_memory_comparison(pair):
    a, b, c = pair
    for x, y in ((a, b), (b, a), (a, c), (b, b)):
        got, want = fate_differences(x, y), compare.fate_differences(x, y)
        pd.testing.assert_frame_equal(got, want, rtol=1e-12)
    assert fate_differences(a, b)["paired_width"].notna().all()
    assert fate_differences(a, c)["paired_width"].isna().all()  # another seed: unpaired only


# --------------------------------------------------------------------------------------------
# The streaming pieces
# --------------------------------------------------------------------------------------------


class _Columns:
    """A table in memory, served in row groups of ``size`` rows (for the aggregates alone)."""

    def __init__(self, columns, size):
        self.columns, self.size = columns, size

    def batches(self, names):
        n = len(next(iter(self.columns.values())))
        for start in range(0, n, self.size):
            yield start, {c: self.columns[c][start : start + self.size] for c in names}


def test_sortable_keys_order_floats_and_invert():
    rng = np.random.default_rng(0)
    for kind in (np.float32, np.float64):
        x = np.concatenate([rng.normal(size=500), [0.0, -0.0, np.inf, -np.inf, 1e-40, -1e-40]]).astype(kind)
        keys = sortable_keys(x)
        np.testing.assert_array_equal(key_values(keys), x)
        assert np.all(np.diff(x[np.argsort(keys, kind="stable")]) >= 0)


@pytest.mark.parametrize(
    "options",
    [
        {},  # 8 first bits: every table here fits the cap
        {"cap": 1000},  # 16 first bits for the largest table, 8 for the others
        {"first_bits": 16},
        {"first_bits": 4, "next_bits": 4, "cap": 10},
        {"first_bits": 3, "next_bits": 3, "cap": 0},
    ],
)
def test_order_statistics_equal_numpy_whatever_the_passes(options):
    """Exact quantiles whether the first pass narrows the search a lot (16 bits) or little, and
    whether later passes keep values or count them by their next bits."""
    rng = np.random.default_rng(5)
    qs = [0.0, 0.05, 0.3333, 0.5, 0.95, 1.0]
    for n in (1, 2, 5, 101, 4099):
        cols = {
            "uniform32": rng.uniform(0.1, 0.5, n).astype(np.float32),
            "normal64": rng.normal(size=n),
            "ties32": rng.integers(-2, 3, n).astype(np.float32),
            "constant": np.full(n, 0.25, dtype=np.float32),
            "nan": np.where(np.arange(n) == n // 2, np.nan, 1.0),
        }
        agg = OrderStatistics(list(cols), qs, n, **options)
        stream(_Columns(cols, 333), [agg], max_passes=500)
        for name, v in cols.items():
            np.testing.assert_array_equal(
                agg.quantiles(name), np.quantile(v.astype(np.float64), qs), err_msg=name
            )


def test_moments_merge_like_one_pass():
    rng = np.random.default_rng(2)
    x = rng.normal(3, 2, size=(1000, 3))
    m = Moments(3)
    for part in np.array_split(x, 7):
        m.add(part)
    assert m.n == 1000
    np.testing.assert_allclose(m.mean, x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(m.std(), x.std(axis=0, ddof=1), rtol=1e-12)
    assert np.isnan(Moments(2).std()).all()


def test_nearest_keeps_the_k_smallest_with_ties_to_the_earlier_row():
    near = Nearest(3)
    near.add(np.array([0.5, 0.1, 0.3]), np.array([0, 1, 2]), np.array([10, 11, 12]))
    near.add(np.array([0.1, 0.05, 0.9]), np.array([3, 4, 5]), np.array([13, 14, 15]))
    assert near.ids.tolist() == [14, 11, 13]
