"""One page of every kind, made through the command line with small runs and opened in headless
Chromium at 1280 px: each opens with its answer box saying "not a forecast" and a glossary, does
not scroll sideways, shows every figure loaded and never wider than drawn, loads no script and
asks nothing of the network, and names its columns in words.

The pages: run, compare, sweep, sensitivity (Sobol, and delta from a finished run), levers,
optimize, score, discovery, calibration (by rejection, and by sequential Monte Carlo on a small
synthetic record), the view from today (the full report of the continued run and its own page),
and the backtest.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from sim import load_scenario
from sim.analysis.synthetic import write_record
from sim.cli import main
from tests import test_browser as tb
from tests.conftest import ROOT

browser = tb.browser  # the headless-Chromium fixture

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        tb.CHROMIUM is None,
        reason="chromium not installed (Debian: apt-get install chromium); the page test needs it",
    ),
]

OBSERVATIONS = str(ROOT / "seeds" / "observations.toml")
STATUS_QUO = str(ROOT / "scenarios" / "status_quo.toml")
POLICY = str(ROOT / "scenarios" / "policy.toml")


def _run(*args: str) -> None:
    assert main([*args]) == 0, args


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    """Every kind of page, each from a small run through the command a user types."""
    out = tmp_path_factory.mktemp("pages")
    quiet = ["--no-progress"]
    _run("run", STATUS_QUO, "-n", "300", "-t", "36", "-j", "1", "--out", str(out / "run"), *quiet)
    _run(
        "compare", "back_to_back", "stab_in_the_back", "-n", "200", "-t", "24", "-j", "1",
        "--out", str(out / "compare"), *quiet,
    )  # fmt: skip
    _run(
        "sweep", "stab_in_the_back", "mechanisms.competition", "--values", "0,0.05,0.1", "-n", "100",
        "-t", "24", "-j", "1", "--out", str(out / "sweep"), *quiet,
    )  # fmt: skip
    _run(
        "sensitivity", STATUS_QUO, "--samples", "8", "-R", "2", "-t", "48", "--include", "mechanisms.*",
        "-j", "1", "--out", str(out / "sobol"), *quiet,
    )  # fmt: skip
    _run("sensitivity", str(out / "run"), "--method", "delta", "--out", str(out / "delta"))
    _run(
        "levers", POLICY, "--owner", "NATO", "--policies", "6", "--worlds", "12", "-R", "2", "-t", "24",
        "-j", "1", "--out", str(out / "levers"), *quiet,
    )  # fmt: skip
    _run(
        "optimize", POLICY, "--owner", "NATO", "--evaluations", "30", "--population", "10", "--worlds",
        "6", "-R", "2", "-t", "24", "-j", "1", "--out", str(out / "optimize"), *quiet,
    )  # fmt: skip
    _run("discover", str(out / "run"), "--out", str(out / "discover"))
    _run(
        "score", STATUS_QUO, str(ROOT / "scenarios" / "back_to_back.toml"), "--observations", OBSERVATIONS,
        "-n", "400", "--out", str(out / "score"), *quiet,
    )  # fmt: skip
    _run(
        "calibrate", STATUS_QUO, "--observations", OBSERVATIONS, "-n", "3000", "--min-accepted", "10",
        "--out", str(out / "cal"), *quiet,
    )  # fmt: skip
    _run(
        "run",
        str(out / "cal" / "posterior.toml"),
        "--from-observations",
        "-t",
        "12",
        "--out",
        str(out / "proj"),
    )
    two = ROOT / "tests" / "data" / "two_params.toml"
    record = out / "two_record.toml"
    dates = (dt.date(2022, 6, 4), dt.date(2022, 12, 4), dt.date(2023, 6, 4), dt.date(2024, 1, 4))
    write_record(record, load_scenario(two), seed=5, history="any", pairs=(("A", "B"),), dates=dates)
    _run(
        "calibrate", str(two), "--observations", str(record), "-n", "200", "--method", "smc", "--particles",
        "64", "--min-accepted", "20", "--out", str(out / "smc"), *quiet,
    )  # fmt: skip
    _run(
        "backtest", str(two), "--observations", str(record), "--until", "2022-12-31", "-n", "3000",
        "--method", "rejection", "--out", str(out / "backtest"), *quiet,
    )  # fmt: skip
    return {
        "run": out / "run" / "report.html",
        "compare": out / "compare" / "report.html",
        "sweep": out / "sweep" / "report.html",
        "sobol": out / "sobol" / "report.html",
        "delta": out / "delta" / "report.html",
        "levers": out / "levers" / "report.html",
        "optimize": out / "optimize" / "report.html",
        "discovery": out / "discover" / "discovery_stab_in_the_back.html",
        "score": out / "score" / "report.html",
        "calibration": out / "cal" / "report.html",
        "projection": out / "proj" / "report.html",
        "view from today": out / "proj" / "today.html",
        "calibration by smc": out / "smc" / "report.html",
        "backtest": out / "backtest" / "report.html",
    }


CHECKS = """(() => {
  const imgs = Array.from(document.images);
  const answer = document.querySelector('#answer');
  return {
    answer: answer ? answer.innerText : '',
    answerTop: answer ? answer.getBoundingClientRect().top : -1,
    glossary: !!document.querySelector('#glossary'),
    glossaryAfterAnswer: !!(answer && document.querySelector('#glossary') &&
      (answer.compareDocumentPosition(document.querySelector('#glossary')) & 4)),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    stretched: imgs.filter(i => i.getBoundingClientRect().width > i.naturalWidth + 0.5)
      .map(i => i.alt + ': ' + i.getBoundingClientRect().width + ' > ' + i.naturalWidth),
    unlinked: imgs.filter(i => !(i.closest('figure') && i.closest('figure').querySelector('a[href$=".png"]')))
      .map(i => i.alt),
    scripts: document.scripts.length,
    network: Array.from(document.querySelectorAll('[src],[href]'))
      .map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => /^[a-z]+:/i.test(u) && !u.startsWith('data:')),
    title: document.querySelector('h1') ? document.querySelector('h1').innerText : '',
    text: document.body.innerText,
  };
})()"""

RAW_NAMES = (
    "S1_conf", "ST_conf", "mu_star", "p_record", "log_se", "log_bf_se", "ungroundeds",
    "p_happened", "mc_se", "loglik_var",
)  # fmt: skip


def test_every_kind_of_page_answers_first_and_fits_1280_px(browser, pages):
    """Each page: the answer box first with "not a forecast", then the glossary; no sideways
    scroll at 1280 px; every image loaded, linked to its PNG file and not shown wider than its
    natural width; no script, nothing fetched; the title said once; no raw column names."""
    browser.call("Page.enable")
    browser.call(
        "Emulation.setDeviceMetricsOverride", width=1280, height=1000, deviceScaleFactor=1, mobile=False
    )
    shots = os.environ.get("ALLIANCE_PAGE_SCREENSHOTS")
    problems = {}
    for kind, page in pages.items():
        assert page.is_file(), kind
        browser.call("Page.navigate", url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        c = browser.call("Runtime.evaluate", expression=CHECKS, returnByValue=True)["result"]["value"]
        found = []
        if "not a forecast" not in c["answer"]:
            found.append("no answer box saying 'not a forecast'")
        if not 0 <= c["answerTop"] < 400:
            found.append(f"the answer is not at the top ({c['answerTop']})")
        if not (c["glossary"] and c["glossaryAfterAnswer"]):
            found.append("no glossary after the answer")
        if c["scrollWidth"] > c["innerWidth"]:
            found.append(f"scrolls sideways: {c['scrollWidth']} > {c['innerWidth']}")
        if c["broken"] or c["stretched"] or c["unlinked"]:
            found.append(
                f"images: broken {c['broken']}, stretched {c['stretched']}, unlinked {c['unlinked']}"
            )
        if c["scripts"] or c["network"]:
            found.append(f"scripts {c['scripts']}, network {c['network']}")
        words = c["title"].split(":")
        if len(words) > 2 and words[0].strip() == words[1].strip():
            found.append(f"doubled title {c['title']!r}")
        raw = [name for name in RAW_NAMES if name in c["text"]]
        if raw:
            found.append(f"raw names {raw}")
        if found:
            problems[kind] = found
        if shots:
            png = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
            Path(shots).mkdir(parents=True, exist_ok=True)
            (Path(shots) / f"{kind}.png").write_bytes(base64.b64decode(png))
    assert problems == {}
    # figures are where the pages expect them: every kind but the score and backtest pages has one
    assert all(
        (p.parent / f"{p.stem}_figures").is_dir() for k, p in pages.items() if k not in ("score", "backtest")
    )


def test_compare_writes_a_folder_named_after_the_pair_and_keeps_it(tmp_path, capsys, monkeypatch):
    """`compare A B` writes to results/A-vs-B; run again with the same settings it reuses the
    runs; with other settings it refuses to replace the comparison without --force."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scenarios").mkdir()
    for name in ("back_to_back", "stab_in_the_back"):
        shutil.copy(ROOT / "scenarios" / f"{name}.toml", tmp_path / "scenarios" / f"{name}.toml")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")

    def compare(n: int, *more: str) -> int:
        return main(["compare", "back_to_back", "stab_in_the_back", "-n", str(n), "-t", "6", "-j", "1",
                     "--no-progress", *more])  # fmt: skip

    assert compare(60) == 0
    folder = tmp_path / "results" / "back_to_back-vs-stab_in_the_back"
    assert (folder / "report.html").is_file() and (folder / "back_to_back" / "manifest.json").is_file()
    capsys.readouterr()
    assert compare(60) == 0
    assert "reusing finished results" in capsys.readouterr().out
    assert compare(80) == 2
    assert "--force" in capsys.readouterr().err
    assert compare(80, "--force") == 0
