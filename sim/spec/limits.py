"""The largest scenario and run the program accepts.

The schema (:mod:`sim.spec.schema`) checks a scenario file against them; the command line checks
its options (``--replicates``, ``--steps``) against them as it reads them, without loading the
schema and its validation library.
"""

MAX_ACTORS = 200
MAX_ISSUES = 100
MAX_STEPS = 1_000_000
MAX_REPLICATES = 100_000_000
