"""Rule paper_inputs: the generated LaTeX (tables, number macros, setup section)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from lethe.io import atomic_path, read_json
from lethe.report.latex import (
    HIDING_CAPTION,
    HIDING_COLUMNS,
    LIRA_CAPTION,
    LIRA_COLUMNS,
    cost_table,
    family_sections,
    methods_section,
    number_macros,
    population_tables,
    scenario_tables,
)
from lethe.report.setup import setup_section


def paper_inputs(
    tidy_csv: str | Path,
    summary_csv: str | Path,
    config: dict,
    method_params: dict,
    manifest_paths: list,
    forget_paths: list,
    original_meta_paths: list,
    outputs: dict[str, str | Path],
    tuned_paths: list = (),
) -> None:
    """The generated LaTeX the paper inputs.

        ``outputs`` maps ``table`` (all methods), ``families`` (a subsection and table per
        method family), ``costs`` (time against the number of forgotten classes), ``numbers``
        (macros), ``setup`` (the experimental-setup section) and ``methods`` (the methods
    section's family subsections, a paragraph per method run) to paths. ``tuned_paths``: the
    tuned files (lethe.tuning.values) the runs read, for the setup section.
    """
    tidy = pd.read_csv(tidy_csv)
    summary = pd.read_csv(summary_csv)
    texts = {
        "table": lambda: scenario_tables(summary),
        "hiding": lambda: scenario_tables(summary, HIDING_COLUMNS, HIDING_CAPTION, "tab:hiding"),
        "lira": lambda: scenario_tables(summary, LIRA_COLUMNS, LIRA_CAPTION, "tab:lira"),
        "population": lambda: population_tables(summary),
        "families": lambda: family_sections(summary),
        "costs": lambda: cost_table(tidy),
        "numbers": lambda: number_macros(summary, config),
        "methods": lambda: methods_section(method_params),
        "setup": lambda: setup_section(
            config, method_params, [read_json(p) for p in manifest_paths],
            [read_json(p) for p in forget_paths], [read_json(p) for p in original_meta_paths],
            [yaml.safe_load(Path(p).read_text()) for p in tuned_paths],
        ),
    }  # fmt: skip
    unknown = set(outputs) - set(texts)
    if unknown:
        raise ValueError(f"paper_inputs: unknown outputs {sorted(unknown)}; known: {sorted(texts)}")
    for key, path in outputs.items():
        text = texts[key]()
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)


def main(job) -> None:
    """The rule's job (lethe.engine.job.Job): its files and params onto the stage's call."""
    paper_inputs(
        job.input.tidy,
        job.input.summary,
        job.params.config,
        job.params.method_params,
        job.input.manifests,
        job.input.forget_sets,
        job.input.originals,
        dict(job.output.items()),
        tuned_paths=job.input.get("tuned", []),
    )
