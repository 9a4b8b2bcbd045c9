"""Adding a method, a metric and a figure is one place each: in a scratch copy of the repository,
one catalogue entry each, then `lethe docs` and Snakemake's dry run show every derived place
updated (tests/unit/test_catalogues.py checks the catalogues themselves)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from helpers.repository_copy import copy_repository

DUMMY_METHOD = """
        MethodInfo(
            "dummy",
            "A dummy method that returns the original model.",
            "cao2015towards",
            defaults={"strength": 0.5},
            family="other",
            source="the test",
        ),
"""
DUMMY_METRIC = """        Metric("dummy_score", r"Dummy$_s$", "dummy score", "frac", "min", "hiding"),
"""
DUMMY_FIGURE = """        Figure("dummy_figure", "tidy", "table_figure", "Cost", "a dummy figure"),
"""


def _insert_after(path: Path, anchor: str, text: str) -> None:
    source = path.read_text()
    assert source.count(anchor) == 1, f"{path}: anchor {anchor!r}"
    path.write_text(source.replace(anchor, anchor + text))


def test_adding_a_method_metric_and_figure_is_one_place_each(tmp_path):
    """In a scratch copy: one catalogue entry each (plus the method's module and paragraph,
    the figure's caption), then `lethe docs`; every derived place shows the additions."""
    repo = copy_repository(tmp_path)
    lethe = repo / "workflow" / "lethe"
    _insert_after(lethe / "methods/catalog.py", "    for info in (\n", DUMMY_METHOD)
    (lethe / "methods/dummy.py").write_text(
        '"""Dummy: returns the model unchanged (a test)."""\n\n\ndef unlearn(model, data, params, ctx):\n    return model\n'
    )
    (repo / "paper/methods/dummy.tex").write_text("\\paragraph{Dummy.} Nothing~\\citep{cao2015towards}.\n")
    _insert_after(lethe / "metrics/catalog.py", "    for m in (\n", DUMMY_METRIC)
    _insert_after(lethe / "report/catalog.py", "    for f in (\n", DUMMY_FIGURE)
    (repo / "workflow/report/dummy_figure.rst").write_text("A dummy figure.\n")
    env = {**os.environ, "PYTHONPATH": str(repo / "workflow")}

    def run(*cmd, cwd=repo):
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    assert (
        "stale"
        in subprocess.run(
            [sys.executable, "-m", "lethe.cli", "docs", "--check"], cwd=repo, env=env, capture_output=True, text=True
        ).stdout
    )
    run(sys.executable, "-m", "lethe.cli", "docs")
    config_readme = (repo / "config/README.md").read_text()
    assert "| `dummy` | A dummy method" in (repo / "docs/methods-overview.md").read_text()  # the method table
    assert "| `dummy` | `strength: 0.5` | the test |" in config_readme  # the defaults table
    assert "### `dummy`" in (repo / "docs/methods.md").read_text()  # the method reference
    assert "| `dummy_score` | dummy score |" in (repo / "docs/evaluation.md").read_text()  # the metric table
    assert "| `dummy_figure` | a dummy figure |" in (repo / "docs/outputs.md").read_text()  # the figure table
    probe = run(
        sys.executable,
        "-c",
        (
            "from lethe.report.latex import HIDING_COLUMNS, GOALS, methods_section, method_order\n"
            "from lethe.metrics.catalog import PAIRED_METRICS\n"
            "print('col', [c for c in HIDING_COLUMNS if c[0] == 'dummy_score'], GOALS['dummy_score'])\n"
            "print('sec', 'methods/dummy' in methods_section(['retrain', 'dummy']))\n"
            "print('order', method_order(['retrain', 'original', 'dummy']))\n"
        ),
    )
    assert "col [('dummy_score', 'Dummy$_s$', 'frac')] min" in probe  # a column of the hiding table, bolded by its goal
    assert "sec True" in probe  # its paragraph in the methods section
    assert "order ['original', 'dummy', 'retrain']" in probe  # table rows in registry order (inserted first)
    # The workflow: a figure rule of its own whose PDF the paper build receives; the method runs by name.
    config = yaml.safe_load((repo / "tests/configs/tiny.yaml").read_text())
    config["methods"] = [*config["methods"], "dummy"]
    (repo / "dummy.yaml").write_text(yaml.safe_dump(config))
    out = run(sys.executable, "-m", "snakemake", "-n", "--configfile", "dummy.yaml", "--quiet", "rules")
    assert re.search(r"figure_dummy_figure\s+1", out), out
    assert re.search(r"unlearn\s+9", out), out  # 7 in tiny.yaml + dummy on both forget sets
    graph = run(sys.executable, "-m", "snakemake", "-n", "--configfile", "dummy.yaml", "--forceall", "compile_paper")
    compile_job = graph.split("rule compile_paper:", 1)[1].split("\n\n", 1)[0]
    assert "results/paper/tiny/figures/dummy_figure.pdf" in compile_job.split("output:", 1)[0]
