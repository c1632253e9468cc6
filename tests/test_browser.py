"""A real comparison report rendered in headless Chromium: every figure loads, nothing errors.

Chromium is driven through the DevTools protocol over a WebSocket written with the standard
library (no browser download, no extra package). The test skips where ``chromium`` is missing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium not installed (Debian: apt-get install "
        "chromium); the browser test needs headless Chromium",
    ),
]


class DevTools:
    """A minimal DevTools-protocol client over a WebSocket (RFC 6455, client side)."""

    def __init__(self, url: str, timeout: float = 60.0):
        assert url.startswith("ws://")
        hostport, _, path = url[len("ws://") :].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        self.next_id = 0
        self.events: list[dict] = []

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _send(self, text: str) -> None:
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def _receive(self) -> dict:
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the connection")
            if opcode in (0x9, 0xA):  # ping / pong: not expected from DevTools; ignore
                continue
            message += payload
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        me = self.next_id
        self._send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = self._receive()
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        for i, msg in enumerate(self.events):
            if msg.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._receive()
            if msg.get("method") == method:
                return msg
            self.events.append(msg)
        raise TimeoutError(method)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium with remote debugging on a free port; yields a DevTools page client."""
    profile = tmp_path / "profile"
    profile.mkdir()
    proc = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1280,2000",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    client = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
                pytest.fail(f"chromium did not start: {err}")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30) as fh:
            pages = [t for t in json.load(fh) if t.get("type") == "page"]
        client = DevTools(pages[0]["webSocketDebuggerUrl"])
        yield client
    finally:
        if client is not None:
            client.close()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def comparison_report(tmp_path_factory):
    """A real comparison report of the two ready scenarios (small runs)."""
    import sim
    from sim.present.report import write_report

    out = tmp_path_factory.mktemp("comparison")
    runs = [
        sim.run_ensemble(
            ROOT / "scenarios" / f"{name}.toml", replicates=200, steps=24, out=out / name, progress=False
        )
        for name in ("back_to_back", "stab_in_the_back")
    ]
    return write_report(runs, out / "report.html")


CHECKS = """(() => {
  const imgs = Array.from(document.images);
  const table = document.querySelector('#fate-table');
  return {
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    external: Array.from(document.querySelectorAll('[src],[href]'))
      .map(e => e.getAttribute('src') || e.getAttribute('href'))
      .filter(u => /^[a-z][a-z0-9+.-]*:/i.test(u) && !u.startsWith('data:')),
    fileLinks: Array.from(document.querySelectorAll('figure a[href]'))
      .map(e => e.getAttribute('href')).filter(u => u.endsWith('.png')).length,
    tableRows: table ? table.tBodies[0].rows.length : -1,
    tableText: table ? table.innerText : '',
    firstHeading: document.querySelector('main h2') ? document.querySelector('main h2').innerText : '',
    answerTop: document.querySelector('#answer') ?
      document.querySelector('#answer').getBoundingClientRect().top : -1,
    scripts: document.scripts.length,
    difference: document.querySelector('#difference') ? document.querySelector('#difference').innerText : '',
    closedFolds: Array.from(document.querySelectorAll('details.scenario-fold')).filter(d => !d.open).length,
    height: document.documentElement.scrollHeight,
  };
})()"""


def test_comparison_report_renders_in_chromium(browser, comparison_report, tmp_path):
    """The report protects its reader: all figures show, no console errors, the answer leads."""
    browser.call("Runtime.enable")
    browser.call("Log.enable")
    browser.call("Page.enable")
    browser.call(
        "Emulation.setDeviceMetricsOverride", width=1280, height=2000, deviceScaleFactor=1, mobile=False
    )
    browser.call("Page.navigate", url=comparison_report.resolve().as_uri())
    browser.wait_for("Page.loadEventFired")
    result = browser.call("Runtime.evaluate", expression=CHECKS, returnByValue=True)
    checks = result["result"]["value"]
    shot = browser.call("Page.captureScreenshot", format="png")
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    if os.environ.get("ALLIANCE_SCREENSHOT"):
        shutil.copy(screenshot, os.environ["ALLIANCE_SCREENSHOT"])

    errors = []
    for msg in browser.events:
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(params)
        elif method == "Runtime.exceptionThrown":
            errors.append(params)
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"])
    assert errors == []
    assert checks["images"] >= 3 + 2 * 7
    assert checks["broken"] == []
    assert checks["external"] == []  # no URL to anywhere: figures inline, links to files beside the page
    assert checks["fileLinks"] == checks["images"]  # every figure links to its PNG file
    assert checks["scripts"] == 0
    assert checks["tableRows"] == 2
    assert "back_to_back" in checks["tableText"] and "stab_in_the_back" in checks["tableText"]
    assert "%" in checks["tableText"]
    assert checks["firstHeading"] == "The answer, under these assumptions"
    # the difference is on the page, and the per-scenario details are folded away
    assert "B − A" in checks["difference"] and "paired" in checks["difference"]
    assert checks["closedFolds"] == 2
    assert checks["height"] < 6000
    assert 0 <= checks["answerTop"] < 400
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert screenshot.stat().st_size > 10_000
