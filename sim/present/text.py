"""Terminal text: every table and line the command line prints is formatted here.

The command line calls a library function, then one of these, then prints; the analyses return
tables and numbers, never text for a terminal. Each function returns a string (lines joined by
newlines) so that a notebook can print it too. Every probability is printed with its interval,
as everywhere else. Text a user wrote (titles, names, labels) reaches a terminal through
:func:`printable` (:func:`sim.errors.printable`, re-exported here): the command line writes all it
prints through it, and the functions here that show such text use it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sim.errors import printable
from sim.extras import command
from sim.vocabulary import FATES

if TYPE_CHECKING:  # pandas is loaded by what makes the tables, not by the command line's start
    import pandas as pd

# -- runs and comparisons ---------------------------------------------------------------------


def format_fate_table(table: pd.DataFrame | Sequence[Mapping], title: str = "") -> str:
    """A fate table as aligned text: its rows (:func:`sim.analysis.fates.fate_rows`) or its data
    frame (:func:`sim.analysis.outcomes.fate_table`)."""
    rows = table.to_dict("records") if hasattr(table, "to_dict") else list(table)
    lines = [title] if title else []
    width = max(len(r["outcome"]) for r in rows) + 2
    lines.append(f"  {'outcome':<{width}}{'P':>7}   {'95% interval':<17}{'count':>8}")
    for r in rows:
        lines.append(
            f"  {r['outcome']:<{width}}{r['p']:>7.3f}   [{r['low']:.3f}, {r['high']:.3f}]  {r['count']:>8d}"
        )
    return "\n".join(lines)


def run_summary(results) -> str:
    """A finished run: its size and where it is, then each declared alliance's fate table.

    The counts come from the run's digest when it was read through one, else from one pass over
    the fate columns of its replicate table; neither loads pandas, so a run without a page ends
    without it (:mod:`sim.analysis.fates`)."""
    from sim.analysis.fates import fate_tallies

    digest = getattr(results, "digest", None)  # a run read through its digest has the counts
    tallies = digest.tallies if digest is not None else fate_tallies(results.directory, results.alliances)
    lines = [f"{results.name}: {results.n} replicates x {results.steps} steps -> {results.directory}"]
    if not results.alliances:
        lines.append("  (no declared alliances)")
    for al in results.alliances:
        lines.append(format_fate_table(tallies[al].rows(results.actors), title=f"alliance {al}"))
    return "\n".join(lines)


def reused(name: str, folder: Path) -> str:
    """A comparison's note that a run's finished results are used again."""
    return f"{name}: reusing finished results in {folder}"


def resumed(name: str, folder: Path) -> str:
    """A comparison's note that a run stopped part way was finished, its chunks kept."""
    return f"{name}: finished the run stopped part way in {folder} (its finished chunks kept)"


def differences(base_name: str, other_name: str, alliance: str, table: pd.DataFrame, why: str | None) -> str:
    """Each fate's B − A (:func:`sim.analysis.compare.fate_differences`) in percentage points,
    with the paired interval where the runs pair (``why`` says why they do not)."""
    lines = [
        f"{other_name} − {base_name}, alliance {alliance} (percentage points; 95 % intervals, "
        + ("paired by replicate and unpaired)" if why is None else f"unpaired only: {why})")
    ]
    for t in table.itertuples(index=False):
        paired = f"paired [{100 * t.paired_low:+.1f}, {100 * t.paired_high:+.1f}]  " if why is None else ""
        lines.append(
            f"  {t.fate:<18}{100 * t.diff:+7.1f}   {paired}unpaired "
            f"[{100 * t.unpaired_low:+.1f}, {100 * t.unpaired_high:+.1f}]"
        )
    return "\n".join(lines)


def written(paths: Mapping[str, object]) -> str:
    """What a command wrote, one ``what: where`` line each."""
    return "\n".join(f"{k}: {v}" for k, v in paths.items())


def runs_in(count: int, seconds: float, what: str = "runs") -> str:
    """``12,345 runs in 6.7 s``."""
    return f"{count:,} {what} in {seconds:.1f} s"


# -- scenario tools ---------------------------------------------------------------------------


def validated(path: Path, scenario) -> str:
    """One line for a valid scenario file, with its size."""
    s = scenario
    return (
        f"ok  {path}  ({len(s.actors)} actors, {len(s.issues)} issues, {len(s.alliances)} "
        f"alliances, {len(s.events)} events)"
    )


def scenario_list(rows: Sequence[tuple[str, str]]) -> str:
    """The ready scenarios: name and title, aligned."""
    rows = [(printable(name, newlines=False), printable(title, newlines=False)) for name, title in rows]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {title}" for name, title in rows)


def starter_written(path: Path) -> str:
    """What to do with a starter scenario just written."""
    return f"wrote {path}; next: {command(f'show {path}')}, then {command(f'run {path}')}"


# -- exploration ------------------------------------------------------------------------------


def format_sweep(sweep) -> str:
    """A sweep (:class:`sim.analysis.sweep.Sweep`) as an aligned table: one row per value, each
    fate with its interval."""
    lines = [
        f"{sweep.alliance}: fates as {sweep.path} varies ({sweep.replicates} replicates per "
        "value, common random numbers; 95 % Wilson intervals)"
    ]
    head = f"  {'value':>10}" + "".join(f"  {w:<24}" for w in FATES)
    lines.append(head)
    for v, group in sweep.table.groupby("value", sort=False):
        cells = "".join(f"  {r.p:6.3f} [{r.low:.3f}, {r.high:.3f}]  " for r in group.itertuples())
        lines.append(f"  {v:>10.4g}{cells}")
    return "\n".join(lines)


def format_indices(
    s, output: str = "p_stab", top: int = 12, names: Callable[[str], str] | None = None
) -> str:
    """The most influential factors of one output of a sensitivity analysis
    (:class:`sim.analysis.sensitivity.Sensitivity`), with the binomial noise's share.

    ``names`` turns a parameter path into the label printed (e.g. the path with a readable
    description and the claims grounding it); default: the path.
    """
    from sim.analysis.sensitivity import noise_warning

    df = s.table(output, top)
    if names is not None:
        df = df.rename(index=lambda i: names(str(i)))
    label = {"p_holds": "P(holds)", "p_stab": "P(stab in the back)", "p_drift": "P(drift apart)"}
    lines = [
        f"{label.get(output, output)} of {s.alliance}: {s.method} indices "
        f"({s.settings['design_points']:,} design points x {s.settings['replicates']} replicates)"
    ]
    width = max([len(str(i)) for i in df.index] + [6])
    if s.method == "sobol":
        lines.append(f"  {'factor':<{width}}  {'ST':>14}  {'S1':>14}")
        for name, r in df.iterrows():
            lines.append(f"  {name:<{width}}  {r.ST:6.3f} ± {r.ST_conf:5.3f}  {r.S1:6.3f} ± {r.S1_conf:5.3f}")
    else:
        lines.append(f"  {'factor':<{width}}  {'mu*':>14}  {'sigma':>7}")
        for name, r in df.iterrows():
            lines.append(f"  {name:<{width}}  {r.mu_star:6.3f} ± {r.mu_star_conf:5.3f}  {r.sigma:7.3f}")
    mean = s.outputs[output].mean()
    lines.append(
        f"  mean over the design {mean:.3f}; binomial noise share of the variance "
        f"{s.noise_share(output):.2f} (at R = {s.settings['replicates']})"
    )
    warning = noise_warning(s, output)
    if warning:
        lines.append("  " + warning)
    return "\n".join(lines)


def samples_rounded(asked: int, used: int) -> str:
    """Why a Sobol design runs more base samples than asked."""
    return (
        f"--samples {asked}: using {used}, the next power "
        "of two (the Sobol' sequence is balanced at powers of two)"
    )


def over_time_indices(result, top: int) -> str:
    """The factors with the largest Sobol ST of P(active after step t), averaged over the steps."""
    ranked = result.ST.mean().sort_values(ascending=False).head(top)
    lines = [f"Sobol ST of P({result.alliance} active after step t), mean over {len(result.steps)} steps:"]
    lines += [f"  {k:2d}. {value:.3f}  {name}" for k, (name, value) in enumerate(ranked.items(), 1)]
    return "\n".join(lines)


def format_given_data(result, top: int = 12) -> str:
    """One text table of the top parameters (ranked by the index of the fate), with each output's
    index side by side, the noise level of each and a verdict: which indices stand out from noise
    and, for those that do not, about how many replicates would separate them."""
    from sim.analysis.given_data import DUMMY

    outputs = [o for o in ("fate", "stab", "holds") if o in result.indices.columns]
    v = result.verdict(outputs[0], top)
    name = {"delta": "delta", "pawn": "PAWN"}.get(result.method, result.method)
    n = result.settings["replicates"]
    lines = [
        f"{name} indices of {result.alliance} from {n:,} replicates (no new runs); ranked by the fate; "
        f"'~' marks an index within noise (not above its noise level: the mean + "
        f"{result.settings.get('noise_z', 2.0):.1f} sd of {result.settings.get('dummies', 1)} made-up inputs)"
    ]
    width = max([len(str(i)) for i in v.index] + [9])
    head = "".join(f"  {o:>8}" for o in outputs)
    lines.append(f"  {'':>3} {'parameter':<{width}}{head}")
    for k, p in enumerate(v.index, 1):
        cells = ""
        for o in outputs:
            x = float(result.indices.loc[p, o])
            level = float(result.indices.loc[DUMMY, o])
            cells += f"  {x:7.4f}{'~' if x <= level else ' '}"
        lines.append(f"  {k:3d} {p:<{width}}{cells}")
    levels = "".join(f"  {float(result.indices.loc[DUMMY, o]):7.4f} " for o in outputs)
    lines.append(f"  {'':>3} {'noise level':<{width}}{levels}")
    above = v[~v.within_noise]
    if above.empty:
        need = v.replicates_needed.dropna()
        lines.append(
            "verdict: no index stands out from noise"
            + (
                f"; about {int(need.min()):,} replicates would separate the largest (run more with "
                f"{command(f'run SCENARIO -n {int(need.min())}')})"
                if len(need)
                else "; more replicates would not change that"
            )
        )
    else:
        lines.append(
            f"verdict: {len(above)} of the {len(v)} shown stand out from noise for the fate "
            f"({', '.join(str(i) for i in above.index[:5])}{', ...' if len(above) > 5 else ''})"
        )
    return "\n".join(lines)


def given_data_footer(result) -> str:
    """How many replicates and parameters given-data indices read, and how long it took."""
    s = result.settings
    return (
        f"{s['replicates']:,} replicates, {s['parameters']} parameters in {s['seconds']:.1f} s (no new runs)"
    )


def format_discovery(d, claims: dict | None = None, names=None) -> str:
    """A plain-text table of the boxes (:class:`sim.analysis.discovery.Discovery`): statistics with
    their 95 % intervals, then each restricted dimension."""
    from sim.analysis.discovery import box_noise, no_region_text

    unit = d.settings.get("unit", "replicates")
    lines = [
        f"PRIM for {d.outcome} of {d.alliance}: {d.cases:,} of {d.n:,} {unit} "
        f"(base rate {d.base_rate:.3f}), {len(d.dimensions)} uncertain parameters"
    ]
    for b in d.boxes:
        if b.limits.empty:
            lines.append(f"box {b.index}: {no_region_text(d, b)}")
            continue
        q = box_noise(d, b)
        lines.append(
            f"box {b.index}: coverage {b.coverage:.3f} [{q['coverage'][0]:.3f}, {q['coverage'][1]:.3f}], "
            f"density {b.density:.3f} [{q['density'][0]:.3f}, {q['density'][1]:.3f}], lift "
            f"{q['lift']:.2f} x base rate [{q['lift_low']:.2f}, {q['lift_high']:.2f}], mass {b.mass:.3f}, "
            f"{len(b.limits)} restricted dimension{'s' if len(b.limits) != 1 else ''} (95 % intervals)"
        )
        if q["lift"] < 1.25 or q["lift_low"] < 1.1:
            lines.append(
                f"  a lift of {q['lift']:.2f} is weak: the outcome is barely more frequent inside the "
                "box than everywhere"
            )
        labels = {dim: (names(dim) if names else dim) for dim in b.limits.index}
        width = max([len(v) for v in labels.values()] + [9])
        for dim, r in b.limits.iterrows():
            cite = ""
            if claims and dim in claims:
                cite = (
                    "  ["
                    + ", ".join(c.id + (f" ¶{c.paragraph}" if c.paragraph else "") for c in claims[dim])
                    + "]"
                )
            lines.append(
                f"  {labels[dim]:<{width}}  {r.low:9.4g} .. {r.high:<9.4g} of "
                f"{r.full_low:.4g} .. {r.full_high:.4g}  qp {r.qp:.1e}{cite}"
            )
    return "\n".join(lines)


def landscape(names: Sequence[str], found: Sequence, what: str, top: int) -> str:
    """Axelrod-Bennett local minima (:func:`sim.model.landscape.tie_landscape`): energy, basin and
    the two blocs of each, with what energy and basin mean."""
    lines = [
        f"Axelrod-Bennett landscape of the {what}: {len(found)} local minima, {len(names)} actors",
        "energy: the capability-weighted sum of the ties that cross between the two blocs "
        "(friendly ties split apart raise it, hostile ones lower it): the lower, the less the "
        "split frustrates its members",
        f"basin: of the {2 ** (len(names) - 1):,} possible splits, how many end in this minimum "
        "when actors switch sides one at a time, each time the switch that lowers the "
        "energy most",
    ]
    for rank, m in enumerate(found[:top], 1):
        lines.append(f"{rank}. energy {m.energy:+.4f}  basin {m.basin}")
        for b in (0, 1):
            members = [names[i] for i in range(len(names)) if m.blocs[i] == b]
            lines.append(f"   bloc {b + 1}: {', '.join(members) if members else '(empty)'}")
    return "\n".join(lines)


def app_ready(folder: object) -> str:
    """The app's browser packages are in place."""
    return f"browser packages ready in {folder}"


def app_serving(url: str) -> str:
    """Where the app is served."""
    return f"serving the page on {url} (Ctrl-C stops it)"


# -- policy -----------------------------------------------------------------------------------


def format_policies(result, top: int = 10) -> str:
    """The most robust policies as a plain-text table (levers, then each metric's mean with its
    corrected regret and standard error, then the satisficing share with its interval), followed by
    the noise warnings of :func:`sim.analysis.policy_tables.policy_warnings`."""
    import numpy as np

    from sim.analysis.levers import LEVER_PREFIX, METRIC_PREFIX, REGRET_PREFIX, SATISFICING
    from sim.analysis.policy_tables import lever_display, policy_warnings, share_interval

    full = result.table
    rob = result.robustness
    t = full.sort_values("rank").head(top)
    levers = [c for c in t.columns if c.startswith(LEVER_PREFIX) and full[c].nunique() > 1]
    names = result.objectives.names
    head = ["rank", "policy", *[c.removeprefix(LEVER_PREFIX) for c in levers], *names, SATISFICING]
    rows = [head]
    for _, r in t.iterrows():
        p = int(r.policy)

        def regret_text(n: str, k: int, p: int = p, r=r) -> str:
            se = rob.regret_p90_se[p, k] if rob.regret_p90_se is not None else np.nan
            return f"{r[REGRET_PREFIX + n]:.3f}" + (f"±{se:.3f}" if np.isfinite(se) else "")

        sat = float(r[SATISFICING])
        sat_se = float(rob.satisficing_se[p]) if rob.satisficing_se is not None else None
        sat_lo, sat_hi = share_interval(sat, sat_se, result.metrics.shape[1])
        rows.append(
            [
                str(int(r["rank"])),
                "status quo" if p == 0 else str(p),
                *[lever_display(result.scenario, c.removeprefix(LEVER_PREFIX), r[c]) for c in levers],
                *[f"{r[METRIC_PREFIX + n]:.3f} (regret {regret_text(n, k)})" for k, n in enumerate(names)],
                f"{sat:.2f} [{sat_lo:.2f}, {sat_hi:.2f}]",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    if rob.corrected:
        lines.append(
            "regret: 90th percentile over the worlds, corrected for estimation noise (best policy "
            "chosen on half the replicates, regret measured on the other half, spread over the "
            "worlds cleared of noise) ± its standard error; satisficing: share of worlds meeting "
            "every threshold, each world read through its noise, [95 % interval]"
        )
    lines += [f"warning: {w}" for w in policy_warnings(result)]
    return "\n".join(lines)


def policy_evaluation(settings: Mapping) -> str:
    """The size and time of a lever evaluation."""
    s = settings
    return (
        f"{s['policies']} policies x {s['worlds']} worlds x {s['replicates']} replicates x "
        f"{s['steps']} steps = {s['replicate_runs']:,} runs in {s['seconds']:.1f} s"
    )


def lever_importance(importance: pd.DataFrame) -> str:
    """Which levers matter (:func:`sim.analysis.policy_tables.lever_importance`), one metric a line; empty
    when no lever varied."""
    if importance.empty:
        return ""
    lines = [
        "\nwhich levers matter (standardised regression coefficient of each metric's mean on "
        "the levers; R^2 of the fit):"
    ]
    for metric, part in importance.groupby("metric", sort=False):
        shown = ", ".join(f"{r.lever} {r.src:+.2f}" for r in part.itertuples())
        lines.append(f"  {metric} (R^2 {part.r2.iloc[0]:.2f}): {shown}")
    return "\n".join(lines)


def no_box(reason: object) -> str:
    """Why a policy page has no vulnerability box."""
    return f"(no vulnerability box: {reason})"


def hypervolume_text(row: Mapping) -> str:
    """A hypervolume with its Monte Carlo error when it was estimated (many objectives)."""
    se = row.get("hypervolume_se") or 0.0
    return f"{row['hypervolume']:.4g}" + (f" ± {se:.2g}" if se > 0 else "")


def generation(row: Mapping) -> str:
    """One generation of the lever search: evaluations, front size, hypervolume, time."""
    return (
        f"generation {row['generation']:4d}  evaluations {row['evaluations']:6d}  "
        f"front {row['front']:4d}  hypervolume {hypervolume_text(row)}  "
        f"{row['seconds']:.1f} s"
    )


def search_result(result, rows: int = 20) -> str:
    """The lever search's size, time and final hypervolume (one scale: the metrics on their natural
    ranges), then the distinct non-dominated policies (:func:`format_search`)."""
    s = result.settings
    conv = result.convergence
    last = conv.iloc[-1].to_dict() if len(conv) else {"hypervolume": 0.0}
    lines = [
        f"{s['evaluations']:,} evaluations ({s['worlds']} worlds x {s['replicates']} replicates x "
        f"{s['steps']} steps each) in {s['seconds']:.1f} s; {len(result.pareto)} distinct non-dominated "
        f"policies; final hypervolume {hypervolume_text(last)} ({s['hypervolume']}, metrics on their "
        "natural ranges)",
        format_search(result, rows),
    ]
    return "\n".join(lines)


def format_search(result, top: int = 20) -> str:
    """The non-dominated policies as a plain-text table, the status quo first: the levers that
    vary, then each metric as the search saw it and on fresh worlds (± standard error)."""
    import pandas as pd

    from sim.analysis.levers import LEVER_PREFIX, METRIC_PREFIX
    from sim.analysis.optimize import FRESH_PREFIX

    names = result.objectives.names
    frames = [result.status_quo, result.pareto] if result.status_quo is not None else [result.pareto]
    table = pd.concat(frames, ignore_index=True).head(top + 1)
    levers = [LEVER_PREFIX + n for n in result.settings.get("levers", []) if LEVER_PREFIX + n in table]
    head = ["policy", *[c.removeprefix(LEVER_PREFIX) for c in levers], *names]
    rows = [head]
    for i, (_, r) in enumerate(table.iterrows()):
        rows.append(
            [
                "status quo" if (i == 0 and result.status_quo is not None) else str(i),
                *[f"{r[c]:.3g}" for c in levers],
                *[
                    f"{r[METRIC_PREFIX + n]:.3f} -> {r[FRESH_PREFIX + n]:.3f}"
                    f"+-{r[f'{FRESH_PREFIX}{n}:se']:.3f}"
                    for n in names
                ],
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.append(
        "each metric: as the search saw it -> on fresh worlds and replicates +- standard error "
        "(the search's own values flatter the policies it kept)"
    )
    return "\n".join(lines)


# -- history ----------------------------------------------------------------------------------


def projection(proj, fates: Iterable[str] = ("stab_in_the_back", "drift_apart")) -> str:
    """The view from the last observation: the sentence, then the other fates with intervals."""
    lines = [proj.sentence()]
    for fate in fates:
        p, lo, hi = proj.p(fate)
        lines.append(f"  P({fate.replace('_', ' ')}) = {p:.2f} ({lo:.2f}-{hi:.2f})")
    return "\n".join(lines)


def calibration(cal) -> str:
    """What `calibrate` prints: the method, how probable the record was, the effective draws, the
    binding reading and the values the record moved."""
    from sim.present.calibration_pages import summary_lines

    return "\n".join(summary_lines(cal))


def backtest(bt) -> str:
    """What `backtest` prints: each forecaster's scores and the differences with their noise."""
    from sim.present.calibration_pages import backtest_lines

    return "\n".join(backtest_lines(bt))


def reach(r, wanted: list[str] | None = None) -> str:
    """What `identify` prints: for each value shown, the posterior sd over the prior sd that exact
    readings of the record would leave at best, and the share of truths whose posterior mean moves
    toward them, each with its Monte Carlo error; then what it means in one line."""
    ranked = r.ranked()
    shown = wanted or (
        [p for p in r.params if p.startswith("mechanisms.")]
        + [p for p in ranked if not p.startswith("mechanisms.")][:5]
    )
    lines = [
        f"{r.readings} readings, {r.replicates:,} prior replicates; were what they read known exactly "
        "(each tie's value, not only its sign or range: an upper bound on what the readings tell):",
        f"{'value':<36} {'prior sd':>9} {'post sd / prior sd':>20} {'mean moves toward truth':>24}  halved?",
    ]
    for p in shown:
        lines.append(
            f"{p:<36} {r.prior_sd[p]:>9.4g} {r.sd_ratio[p]:>11.3f} +- {r.sd_ratio_error[p]:<5.3f}"
            f" {r.toward[p]:>14.3f} +- {r.toward_error[p]:<5.3f}  {r.halves(p)}"
        )
    halved = [p for p in r.params if r.halves(p) == "yes"]
    best = ranked[0]
    if halved:
        lines.append(
            f"Knowing exactly what this record reads could halve the prior sd of {len(halved)} of the "
            f"{len(r.params)} uncertain values; its readings, which are noisier, narrow less."
        )
    else:
        lines.append(
            f"No uncertain value ({len(r.params)} in all) could have its prior sd halved by this record, "
            f"even were what it reads known exactly (the most narrowed: {best}, to "
            f"{r.sd_ratio[best]:.2f} of its prior sd);\n"
            "more readings of what moves with a value, or a reading of the value itself, would be needed."
        )
    return "\n".join(lines)


def posterior_written(out: Path) -> str:
    """Where a calibration put its posterior."""
    return f"posterior: {out / 'posterior.toml'} (samples in posterior.parquet, states in states.npz)"


def scores(table: pd.DataFrame) -> str:
    """Scenarios ranked by the probability each gave the record, with log scores, Bayes factors
    against the best and their standard errors; a scenario that reproduced the record in no
    replicate is listed as not estimable, with the replicates that would score it."""
    from sim.analysis.calibration import needed_replicates

    lines = [
        f"{'rank':>4}  {'scenario':<22} {'P(record)':>10} {'log score':>10} {'+-':>6} "
        f"{'log BF vs best':>15} {'+-':>6}  binding"
    ]
    for r in table.itertuples():
        if not r.estimable:  # reproduced the record in no replicate: no score to print
            lines.append(
                f"{'-':>4}  {r.scenario:<22} not estimable: no replicate of {r.replicates:,} "
                f"reproduced the record (P(record) below {r.p_record_below:.1g} at 95 %); run at "
                f"least {needed_replicates(r.replicates):,} replicates to score it"
            )
            continue
        lines.append(
            f"{r.rank:>4}  {r.scenario:<22} {r.p_record:>10.3g} {r.log_score:>10.2f} "
            f"{r.log_se:>6.2f} {r.log_bf_vs_best:>15.2f} {r.log_bf_se:>6.2f}  {r.binding}"
        )
    return "\n".join(lines)


def verified(folder, checks: list[str]) -> str:
    """What ``verify`` found intact in a folder: the count, then one check per line."""
    return "\n".join([f"{folder}: intact ({len(checks)} checks)", *(f"  {line}" for line in checks)])
