"""One module per pipeline rule: the function a Snakemake rule (or the CLI) calls.

Each stage takes file paths and plain parameters, writes its outputs atomically and
returns what it wrote; nothing here knows about Snakemake. A stage module imports only
what its rule needs, so that the rule's code inputs (the closure of ``lethe`` modules
its script imports, derived by :mod:`lethe.code_deps`) are exactly what its results
depend on. ``device``, ``amp`` and ``memory_format`` are the config's keys of those
names (:mod:`lethe.device`); the records say which precision and memory format a run
actually used.

Import a stage from its module: ``from lethe.stages.unlearn import unlearn``. This
package imports nothing, so that a rule loads only its own stage.
"""
