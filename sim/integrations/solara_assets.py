"""The app's browser-side packages, prepared from the npm registry so that the page works offline.

A Solara page loads its JavaScript and CSS (the Vuetify application bundle, RequireJS, Font
Awesome) through the server's asset proxy at ``/_solara/cdn/<package>@<version>/<file>``. The
server answers from its cache folder (``SOLARA_ASSETS_PROXY_CACHE_DIR``, by default
``<prefix>/share/solara/cdn``) and fetches what is missing from a CDN; on a machine without that
CDN the page stays blank. :func:`prepare` fills the cache folder beforehand with the exact
packages the installed Solara names, fetched with ``npm pack`` from the npm registry (the same
packages the CDN serves), so that ``alliance-sim app`` and ``solara run sim/app.py`` work without
network afterwards. Packages already in the folder (from an earlier call, or from the
``solara-assets`` Python package when its versions match) are not fetched again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from sim.errors import InputError

#: the npm packages behind the page's asset URLs, as ``(pattern in Solara's sources, file)``
_SOURCES = (
    ("solara-vuetify3-app", "server/templates/solara.html.j2"),
    ("solara-vuetify-app", "server/templates/solara.html.j2"),
    ("requirejs", "server/templates/solara.html.j2"),
    ("font-awesome", "server/settings.py"),
    ("vue-grid-layout", "widgets/vue/gridlayout_v3.vue"),
)
_SPEC = r"((?:@[\w.-]+/)?{name})@(\d[\w.+-]*)/"


def _vue3() -> bool:
    """Whether Solara serves its Vue 3 page (ipyvue 3 or newer), which decides the app bundle."""
    import ipyvue

    return int(str(ipyvue.__version__).split(".")[0]) >= 3


def needed_packages() -> dict[str, str]:
    """The npm packages (name -> exact version) the installed Solara loads for a page.

    Read from Solara's own page template, settings and grid-layout widget, so that an upgraded
    Solara asks for what it needs.
    """
    import solara

    here = Path(solara.__file__).parent
    skip = "solara-vuetify-app" if _vue3() else "solara-vuetify3-app"
    found: dict[str, str] = {}
    for name, rel in _SOURCES:
        if name == skip:
            continue
        path = here / rel
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        m = re.search(_SPEC.format(name=re.escape(name)), text)
        if m:
            found[m.group(1)] = m.group(2)
    if not any("vuetify" in n for n in found):
        raise InputError(
            f"{here}: cannot find which Vuetify bundle this Solara loads; expected "
            "'solara-vuetify3-app@<version>' in its page template"
        )
    return found


def cache_folder() -> Path:
    """Solara's asset cache folder (``SOLARA_ASSETS_PROXY_CACHE_DIR`` or Solara's default)."""
    from solara.server import settings

    return Path(settings.assets.proxy_cache_dir)


def _present(folder: Path, name: str, version: str) -> bool:
    target = folder / f"{name}@{version}"
    return (target / "package.json").is_file()


def missing(folder: Path, packages: dict[str, str] | None = None) -> dict[str, str]:
    """The packages not yet in ``folder``."""
    packages = needed_packages() if packages is None else packages
    return {n: v for n, v in packages.items() if not _present(folder, n, v)}


def prepare(folder: Path | None = None, npm: str | None = None, log=print) -> Path:
    """Put every package the page needs into ``folder`` (default :func:`cache_folder`).

    Parameters
    ----------
    folder
        Solara's asset cache folder, laid out as ``<name>@<version>/<package files>``.
    npm
        The npm client (default: ``npm`` on ``PATH``); it fetches each package with ``npm pack``.
    log
        Where progress lines go.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    InputError
        When packages are missing and npm is not installed or cannot fetch them (one line saying
        what to do).
    """
    folder = Path(folder or cache_folder())
    todo = missing(folder)
    if not todo:
        return folder
    specs = [f"{n}@{v}" for n, v in todo.items()]
    npm = npm or shutil.which("npm")
    if npm is None:
        raise InputError(
            f"{folder}: the page's browser packages ({', '.join(specs)}) are missing "
            "and npm is not installed to fetch them; install npm (Debian: apt-get "
            "install npm) and run alliance-sim app once with access to the npm "
            "registry, or copy that folder from a machine where it ran"
        )
    folder.mkdir(parents=True, exist_ok=True)
    log(f"alliance-sim app: fetching {', '.join(specs)} with npm into {folder}")
    with tempfile.TemporaryDirectory(prefix="alliance-npm-") as tmp:
        try:
            subprocess.run(
                [npm, "pack", *specs, "--silent"],
                cwd=tmp,
                check=True,
                timeout=600,
                capture_output=True,
                text=True,
            )
        except subprocess.CalledProcessError as e:
            last = (e.stderr or e.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise InputError(
                f"npm could not fetch {', '.join(specs)} ({last[0]}); the app needs "
                "them once, from the npm registry"
            ) from None
        except subprocess.TimeoutExpired:
            raise InputError(f"npm took over 10 minutes to fetch {', '.join(specs)}") from None
        for name, version in todo.items():
            tgz = Path(tmp) / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
            _unpack(tgz, folder / f"{name}@{version}")
    return folder


def _unpack(tgz: Path, target: Path) -> None:
    """Unpack an npm tarball (files under ``package/``) into ``target``, atomically."""
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with tarfile.open(tgz) as tar:
        members = []
        for member in tar.getmembers():
            member.name = member.name.partition("/")[2]  # drop the leading package/
            if member.name:
                members.append(member)
        tar.extractall(partial, members=members, filter="data")
    if target.exists():
        shutil.rmtree(target)
    partial.rename(target)


def app_file() -> Path:
    """The file ``solara run`` serves (``sim/app.py``)."""
    return Path(__file__).resolve().parents[1] / "app.py"


#: Solara warns on every page served over plain http on 127.0.0.1 that it falls back to
#: samesite=lax cookies, which is what a local page needs: the warning is noise here
COOKIE_WARNING = "ignore:Cookies with samesite=none require https:UserWarning"
#: how often the server checks that the command that started it is still alive (seconds)
WATCH_INTERVAL = 0.5


class _StopSignalError(Exception):
    """A termination signal reached the launcher."""


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to send the server SIGTERM when the launcher dies, even by SIGKILL
    (``prctl(PR_SET_PDEATHSIG)``); elsewhere the server's own watchdog does it."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def serve(folder: Path, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True) -> int:
    """Run ``solara run sim/app.py`` with the prepared asset folder and telemetry off; returns its
    exit code.

    The server never outlives the command that started it: Ctrl-C, SIGTERM or SIGHUP to the
    launcher stop it (and the launcher returns 130); if the launcher is killed outright (SIGKILL),
    Linux sends the server SIGTERM (parent-death signal), and on any system the server's watchdog
    (:func:`watch_parent`) stops it within :data:`WATCH_INTERVAL` seconds of noticing.
    """
    import signal

    env = {
        **os.environ,
        "SOLARA_ASSETS_PROXY_CACHE_DIR": str(folder),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": ",".join(w for w in (os.environ.get("PYTHONWARNINGS"), COOKIE_WARNING) if w),
    }
    cmd = [
        sys.executable,
        "-m",
        "sim.integrations.solara_assets",
        str(os.getpid()),
        "run",
        str(app_file()),
        "--host",
        host,
        "--port",
        str(port),
        "--production",
    ]
    if not open_browser:
        cmd.append("--no-open")

    def stop(signum, frame):
        raise _StopSignalError(signum)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    proc = subprocess.Popen(cmd, env=env, preexec_fn=_die_with_parent)  # noqa: PLW1509
    try:
        return proc.wait()
    except (KeyboardInterrupt, _StopSignalError):
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def watch_parent(parent: int, interval: float = WATCH_INTERVAL) -> None:
    """Stop this process (SIGTERM to itself) once ``parent`` is no longer its parent: the server's
    own guard against outliving its launcher, on systems without a parent-death signal."""
    import signal
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="alliance-parent-watch", daemon=True).start()


def main(argv: list[str]) -> None:  # pragma: no cover - the server process, tested end to end
    """``python -m sim.integrations.solara_assets PARENT_PID ARGS...``: run ``solara ARGS`` watched
    by :func:`watch_parent`."""
    from solara.__main__ import main as solara_main

    watch_parent(int(argv[0]))
    sys.argv = ["solara", *argv[1:]]
    solara_main()


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
