"""What broke it, two ways: the attribution of the forces against switching each force off.

    .venv/bin/python benchmarks/why_switch_off.py [SCENARIO] [--replicates N] [--seed S]

Prints, for the focal alliance, the attribution sentences of each fate (over the run and over the
window before the end), then P(stab in the back) by each member, P(drift apart) and P(holds) with
each mechanism switched off in turn, on common random numbers (``sim.present.ensemble_view``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sim.analysis.why import why_groups, why_sentence
from sim.present import ensemble_view as ev
from sim.vocabulary import MECHANISMS, defector_column, fate_column


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", nargs="?", default="scenarios/stab_in_the_back.toml")
    ap.add_argument("--replicates", "-n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    path = Path(args.scenario)
    base = ev.Setting(path.stem)
    folder = path.parent.resolve()
    e0 = ev.simulate(base, args.replicates, args.seed, folder=folder)
    al = e0.focal or e0.alliances[0]
    for window in (False, True):
        for g in why_groups(e0.table, al, e0.alliances, window=window):
            print(why_sentence(g, top=7, threshold=0.0))
        print()
    members = sorted({str(x) for x in e0.table[defector_column(al)] if x})

    def row(name, e):
        fate, who = e.table[fate_column(al)], e.table[defector_column(al)]
        stabs = [((fate == "stab_in_the_back") & (who == m)).mean() for m in members]
        cells = "".join(f"{p:>17.4f}" for p in stabs)
        print(f"{name:14s}{cells}{(fate == 'drift_apart').mean():>10.4f}{(fate == 'holds').mean():>10.4f}")

    print(
        f"{'switched off':14s}"
        + "".join(f"{'stab by ' + m:>17s}" for m in members)
        + f"{'drift':>10s}{'holds':>10s}"
    )
    row("(none)", e0)
    for m in MECHANISMS:
        row(m, ev.simulate(base.with_multiplier(m, 0.0), args.replicates, args.seed, folder=folder))
    print(f"{al}, {args.replicates:,} replicates per row, seed {args.seed}")


if __name__ == "__main__":
    main()
