"""One module per pipeline rule: the function a Snakemake rule (or the CLI) calls.

Each stage takes file paths and plain parameters, writes its outputs atomically and
returns what it wrote; nothing here knows about Snakemake. A stage module imports only
what its rule needs, so that the rule's code inputs (the closure of ``lethe`` modules
its script imports, derived by :mod:`lethe.engine.stamps`) are exactly what its results
depend on. The stages that train or evaluate take a :class:`lethe.device.Runtime`
(the config's ``device``, ``amp`` and ``memory_format`` and the job's threads); the
records say which precision and memory format a run actually used. Functions are named
after their rules and take the dataset's files in one order, ``npz_path, manifest_path``.

Import a stage from its module: ``from lethe.stages.unlearn import unlearn``. This
package imports nothing, so that a rule loads only its own stage.
"""
