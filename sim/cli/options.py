"""The options commands share, declared once each, and the values they take.

One helper per family: where the results go (:func:`add_output`, with the one function that
computes a default folder, :func:`results_folder`), how many replicates and which seed
(:func:`add_replicates`, :func:`add_seed`, :func:`add_steps`), how many workers
(:func:`add_workers`: all cores unless told), the progress bar (:func:`add_progress`), the engine
(:func:`add_engine`), and the run options of ``run`` and ``compare`` (:func:`add_run_options`).
A scenario argument (:func:`add_scenario`) takes a file or the name of a ready scenario, resolved
(:func:`scenario_path`) before any command sees it.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import difflib
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.errors import EXIT_BAD_INPUT, InputError
from sim.extras import install_hint

#: the folder default output folders are made in
RESULTS = Path("results")
#: how long a Dask scheduler may take to answer, and to have a worker, before a run gives up (s)
SCHEDULER_TIMEOUT = 10.0
#: where an argument's scenario names are listed for resolution after parsing
SCENARIO_ARGS = "_scenario_args"


class UsageError(InputError):
    """Bad command-line input, shown as one line (exit 2)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit 2."""

    def error(self, message):  # one line, exit 2
        """Exit 2 with one line naming the command and what was wrong."""
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


# -- the values options take ------------------------------------------------------------------


def positive_int(text: str) -> int:
    """A positive integer (``--replicates 2000``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def replicate_count(text: str) -> int:
    """A number of replicates: a positive integer no larger than a run allows."""
    from sim.spec.limits import MAX_REPLICATES

    return _at_most(positive_int(text), MAX_REPLICATES, "replicates")


def step_count(text: str) -> int:
    """A number of steps: a positive integer no larger than a run allows."""
    from sim.spec.limits import MAX_STEPS

    return _at_most(positive_int(text), MAX_STEPS, "steps")


def _at_most(value: int, limit: int, what: str) -> int:
    if value > limit:
        raise argparse.ArgumentTypeError(f"expected at most {limit:,} {what}, got {value:,}")
    return value


def seed(text: str) -> int:
    """A seed: a non-negative integer below 2^63."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer below 2^63, got {value}")
    return value


def number_list(text: str) -> list[float]:
    """Comma-separated numbers (``0,0.05,0.1``)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def seconds(text: str) -> float:
    """A duration in seconds: a positive number no larger than a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"expected a number of seconds in (0, 86400], got {value:g}")
    return value


def name_list(text: str) -> list[str]:
    """Comma-separated names (empty ones dropped)."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated names, got {text!r}")
    return names


def date(text: str) -> _dt.date:
    """A date YYYY-MM-DD."""
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def share(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value:g}")
    return value


# -- the option families ----------------------------------------------------------------------


def add_output(p: argparse.ArgumentParser, default: str, *, force: str | None = None, **kw) -> None:
    """``--out/-o`` (``default`` says in words where results go without it) and, when ``force``
    says what it replaces, ``--force``."""
    p.add_argument("--out", "-o", type=Path, help=f"{kw.pop('what', 'folder')} (default {default})", **kw)
    if force is not None:
        p.add_argument("--force", action="store_true", help=f"replace {force} already in --out")


def results_folder(*words: str) -> Path:
    """The default output folder of a command: ``results/`` and the words joined by ``-``, made
    safe as one folder name (:func:`sim.run.store.safe_name`)."""
    from sim.run.store import safe_name

    return RESULTS / safe_name("-".join(words))


def add_replicates(
    p: argparse.ArgumentParser, help: str, *, short: str = "-n", default: int | None = None
) -> None:
    """``--replicates`` (short ``-n``, or ``-R`` where ``-n`` means something else)."""
    p.add_argument("--replicates", short, type=replicate_count, default=default, help=help)


def add_seed(
    p: argparse.ArgumentParser, help: str = "seed (default: the scenario's)", default: int | None = None
) -> None:
    """``--seed``."""
    p.add_argument("--seed", type=seed, default=default, help=help)


def add_steps(
    p: argparse.ArgumentParser, help: str = "steps per replicate (default: the scenario's)"
) -> None:
    """``--steps/-t``."""
    p.add_argument("--steps", "-t", type=step_count, help=help)


def add_workers(p: argparse.ArgumentParser) -> None:
    """``--workers/-j``: local worker processes, all cores unless told; more than the cores only
    with ``--oversubscribe`` (:func:`cap_workers`)."""
    p.add_argument(
        "--workers", "-j", type=positive_int, default=None, help="local worker processes (default: all cores)"
    )
    p.add_argument(
        "--oversubscribe",
        action="store_true",
        help="run as many workers as --workers says even when that is more than the cores",
    )


def cores() -> int:
    """The cores this process may run on (:func:`sim.run.lanes.cores`, loaded when asked)."""
    from sim.run.lanes import cores as usable

    return usable()


def cap_workers(args: argparse.Namespace) -> str | None:
    """Bring ``--workers`` down to the cores unless ``--oversubscribe``: more processes than cores
    only share them, each holding its own chunk in memory. Returns the warning to print, if any."""
    asked = getattr(args, "workers", None)
    if asked is None or getattr(args, "oversubscribe", False):
        return None
    have = cores()
    if asked <= have:
        return None
    args.workers = have
    return (
        f"alliance-sim: warning: --workers {asked} is more than the {have} cores here; using {have} "
        "(--oversubscribe to start all of them anyway)"
    )


def check_history(scenario: Path, observations: Path, replicates: int, what: str) -> None:
    """:func:`check_runs` for ``calibrate`` and ``score``, which keep every prior replicate's
    readings of the observations and its sampled values (8 bytes each) until they end."""
    from sim.spec.observations import read_observations
    from sim.spec.parammap import uncertain_slots
    from sim.spec.scenario import load_scenario

    try:
        kept = len(read_observations(observations).observations) + len(
            uncertain_slots(load_scenario(scenario))
        )
    except InputError:  # the command itself names what is wrong with the files
        kept = 0
    check_runs(replicates, what, held=replicates * 8 * (kept + 2) if kept else 0)


def check_runs(runs: int, what: str, *, held: int = 0) -> None:
    """Refuse, in one line and before anything runs, a design beyond the limits of ``run``: more
    replicate runs in all than a run may have, or more bytes held in memory at once (``held``:
    what the command keeps of every replicate until it ends) than a run's worker may use."""
    from sim.run.footprint import MEMORY_BUDGET
    from sim.spec.limits import MAX_REPLICATES

    if runs > MAX_REPLICATES:
        raise UsageError(
            f"{what}: expected at most {MAX_REPLICATES:,} replicate runs in all (the limit of run), "
            f"got {runs:,}; ask for fewer"
        )
    if held > MEMORY_BUDGET:
        fits = max(int(runs * MEMORY_BUDGET / held), 1)
        raise UsageError(
            f"{what}: expected what is kept of every replicate to fit in {MEMORY_BUDGET >> 30} GB, "
            f"got {held / 2**30:.1f} GB for {runs:,} replicate runs; ask for at most {fits:,}"
        )


def add_progress(p: argparse.ArgumentParser) -> None:
    """``--no-progress``."""
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_engine(p: argparse.ArgumentParser) -> None:
    """``--engine numpy|numba``."""
    p.add_argument(
        "--engine",
        choices=["numpy", "numba"],
        default="numpy",
        help="what steps the replicates: numpy (default) or numba, a compiled engine "
        "about three times faster (needs alliance-sim[fast])",
    )


def add_report_switch(p: argparse.ArgumentParser, what: str = "do not write the HTML page") -> None:
    """``--no-report``."""
    p.add_argument("--no-report", action="store_true", help=what)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options of a plain run (``run``, ``compare``): replicates, steps, seed, chunks, workers
    or a Dask scheduler, point values, precision, engine, progress and the forces' book."""
    add_replicates(p, "number of replicates (default: the scenario's)")
    add_steps(p)
    add_seed(p)
    p.add_argument(
        "--chunk-size", type=positive_int, default=None, help="replicates per chunk (default 4096)"
    )
    add_workers(p)
    p.add_argument(
        "--scheduler",
        help="a Dask scheduler address, or 'local' for a LocalCluster (needs alliance-sim[dask])",
    )
    p.add_argument(
        "--scheduler-timeout",
        type=seconds,
        default=SCHEDULER_TIMEOUT,
        help=f"seconds to wait for the Dask scheduler to answer and for its first worker "
        f"(default {SCHEDULER_TIMEOUT:g})",
    )
    p.add_argument(
        "--point",
        action="store_true",
        help="use the point value of every uncertain parameter instead of sampling",
    )
    p.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default=None,
        help="precision of the ties (default float32: within 1e-5 of float64)",
    )
    add_engine(p)
    add_progress(p)
    p.add_argument(
        "--why",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="book each force's part in the alliances' ties (why: columns; default: on "
        "up to 10,000 replicates)",
    )


# -- values set on the command line -----------------------------------------------------------


def assignment(text: str) -> tuple[str, Any]:
    """``PATH=VALUE``: a parameter path and a number or a distribution in the scenario syntax
    (:func:`sim.spec.set_values.parse_assignment`)."""
    from sim.spec.set_values import parse_assignment

    try:
        return parse_assignment(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_set(p: argparse.ArgumentParser, what: str = "the scenario") -> None:
    """``--set PATH=VALUE`` (repeatable): a value set on top of the scenario file, validated as the
    file's own values are and recorded in what the command writes."""
    p.add_argument(
        "--set",
        action="append",
        type=assignment,
        metavar="PATH=VALUE",
        default=None,
        help=f"set a parameter of {what} (repeatable): a number or a distribution in the scenario "
        "syntax, e.g. --set mechanisms.pressure=0.1 or --set "
        "'mechanisms.competition={dist=\"uniform\",low=0.05,high=0.2}' (paths as show lists them)",
    )


def set_values(args: argparse.Namespace) -> dict[str, Any] | None:
    """The values of ``--set`` by path (None without it); a path given twice is refused."""
    pairs = getattr(args, "set", None)
    if not pairs:
        return None
    values: dict[str, Any] = {}
    for path, value in pairs:
        if path in values:
            raise UsageError(f"--set {path}: given twice; expected each path once")
        values[path] = value
    return values


def load(args: argparse.Namespace, dest: str = "scenario", **kw):
    """The scenario of argument ``dest`` with the values of ``--set`` on top (``kw``: as for
    :func:`sim.spec.scenario.load_scenario`)."""
    from sim.spec.scenario import load_scenario

    return load_scenario(getattr(args, dest), values=set_values(args), **kw)


# -- factors of an experiment ------------------------------------------------------------------


def factor(text: str):
    """``PATH=V1,V2,...``: a parameter path and its values (:func:`sim.analysis.experiment.parse_factor`)."""
    from sim.analysis.experiment import parse_factor

    try:
        return parse_factor(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_factor(p: argparse.ArgumentParser) -> None:
    """``--factor PATH=V1,V2,...`` (repeatable, at least once)."""
    p.add_argument(
        "--factor",
        "-f",
        action="append",
        type=factor,
        required=True,
        metavar="PATH=V1,V2,...",
        help="a parameter and its values (repeatable), paths as show lists them, e.g. "
        "--factor mechanisms.pressure=0,0.05,0.1; with --design lhs the values give the range",
    )


# -- scenarios by name ------------------------------------------------------------------------


def add_scenario(
    p: argparse.ArgumentParser, dest: str = "scenario", *, nargs=None, help: str | None = None
) -> None:
    """A positional scenario argument (or several with ``nargs``): a file, or the name of a ready
    scenario as ``list`` prints it; a result directory passes through unchanged."""
    p.add_argument(dest, type=Path, nargs=nargs, help=help)
    p.set_defaults(**{SCENARIO_ARGS: (*(p.get_default(SCENARIO_ARGS) or ()), dest)})


def resolve_scenarios(args: argparse.Namespace) -> None:
    """Replace every scenario argument of the parsed command by the file it names."""
    for dest in getattr(args, SCENARIO_ARGS, None) or ():
        value = getattr(args, dest)
        if isinstance(value, list):
            setattr(args, dest, [scenario_path(v) for v in value])
        elif value is not None:
            setattr(args, dest, scenario_path(value))


def scenario_path(path: Path) -> Path:
    """A scenario argument: a file, or the name of a ready scenario (``back_to_back``, as ``list``
    prints it), which means ``<scenarios folder>/back_to_back.toml``."""
    if path.exists() or path.parent != Path("."):
        if not path.exists() and path.suffix == ".toml":
            shipped = scenarios_folder() / path.name
            if shipped.is_file():
                raise UsageError(
                    f"{path}: no such file; did you mean {shipped}? (alliance-sim list "
                    "shows the ready scenarios, which run by name too)"
                )
        return path
    name = path.name[:-5] if path.name.endswith(".toml") else path.name
    folder = scenarios_folder()
    candidate = folder / f"{name}.toml"
    if candidate.is_file():
        return candidate
    if path.suffix == ".toml":
        return path  # a missing file: load_scenario says so
    names = sorted(f.stem for f in folder.glob("*.toml"))
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise UsageError(
        f"{path}: no such file and no ready scenario of that name; {hint}ready "
        f"scenarios (alliance-sim list): {', '.join(names)}"
    )


def scenarios_folder() -> Path:
    """``scenarios/`` here, or the shipped one."""
    from sim.spec.scenario import SHIPPED_ROOT

    here = Path("scenarios")
    return here if here.is_dir() else SHIPPED_ROOT / "scenarios"


# -- executors --------------------------------------------------------------------------------


def executor(args: argparse.Namespace) -> tuple[Any, Any]:
    """The Dask client (and local cluster) asked for with ``--scheduler``, or ``(None, None)``
    for the local pool. Every wait on the network is bounded by ``--scheduler-timeout``: the
    scheduler's answer (:func:`scheduler_address`), the client's handshake and the first worker."""
    address = getattr(args, "scheduler", None)
    if address is None:
        return None, None
    timeout = getattr(args, "scheduler_timeout", SCHEDULER_TIMEOUT)
    if address != "local":
        address = scheduler_address(address, timeout)  # before importing Dask: fails fast
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError(f"--scheduler needs Dask: {install_hint('dask')}") from None
    if address == "local":
        cluster = LocalCluster(
            n_workers=args.workers or 2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        return Client(cluster), cluster
    try:
        client = Client(address, timeout=f"{timeout:g}s")
    except (OSError, TimeoutError) as e:
        raise UsageError(
            f"--scheduler: no Dask scheduler answered at {address} ({type(e).__name__})"
        ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError):
        client.close()
        raise UsageError(
            f"--scheduler: the Dask scheduler at {address} had no worker within {timeout:g} s "
            "(--scheduler-timeout); start workers with dask worker " + address
        ) from None
    return client, None


_SCHEDULER = re.compile(
    r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*)"
    r":(?P<port>[0-9]{1,5})$"
)


def scheduler_address(text: str, timeout: float = SCHEDULER_TIMEOUT) -> str:
    """A Dask scheduler address checked for form (``[tcp://|tls://]HOST:PORT``) and for a
    scheduler answering there within ``timeout`` seconds: connect only to the address given, fail
    in one line, never fall back to another. A Dask scheduler speaks first on a plain connection
    (its handshake), so a listener that accepts and stays silent is refused rather than waited on
    (Dask's own client waits for that handshake without a limit)."""
    import socket
    import ssl

    m = _SCHEDULER.match(text)
    if not m or not 0 < int(m["port"]) < 65536:
        raise UsageError(
            f"--scheduler: expected 'local' or HOST:PORT (optionally tcp:// or tls://), got {text!r}"
        )
    host, port = m["host"].strip("[]"), int(m["port"])
    address = text if m["scheme"] else f"tcp://{text}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if m["scheme"] == "tls":  # the TLS handshake must complete; certificates are Dask's
                context = ssl.create_default_context()
                context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
                with context.wrap_socket(sock, server_hostname=host) as tls:
                    tls.recv(1)
            elif not sock.recv(1):
                raise ConnectionResetError(0, "closed the connection")
    except TimeoutError:
        raise UsageError(
            f"--scheduler: nothing answered at {address} within {timeout:g} s (--scheduler-timeout); "
            "expected a running Dask scheduler there"
        ) from None
    except ssl.SSLError:
        pass  # it speaks TLS and wants what Dask's configuration gives it: Dask connects
    except OSError as e:
        raise UsageError(
            f"--scheduler: cannot reach {text} ({e.strerror or type(e).__name__}); "
            "expected a running Dask scheduler there"
        ) from None
    return address


# -- output folders held for the life of a command --------------------------------------------


def hold(out: Path, **kwargs) -> Path:
    """Lock an output folder for the rest of the command (:func:`sim.run.lock.hold`): one writer
    per folder; ``own`` names what marks the folder as this command's output, so that a folder
    holding other files is refused without ``force``."""
    from sim.run.lock import hold as hold_folder

    return hold_folder(out, **kwargs)


# -- a command's registration -----------------------------------------------------------------

Handler = Callable[[argparse.Namespace], int]


def command(sub, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    """The sub-parser of command ``name``, bound to its ``handler``."""
    p = sub.add_parser(name, help=help)
    p.set_defaults(handler=handler, _parser=p)
    return p


def given(args: argparse.Namespace, dest: str) -> bool:
    """Whether option ``dest`` was set to other than its default on the command line."""
    return getattr(args, dest) != args._parser.get_default(dest)


def refuse(args: argparse.Namespace, dests: Sequence[str], why: str) -> None:
    """A one-line error for the first of ``dests`` given although it does not apply (``why``):
    an option is either passed on to what it configures or refused, never dropped."""
    for dest in dests:
        if given(args, dest):
            flag = "--" + dest.replace("_", "-")
            raise UsageError(f"{flag} does not apply {why}")
