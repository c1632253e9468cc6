"""The app's ensemble view (sim.present.ensemble_view): common random numbers, figures that follow
the sliders, and the scenario file it writes."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

solara = pytest.importorskip("solara")
v = pytest.importorskip("ipyvuetify")

from sim.cli import main  # noqa: E402
from sim.present import ensemble_view as ev  # noqa: E402
from sim.spec.scenario import load_scenario  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def test_settings_share_their_random_numbers():
    a = ev.simulate(ev.Setting(), 200, seed=3, steps=40)
    again = ev.simulate(ev.Setting(), 200, seed=3, steps=40)
    assert a.table.equals(again.table)
    off = ev.simulate(ev.Setting().with_multiplier("competition", 0.0), 200, seed=3, steps=40)
    other_seed = ev.simulate(ev.Setting(), 200, seed=4, steps=40)
    col = "china_russia.end_step"
    assert not a.table[col].equals(off.table[col])
    # common random numbers: a changed setting moves fewer replicates than a changed seed
    assert (a.table[col] != off.table[col]).sum() < (a.table[col] != other_seed.table[col]).sum()
    assert any(c.startswith("why:china_russia.") for c in a.table.columns)


def test_written_scenario_is_accepted_by_run(capsys):
    setting = ev.Setting("stab_in_the_back").with_multiplier("threat", 0.5)
    setting = ev.Setting(setting.scenario, setting.multipliers, 1.5)
    folder = ROOT / "results" / "test-ensemble-view"
    try:
        path = ev.write_scenario(setting, folder / "b.toml")
        loaded = load_scenario(path)
        built = ev.build(setting)
        assert loaded.mechanisms.model_dump() == built.mechanisms.model_dump()
        assert loaded.model_dump()["pressure"] == built.model_dump()["pressure"]
        assert (
            main(
                [
                    "run",
                    str(path),
                    "-n",
                    "20",
                    "-t",
                    "5",
                    "--no-report",
                    "--no-progress",
                    "--out",
                    str(folder / "run"),
                    "-j",
                    "1",
                ]
            )
            == 0
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(rc, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the ensemble view")


def test_slider_change_updates_the_figures():
    """Moving a slider of setting B re-runs the ensembles and replaces the three figures."""
    import ipywidgets

    _, rc = solara.render(ev.EnsembleView(replicates=100, debounce=0.0), handle_error=False)

    def status():
        return [
            str(w.children[0])
            for w in rc.find(v.Html).widgets
            if w.children and "updated in" in str(w.children[0])
        ]

    def figures():
        return [w.value for w in rc.find(ipywidgets.Image).widgets]

    _wait_for(rc, lambda: status() and len(figures()) == 3)
    before = figures()
    sliders = [s for s in rc.find(v.Slider).widgets if s.label == "competition × 1.0"]
    assert len(sliders) == 2  # one per setting, each showing its value
    assert any(s.label == "replicates 100" for s in rc.find(v.Slider).widgets)
    sliders[1].v_model = 0.0
    _wait_for(rc, lambda: len(figures()) == 3 and figures() != before)
    assert "competition × 0.0" in {s.label for s in rc.find(v.Slider).widgets}
    after = figures()
    assert after[0] != before[0] and after[2] != before[2]  # the fate bars and the why bars moved


# --------------------------------------------------------------------------------------------
# The served app in headless Chromium (fixtures shared with tests/test_app.py)
# --------------------------------------------------------------------------------------------

from tests import test_app as ta  # noqa: E402
from tests import test_browser as tb  # noqa: E402

browser, served_app, asset_folder, cdn, _poll = tb.browser, ta.served_app, ta.asset_folder, ta.cdn, ta._poll

OPEN_ENSEMBLES = """(() => {
  const label = Array.from(document.querySelectorAll('label'))
    .find(e => e.innerText.includes('ensemble view'));
  if (!label) return false;
  label.click();
  return true;
})()"""

ENSEMBLE_FACTS = """(() => {
  const spans = Array.from(document.querySelectorAll('span, div'));
  const s = spans.find(e => /updated in [0-9.]+ s$/.test(e.innerText.trim()) && e.children.length === 0);
  const thumbs = Array.from(document.querySelectorAll('.v-slider'))
    .filter(e => ((e.querySelector('label') || {}).innerText || '').startsWith('competition ×'))
    .map(e => e.querySelector('[role=slider]').getAttribute('aria-valuenow'));
  const l = spans.find(e => /^A = .*; B = /.test(e.innerText.trim()) && e.children.length === 0);
  return {status: s ? s.innerText.trim() : '', competition: thumbs, labels: l ? l.innerText.trim() : '',
          images: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0)
                    .map(i => i.src.length + ':' + i.src.slice(-64))};
})()"""

# the thumb of setting B's "competition x" slider (the second slider with that label), focused
FOCUS_SLIDER = """(() => {
  const inputs = Array.from(document.querySelectorAll('.v-slider'))
    .filter(e => ((e.querySelector('label') || {}).innerText || '').startsWith('competition ×'));
  if (inputs.length < 2) return false;
  const thumb = inputs[1].querySelector('[role=slider]');
  if (!thumb) return false;
  thumb.focus();
  return document.activeElement === thumb;
})()"""


@pytest.mark.browser
@pytest.mark.skipif(
    tb.CHROMIUM is None,
    reason="chromium not installed (Debian: apt-get install "
    "chromium); the served-app test needs headless Chromium",
)
def test_slider_change_updates_the_ensemble_figures_in_chromium(served_app, browser, tmp_path):
    import base64
    import os

    browser.call("Runtime.enable")
    browser.call("Page.enable")
    browser.call("Page.navigate", url=served_app)
    browser.wait_for("Page.loadEventFired")
    assert _poll(browser, OPEN_ENSEMBLES, lambda ok: ok is True)
    first = _poll(browser, ENSEMBLE_FACTS, lambda f: f and f["status"], timeout=120)
    before = set(first["images"])
    assert _poll(browser, FOCUS_SLIDER, lambda ok: ok is True)
    for _ in range(5):  # competition x 1.0 -> 0.5 in setting B
        for kind in ("rawKeyDown", "keyUp"):
            browser.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="ArrowLeft",
                code="ArrowLeft",
                windowsVirtualKeyCode=37,
                nativeVirtualKeyCode=37,
            )
    after = _poll(
        browser,
        ENSEMBLE_FACTS,
        lambda f: (
            f and f["status"] and "competition ×0.5" in f["labels"] and len(set(f["images"]) - before) >= 3
        ),
        timeout=120,
    )
    moved = ev.Setting().with_multiplier("pressure", 0.5).with_multiplier("competition", 0.5)
    assert f"B = {moved.label()}" in after["labels"]
    assert "1,000 replicates per setting" in after["status"]
    assert after["competition"] == ["1", "0.5"]  # A untouched, B moved
    shots = os.environ.get("ALLIANCE_SCREENSHOTS")
    if shots:
        browser.call(
            "Emulation.setDeviceMetricsOverride", width=1280, height=3400, deviceScaleFactor=1, mobile=False
        )
        time.sleep(2)
        png = browser.call("Page.captureScreenshot", captureBeyondViewport=True)["data"]
        (Path(shots) / "app-ensemble-view.png").write_bytes(base64.b64decode(png))
        (Path(shots) / "app-ensemble-status.txt").write_text(after["status"] + "\n")
