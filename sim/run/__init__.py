"""Running experiments: designs, chunks, seeding, executors and the result store."""
