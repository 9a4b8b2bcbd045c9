"""Repository hygiene: formatting and lint, and pins that agree across files."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


@pytest.mark.parametrize(
    "cmd",
    [
        ("ruff", "check", "workflow", "tests", "bench"),
        ("ruff", "format", "--check", "workflow", "tests", "bench"),
        ("snakefmt", "--check", "Snakefile", "workflow/rules"),
    ],
    ids=["ruff-check", "ruff-format", "snakefmt"],
)
def test_code_is_clean(cmd):
    proc = run(str(BIN / cmd[0]), *cmd[1:])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)==([^\s;#]+)\s*", line)
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def conda_pip_pins(path: Path) -> dict[str, str]:
    """The pip pins of a conda environment file (envs/*.yaml)."""
    env = yaml.safe_load(path.read_text())
    return pins(next((d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d), []))


def test_pins_agree():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert {"dev", "docs"} <= set(extras)
    declared = pins(project["dependencies"] + [pin for group in extras.values() for pin in group])
    locked = pins((REPO / "requirements.lock").read_text().splitlines())
    assert len(declared) >= 10 and conda_pip_pins(REPO / "envs/lethe.yaml")
    for name, version in declared.items():
        assert locked.get(name) == version, f"{name}: pyproject {version}, requirements.lock {locked.get(name)}"
    for env in sorted((REPO / "envs").glob("*.yaml")):
        for name, version in conda_pip_pins(env).items():
            assert declared.get(name) == version, f"{name}: envs/{env.name} {version}, pyproject {declared.get(name)}"


def test_profile_executors_are_dependencies():
    """A profile's `executor: NAME` needs snakemake-executor-plugin-NAME, pinned as a runtime dependency.

    (Only in pyproject and the lock: the plugin runs in the Snakemake process, never inside the
    rules' conda environments.)
    """
    declared = pins(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"])
    profiles = sorted((REPO / "workflow/profiles").glob("*/config.yaml"))
    executors = {yaml.safe_load(p.read_text()).get("executor") for p in profiles} - {None, "local", "dryrun", "touch"}
    assert "slurm" in executors
    for executor in executors:
        assert f"snakemake-executor-plugin-{executor}" in declared, f"executor {executor} has no pinned plugin"


def test_results_are_not_tracked():
    tracked = run("git", "ls-files", "results").stdout.split()
    assert tracked == []
