"""The documentation: every config key described, generated blocks up to date, links that resolve.

The config reference (config/README.md) is generated from config/schema.yaml's descriptions
(``lethe docs``), so a key without one would be an empty row. The README stays a short
front page: timings, dates and commit hashes belong in BENCHMARKS.md. When MkDocs is
installed, the site builds with ``--strict`` (no broken link, no page outside the nav).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lethe.docs import config_files_table, config_table, schema_keys

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config" / "schema.yaml"
BIN = Path(sys.executable).parent


def _described(node, path: str, missing: list[str]) -> None:
    """Collect the keys under ``node`` (properties, and the schema of a map's entries) without a description."""
    if isinstance(node, list):
        for item in node:
            _described(item, path, missing)
        return
    if not isinstance(node, dict):
        return
    for name, sub in node.get("properties", {}).items():
        if not str(sub.get("description", "")).strip():
            missing.append(f"{path}{name}")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict) and not str(extra.get("description", "")).strip():
        missing.append(f"{path}NAME")
    for key, sub in node.items():
        if key == "properties":
            for name, prop in sub.items():
                _described(prop, f"{path}{name}.", missing)
        elif key == "additionalProperties":
            _described(sub, f"{path}NAME.", missing)
        elif isinstance(sub, dict | list) and key not in ("default", "enum", "const"):
            _described(sub, path, missing)


def test_every_schema_key_has_a_description():
    schema = yaml.safe_load(SCHEMA.read_text())
    missing: list[str] = []
    _described(schema, "", missing)
    assert not missing, f"config/schema.yaml: keys without a description: {missing}"


def test_the_config_reference_has_a_row_per_key():
    schema = yaml.safe_load(SCHEMA.read_text())
    rows = {line.split("|")[1].strip().strip("`") for line in config_table().splitlines()[2:]}
    keys = {key for key, *_ in schema_keys(schema)}
    assert rows == keys
    assert {"forget_sets.NAME.per_seed", "imagefolders.NAME.root", "evaluation.relearn.max_eval"} <= keys
    row = next(line for line in config_table().splitlines() if line.startswith("| `evaluation.relearn.max_epochs`"))
    assert "| `50` |" in row, "relearn defaults come from lethe.metrics.relearn.DEFAULT_RELEARN"


def test_shipped_configs_table_has_every_config():
    table = config_files_table()
    shipped = sorted(p.name for p in (REPO / "config").glob("*.yaml") if p.name != "schema.yaml")
    assert [line.split("|")[1].strip() for line in table.splitlines()[2:]] == [
        f"`config/{name}`" for name in ["config.yaml", *(n for n in shipped if n != "config.yaml")]
    ]
    assert all(line.split("|")[3].strip() for line in table.splitlines()[2:]), "a config without a header comment"


def test_generated_docs_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, "-m", "lethe.cli", "docs", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) and GitHub give a heading."""
    text = re.sub(r"[`*]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return {_slug(h) for h in re.findall(r"^#{1,6}\s+(.*)$", text, flags=re.M)}


@pytest.mark.parametrize("doc", ["README.md", "config/README.md"])
def test_relative_links_resolve(doc):
    """Links of the Markdown files GitHub shows outside the site (the site's are checked by mkdocs --strict)."""
    source = REPO / doc
    text = re.sub(r"```.*?```", "", source.read_text(), flags=re.DOTALL)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        path = (source.parent / file).resolve() if file else source
        assert path.exists(), f"{doc}: link to {target}, which does not exist"
        if anchor:
            assert anchor in _anchors(path), f"{doc}: link to {target}, but {file or doc} has no such heading"


def test_readme_is_a_short_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 120, "README.md: at most ~120 lines; the rest belongs in docs/"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "README.md: dates belong in BENCHMARKS.md"
    assert not re.search(r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", text), "README.md: a commit hash"
    assert not re.search(r"\b\d+(\.\d+)?\s?(s|ms|min|h)\b", text), "README.md: timings belong in BENCHMARKS.md"
    assert "make test" in text and ".ci/run" in text, "README.md says which command CI runs"
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci and "make docs" in ci


def test_site_builds_strictly(tmp_path):
    mkdocs = BIN / "mkdocs"
    if not mkdocs.exists():
        pytest.skip("mkdocs is not installed (the docs extra)")
    proc = subprocess.run(
        [str(mkdocs), "build", "--strict", "--quiet", "--site-dir", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    pages = {p.stem for p in (REPO / "docs").glob("*.md")}
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    listed = {Path(v).stem for v in re.findall(r"[\w-]+\.md", str(nav))}
    assert listed == pages
