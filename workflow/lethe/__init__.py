"""Lethe: a reproducible pipeline for machine-unlearning research.

The package holds all logic; Snakemake rules only call into it. Modules that are
imported when the workflow is parsed (``lethe.config``, ``lethe.plan``, the catalogues
``lethe.methods.catalog``, ``lethe.metrics.catalog``, ``lethe.report.catalog``,
``lethe.data.catalog``, and ``lethe.data.forget_sets``, ``lethe.report.selection``,
``lethe.code_deps``, ``lethe.run_lock``) must not import torch.
"""

__version__ = "0.1.0"
