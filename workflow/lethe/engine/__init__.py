"""How jobs run: the job description and its entry (:mod:`.job`), the warm worker that forks
them (:mod:`.worker`), their logs (:mod:`.log`), the code stamps that rerun exactly the jobs
whose code changed (:mod:`.stamps`), the run lock (:mod:`.run_lock`), and what the workflow
does while Snakemake parses it (:mod:`.workflow`). Nothing here knows about unlearning."""
