"""The SolaraViz app (sim/app.py), tested the way Mesa tests its examples: import it, build the
page and its components, step the model with changed slider values; then once for real, in
headless Chromium against ``solara run sim/app.py``.

What these protect: the page renders with a scenario picker and one slider per mechanism; the
Step button advances the model; Reset rebuilds it from the slider values (a switched-off force
really is off); scenario strings reach the page as text only; the served page works in a browser.
"""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

solara = pytest.importorskip("solara")
v = pytest.importorskip("ipyvuetify")

from sim.present import app_page as app  # noqa: E402
from sim.spec.scenario import load_scenario  # noqa: E402
from tests import test_browser as tb  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

browser = tb.browser  # the headless-Chromium fixture, shared with the report's browser test


def _render(model):
    """Render the page inside an AppLayout (where SolaraViz puts its sidebar)."""

    @solara.component
    def Wrapped():  # noqa: N802 - a component
        with solara.AppLayout():
            app.make_page(model)

    return solara.render(Wrapped(), handle_error=False)


def test_module_exposes_a_page_and_lists_the_scenarios():
    assert app.page is not None
    names = app.scenario_names()
    assert names[0] == "status_quo"
    assert set(names) == {p.stem for p in (ROOT / "scenarios").glob("*.toml")}


def test_page_has_picker_sliders_and_controls():
    model = app.AllianceExplorer(rng=2)
    _, rc = _render(model)
    assert {tuple(b.children) for b in rc.find(v.Btn).widgets} >= {("Reset",), ("Step",)}
    labels = [s.label for s in rc.find(v.Slider).widgets]
    for name in app.MECHANISMS:
        assert app.slider_label(app.LABELS[name], 1.0) in labels
    assert app.slider_label(app.PRESSURE_LABEL, 1.0) in labels
    select = rc.find(v.Select).widget
    assert select.items == app.scenario_names()


def test_choosing_a_scenario_takes_effect_at_once():
    reactive = solara.reactive(app.AllianceExplorer(rng=4))
    _, rc = _render(reactive)
    rc.find(v.Select).widget.v_model = "back_to_back"
    assert reactive.value.scenario_name == "back_to_back"  # no Reset needed
    rc.find(children=[f"step 0 of {reactive.value.horizon}"]).assert_single()
    rc.find(children=[load_scenario(ROOT / "scenarios" / "back_to_back.toml").title]).assert_single()


def test_sliders_show_their_values_and_only_meaningful_controls_are_shown():
    _, rc = _render(app.AllianceExplorer(rng=2))
    sliders = {s.label for s in rc.find(v.Slider).widgets}
    assert app.slider_label(app.LABELS["noise"], 1.0) in sliders
    rc.find(v.Slider, label=app.slider_label(app.LABELS["noise"], 1.0)).widget.v_model = 2.0
    # the label follows the value at once
    assert app.slider_label(app.LABELS["noise"], 2.0) in {s.label for s in rc.find(v.Slider).widgets}
    texts = " ".join(str(w.label) for w in rc.find(v.Slider).widgets + rc.find(v.Checkbox).widgets)
    assert "Use Threads" not in texts and "Render Interval" not in texts


def test_a_scenario_file_of_ones_own_can_be_loaded(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "alliance-sim:scenarios/back_to_back.toml"\ntitle = "my own case"\n')
    reactive = solara.reactive(app.AllianceExplorer(rng=4))
    _, rc = _render(reactive)
    field = rc.find(v.TextField).widget
    field.v_model = str(mine)
    field.fire_event("keyup.enter", {})
    assert reactive.value.scenario_file == str(mine)
    rc.find(children=["my own case"]).assert_single()
    # a broken file is reported on the page in one line; the model stays as it was
    bad = tmp_path / "bad.toml"
    bad.write_text("[mechanisms]\nnoise = -1\n")
    field.v_model = str(bad)
    field.fire_event("keyup.enter", {})
    assert reactive.value.scenario_file == str(mine)
    errors = [w for w in rc.find(v.Alert).widgets if "bad.toml" in str(w.children)]
    assert errors


def test_dropped_files_go_to_a_folder_made_on_the_first_drop_and_removed_with_the_page(monkeypatch, tmp_path):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = []

    class Seen(app.Uploads):
        def __init__(self):
            super().__init__()
            made.append(self)

    monkeypatch.setattr(app, "Uploads", Seen)
    _, rc = _render(solara.reactive(app.AllianceExplorer(rng=4)))
    assert len(made) == 1
    assert list(tmp_path.iterdir()) == []  # a page only looked at makes no folder
    uploads = made[0]
    first = uploads.save({"name": "mine", "data": b'title = "dropped"\n'})
    # a name is a name, never a path; lazily read files come as a file object
    second = uploads.save({"name": "../../other.toml", "file_obj": io.BytesIO(b'title = "other"\n')})
    assert (first.name, second.name) == ("mine.toml", "other.toml")
    assert first.parent == second.parent and first.parent.parent == tmp_path
    assert second.read_bytes() == b'title = "other"\n'
    rc.close()
    assert not first.parent.exists() and list(tmp_path.iterdir()) == []


def test_the_page_says_what_the_values_rest_on():
    model = app.AllianceExplorer(scenario_name="stab_in_the_back", rng=3)
    bases = app.value_bases(model.spec)
    mechanisms = [b for b, paths in bases.items() for p in paths if p.startswith("mechanisms.")]
    assert mechanisms and set(mechanisms) == {"modelling assumption"}
    _, rc = _render(model)
    line = app.basis_line(model.spec)
    assert "article claims" in line and "public figures" in line and "modelling assumptions" in line
    assert rc.find(
        v.Html, children=[f"One run of the model under the scenario's assumptions, not a forecast. {line}"]
    ).widgets


def test_network_draws_the_strongest_ties_and_says_how_many():
    model = app.AllianceExplorer(scenario_name="back_to_back", rng=3)
    model.run_for(100)  # ties grow strong: most pass the threshold
    drawn, passed = app.strongest_ties(np.asarray(model.ties, dtype=float))
    assert len(drawn) == min(app.TOP_TIES, passed) and passed > app.TOP_TIES
    sizes = [abs(w) for _, _, w in drawn]
    assert sizes == sorted(sizes, reverse=True)
    fig = app.network_figure(model)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == len(drawn)
    assert f"the {len(drawn)} strongest of {passed} mutual ties" in ax.get_title()


def test_step_button_advances_the_model_and_the_plots_follow():
    model = app.AllianceExplorer(scenario_name="stab_in_the_back", rng=3)
    _, rc = _render(model)
    step = rc.find(v.Btn, children=["Step"]).widget
    for _ in range(3):
        step.click()
    assert model.state.t == 3
    assert len(model.datacollector.get_model_vars_dataframe()) == 4
    rc.find(children=[f"step 3 of {model.horizon}"]).assert_single()


def test_reset_rebuilds_the_model_from_changed_sliders():
    reactive = solara.reactive(app.AllianceExplorer(rng=4))
    _, rc = _render(reactive)
    sliders = {s.label: s for s in rc.find(v.Slider).widgets}
    sliders[app.slider_label(app.LABELS["noise"], 1.0)].v_model = 0.0
    sliders[app.slider_label(app.LABELS["pressure"], 1.0)].v_model = 2.5
    rc.find(v.Select).widget.v_model = "back_to_back"
    rc.find(v.Btn, children=["Reset"]).widget.click()
    model = reactive.value
    assert model.scenario_name == "back_to_back"
    assert model.settings["noise"] == 0.0 and model.settings["pressure"] == 2.5
    base = load_scenario(ROOT / "scenarios" / "back_to_back.toml", point=True)
    assert np.all(model.params.coef["noise"] == 0.0)
    assert model.params.coef["pressure"][0] > 0 and model.params.coef["pressure"][0] <= 2.5 * max(
        base.mechanisms.pressure, 0.15
    )
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert model.state.t == 1


def test_switching_a_force_off_changes_the_run():
    """Same seed, same scenario: with noise off two runs are identical; with noise on they are
    not, so the slider reaches the dynamics."""
    quiet = [app.AllianceExplorer(noise=0.0, rng=5), app.AllianceExplorer(noise=0.0, rng=5)]
    loud = app.AllianceExplorer(noise=3.0, rng=5)
    for m in (*quiet, loud):
        m.run_for(12)
    np.testing.assert_array_equal(quiet[0].ties, quiet[1].ties)
    assert not np.allclose(quiet[0].ties, loud.ties)


def test_configure_scales_coefficients_and_pressure():
    s = load_scenario(ROOT / "scenarios" / "status_quo.toml", point=True)
    c = app.configure(s, {"threat": 0.0, "competition": 2.0}, pressure_level=0.5)
    assert c.mechanisms.threat == 0.0
    assert c.mechanisms.competition == pytest.approx(2.0 * s.mechanisms.competition)
    for actor, sched in s.pressure.items():
        new = c.pressure[actor]
        if isinstance(sched, list):
            assert [p.value for p in new] == pytest.approx([0.5 * p.value for p in sched])
        else:
            assert new == pytest.approx(0.5 * sched)
    with pytest.raises(ValueError, match="unknown mechanism"):
        app.configure(s, {"gravity": 1.0})


def test_scenario_strings_are_shown_as_text(monkeypatch, tmp_path):
    """A title with markup and a mathtext dollar reaches the page as literal text."""
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "status_quo.toml").write_text(
        'title = "<b>bold</b> $x$"\n'
        '[actors."<i>A</i>"]\ncapability = 0.5\n[actors.B]\ncapability = 0.5\n'
        '[alliances."<script>x</script>"]\nmembers = ["<i>A</i>", "B"]\n'
        "[mechanisms]\nnoise = 0.1\n[run]\nsteps = 5\n"
    )
    monkeypatch.setattr(app, "SCENARIOS", folder)
    model = app.AllianceExplorer(rng=1)
    _, rc = _render(model)
    rc.find(children=["<b>bold</b> $x$"]).assert_single()
    rc.find(children=["<script>x</script>: active, cohesion +0.00"]).assert_single()
    assert rc.find(v.Select).widget.items == ["status_quo"]
    # matplotlib labels have the dollar escaped (no mathtext) and draw without error
    fig = app.network_figure(model)
    assert any(t.get_text() == "<i>A</i>" for t in fig.axes[0].texts)
    app.cohesion_figure(model).canvas.draw()


# --------------------------------------------------------------------------------------------
# The served app in a real browser
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop the launcher's whole process group (its own session), also when the launcher is gone
    and something it started is not."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


@pytest.fixture(scope="session")
def asset_folder(tmp_path_factory):
    """Where ``alliance-sim app`` puts the page's browser packages (one folder for the session)."""
    import shutil

    from sim.integrations import solara_assets

    folder = tmp_path_factory.mktemp("solara-assets")
    if solara_assets.missing(folder) and shutil.which("npm") is None:
        pytest.skip("npm not installed: alliance-sim app fetches the page's browser packages with it")
    # the user's first step, on its own: where the npm registry cannot be reached, skip (the
    # command then says so in one line) rather than fail on the network
    done = subprocess.run(
        [str(ROOT / "alliance"), "app", "--prepare-only", "--assets", str(folder)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode == 2 and "npm" in done.stderr:
        pytest.skip(f"the npm registry could not be reached: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr
    assert not solara_assets.missing(folder)
    return folder


class CountingCDN:
    """A stand-in for every CDN: a local HTTP server that answers 404 and counts what reaches it.
    Solara's CDN setting points here, so a request the page or its server would send off the
    machine (a browser package, mermaid, KaTeX) is counted instead."""

    def __init__(self):
        import http.server
        import threading

        self.requests: list[str] = []
        seen = self.requests

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the standard library's name
                seen.append(self.path)
                self.send_error(404)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/npm/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _start_app(tmp_path, asset_folder, cdn_url: str):
    """``./alliance app`` on 127.0.0.1 and a free port in its own session; returns the process,
    its URL and its log file once the page answers."""
    port = _free_port()
    log_path = tmp_path / f"app-{port}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the caller
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLARA_")}
    proc = subprocess.Popen(
        [str(ROOT / "alliance"), "app", "--port", str(port), "--no-open", "--assets", str(asset_folder)],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**env, "SOLARA_ASSETS_CDN": cdn_url},
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as fh:
                if fh.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.flush()
            _stop(proc)
            log.close()
            tail = log_path.read_text(errors="replace")[-2000:]
            pytest.fail("./alliance app did not serve the page: " + tail)
        time.sleep(0.5)
    return proc, url, log, log_path


@pytest.fixture
def cdn():
    """The counting stand-in for every CDN."""
    server = CountingCDN()
    yield server
    server.close()


@pytest.fixture
def served_app(tmp_path, asset_folder, cdn):
    """The user's path: ``./alliance app`` on 127.0.0.1 and a free port, with every CDN replaced by
    a local server that counts requests (Solara's CDN setting points at it), so the page can only
    work from what the command prepared. Stopped whatever happens."""
    proc, url, log, _ = _start_app(tmp_path, asset_folder, cdn.url)
    try:
        yield url
    finally:
        _stop(proc)
        log.close()


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux's ``/proc``)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _port_open(url: str) -> bool:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT", "SIGHUP", "SIGKILL"])
def test_signalling_the_launcher_alone_stops_the_server(tmp_path, asset_folder, cdn, sig):
    """A signal to the launcher only (not its process group) closes the port: SIGTERM, SIGINT and
    SIGHUP stop the server before the launcher exits (with 130); after a SIGKILL, which the
    launcher cannot catch, the server notices its parent is gone and stops within seconds. The
    page loaded meanwhile asked the stand-in CDN for nothing."""
    proc, url, log, log_path = _start_app(tmp_path, asset_folder, cdn.url)
    try:
        assert _port_open(url)
        server = _children(proc.pid)
        assert server, "the launcher started no server process"
        os.kill(proc.pid, getattr(signal, sig))
        if sig != "SIGKILL":
            assert proc.wait(timeout=30) == 130
        deadline = time.monotonic() + 10
        while (_port_open(url) or any(_alive(pid) for pid in server)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _port_open(url), f"the server still listens after {sig} to the launcher"
        assert not [pid for pid in server if _alive(pid)], f"the server outlived {sig} to the launcher"
    finally:
        _stop(proc)
        log.close()
    assert cdn.requests == []
    assert "samesite" not in log_path.read_text(errors="replace")  # no cookie-warning noise


STEP_TEXT = """(() => {
  const spans = Array.from(document.querySelectorAll('span'));
  const s = spans.find(e => /^step \\d+ of \\d+$/.test(e.innerText.trim()));
  return s ? s.innerText.trim() : '';
})()"""

CLICK_STEP = """(() => {
  const b = Array.from(document.querySelectorAll('button'))
    .find(e => e.textContent.trim() === 'Step');
  if (!b) return false;
  b.click();
  return true;
})()"""

PAGE_FACTS = """(() => {
  const spans = Array.from(document.querySelectorAll('span'));
  const status = spans.find(e => /^china_russia: /.test(e.innerText.trim()));
  const img = Array.from(document.images).find(i => i.complete && i.naturalWidth > 0);
  return {
    sliders: document.querySelectorAll('.v-slider').length,
    images: Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length,
    text: document.body.innerText,
    statusBottom: status ? status.getBoundingClientRect().bottom : -1,
    title: Array.from(document.querySelectorAll('.v-toolbar-title, .v-toolbar-title__placeholder'))
      .map(e => ({text: e.innerText.trim(),
                  cut: e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'visible'})),
    imageTop: img ? img.getBoundingClientRect().top : -1,
    viewport: window.innerHeight,
  };
})()"""


def _poll(client, expression, until, timeout=90.0):
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = client.call("Runtime.evaluate", expression=expression, returnByValue=True)
        value = value["result"].get("value")
        if until(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out; last value: {value!r}")


@pytest.mark.browser
@pytest.mark.skipif(
    tb.CHROMIUM is None,
    reason="chromium not installed (Debian: apt-get install "
    "chromium); the served-app test needs headless Chromium",
)
def test_served_app_renders_and_steps_in_chromium(served_app, browser, cdn):
    """``./alliance app`` with no CDN reachable: the page renders, every request stays on the
    local server (the browser's, and none reaches the stand-in CDN from the server), the status
    and fate show without scrolling, sliders show their values, the title is whole and Mesa's
    thread/render-interval settings are gone; Step advances the model."""
    browser.call("Runtime.enable")
    browser.call("Page.enable")
    browser.call("Network.enable")
    browser.call(
        "Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False
    )
    browser.call("Page.navigate", url=served_app)
    browser.wait_for("Page.loadEventFired")
    first = _poll(browser, STEP_TEXT, lambda s: bool(s))
    assert first.startswith("step 0 of ")
    facts = _poll(browser, PAGE_FACTS, lambda f: f and f["images"] >= 2)
    assert facts["sliders"] >= len(app.MECHANISMS)
    for name in app.MECHANISMS:  # each slider shows its value
        assert app.slider_label(app.LABELS[name], 1.0) in facts["text"]
    assert "china_russia: active" in facts["text"]
    # the title is whole once the page's style has arrived (it may follow the first render)
    whole = _poll(
        browser,
        PAGE_FACTS,
        lambda f: bool(f and f["title"]) and all(t["text"] == app.TITLE and not t["cut"] for t in f["title"]),
        timeout=30,
    )
    assert whole["title"]
    assert "Use Threads" not in facts["text"] and "Render Interval" not in facts["text"]
    assert 0 < facts["statusBottom"] <= facts["viewport"]  # visible without scrolling
    assert facts["statusBottom"] <= facts["imageTop"]  # and above the figures
    assert _poll(browser, CLICK_STEP, lambda ok: ok is True)
    _poll(browser, STEP_TEXT, lambda s: s.startswith("step 1 of "))
    _poll(browser, CLICK_STEP, lambda ok: ok is True)
    _poll(browser, STEP_TEXT, lambda s: s.startswith("step 2 of "))
    if os.environ.get("ALLIANCE_APP_SCREENSHOT"):  # once the page has settled
        time.sleep(3)
        shot = browser.call("Page.captureScreenshot", format="png")
        Path(os.environ["ALLIANCE_APP_SCREENSHOT"]).write_bytes(base64.b64decode(shot["data"]))
    local = served_app.rstrip("/")
    ws = local.replace("http://", "ws://")
    urls = [
        m["params"]["request"]["url"]
        for m in browser.events
        if m.get("method") == "Network.requestWillBeSent"
    ]
    assert urls and all(u.startswith((local, ws, "data:", "blob:")) for u in urls), [
        u for u in urls if not u.startswith((local, ws, "data:", "blob:"))
    ]
    assert cdn.requests == []


def test_the_app_knows_the_browser_packages_solara_names_and_says_what_to_do_without_npm(
    tmp_path, monkeypatch
):
    from sim.errors import InputError
    from sim.integrations import solara_assets

    needed = solara_assets.needed_packages()
    template = (Path(solara.__file__).parent / "server" / "templates" / "solara.html.j2").read_text()
    assert any("vuetify" in name for name in needed) and "requirejs" in needed
    for name, version in needed.items():
        if name != "font-awesome" and "grid-layout" not in name:
            assert f"{name}@{version}/" in template
    assert solara_assets.missing(tmp_path) == needed
    monkeypatch.setattr(solara_assets.shutil, "which", lambda _: None)
    with pytest.raises(InputError, match="npm is not installed"):
        solara_assets.prepare(tmp_path)
