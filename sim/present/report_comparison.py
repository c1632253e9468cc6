"""The sections of a report comparing scenarios: the differences of their fates with the noise they
stand against, and the parameters in which they differ."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.present.page import esc
from sim.present.report_sections import basis_badge, load_claims, percent
from sim.run.store import Results
from sim.vocabulary import (
    FATE_LABELS,
    FATES,
    fate_column,
)


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "−") + " pp"


def _interval(low: float, high: float) -> str:
    if not np.isfinite(low):
        return "–"
    return f"{100 * low:+.1f} to {100 * high:+.1f} pp".replace("-", "−")


def _noise_verdict(t, n: int, paired: bool) -> str:
    """Whether a fate's difference stands out from its noise, and if not, how many replicates
    per scenario would separate it were it to stay the same size."""
    from sim.analysis.noise import runs_to_separate, within_noise
    from sim.present.page import noise_badge

    low, high = (t.paired_low, t.paired_high) if paired else (t.unpaired_low, t.unpaired_high)
    if not within_noise(low, high):
        return "yes"
    need = runs_to_separate(t.diff, (high - low) / 2, n)
    if need is None:
        return noise_badge() + " no difference at all"
    return noise_badge() + f" about {need:,} replicates each would separate a difference this size"


def difference_section(runs: Sequence[Results]) -> str:
    """Each fate's B − A against the first scenario, with the paired and the unpaired interval."""
    from sim.analysis.compare import fate_differences, pairing
    from sim.analysis.digest import digest_of
    from sim.analysis.digest import fate_differences as streamed_differences

    base = runs[0]
    alliance = base.focal
    if alliance is None:
        return ""
    parts = []
    for other in runs[1:]:
        if fate_column(alliance) not in other.columns or fate_column(alliance) not in base.columns:
            continue
        if digest_of(base) is not None and digest_of(other) is not None:  # both files, in step
            table = streamed_differences(base, other, alliance)
        else:
            table = fate_differences(base, other, alliance)
        why = pairing(base, other)
        rows = []
        for t in table.itertuples(index=False):
            cls = "pos" if t.diff > 0 else "neg" if t.diff < 0 else ""
            rows.append(
                f"<tr><td>{esc(FATE_LABELS[FATES.index(t.fate)])}</td>"
                f"<td class='num'>{percent(t.p_a)}</td><td class='num'>{percent(t.p_b)}</td>"
                f"<td class='num {cls}'><b>{_signed(t.diff)}</b></td>"
                f"<td class='num'>{_interval(t.paired_low, t.paired_high)}</td>"
                f"<td class='num'>{_interval(t.unpaired_low, t.unpaired_high)}</td>"
                f"<td class='small'>{_noise_verdict(t, min(base.n, other.n), why is None)}</td></tr>"
            )
        holds = table.set_index("fate").loc["holds"]
        if why is None:
            seed = (base.manifest.get("settings") or {}).get("seed")
            note = (
                f"Paired by replicate: both runs used seed {esc(seed)} with the same chunk size, "
                "so replicate r of each drew from the same random stream (common random "
                "numbers) and the paired interval is that of the mean difference over the "
                f"{base.n:,} pairs. For P(holds) it is {100 * holds.paired_width:.1f} pp wide "
                f"against {100 * holds.unpaired_width:.1f} pp unpaired (Newcombe's interval for "
                "independent runs)."
            )
            if holds.paired_width > 0.8 * holds.unpaired_width:
                note += (
                    " Pairing narrows it little here: the two scenarios draw different "
                    "numbers of random values (other uncertain values or events), so their "
                    "random streams part after the first draws and replicate r of one no "
                    "longer shares its chance with replicate r of the other. Scenarios that "
                    "differ only in values (or a sweep) pair tightly."
                )
        else:
            note = (
                f"These runs cannot be paired ({esc(why)}): only the unpaired interval "
                "(Newcombe 1998) is given. Run both with the same --seed, --chunk-size and "
                "--replicates to pair them."
            )
        parts.append(
            f"<h3>{esc(other.name)} − {esc(base.name)}</h3>"
            "<table class='diff'><thead><tr><th>fate of "
            f"<code>{esc(alliance)}</code></th><th>A: {esc(base.name)}</th><th>B: {esc(other.name)}"
            "</th><th>B − A</th><th>95 % CI, paired</th><th>95 % CI, unpaired</th>"
            "<th>told from noise?</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p class='small'>{note} pp: percentage points."
            "</p>"
        )
    if not parts:
        return ""
    return (
        "<section id='difference'><h2>The difference, under these assumptions</h2>"
        + "".join(parts)
        + "</section>"
    )


def parameter_diff_section(runs: Sequence[Results]) -> str:
    """Which parameters differ between the first scenario and each other one: value, basis and
    claims on each side; then the differences of structure."""
    from sim.present.show import short_value
    from sim.spec.claims import basis_of, grounding_claims
    from sim.spec.diff import parameter_differences, structure_differences
    from sim.spec.scenario import Scenario

    def scenario(r):
        try:
            return Scenario.model_validate(r.manifest["scenario"])
        except Exception:  # noqa: BLE001 - an old or foreign manifest: no table
            return None

    base = runs[0]
    sa = scenario(base)
    if sa is None:
        return ""
    ca, _, _ = load_claims(base)
    parts = []
    for other in runs[1:]:
        sb = scenario(other)
        if sb is None:
            continue
        cb, _, _ = load_claims(other)

        def side(claims, path, value):
            if value is None:
                return "<td class='mono'>–</td><td></td>"
            found = grounding_claims(claims, path, value)
            ids = ", ".join(esc(c.id) for c in found) or "no claim"
            return (
                f"<td class='mono'>{esc(short_value(value))}</td>"
                f"<td>{basis_badge(basis_of(found, path))} <span class='small'>{ids}</span></td>"
            )

        diffs = parameter_differences(sa, sb)
        rows = "".join(
            f"<tr><td><code>{esc(d.path)}</code></td>{side(ca, d.path, d.a)}{side(cb, d.path, d.b)}</tr>"
            for d in diffs
        )
        notes = structure_differences(sa, sb)
        parts.append(
            f"<h3>{esc(base.name)} (A) and {esc(other.name)} (B): {len(diffs)} parameters differ</h3>"
            + (
                "<table class='small'><thead><tr><th>parameter</th><th>A</th><th>A basis, claims</th>"
                "<th>B</th><th>B basis, claims</th></tr></thead><tbody>" + rows + "</tbody></table>"
                if diffs
                else "<p>No parameter differs.</p>"
            )
            + ("<ul class='small'>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>" if notes else "")
        )
    if not parts:
        return ""
    return (
        "<section id='parameter-differences'><h2>What differs between the scenarios</h2>"
        "<p class='small'>Every value that differs (– where a scenario lacks it), with its "
        "basis and the claims grounding it on each side; "
        "<code>alliance-sim diff A.toml B.toml</code> prints the same in a terminal.</p>"
        + "".join(parts)
        + "</section>"
    )
