"""The experiment runner: designs, chunks, collectors, executors, the ensemble and the result store."""
