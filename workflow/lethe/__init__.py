"""Lethe: a reproducible pipeline for machine-unlearning research.

The package holds all logic; Snakemake rules only call into it. Modules that are
imported when the workflow is parsed (``lethe.config``, ``lethe.methods.catalog``,
``lethe.data.catalog``, ``lethe.data.forget_sets``) must not import torch.
"""

__version__ = "0.1.0"
