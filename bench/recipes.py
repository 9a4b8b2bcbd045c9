"""Training recipes compared: test accuracy and wall time of originals trained with each recipe.

Each ``--recipe NAME=YAML`` is a `train` block (config/schema.yaml: epochs, batch size, lr,
optimiser, and the optional schedule, Nesterov, label smoothing, clipping and augmentation);
``--recipe NAME=config`` takes the block of ``--config``. For every seed the recipes train the
same architecture from the same seeded initialisation, one after another (so background load
hits them alike), with :func:`lethe.train.fit` exactly as rule train_original does, and the test
accuracy after the last epoch and the training seconds are reported, per seed and as the
median. Data: a prepared dataset under ``results/data`` (``snakemake results/data/NAME.npz``).

    python -m bench recipes --config config/fashion_tshirt.yaml --recipe adam=config \\
        --recipe "sgd-cosine-aug={epochs: 3, batch_size: 128, lr: 0.05, optimizer: sgd, ...}"
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import yaml

from bench.common import RESULTS, command, environment, markdown_table, now, save


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", default="config/fashion_tshirt.yaml", help="the config whose dataset, arch and recipe to use"
    )
    parser.add_argument("--recipe", action="append", default=[], help="NAME=YAML train block, or NAME=config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--data", default="results/data", help="where the prepared datasets are")
    parser.add_argument("--out", type=Path, default=RESULTS / "recipes.json")


def recipes(args, config: dict) -> dict[str, dict]:
    base = {"momentum": 0.9, "weight_decay": 0.0, **config["train"]}
    out = {}
    for item in args.recipe or ["config=config"]:
        name, _, text = item.partition("=")
        out[name] = (
            dict(base) if text.strip() == "config" else {"momentum": 0.9, "weight_decay": 0.0, **yaml.safe_load(text)}
        )
    return out


def main(args, argv: list[str]) -> None:
    import torch

    from lethe.data.augment import black
    from lethe.data.tensors import load_dataset
    from lethe.models.registry import build_model
    from lethe.train import accuracy, fit, recipe_args

    config = yaml.safe_load(Path(args.config).read_text())
    dataset_name, arch = config["datasets"][0], config["archs"][0]
    data = Path(args.data)
    dataset = load_dataset(data / f"{dataset_name}.npz", data / f"{dataset_name}.json", torch.device("cpu"))
    fill = black(dataset.manifest["mean"], dataset.manifest["std"])
    runs = {name: [] for name in recipes(args, config)}
    for seed in args.seeds:
        for name, recipe in recipes(args, config).items():
            model = build_model(arch, tuple(dataset.manifest["shape"]), dataset.num_classes, seed=seed)
            started = time.perf_counter()
            fit(model, dataset.train, **recipe_args(recipe), seed=seed, name=name, augment_fill=fill)
            seconds = time.perf_counter() - started
            runs[name].append({"seed": seed, "test_acc": accuracy(model, dataset.test), "seconds": seconds})
            print(f"{name} seed {seed}: test {runs[name][-1]['test_acc']:.4f} in {seconds:.1f} s", flush=True)
    rows = [
        [
            name,
            yaml.safe_dump(recipe, default_flow_style=True, width=1000).strip(),
            " / ".join(f"{100 * r['test_acc']:.2f}" for r in runs[name]),
            f"{100 * statistics.median(r['test_acc'] for r in runs[name]):.2f}",
            f"{statistics.median(r['seconds'] for r in runs[name]):.1f}",
        ]
        for name, recipe in recipes(args, config).items()
    ]
    table = markdown_table(["recipe", "train block", "test acc. per seed (%)", "median (%)", "train s (median)"], rows)
    record = {
        "benchmark": "recipes",
        "when": now(),
        "command": command(argv),
        "environment": environment(),
        "dataset": dataset_name,
        "arch": arch,
        "runs": runs,
        "markdown": f"{dataset_name} / {arch}, seeds {args.seeds}\n\n{table}",
    }
    save(args.out, record)
