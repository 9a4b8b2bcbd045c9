"""Imports follow need: a job loads what its stage uses, not every library of the package.

Each job runs in a fresh process through its real entry (``lethe.engine.job.run`` on the rule's
stage, as ``python workflow/job.py`` does without the worker) and reports the modules it
had loaded at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lethe.io import write_json
from lethe.methods.catalog import merge_params
from lethe.models.checkpoint import save_checkpoint

# Slow (jobs in their own processes: 8 s on 2 busy cores): make test-fast leaves it out.
pytestmark = pytest.mark.slow


REPO = Path(__file__).resolve().parents[2]

RUN_AND_LIST = """
import json, sys
sys.path.insert(0, "workflow")
from lethe.engine.job import run
run(json.loads(sys.argv[1]))
print(json.dumps(sorted(sys.modules)))
"""


def loaded_modules(spec: dict) -> set[str]:
    spec = {"log": [], "threads": 1, "params": {}, "wildcards": {}, "input": {}, **spec}
    spec["output"] = {"items": list(spec["output"].values()), "names": spec["output"]}
    proc = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, json.dumps(spec)], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_data_jobs_do_not_import_torch(tmp_path, digits_files):
    npz, manifest, _ = digits_files
    prepared = loaded_modules(
        {
            "stage": "prepare_dataset",
            "wildcards": {"dataset": "digits"},
            "output": {"npz": str(tmp_path / "d.npz"), "manifest": str(tmp_path / "d.json")},
            "params": {"root": str(tmp_path / "root"), "idx_folder": None, "download": False, "validation": 0.1},
        }
    )
    forget_set = loaded_modules(
        {
            "stage": "make_forget_set",
            "wildcards": {"forget_set": "class3", "dataset": "digits"},
            "input": {"npz": str(npz), "manifest": str(manifest)},
            "output": {"forget_set": str(tmp_path / "class3.json")},
            "params": {"spec": {"kind": "classes", "classes": [3]}},
        }
    )
    assert json.loads((tmp_path / "class3.json").read_text())["classes"] == [3]
    heavy = {"torch", "torchvision", "timm", "art", "matplotlib"}
    assert not top_level(prepared) & heavy  # (scikit-learn's datasets module brings pandas)
    assert not top_level(forget_set) & (heavy | {"sklearn", "pandas", "scipy"})


@pytest.mark.parametrize("method", ["finetune", "retrain"])
def test_an_mlp_unlearn_job_imports_neither_timm_nor_art(
    tmp_path, digits_files, digits, original_mlp, forget_class3, method
):
    npz, manifest, _ = digits_files
    original = tmp_path / "original.safetensors"
    meta = {
        "arch": "mlp",
        "shape": digits.manifest["shape"],
        "num_classes": digits.num_classes,
        "classes": digits.manifest["classes"],
        "dataset": "digits",
        "seed": 0,
    }
    save_checkpoint(original_mlp, original, meta)
    write_json(tmp_path / "class3.json", forget_class3)
    recipe = {"epochs": 1, "batch_size": 32, "lr": 1e-3, "optimizer": "adam", "momentum": 0.9, "weight_decay": 0.0}
    modules = loaded_modules(
        {
            "stage": "unlearn",
            "wildcards": {"method": method, "seed": "0"},
            "input": {
                "npz": str(npz),
                "manifest": str(manifest),
                "forget_set": str(tmp_path / "class3.json"),
                "original": str(original),
            },
            "output": {"model": str(tmp_path / "m.safetensors"), "run": str(tmp_path / "m.run.json")},
            "params": {
                "hyper": merge_params(method, {"epochs": 1}, recipe),
                "device": "cpu",
                "amp": False,
                "memory_format": "auto",
            },
        }
    )
    assert (tmp_path / "m.safetensors").is_file()
    assert "torch" in top_level(modules)
    assert not top_level(modules) & {"timm", "art", "pytorch_grad_cam", "matplotlib"}
    assert f"lethe.methods.{method}" in modules and "lethe.methods.fnn" not in modules
