"""The page kit's words: every index and column a page may show, named and explained in words
(:func:`sim.present.page.glossary` builds a page's glossary from them)."""

from __future__ import annotations

#: every index and column a page may show: key -> (term, meaning in words)
GLOSSARY: dict[str, tuple[str, str]] = {
    "holds": (
        "P(holds)",
        "Share of the model runs in which the alliance is still in force at the horizon.",
    ),
    "stab": (
        "P(stab in the back)",
        "Share of runs in which it ends with one member defecting while its partner's disposition "
        "toward it is still at least the trust threshold.",
    ),
    "drift": (
        "P(drift apart)",
        "Share of runs in which it ends with the dispositions already below the trust threshold.",
    ),
    "wilson": (
        "95 % interval",
        "Monte Carlo error of a share: with this many runs the share would fall in this range in 95 "
        "of 100 repetitions (Wilson 1927). It says how precisely the model's answer is known, not "
        "whether the assumptions are right.",
    ),
    "pp": ("pp", "Percentage points: the difference of two percentages."),
    "paired": (
        "paired interval",
        "The interval of a difference taken replicate by replicate on common random numbers (the "
        "same draws for both sides), narrower than comparing two independent runs.",
    ),
    "unpaired": (
        "unpaired interval",
        "The interval of a difference of two independent shares (Newcombe 1998).",
    ),
    "within_noise": (
        "within noise",
        "A value whose 95 % interval includes zero (for delta and PAWN: that does not exceed "
        "the noise level): it cannot be told apart from Monte Carlo noise with the runs made; the "
        "page says how many runs would separate it.",
    ),
    "cohesion": ("cohesion", "The members' mean disposition toward one another, in [−1, 1]."),
    "tie": ("tie", "One actor's disposition toward another, in [−1, 1] (+1 allied, −1 hostile)."),
    "variance_share": (
        "share of variance (first order)",
        "Part of the variance of a yes/no outcome that a group of sampled values explains on its "
        "own, estimated from the run's replicates (Plischke, Borgonovo & Smith 2013) with Kelley's "
        "bias correction; ± is two standard deviations of the same sum on shuffled outcomes.",
    ),
    "force_part": (
        "part of a force",
        "How much one force moved the tracked tie along a replicate's path; the parts add up to the "
        "tie's change exactly. An accounting, not a counterfactual.",
    ),
    "S1": (
        "S1 (first-order Sobol index)",
        "Share of the output's variance explained by the factor alone, averaged over the others "
        "(Saltelli 2002).",
    ),
    "ST": (
        "ST (total Sobol index)",
        "Share of the output's variance that involves the factor at all: its own effect plus every "
        "interaction (Saltelli et al. 2010). ST near 0: the factor could be fixed anywhere in its "
        "range without changing the answer.",
    ),
    "conf": (
        "± (95 % half-width)",
        "Half the width of the bootstrap 95 % confidence interval of an index: its Monte Carlo error.",
    ),
    "mu_star": (
        "μ* (mean absolute elementary effect)",
        "Morris screening (Campolongo et al. 2007): the average size of the output's change when "
        "the factor alone moves by one step of its range; ranks influence, in the output's units.",
    ),
    "sigma": (
        "σ (spread of elementary effects)",
        "Standard deviation of those changes: large against μ*, the factor's effect depends on the "
        "other factors (interactions) or is not linear.",
    ),
    "noise_share": (
        "binomial noise share",
        "Part of the output's variance over the design that finite replicates alone would produce; "
        "above 0.3 the indices are mostly noise.",
    ),
    "delta": (
        "δ (Borgonovo's delta)",
        "Half the expected distance between the outcome's distribution and its distribution once "
        "the factor is known: 0, knowing it changes nothing; 1, it decides the outcome "
        "(Borgonovo 2007; given-data estimator of Plischke, Borgonovo & Smith 2013).",
    ),
    "pawn": (
        "PAWN",
        "Median, over slices of the factor's range, of the Kolmogorov–Smirnov distance between the "
        "outcome's distribution in the slice and overall (Pianosi & Wagener 2015).",
    ),
    "noise_level": (
        "noise level",
        "The same index computed for made-up inputs that cannot matter (shuffled copies of a "
        "sampled value): their mean plus z standard deviations, z large enough that among all the "
        "inputs one without effect passes by chance in fewer than 1 analysis in 20 (Bonferroni). "
        "An index below it cannot be told from noise; 'above the bias' is the index less the "
        "dummies' mean.",
    ),
    "p_record": (
        "P(record)",
        "Probability the scenario gave the whole dated record under its error model: the mean, "
        "over its prior runs, of the record's likelihood.",
    ),
    "log_score": ("log score", "The natural logarithm of P(record)."),
    "log_bf": (
        "log Bayes factor",
        "Difference of two log scores: how many times (as a natural log) more probable one "
        "scenario made the record than the best one. On Kass & Raftery's (1995) scale, below 1 in "
        "size is barely worth a mention, 1–3 positive, 3–5 strong, above 5 very strong.",
    ),
    "mc_se": (
        "± (Monte Carlo standard error)",
        "The estimate's sampling error from a finite number of runs.",
    ),
    "acceptance": (
        "acceptance rate",
        "Share of prior runs accepted by the record (each with probability equal to its "
        "likelihood): the probability the scenario gave the record.",
    ),
    "ess": (
        "effective sample size",
        "How many equally weighted runs the likelihood weights are worth (Kish).",
    ),
    "ks": (
        "KS distance",
        "Largest gap between the prior's and the posterior's cumulative distributions of a value "
        "(two-sample Kolmogorov–Smirnov); it counts as moved above the level-0.001 threshold.",
    ),
    "predictive": (
        "prior / posterior predictive",
        "Share of runs, before and after conditioning on the record, in which an observation happened.",
    ),
    "policy": (
        "policy",
        "One setting of the levers; policy 0 (the status quo) is the scenario as written.",
    ),
    "world": (
        "world",
        "One draw of every uncertain value; every policy is run on the same worlds and replicates.",
    ),
    "regret": (
        "regret",
        "How far a policy falls short of the best evaluated policy in the same world, in the "
        "metric's own units (Savage 1951), summarised by its 90th percentile over the worlds. "
        "Corrected for the estimation noise that would otherwise inflate it (the best policy of a "
        "world chosen on half its runs and the regret measured on the other half; the spread over "
        "the worlds cleared of noise); ± is its standard error.",
    ),
    "satisficing": (
        "satisficing share",
        "Share of the worlds in which the policy meets every threshold (Starr's domain "
        "criterion), with the same noise correction and its 95 % interval.",
    ),
    "rank": (
        "rank",
        "Most robust first: the highest satisficing share, then the smallest worst normalised regret.",
    ),
    "src": (
        "SRC",
        "Standardised regression coefficient of a metric's mean on a lever (Saltelli et al. "
        "2008); with R² near 1, SRC² is the share of the metric's spread across policies the lever "
        "accounts for.",
    ),
    "spearman": ("Spearman's ρ", "Rank correlation, a check that does not assume a straight line."),
    "r2": ("R²", "Share of the metric's spread across policies the linear fit on the levers explains."),
    "hypervolume": (
        "hypervolume",
        "Share of the space of outcomes (each metric scaled to its natural range, probabilities on "
        "[0, 1], ties on [−1, 1], with a reference point a tenth of the range beyond the worst end) "
        "that the non-dominated policies dominate (Zitzler & Thiele 1999): 1 would be the best of "
        "every metric at once; it grows as the search finds better trade-offs. Exact up to four "
        "objectives, a Monte Carlo estimate with its standard error above (Bader & Zitzler 2011).",
    ),
    "pareto": (
        "non-dominated",
        "No other policy found is at least as good on every metric and better on one (Pareto).",
    ),
    "status_quo": ("status quo", "Every lever as the scenario is written."),
    "out_of_sample": (
        "out of sample",
        "The same policies run again on fresh worlds and replicates the search never saw; the "
        "shift is how much the search's own estimates flattered them (the optimizer's curse, Smith "
        "& Winkler 2006).",
    ),
    "base_rate": ("base rate", "Share of all runs (or worlds) with the outcome."),
    "coverage": ("coverage", "Share of all runs with the outcome that fall inside the box."),
    "density": ("density", "Share of the runs inside the box that have the outcome."),
    "mass": ("mass", "Share of all runs that fall inside the box."),
    "lift": (
        "lift",
        "Density divided by the base rate: how many times more often the outcome happens inside "
        "the box; near 1 the box adds little.",
    ),
    "qp": (
        "quasi-p",
        "One-sided binomial test of a restriction: could dropping it leave the box as dense by "
        "chance? (Bryant & Lempert 2010)",
    ),
    "sweep_value": (
        "swept value",
        "The parameter the sweep sets, one value per design point, every other uncertain value "
        "drawn as in the scenario.",
    ),
    "scenario_range": (
        "scenario's own range",
        "Where the scenario itself puts the swept value (its distribution's support, or its fixed value).",
    ),
}


#: raw column names a table may hold, in words
COLUMN_WORDS: dict[str, str] = {
    "S1": "S1",
    "S1_conf": "S1 ± (95 %)",
    "ST": "ST",
    "ST_conf": "ST ± (95 %)",
    "mu_star": "μ*",
    "mu_star_conf": "μ* ± (95 %)",
    "sigma": "σ",
    "mu": "μ (signed mean effect)",
    "p_record": "P(record)",
    "log_score": "log score",
    "log_se": "± (log score)",
    "log_bf_vs_best": "log Bayes factor vs the best",
    "log_bf_se": "± (log Bayes factor)",
    "replicates": "runs",
    "binding": "binding observation",
    "rank": "rank",
    "scenario": "scenario",
    "factor": "factor",
    "dimension": "parameter",
    "what": "in words",
    "claims": "claims",
    "low": "kept from",
    "high": "kept to",
    "full_low": "sampled from",
    "full_high": "sampled to",
    "qp": "quasi-p",
    "src": "SRC",
    "spearman": "Spearman's ρ",
    "r2": "R²",
    "lever": "lever",
    "metric": "metric",
}
