"""Lethe's benchmarks: speed measured in one run each, never asserted by a test.

    python -m bench loader    in-memory batching (lethe.train.fit) vs a plain DataLoader loop
    python -m bench methods   each method's time as a ratio to retrain, read from a completed run
    python -m bench dag       wall time of `snakemake -n` (finished default run; several thousand jobs)

Each prints a Markdown table for BENCHMARKS.md and writes a JSON record under
results/bench/ with the machine (CPU model, torch threads, CUDA device), the versions,
the date and the exact command. ``python -m bench --help`` lists every option.
"""
