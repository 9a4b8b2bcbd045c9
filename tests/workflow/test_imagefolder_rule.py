"""Image-folder datasets through Snakemake: rule prepare_dataset's source stamp reruns it when
the images change (tests/unit/test_imagefolder.py has the rest)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers.imagefolders import SORTED, make_split_folder, write_image

from lethe.data.datasets import load_prepared
from lethe.data.imagefolder import read_source_stamp

REPO = Path(__file__).resolve().parents[2]


def test_rule_prepares_the_folder_and_reruns_when_it_changes(tmp_path):
    """Rule prepare_dataset through Snakemake (its entry point, workflow/job.py, in its own process):
    the job's source input is the stamp; a rerun does nothing, a touch neither, an added image reruns it."""
    work = tmp_path / "work"
    root = make_split_folder(work / "flowers", n_train=3, n_test=2)
    config = {
        "name": "folders",
        "datasets": ["flowers"],
        "imagefolders": {"flowers": {"root": "flowers", "size": [8, 6]}},
        "archs": ["mlp"],
        "seeds": [0],
        "forget_sets": {"class1": {"kind": "classes", "classes": [1]}},
        "methods": ["retrain"],
        "population": {"models": 0},
        "evaluation": {"reference_models": 0},
    }
    (work / "config.json").write_text(json.dumps(config))
    target = "results/data/flowers.npz"

    def snakemake(*args):
        # fmt: off
        proc = subprocess.run(
            [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(work), "--cores", "1",
             *args, target, "--configfile", str(work / "config.json")],
            capture_output=True, text=True, env={**os.environ, "LETHE_WORKER": "off"},
        )
        # fmt: on
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout + proc.stderr

    output = snakemake()
    assert "input: results/code/prepare_dataset.json, results/sources/flowers.json" in output
    manifest, arrays = load_prepared(work / target)
    assert manifest["shape"] == [3, 8, 6] and manifest["classes"] == SORTED
    stamp = read_source_stamp(work / "results" / "sources" / "flowers.json")
    assert manifest["imagefolder"]["content_sha256"] == stamp["content_sha256"]
    assert arrays["x_test"].shape == (6, 3, 8, 6) and manifest["n_train"] + manifest["n_val"] == 9
    assert "Nothing to be done" in snakemake("--dry-run")
    os.utime(root / "test" / "rose" / "img00.png")
    assert "Nothing to be done" in snakemake("--dry-run")
    write_image(root / "test" / "rose" / "new.png", 3)
    output = snakemake("--dry-run")
    assert "lethe: image folder flowers changed: results/sources/flowers.json" in output
    assert "reason: Updated input files: results/sources/flowers.json" in output
