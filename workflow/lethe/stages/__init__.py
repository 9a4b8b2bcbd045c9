"""One module per pipeline rule: the function a Snakemake rule (or the CLI) calls, and ``main(job)``.

Each stage function takes file paths and plain parameters, writes its outputs atomically and
returns what it wrote; nothing here knows about Snakemake. ``main(job)`` is the rule's entry:
it maps the job's files, wildcards and params (:class:`lethe.engine.job.Job`) onto that call,
and :mod:`lethe.engine.job` runs it for every job of the rule. The figure rules share two
stages: :mod:`.figure` (drawn from result files) and :mod:`.saliency_figure` (which runs the
models).

A stage module imports only what its rule needs and never another stage, so that the rule's
code inputs (the closure of ``lethe`` modules it imports, derived by
:mod:`lethe.engine.stamps`) are exactly what its results depend on: files that several stages
read are loaded by the module that owns them (the populations' files by
:mod:`lethe.populations.artefacts`, checkpoints by :mod:`lethe.models.checkpoint`). The stages
that train or evaluate take a :class:`lethe.device.Runtime` (the config's ``device``, ``amp``
and ``memory_format`` and the job's threads); the records say which precision and memory
format a run actually used. Functions are named after their rules and take the dataset's
files in one order, ``npz_path, manifest_path``.

Import a stage from its module: ``from lethe.stages.unlearn import unlearn``. This package
imports nothing, so that a rule loads only its own stage.
"""
