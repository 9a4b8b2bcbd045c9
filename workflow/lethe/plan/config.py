"""A Lethe config: read (YAML errors with file and line), checked against config/schema.yaml
(one short message naming the key, the value and what is allowed), defaults filled in.

Torch-free: the Snakefile calls :func:`resolve` at parse time, and ``lethe check-config``
runs the same checks, plus the plan's (:class:`lethe.plan.Plan`), on files that Snakemake
itself would read first (``--configfile``).

The config is checked as written, before any default is filled in, so that a message never
shows a value the user did not write. Defaults follow the schema: a property's ``default``
where the key is missing, recursively (an object that defaults to ``{}`` gets its own
properties' defaults), and inside a ``oneOf`` the defaults of the branch the value matches.
"""

from __future__ import annotations

import copy
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lethe.models.catalog import arch_problem
from lethe.plan.experiment import Plan, canonical

SCHEMA = Path(__file__).resolve().parents[3] / "config" / "schema.yaml"


class ConfigError(ValueError):
    """A config that cannot run: the message names the key, the value and what is allowed."""


@cache
def load_schema(path: str | Path = SCHEMA) -> dict:
    with open(path) as handle:
        return yaml.safe_load(handle)


def load_yaml(path: str | Path) -> dict:
    """A config file as a mapping; :class:`ConfigError` naming the file (and line) otherwise."""
    try:
        with open(path) as handle:
            data = yaml.safe_load(handle)
    except OSError as error:
        raise ConfigError(f"config file {path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------- messages


def _where(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "the config"


def _bounds(schema: dict) -> str:
    parts = []
    if "minimum" in schema:
        parts.append(f"{schema['minimum']} <=")
    elif "exclusiveMinimum" in schema:
        parts.append(f"{schema['exclusiveMinimum']} <")
    parts.append("value")
    if "maximum" in schema:
        parts.append(f"<= {schema['maximum']}")
    elif "exclusiveMaximum" in schema:
        parts.append(f"< {schema['exclusiveMaximum']}")
    return " ".join(parts)


def _branch_kind(branch: dict) -> Any:
    return branch.get("properties", {}).get("kind", {}).get("const")


def _describe_one_of(error: jsonschema.ValidationError) -> str:
    """A ``oneOf`` failure, told by the branch its ``kind`` selects (forget sets), else plainly."""
    where, value, branches = _where(error), error.instance, error.validator_value
    kinds = [_branch_kind(branch) for branch in branches]
    if isinstance(value, dict) and any(kind is not None for kind in kinds):
        if value.get("kind") not in kinds:
            return f"{where}: kind {value.get('kind')!r} is not allowed; allowed: {kinds}"
        index = kinds.index(value["kind"])
        inner = [e for e in error.context if e.schema_path and e.schema_path[0] == index]
        if inner:
            return describe(min(inner, key=lambda e: (len(e.absolute_path) * -1, str(e.absolute_path))))
    # No kind to choose by: the branches differ by which keys they require (random_samples).
    required = [key for branch in branches for key in branch.get("required", [])]
    if required and isinstance(value, dict):
        given = [key for key in required if key in value]
        return f"{where}: give exactly one of {required}; given: {given or 'none'}"
    return f"{where}: {value!r} matches none or several of the allowed forms"


def describe(error: jsonschema.ValidationError) -> str:
    """One line: the key, the value and what the schema allows there."""
    where, value, rule, schema = _where(error), error.instance, error.validator, error.schema
    if rule == "oneOf":
        return _describe_one_of(error)
    if rule == "anyOf" and error.absolute_path and error.absolute_path[0] == "archs":
        problem = arch_problem(value)  # what to write instead (timm-NAME, not timm:NAME)
        if problem is not None:
            return f"{where}: {problem}"
    if rule == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(allowed))
        return (
            f"unknown key{'s' if len(extra) > 1 else ''} {', '.join(extra)} in {where}; allowed: {', '.join(allowed)}"
        )
    if rule == "required":
        missing = [key for key in error.validator_value if key not in value]
        return f"{where}: missing {', '.join(missing)} (required: {', '.join(error.validator_value)})"
    if rule in ("enum", "const"):
        allowed = error.validator_value if rule == "enum" else [error.validator_value]
        return f"{where}: {value!r} is not allowed; allowed: {allowed}"
    if rule == "minItems" and error.validator_value == 1:
        return f"{where}: {value} is empty; give at least one item"
    if rule == "minItems":
        return f"{where}: {value} has fewer than {error.validator_value} item(s); give at least {error.validator_value}"
    if rule == "minProperties":
        return f"{where}: empty; give at least {error.validator_value} entry"
    if rule == "uniqueItems":
        repeated = sorted(text for text, n in Counter(map(repr, value)).items() if n > 1)
        return f"{where}: {value} repeats {', '.join(repeated)}; items must be distinct"
    if rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{where}: {value!r} is out of range; allowed: {_bounds(schema)}"
    if rule == "type":
        return f"{where}: {value!r} is not of type {error.validator_value}"
    if rule == "pattern":
        return f"{where}: {value!r} does not match {error.validator_value}"
    return f"{where}: {error.message}"


# --------------------------------------------------------------------------- checks and defaults


def check(config: dict, schema: dict | None = None) -> None:
    """Raise :class:`ConfigError` for the first schema violation of ``config`` (as written)."""
    schema = load_schema() if schema is None else schema
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(describe(errors[0]) + more)


def _fill(value: Any, schema: dict) -> Any:
    if not isinstance(value, dict):
        return value
    for branch in schema.get("oneOf", []):
        if jsonschema.Draft202012Validator(branch).is_valid(value):
            value = _fill(value, branch)
            break
    properties = schema.get("properties", {})
    for key, sub in properties.items():
        if key not in value and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
        if key in value:
            value[key] = _fill(value[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in value:
            if key not in properties:
                value[key] = _fill(value[key], extra)
    return value


def with_defaults(config: dict, schema: dict | None = None) -> dict:
    """A copy of a checked ``config`` with the schema's defaults filled in."""
    schema = load_schema() if schema is None else schema
    return _fill(copy.deepcopy(config), schema)


def resolve(config: dict, schema: dict | None = None) -> dict:
    """Check ``config`` against the schema, then fill in its defaults."""
    check(config, schema)
    return with_defaults(config, schema)


def load_plan(config: dict) -> Plan:
    """The plan of a config as written: checked, defaults filled in, keys sorted (key order in a
    config file must not rerun jobs), then the plan's own checks. ``Plan.config`` is the result."""
    return Plan(canonical(resolve(config)))
