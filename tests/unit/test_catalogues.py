"""The catalogues are the one place for each fact: every place derived from them agrees.

Method registry (lethe.methods.catalog), metric catalogue (lethe.metrics.catalog), figure
registry (lethe.report.catalog): each entry is complete (module, citation, test, paper
paragraph, caption, drawing function) and the generated docs equal their text.
tests/workflow/test_catalogue_additions.py adds a dummy method, metric and figure to a
scratch copy of the repository, one place each, and finds every generated place updated.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from lethe.docs import bib_entries, update
from lethe.methods.catalog import FAMILIES, METHODS
from lethe.metrics.catalog import GAPS, GOALS, KINDS, METRICS, TABLES
from lethe.report.catalog import FIGURES, GENERATED, SOURCES

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "paper"
METHODS_DIR = REPO / "workflow" / "lethe" / "methods"
# Modules of lethe/methods that are not methods: the package and the registry (shared helpers
# live in lethe/methodkit).
HELPERS = {"__init__", "catalog"}


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_is_complete(name):
    info = METHODS[name]
    module = METHODS_DIR / f"{name}.py"
    tree = ast.parse(module.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "unlearn" for n in tree.body), f"{module}: no unlearn()"
    assert ast.get_docstring(tree), f"{module}: its docstring is the method's reference"
    assert info.family in FAMILIES, f"{name}: family {info.family!r} not in FAMILIES"
    assert info.summary and info.source, f"{name}: summary and source are shown in the docs"
    test_file = REPO / "tests" / "methods" / f"{info.test_module}.py"
    assert test_file.exists(), f"{name}: no test module {test_file}"
    assert re.search(rf"[\"']{name}[\"']|\b{name}\b", test_file.read_text()), f"{test_file} never names {name}"
    paragraph = PAPER / "methods" / f"{name}.tex"
    assert paragraph.exists(), f"{name}: no paper paragraph {paragraph}"
    text = paragraph.read_text()
    assert re.search(r"^\\paragraph\{", text, re.M), f"{paragraph}: starts a \\paragraph"
    if info.citation:
        assert info.citation in bib_entries(), f"{name}: citation {info.citation!r} not in references.bib"
        cited = {key.strip() for keys in re.findall(r"\\cite[pt]?\{([^}]*)\}", text) for key in keys.split(",")}
        assert info.citation in cited, f"{paragraph} does not cite {info.citation}"


def test_no_orphans_in_methods_folder_or_paragraphs():
    modules = {p.stem for p in METHODS_DIR.glob("*.py")}
    assert modules - HELPERS == set(METHODS), "a module of lethe/methods is neither a method nor a known helper"
    assert {p.stem for p in (PAPER / "methods").glob("*.tex")} == set(METHODS)


def test_every_cited_key_is_in_the_bibliography():
    keys = set(bib_entries())
    for tex in PAPER.rglob("*.tex"):
        for group in re.findall(r"\\cite[pt]?\{([^}]*)\}", tex.read_text()):
            for key in group.split(","):
                assert key.strip() in keys, f"{tex}: \\cite of {key.strip()!r}, not in references.bib"


@pytest.mark.parametrize("config", ["config/config.yaml", "config/paper.yaml"])
def test_default_and_paper_configs_run_every_method(config):
    methods = yaml.safe_load((REPO / config).read_text())["methods"]
    assert set(methods) == set(METHODS), f"{config}: methods differ from the registry by {set(METHODS) ^ set(methods)}"


def test_method_counts_and_lists_in_the_docs_match_the_registry():
    pages = sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))
    for doc in ("README.md", "config/README.md", *pages):
        for count in re.findall(r"\ball (\d+) methods\b", (REPO / doc).read_text()):
            assert int(count) == len(METHODS), f"{doc}: 'all {count} methods', the registry has {len(METHODS)}"
    amp = (REPO / "config/README.md").read_text().split("Where it applies:", 1)[1].split("**`memory_format`", 1)[0]
    missing = [m for m in METHODS if f"`{m}`" not in amp]
    assert not missing, f"config/README.md's amp paragraph does not say where amp applies to {missing}"


def test_generated_docs_match_the_catalogues():
    stale = update(check=True)
    assert not stale, f"generated docs out of date: {stale}; run `lethe docs`"


# --------------------------------------------------------------------------- metrics


def test_metric_catalogue_is_well_formed():
    for m in METRICS.values():
        assert m.kind in KINDS and m.goal in GOALS, m
        assert m.table is None or m.table in TABLES, m
        assert m.latex and m.plot, m
    for name, metrics in GAPS.items():
        assert name in METRICS and METRICS[name].derived, name
        assert all(key in METRICS and not METRICS[key].derived for key in metrics), "a gap averages measured metrics"
    assert GAPS["avg_gap"][-1] == "mia_efficacy"  # SalUn's definition
    for m in METRICS.values():
        assert m.power is None or m.table == "lira" or (m.mia and m.power == f"{m.key}_attack_acc"), m
        assert m.power is None or m.power.endswith("_attack_acc") or m.power in METRICS, m


# --------------------------------------------------------------------------- figures and paper


def _paper_text() -> dict[Path, str]:
    return {p: p.read_text() for p in PAPER.rglob("*.tex")}


def test_every_figure_is_complete():
    from lethe.report.figures import TABLE_FIGURES

    for f in FIGURES.values():
        assert f.source in SOURCES, f
        assert (REPO / "workflow" / "lethe" / "stages" / f"{f.stage}.py").exists(), f
        assert (REPO / "workflow" / "report" / f"{f.name}.rst").exists(), f"{f.name}: no caption file"
    assert set(TABLE_FIGURES) == {f.name for f in FIGURES.values() if f.source == "tidy"}
    captions = {p.stem for p in (REPO / "workflow" / "report").glob("*.rst")}
    assert captions - set(FIGURES) == {"workflow", "paper", "summary"}, "a caption file of no figure"


def test_paper_includes_exactly_the_declared_figures_and_generated_files():
    from lethe.report.catalog import figure_latex

    placed, inputs = [], []
    for text in _paper_text().values():
        placed += re.findall(r"\\lethefigure\{([^}]*)\}", text)
        inputs += re.findall(r"\\input\{([^}]*)\}", text)
        assert "\\includegraphics" not in text, "a figure environment typed by hand: use \\lethefigure{NAME}"
    assert sorted(placed) == sorted(FIGURES)
    for name in FIGURES:
        assert f"{{figures/{name}.pdf}}" in figure_latex(name)
    for target in inputs:
        folder, _, stem = target.partition("/")
        if folder == "generated":
            assert Path(stem).name in GENERATED.values() or f"{stem}.tex" in GENERATED.values(), target
        else:
            assert (PAPER / (target if target.endswith(".tex") else f"{target}.tex")).exists(), target
    assert {f"generated/{name}" for name in GENERATED.values() if name.endswith(".tex")} <= set(inputs), (
        "a generated file the paper never inputs"
    )


def test_methods_section_inputs_existing_paragraphs():
    from lethe.report.latex import methods_section

    text = methods_section(list(METHODS))
    names = re.findall(r"\\input\{methods/(\w+)\}", text)
    assert names == [m for family in FAMILIES for m, i in METHODS.items() if i.family == family]
    assert re.findall(r"\\subsection\{", methods_section(["retrain", "ssd"])) == [r"\subsection{"] * 2
    with pytest.raises(ValueError, match="not in the method registry"):
        methods_section(["nosuch"])
