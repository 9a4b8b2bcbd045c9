"""Every bad config fails at parse time, before any job, in one message naming the key, the
value and what is allowed; the defaults the workflow fills in are the ones Snakemake's
validate filled in before (so no job of an existing run changes).

The cases run through ``snakemake --dry-run`` (that is where a user meets them; a failure
at parse time means no job ran) and through ``lethe check-config``.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers.repository_copy import copy_repository
from snakemake.utils import validate

from lethe.cli import main as lethe_main
from lethe.plan.config import ConfigError, load_yaml, resolve

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "configs" / "tiny.yaml"
CONFIGS = sorted(p for p in (REPO / "config").glob("*.yaml") if p.name != "schema.yaml") + sorted(
    (REPO / "tests" / "configs").glob("*.yaml")
)


def dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--dry-run", *args],
        capture_output=True,
        text=True,
    )


def tiny_with(edit) -> dict:
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    return config


def add_forget_set(spec):
    return lambda c: c["forget_sets"].update(bad=spec)


# (edit of tiny.yaml, the one message line expected, a value the message must not echo)
CASES = {
    "all_classes": (
        add_forget_set({"kind": "classes", "classes": list(range(10))}),
        "config key forget_sets: forget set bad (classes [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) forgets every class "
        "of dataset digits (10 classes): nothing would be retained; leave at least one out",
    ),
    "empty_classes": (
        add_forget_set({"kind": "classes", "classes": []}),
        "forget_sets.bad.classes: [] is empty; give at least one item",
    ),
    "repeated_class": (
        add_forget_set({"kind": "classes", "classes": [3, 3]}),
        "forget_sets.bad.classes: [3, 3] repeats 3; items must be distinct",
    ),
    "fraction_above_one": (
        add_forget_set({"kind": "random_samples", "fraction": 1.5}),
        "forget_sets.bad.fraction: 1.5 is out of range; allowed: 0 < value < 1",
    ),
    "fraction_and_count": (
        add_forget_set({"kind": "random_samples", "fraction": 0.5, "count": 3}),
        "forget_sets.bad: give exactly one of ['fraction', 'count']; given: ['fraction', 'count']",
    ),
    "unknown_kind": (
        add_forget_set({"kind": "class", "classes": [1]}),
        "forget_sets.bad: kind 'class' is not allowed; allowed: ['classes', 'random_classes', 'random_samples']",
    ),
    "key_of_another_kind": (
        add_forget_set({"kind": "classes", "classes": [1], "seed": 4}),
        "unknown key seed in forget_sets.bad; allowed: classes, kind",
    ),
    "unknown_top_level_key": (
        lambda c: c.update(optimiser="adam"),
        "unknown key optimiser in the config; allowed: amp, archs, data, datasets, device, evaluation, figures, "
        "forget_sets, imagefolders, memory_format, method_params, methods, name, paper, population, seeds, studies, "
        "train, tuning",
    ),
    "bad_enum": (lambda c: c.update(device="gpu"), "device: 'gpu' is not allowed; allowed: ['auto', 'cpu', 'cuda']"),
    "timm_colon": (
        lambda c: c.update(archs=["mlp", "timm:vit_tiny_patch16_224"]),
        "archs.1: 'timm:vit_tiny_patch16_224': write 'timm-vit_tiny_patch16_224' (timm-NAME; architecture names "
        "become folder and file names, where ':' is not allowed)",
    ),
    "unknown_timm_model": (
        lambda c: c.update(archs=["timm-vit_nosuch"]),
        "config key archs: 'timm-vit_nosuch': timm has no model 'vit_nosuch'; find its names with "
        "timm.list_models('vit_*') (any pattern; timm.list_pretrained() for NAME.TAG) and write timm-NAME, "
        "e.g. timm-vit_tiny_patch16_224",
    ),
    "bad_number": (lambda c: c["train"].update(lr=0), "train.lr: 0 is out of range; allowed: 0 < value"),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_config_fails_at_parse_in_one_line(tmp_path, case):
    edit, expected = CASES[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_with(edit)))
    proc = dry_run(tmp_path, "--configfile", str(path))
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert f"invalid config: {expected}\n" in output
    assert "Building DAG" not in output and "Job stats" not in output  # parse time: no job was planned
    assert len(output.strip().splitlines()) <= 3, output  # the message, plus Snakemake's file and line
    assert "seed: 0" not in output and "'seed': 0" not in output  # no default the config never had


def test_yaml_error_in_the_default_config_names_file_and_line(tmp_path):
    repo = copy_repository(tmp_path / "repo")
    text = (repo / "config" / "config.yaml").read_text().replace("seeds: [0, 1, 2]", "seeds: [0, 1, 2", 1)
    assert "seeds: [0, 1, 2\n" in text
    (repo / "config" / "config.yaml").write_text(text)
    line = text[: text.index("seeds: [0, 1, 2\n")].count("\n") + 1
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run"], cwd=repo, capture_output=True, text=True, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    found = re.search(
        rf"invalid config: {re.escape(str(repo / 'config' / 'config.yaml'))}:(\d+):\d+: YAML syntax error: ", output
    )
    assert found, output
    assert int(found[1]) > line  # YAML notices the open list where the next key starts


def test_method_params_of_a_method_not_run_is_a_warning(tmp_path):
    path = tmp_path / "extra.yaml"
    path.write_text(yaml.safe_dump(tiny_with(lambda c: c["method_params"].update(salun={"lr": 0.1}))))
    proc = dry_run(tmp_path, "--configfile", str(path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    warning = (
        "lethe: warning: method_params.salun is set but salun is not run (not in methods); its parameters are ignored"
    )
    assert proc.stderr.count(warning) == 1


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_defaults_are_those_snakemake_filled_in(config):
    """The workflow's configs, resolved, equal what snakemake.utils.validate (used before) made of them."""
    raw = load_yaml(config)
    expected = copy.deepcopy(raw)
    validate(expected, str(REPO / "config" / "schema.yaml"))
    assert resolve(raw) == expected


def test_resolve_does_not_change_its_argument():
    raw = load_yaml(TINY)
    before = copy.deepcopy(raw)
    resolved = resolve(raw)
    assert raw == before and resolved["forget_sets"]["random10"]["seed"] == 0 and "seed" not in raw["archs"]


def test_check_config_reports_every_file(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(tiny_with(CASES["fraction_above_one"][0])))
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nmethods: [retrain,\n")
    missing = tmp_path / "missing.yaml"
    assert lethe_main(["check-config", str(TINY), str(bad), str(broken), str(missing)]) == 1
    out, err = capsys.readouterr()
    assert f"{TINY}: ok (9 runs: 4 methods, 2 forget sets)" in out
    assert f"{bad}: invalid config: {CASES['fraction_above_one'][1]}" in err
    assert f"{broken}: invalid config: {broken}:3:1: YAML syntax error: " in err
    assert f"{missing}: invalid config: config file {missing}: No such file or directory" in err
    assert lethe_main(["check-config", str(TINY)]) == 0


def test_load_yaml_rejects_a_non_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of keys, got list"):
        load_yaml(path)
