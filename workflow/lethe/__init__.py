"""Lethe: a reproducible pipeline for machine-unlearning research.

The package holds all logic; Snakemake rules only call into it. Modules that are
imported when the workflow is parsed (``lethe.plan.config``, ``lethe.plan.experiment``, the catalogues
``lethe.methods.catalog``, ``lethe.metrics.catalog``, ``lethe.report.catalog``,
``lethe.data.catalog``, and ``lethe.data.forget_sets``, ``lethe.report.selection``,
``lethe.engine.stamps``, ``lethe.engine.run_lock``) must not import torch.
"""

__version__ = "0.1.0"
