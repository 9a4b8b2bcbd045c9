"""Training throughput: Lethe's in-memory batching against a plain DataLoader loop.

The same model (same architecture, same seeded initialisation), the same data, the same
optimiser (:func:`lethe.train.make_optimizer`), the same loss, batch size and number of
optimiser steps, timed three ways:

* ``lethe``: :func:`lethe.train.fit`, the pipeline's one training loop. The whole split
  is a normalised float tensor on the device; a batch is ``x[index]`` for a slice of a
  seeded permutation.
* ``tensor``: ``torch.utils.data.DataLoader(TensorDataset(x, y), shuffle=True)`` over the
  same normalised CPU tensors, default collate (one ``__getitem__`` per sample, then
  ``torch.stack``), each batch copied to the device (pinned memory on CUDA).
* ``torchvision``: the loop of the torchvision tutorials: a Dataset that serves each
  sample as torchvision's MNIST/CIFAR ``__getitem__`` does (uint8 array → PIL image →
  ``ToTensor()`` → ``Normalize(mean, std)``, with the dataset's own mean and std, so
  the tensors equal Lethe's), default collate, ``shuffle=True``.

Both DataLoader loops call ``loss.item()`` every step, as ``fit`` does (for its progress
line), so that the CUDA path synchronises equally often in all three. ``--workers`` sets
the DataLoader's ``num_workers`` (default 0, the plain loop; with workers, PyTorch's
default ``persistent_workers=False`` restarts them each epoch, and every repeat starts
one). Each repeat trains a fresh model for ``--steps`` steps (default: one epoch); the
variants take turns within each repeat so that a change in background load hits all of
them; one untimed warm-up of ``--warmup-steps`` per variant comes first; the reported
figure is the median over ``--repeats``. CUDA work is synchronised before each clock
read (:func:`lethe.device.synchronize`).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bench.common import RESULTS, command, environment, fmt, markdown_table, now, save
from lethe.data.catalog import DATASETS
from lethe.models.catalog import ARCHITECTURE_NAMES

IDX_FOLDER = "/usr/share/datasets/fashion-mnist"  # the schema's data.fashion_mnist_idx
VARIANTS = ("lethe", "tensor", "torchvision")
DESCRIPTIONS = {
    "lethe": "lethe.train.fit: in-memory tensors on the device, batched indexing",
    "tensor": "DataLoader(TensorDataset), default collate, shuffle",
    "torchvision": "DataLoader(torchvision-style Dataset: PIL → ToTensor → Normalize), default collate, shuffle",
}
LABELS = {
    "lethe": "Lethe `fit` (in-memory, batched indexing)",
    "tensor": "DataLoader(TensorDataset)",
    "torchvision": "DataLoader(PIL → ToTensor → Normalize)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default="fashion_mnist", choices=sorted(DATASETS), help="default: fashion_mnist")
    parser.add_argument("--arch", default="cnn", choices=ARCHITECTURE_NAMES, help="default: cnn")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=128, help="as config/fashion.yaml (default: 128)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps per timed repeat (default: one epoch)")
    parser.add_argument("--warmup-steps", type=int, default=20, help="untimed steps per variant first (default: 20)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats per variant; the median is reported")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader num_workers (default: 0)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=list(VARIANTS),
        choices=VARIANTS,
        help="loops to time (default: all three; lethe is always included)",
    )
    parser.add_argument("--data-dir", default="results/data", help="where DATASET.npz/.json are looked for first")
    parser.add_argument(
        "--prepare-dir",
        default=str(RESULTS / "data"),
        help="where the dataset is prepared when --data-dir lacks it (never into the pipeline's results/data)",
    )
    parser.add_argument(
        "--idx-folder", default=IDX_FOLDER, help=f"Fashion-MNIST IDX files, when preparing (default: {IDX_FOLDER})"
    )
    parser.add_argument("--out", default=None, help="JSON record (default: results/bench/loader_{device}.json)")


# --------------------------------------------------------------------------- data


def dataset_files(name: str, data_dir: Path, prepare_dir: Path, idx_folder: str) -> tuple[Path, Path]:
    """The prepared ``name.npz`` and manifest: the pipeline's if present, else prepared here (offline)."""
    from lethe.data.datasets import prepare_dataset

    for folder in (data_dir, prepare_dir):
        npz, manifest = folder / f"{name}.npz", folder / f"{name}.json"
        if npz.is_file() and manifest.is_file():
            return npz, manifest
    npz, manifest = prepare_dir / f"{name}.npz", prepare_dir / f"{name}.json"
    prepare_dataset(name, npz, manifest, root="data", idx_folder=idx_folder, download=False)
    return npz, manifest


class VisionArrays(torch.utils.data.Dataset):
    """uint8 images served one at a time as torchvision's MNIST and CIFAR10 ``__getitem__`` do.

    ``images`` is N×C×H×W (Lethe's storage); kept as N×H×W (grey) or N×H×W×C (colour),
    torchvision's own layouts, and turned into a PIL image per sample before ``transform``.
    """

    def __init__(self, images: np.ndarray, targets: np.ndarray, transform: Callable):
        self.data = images[:, 0] if images.shape[1] == 1 else np.ascontiguousarray(images.transpose(0, 2, 3, 1))
        self.targets = torch.as_tensor(targets)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int):
        from PIL import Image

        img, target = self.data[index], int(self.targets[index])
        return self.transform(Image.fromarray(img)), target


def vision_dataset(npz: Path, manifest: dict) -> VisionArrays:
    from torchvision import transforms

    from lethe.data.datasets import load_arrays

    arrays = load_arrays(npz)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(manifest["mean"], manifest["std"])])
    return VisionArrays(arrays["x_train"], arrays["y_train"], transform)


# --------------------------------------------------------------------------- loops


def plain_loop(model, loader, steps: int, device: torch.device, opt) -> tuple[int, float]:
    """The textbook loop: iterate the DataLoader, copy each batch to the device, step."""
    model.train()
    done, samples, total = 0, 0, 0.0
    non_blocking = device.type == "cuda"
    while done < steps:
        for x, y in loader:
            x, y = x.to(device, non_blocking=non_blocking), y.to(device, non_blocking=non_blocking)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            done += 1
            samples += len(y)
            if done >= steps:
                break
    model.eval()
    return samples, total / max(samples, 1)


def make_runner(variant: str, args, data: dict, device: torch.device) -> Callable[[int], tuple[int, float]]:
    """A function training a fresh, identically initialised model for ``steps`` steps; returns (samples, mean loss)."""
    from lethe.models.registry import build_model
    from lethe.train import fit, make_optimizer

    shape, num_classes, split = data["shape"], data["num_classes"], data["split"]

    def fresh_model():
        return build_model(args.arch, shape, num_classes, seed=args.seed).to(device)

    if variant == "lethe":
        per_epoch = math.ceil(len(split) / args.batch_size)

        def run(steps: int) -> tuple[int, float]:
            model = fresh_model()
            result = fit(
                model,
                split,
                epochs=math.ceil(steps / per_epoch),
                batch_size=args.batch_size,
                lr=args.lr,
                optimizer=args.optimizer,
                seed=args.seed,
                max_steps=steps,
                name="bench",
            )
            return result.samples, statistics.fmean(entry["loss"] for entry in result.history)

        return run

    dataset = data["tensor_dataset"] if variant == "tensor" else data["vision_dataset"]
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(args.seed),
    )

    def run(steps: int) -> tuple[int, float]:
        model = fresh_model()
        opt = make_optimizer(model.parameters(), args.optimizer, args.lr)
        return plain_loop(model, loader, steps, device, opt)

    return run


# --------------------------------------------------------------------------- benchmark


def measure(args, argv: list[str]) -> dict:
    from lethe.data.datasets import read_manifest
    from lethe.data.tensors import load_dataset
    from lethe.device import resolve_device, set_threads, synchronize, warm_up

    set_threads(args.threads)
    device = resolve_device(args.device)
    variants = ["lethe", *[v for v in args.variants if v != "lethe"]]
    npz, manifest_path = dataset_files(args.dataset, Path(args.data_dir), Path(args.prepare_dir), args.idx_folder)
    manifest = read_manifest(manifest_path)
    dataset = load_dataset(npz, manifest_path, device)
    data = {
        "shape": tuple(manifest["shape"]),
        "num_classes": dataset.num_classes,
        "split": dataset.train,
        "tensor_dataset": torch.utils.data.TensorDataset(dataset.train.x.cpu(), dataset.train.y.cpu()),
    }
    if "torchvision" in variants:
        data["vision_dataset"] = vision_dataset(npz, manifest)
    n_train = len(dataset.train)
    steps = args.steps or math.ceil(n_train / args.batch_size)
    started = now()
    env = environment(device)
    warm_up(device)
    runners = {variant: make_runner(variant, args, data, device) for variant in variants}
    for variant in variants:
        if args.warmup_steps > 0:
            runners[variant](args.warmup_steps)
    synchronize(device)
    timings: dict[str, list[dict]] = {variant: [] for variant in variants}
    for _ in range(args.repeats):
        for variant in variants:
            synchronize(device)
            t0 = time.perf_counter()
            samples, loss = runners[variant](steps)
            synchronize(device)
            seconds = time.perf_counter() - t0
            timings[variant].append({"seconds": seconds, "samples": samples, "mean_loss": loss})

    results = {}
    for variant in variants:
        runs = timings[variant]
        rates = [run["samples"] / run["seconds"] for run in runs]
        results[variant] = {
            "description": DESCRIPTIONS[variant],
            "repeats": runs,
            "samples_per_s": rates,
            "median_samples_per_s": statistics.median(rates),
            "median_seconds": statistics.median(run["seconds"] for run in runs),
        }
    base = results["lethe"]["median_samples_per_s"]
    for variant in variants:
        results[variant]["lethe_speedup"] = base / results[variant]["median_samples_per_s"]

    threads = env["torch_threads"]
    device_label = (
        f"CUDA: {env['cuda_device']}"
        if device.type == "cuda"
        else f"CPU: {env['cpu_model']} ({threads} thread{'s' if threads != 1 else ''})"
    )
    header = ["device", "dataset / arch", "batch", "loop", f"samples/s (median of {args.repeats})", "Lethe speed-up"]
    rows = [
        [
            device_label,
            f"{args.dataset} / {args.arch}",
            args.batch_size,
            LABELS[variant] + (f", {args.workers} workers" if variant != "lethe" and args.workers else ""),
            f"{results[variant]['median_samples_per_s']:,.0f}",
            "1.00" if variant == "lethe" else f"{fmt(results[variant]['lethe_speedup'])}×",
        ]
        for variant in variants
    ]
    return {
        "benchmark": "loader",
        "date": started,
        "command": command(argv),
        "environment": env,
        "settings": {
            "dataset": args.dataset,
            "arch": args.arch,
            "n_train": n_train,
            "data_file": str(npz),
            "batch_size": args.batch_size,
            "lr": args.lr,
            "optimizer": args.optimizer,
            "steps_per_repeat": steps,
            "epochs_per_repeat": steps * args.batch_size / n_train,
            "warmup_steps": args.warmup_steps,
            "repeats": args.repeats,
            "workers": args.workers,
            "seed": args.seed,
        },
        "results": results,
        "markdown": markdown_table(header, rows),
    }


def main(args, argv: list[str]) -> Path:
    record = measure(args, argv)
    out = Path(args.out) if args.out else RESULTS / f"loader_{record['environment']['device'].split(':')[0]}.json"
    return save(out, record)
