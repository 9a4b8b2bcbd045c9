"""What the config asks for: reading and checking it (:mod:`.config`), the experiment plan
of every run (:mod:`.experiment`) and where each run's files live (:mod:`.paths`).
Torch-free: the workflow builds its jobs from here while Snakemake parses it."""
