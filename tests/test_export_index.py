"""``alliance-sim export`` (a replicate table as CSV or Parquet, streamed by row groups) and
``alliance-sim index`` (one page linking every result folder)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.run.export import export_table
from sim.run.replicate_table import read_frame
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A small run stored in several row groups (chunks of 10 replicates)."""
    out = tmp_path_factory.mktemp("runs") / "sq"
    argv = ["run", str(ROOT / "scenarios" / "status_quo.toml"), "-n", "30", "-t", "4", "--chunk-size", "10"]
    assert main([*argv, "-j", "1", "--no-progress", "--out", str(out)]) == 0
    return out


def test_csv_export_holds_the_table_in_its_logical_types(run, capsys):
    assert (
        main(["export", str(run), "--columns", "replicate,*.fate,param:mechanisms.*", "--no-progress"]) == 0
    )
    assert "30 rows x" in capsys.readouterr().out
    got = pd.read_csv(run / "export.csv")
    want = read_frame(run / "replicates.parquet", list(got.columns))
    assert list(got.columns)[:2] == ["replicate", "param:mechanisms.affinity"]  # the table's order
    assert len(got) == 30 and got["china_russia.fate"].tolist() == want["china_russia.fate"].tolist()
    pd.testing.assert_frame_equal(
        got.select_dtypes("number"), want.select_dtypes("number"), check_dtype=False
    )
    assert main(["verify", str(run), "--no-replay"]) == 0  # the folder is as it was


def test_parquet_export_is_streamed_by_row_groups(run, tmp_path):
    groups = pq.ParquetFile(run / "replicates.parquet").metadata.num_row_groups
    seen: list[int] = []
    done = export_table(run, tmp_path / "all.parquet", fmt="parquet", progress=seen.append)
    assert len(seen) == groups and sum(seen) == 30 == done["rows"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "all.parquet"), read_frame(run / "replicates.parquet")
    )


def test_csv_to_standard_output(run, capsysbinary):
    assert main(["export", str(run), "--columns", "replicate", "--out", "-"]) == 0
    lines = capsysbinary.readouterr().out.decode().splitlines()
    assert lines[0] == '"replicate"' and lines[1:] == [str(i) for i in range(30)]


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--columns", "fate"], "--columns fate: no column of the replicate table matches; did you mean"),
        (["--out", "{run}/replicates.parquet"], "is the folder's own replicate table"),
        (["--parquet", "--out", "-"], "standard output takes CSV only"),
        (["--out", "{run}/manifest.json"], "manifest.json"),
    ],
)
def test_bad_exports_get_one_line(run, extra, words, capsys):
    assert main(["export", str(run), *[e.replace("{run}", str(run)) for e in extra]]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


def test_export_refuses_a_damaged_folder(run, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(run, bad, ignore=shutil.ignore_patterns("export.*"))
    table = bad / "replicates.parquet"
    data = bytearray(table.read_bytes())
    data[len(data) // 2] ^= 0xFF
    table.write_bytes(bytes(data))
    assert main(["export", str(bad)]) == 2
    assert "replicates.parquet" in capsys.readouterr().err
    assert not (bad / "export.csv").exists()


def test_index_links_every_result_folder(run, tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    shutil.copytree(run, results / "sq")
    broken = results / "half"
    shutil.copytree(run, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest.update(status="running", chunks={"total": 3, "done": {"0": {}}})
    (broken / "manifest.json").write_text(json.dumps(manifest))
    (results / "notes").mkdir()  # not a result folder: left out
    assert main(["index", str(results)]) == 0
    assert "index of 2 result folders" in capsys.readouterr().out
    page = (results / "index.html").read_text()
    assert "<a href='sq/report.html'>sq</a>" in page
    assert "interrupted (1 of 3 chunks)" in page and "Status quo" in page and "notes" not in page
    assert ": under these assumptions, the alliance" in page  # the report's opening answer, quoted
    assert main(["index", str(tmp_path / "none")]) == 2
