"""The generated parts of the docs: tables written from the method, figure and metric catalogues.

Each generated block of a Markdown file sits between ``<!-- generated: NAME -->`` and
``<!-- end generated: NAME -->`` and is the text of :data:`BLOCKS` ``[NAME]``; nothing
else in the file is touched. ``lethe docs`` rewrites the blocks, ``lethe docs --check``
(and ``tests/test_catalogues.py``) fails naming each block that differs from its
catalogue, so a method, figure or metric added to a catalogue cannot be missing from
the README or the config reference. Torch-free.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

from lethe.methods.catalog import FAMILIES, METHODS, MethodInfo
from lethe.metrics.catalog import GAPS, METRICS
from lethe.report.catalog import FIGURES

REPO = Path(__file__).resolve().parents[2]
BIB = REPO / "paper" / "references.bib"


# --------------------------------------------------------------------------- bibliography


def bib_entries(path: str | Path = BIB) -> dict[str, dict[str, str]]:
    """{key: {field: value}} of a BibTeX file (the simple one-field-per-line layout of references.bib)."""
    entries: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in Path(path).read_text().splitlines():
        head = re.match(r"@\w+\{([^,]+),", line.strip())
        if head:
            current = entries.setdefault(head.group(1), {})
            continue
        field = re.match(r"\s*(\w+)\s*=\s*\{(.*)\},?\s*$", line)
        if field and current is not None:
            current[field.group(1).lower()] = field.group(2)
    return entries


def short_citation(key: str, entries: dict[str, dict[str, str]]) -> str:
    """``Surname et al. (year)`` of a BibTeX key, ``—`` for none."""
    if not key:
        return "—"
    entry = entries[key]
    if "author" not in entry:  # an entry whose authors are unknown: its title, in italics
        return f"*{entry.get('title', key)}*"
    authors = [a.strip() for a in entry.get("author", "").split(" and ") if a.strip()]
    first = authors[0].split(",")[0].strip("{} ") if authors else entry.get("title", key)
    more = (
        " et al."
        if len(authors) > 2
        else (f" and {authors[1].split(',')[0].strip('{} ')}" if len(authors) == 2 else "")
    )
    return f"{first}{more} ({entry.get('year', 'n.d.')})"


# --------------------------------------------------------------------------- tables

KIND_NAMES = {"pct": "percent", "frac": "fraction", "num": "number", "ms": "milliseconds", "ratio": "ratio"}


def _sees(info: MethodInfo) -> str:
    seen = [name for name, needed in (("D_f", info.needs_forget), ("D_r", info.needs_retain)) if needed]
    return " and ".join(seen) or "the forgotten class ids only"


def method_table() -> str:
    """README: one row per method, by family (FAMILIES order), with what it sees and its source."""
    entries = bib_entries()
    lines = ["| Family | Method | What it does | Data it sees | Paper |", "|---|---|---|---|---|"]
    for family, heading in FAMILIES.items():
        for info in (i for i in METHODS.values() if i.family == family):
            sees = _sees(info) + ("; class forgetting only" if info.class_only else "")
            lines.append(
                f"| {heading.lower()} | `{info.name}` | {info.summary} | {sees} | {short_citation(info.citation, entries)} |"
            )
    return "\n".join(lines)


def _value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def defaults_table() -> str:
    """config/README.md: every method's defaults, exactly as the catalogue holds them, and their source."""
    lines = ["| Method | Defaults | Source |", "|---|---|---|"]
    for info in METHODS.values():
        if info.name == "retrain":
            defaults = "the `train` recipe"
        else:
            defaults = ", ".join(f"`{k}: {_value(v)}`" for k, v in info.defaults.items()) or "none"
        if info.original != "original":
            defaults += f"; starts from its own model `{info.original}.safetensors` (its own rule)"
        lines.append(f"| `{info.name}` | {defaults} | {info.source} |")
    return "\n".join(lines)


def figure_table() -> str:
    """README: one row per figure of the registry."""
    lines = ["| Figure | What it shows |", "|---|---|"]
    lines += [f"| `{f.name}` | {f.summary} |" for f in FIGURES.values()]
    return "\n".join(lines)


def metric_table() -> str:
    """README: the reported metrics of the metric catalogue and how each is read."""
    goals = {"max": "highest", "min": "lowest", "retrain": "closest to retrain"}
    lines = [
        "| Metric | Shown as | Printed as | Best | Paper table | In the gaps | Paired test |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in METRICS.values():
        lines.append(
            f"| `{m.key}` | {m.plot} | {KIND_NAMES[m.kind]} | {goals[m.goal]} | {m.table or '—'} | "
            f"{', '.join(f'`{g}`' for g, keys in GAPS.items() if m.key in keys)} | {'yes' if m.paired else ''} |"
        )
    return "\n".join(lines)


def _docstring(module: str | Path) -> str:
    """The docstring of a module (``lethe.methods.NAME`` when given a name), read without importing it."""
    path = module if isinstance(module, Path) else REPO / "workflow" / "lethe" / "methods" / f"{module}.py"
    return ast.get_docstring(ast.parse(path.read_text())) or ""


def _reference(key: str, entries: dict[str, dict[str, str]]) -> str:
    if not key:
        return "none (a naive baseline of the notebooks Lethe started from)"
    e = entries[key]
    venue = e.get("booktitle") or e.get("journal") or e.get("note") or e.get("howpublished", "")
    authors = e.get("author", "authors not recorded").replace(" and ", "; ")
    return f"{authors}, *{e.get('title', key)}*, {venue}{', ' + e['year'] if 'year' in e else ''} (`{key}`)"


def method_reference() -> str:
    """docs/methods.md: every method, by family, with its source, defaults and its module's own account.

    The account is the module docstring of ``workflow/lethe/methods/NAME.py``: what the
    method follows, every choice where the paper and its code disagree or are silent and
    what Lethe does, and its known limits. Write it there; this file is regenerated."""
    entries = bib_entries()
    out = [
        "# Method reference",
        "",
        "<!-- Generated by `lethe docs` from workflow/lethe/methods/catalog.py and each method module's docstring:"
        " edit those, not this file. -->",
        "",
        "For every method: what it does, what data it receives, the paper it follows, where its defaults come",
        "from, and the module's own account of each choice where the paper and its code disagree or are silent",
        "and of its known limits. `config/README.md` lists the defaults; the paper's methods section has a",
        "paragraph per method (`paper/methods/NAME.tex`).",
        "",
    ]
    for family, heading in FAMILIES.items():
        members = [i for i in METHODS.values() if i.family == family]
        if not members:
            continue
        out += [f"## {heading}", ""]
        for info in members:
            sees = _sees(info) + ("; class forgetting only" if info.class_only else "")
            out += [
                f"### `{info.name}`",
                "",
                info.summary,
                "",
                f"- **Paper:** {_reference(info.citation, entries)}",
                f"- **Defaults follow:** {info.source}",
                f"- **Receives:** {sees}; starts from "
                + ("the original model" if info.original == "original" else f"its own model `{info.original}`")
                + ("" if info.needs_original else " (not used: it trains from scratch)"),
                f"- **Code:** `workflow/lethe/methods/{info.name}.py`; tests: `tests/{info.test_module}.py`",
                "",
                "```text",
                _docstring(info.name),
                "```",
                "",
            ]
    kit = REPO / "workflow" / "lethe" / "methodkit"
    out += ["## What the methods share (`lethe.methodkit`)", ""]
    for path in sorted(p for p in kit.glob("*.py") if p.stem != "__init__"):
        out += [f"### `lethe.methodkit.{path.stem}`", "", "```text", _docstring(path), "```", ""]
    return "\n".join(out).rstrip() + "\n"


# Whole files written by `lethe docs`: path relative to the repository -> generator.
FILES: dict[str, Callable[[], str]] = {"docs/methods.md": method_reference}

# NAME -> (file relative to the repository, generator).
BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "methods": ("README.md", method_table),
    "figures": ("README.md", figure_table),
    "metrics": ("README.md", metric_table),
    "method-defaults": ("config/README.md", defaults_table),
}


def _pattern(name: str) -> re.Pattern:
    return re.compile(
        rf"(<!-- generated: {re.escape(name)} -->\n)(.*?)(<!-- end generated: {re.escape(name)} -->)", re.DOTALL
    )


def render(text: str, name: str, body: str, path: str) -> str:
    """``text`` with block ``name`` replaced by ``body``; an error naming the file when the markers are missing."""
    pattern = _pattern(name)
    if len(pattern.findall(text)) != 1:
        raise ValueError(
            f"{path}: needs exactly one block '<!-- generated: {name} -->' ... '<!-- end generated: {name} -->'"
        )
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(3), text)


def update(root: str | Path = REPO, check: bool = False) -> list[str]:
    """Rewrite every generated block under ``root`` (or, with ``check``, only compare).

    Returns the ``file: block`` names that differed (and, unless ``check``, were rewritten).
    """
    root = Path(root)

    def read(rel: str) -> str | None:
        path = root / rel
        return path.read_text() if path.exists() else None

    current = {rel: read(rel) for rel in {rel for rel, _ in BLOCKS.values()} | set(FILES)}
    texts = {rel: generate() for rel, generate in FILES.items()}
    stale = [rel for rel in FILES if current[rel] != texts[rel]]
    for name, (rel, generate) in BLOCKS.items():
        old = texts.get(rel, current[rel])
        if old is None:
            raise FileNotFoundError(f"{root / rel}: missing; it holds the generated block {name!r}")
        new = render(old, name, generate(), rel)
        if new != old:
            stale.append(f"{rel}: {name}")
        texts[rel] = new
    if not check:
        for rel, text in texts.items():
            if text != current[rel]:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(text)
    return stale
