"""The generated parts of the docs: tables written from the catalogues and the config schema.

Each generated block of a Markdown file sits between ``<!-- generated: NAME -->`` and
``<!-- end generated: NAME -->`` and is the text of :data:`BLOCKS` ``[NAME]``; nothing
else in the file is touched. :data:`FILES` are written whole (``docs/methods.md``).
``lethe docs`` rewrites them, ``lethe docs --check`` (and ``tests/unit/test_catalogues.py``,
``tests/unit/test_docs.py``) fails naming each block that differs from its source, so a
method, figure, metric or config key added to its catalogue or to ``config/schema.yaml``
cannot be missing from the documentation site (``docs/``) or the config reference
(``config/README.md``). Torch-free.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from lethe.methods.catalog import BUILT_GOLD_STANDARDS, FAMILIES, GOLD_STANDARDS, METHODS, MethodInfo
from lethe.metrics.catalog import GAPS, METRICS
from lethe.report.catalog import FIGURES

REPO = Path(__file__).resolve().parents[2]
BIB = REPO / "paper" / "references.bib"
SCHEMA = REPO / "config" / "schema.yaml"


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
    """docs/methods-overview.md: one row per method, by family (FAMILIES order), with what it sees and its source."""
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
    """docs/outputs.md: one row per figure of the registry."""
    lines = ["| Figure | What it shows |", "|---|---|"]
    lines += [f"| `{f.name}` | {f.summary} |" for f in FIGURES.values()]
    return "\n".join(lines)


def metric_table() -> str:
    """docs/evaluation.md: the reported metrics of the metric catalogue and how each is read."""
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


_NOT_BUILT = (
    " (not built: the tables print no verdict against retrain for it, `n/b`, and never bold it as closest to"
    " retrain; `lethe.methods.catalog.judged_against_retrain`)"
)


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
                f"- **Gold standard:** {GOLD_STANDARDS[info.gold_standard]}"
                + ("" if info.gold_standard in BUILT_GOLD_STANDARDS else _NOT_BUILT),
                f"- **Code:** `workflow/lethe/methods/{info.name}.py`; tests: `tests/methods/{info.test_module}.py`",
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


# --------------------------------------------------------------------------- the config reference

# Defaults that live in code, not in the schema: config key -> (module, the dict or the function whose
# keyword defaults they are). Read from the source, so the reference shows what the code uses.
CODE_DEFAULTS: dict[str, tuple[str, str]] = {
    "evaluation.relearn": ("workflow/lethe/metrics/relearn.py", "DEFAULT_RELEARN"),
    "evaluation.probe": ("workflow/lethe/metrics/probe.py", "probe_metrics"),
}


def code_defaults(module: str, name: str) -> dict:
    """The literal dict ``name`` of ``module`` (a path relative to the repository), or the keyword
    defaults of its function ``name``, read without importing it."""
    tree = ast.parse((REPO / module).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.literal_eval(node.value)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
            return ast.literal_eval(node.value)
        if isinstance(node, ast.FunctionDef) and node.name == name:
            args = node.args.posonlyargs + node.args.args
            found = {
                a.arg: ast.literal_eval(d)
                for a, d in zip(args[len(args) - len(node.args.defaults) :], node.args.defaults, strict=True)
            }
            found |= {
                a.arg: ast.literal_eval(d)
                for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
                if d
            }
            return found
    raise LookupError(f"{module}: no dict or function {name!r}")


def _flow(value) -> str:
    """A value as it is written in a YAML config (flow style)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if value == "":
        return '""'
    return _value(value)


def _allowed(node: dict) -> list:
    """The values a key allows when the schema lists them (enum, or the enums of a list's items)."""
    if "enum" in node:
        return list(node["enum"])
    items = node.get("items", {})
    return [v for branch in [items, *items.get("anyOf", [])] for v in branch.get("enum", [])]


def _when(branch: dict) -> str | None:
    """``kind: X`` for a oneOf branch that a constant property selects."""
    for name, sub in branch.get("properties", {}).items():
        if "const" in sub:
            return f"{name}: {sub['const']}"
    return None


def schema_keys(node: dict, prefix: str = "", when: str | None = None):
    """Every key of a config schema, depth first: (dotted key, its schema, whether it is required,
    the ``kind: X`` that selects it or None). A map's entries (``additionalProperties``) are
    ``NAME``; the keys of each ``oneOf`` branch carry the constant that selects the branch."""
    required = set(node.get("required", ()))
    for name, sub in node.get("properties", {}).items():
        key = f"{prefix}{name}"
        yield key, sub, name in required, when
        yield from schema_keys(sub, f"{key}.", when)
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        key = f"{prefix}NAME"
        yield key, extra, False, when
        yield from schema_keys(extra, f"{key}.", when)
    for branch in node.get("oneOf", []):
        if "properties" in branch:
            yield from schema_keys(branch, prefix, _when(branch) or when)


def _one_line(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _methods_note() -> str:
    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["methods"]
    runs = f"all {len(METHODS)} methods" if set(shipped) == set(METHODS) else f"{len(shipped)} methods"
    class_only = ", ".join(f"`{m}`" for m, info in METHODS.items() if info.class_only)
    return (
        f"Class-only methods (their catalogue entry says so), skipped for random-sample forget sets: {class_only}."
        f" `config/config.yaml` runs {runs}."
    )


def _untuned_note() -> str:
    fixed = ", ".join(f"`{m}`" for m, info in METHODS.items() if not info.search_space)
    return f"Methods without a search space keep their defaults: {fixed}."


# Sentences appended to a key's description, derived from the catalogues rather than written by hand.
DERIVED: dict[str, Callable[[], str]] = {"methods": _methods_note, "tuning.source": _untuned_note}


def config_table(schema_path: str | Path = SCHEMA) -> str:
    """config/README.md: every key of config/schema.yaml with its default and its ``description``."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    rows: dict[str, list] = {}
    for key, node, required, when in schema_keys(schema):
        rows.setdefault(key, []).append((node, required, when))
    lines = ["| Key | Default | Meaning |", "|---|---|---|"]
    for key, found in rows.items():
        node, required, _ = found[0]
        parent, _, leaf = key.rpartition(".")
        if "default" in node:
            default = f"`{_flow(node['default'])}`"
        elif parent in CODE_DEFAULTS and leaf in (known := code_defaults(*CODE_DEFAULTS[parent])):
            default = f"`{_flow(known[leaf])}`"
        else:
            default = "required" if all(r for _, r, _ in found) else "—"
        descriptions = [_one_line(n.get("description", "")) for n, _, _ in found]
        whens = [w for _, _, w in found]
        if len(set(descriptions)) == 1:
            meaning = descriptions[0]
            if any(whens):
                meaning = f"With {' or '.join(f'`{w}`' for w in whens if w)}: {meaning}"
        else:
            meaning = " ".join(f"`{w}`: {d}" for w, d in zip(whens, descriptions, strict=True))
        allowed = _allowed(node)
        if allowed:
            meaning += " One of " + ", ".join(f"`{_flow(v)}`" for v in allowed) + "."
        if key in DERIVED:
            meaning += " " + DERIVED[key]()
        lines.append(f"| `{key}` | {default} | {meaning} |")
    return "\n".join(lines)


def _header(path: Path) -> str:
    """The first sentence of a config file's header comment."""
    paragraph = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        text = line[1:]
        if not text.strip() or text.startswith("  "):  # a blank comment line or an indented command ends it
            if paragraph:
                break
            continue
        paragraph.append(text.strip())
    return re.split(r"(?<=[.!?])\s+(?=[A-Z`])", " ".join(paragraph), maxsplit=1)[0]


def config_files_table(folder: str | Path = REPO / "config") -> str:
    """config/README.md: one row per shipped config (config/*.yaml), from its header comment and its keys."""
    folder = Path(folder)
    defaults = {
        k: v.get("default") for k, v in yaml.safe_load((folder / "schema.yaml").read_text())["properties"].items()
    }
    files = sorted(p for p in folder.glob("*.yaml") if p.name != "schema.yaml")
    files.sort(key=lambda p: p.name != "config.yaml")  # the default first
    lines = [
        "| Config | Name | What it runs | Datasets | Architectures | Seeds | Methods |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in files:
        config = defaults | (yaml.safe_load(path.read_text()) or {})

        def names(key: str, config=config) -> str:
            return ", ".join(f"`{v}`" for v in config[key])

        lines.append(
            f"| `config/{path.name}` | `{config['name']}` | {_one_line(_header(path))} | {names('datasets')} | "
            f"{names('archs')} | {len(config['seeds'])} | {len(config['methods'])} |"
        )
    return "\n".join(lines)


# Whole files written by `lethe docs`: path relative to the repository -> generator.
FILES: dict[str, Callable[[], str]] = {"docs/methods.md": method_reference}

# NAME -> (file relative to the repository, generator).
BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {
    "methods": ("docs/methods-overview.md", method_table),
    "figures": ("docs/outputs.md", figure_table),
    "metrics": ("docs/evaluation.md", metric_table),
    "config-keys": ("config/README.md", config_table),
    "config-files": ("config/README.md", config_files_table),
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
