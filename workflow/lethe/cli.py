"""Command line: every stage of the workflow without Snakemake.

    lethe list-methods
    lethe check-config config/config.yaml my.yaml
    lethe prepare-data digits --out results/data
    lethe make-forget-set results/data/digits --id class3 --spec '{"kind": "classes", "classes": [3]}' --out fs.json
    lethe train results/data/digits --arch mlp --seed 0 --out original.safetensors
    lethe unlearn results/data/digits --forget-set fs.json --original original.safetensors --method finetune --out ft.safetensors
    lethe train-sisa results/data/digits --params '{"lr": 0.1}' --out sisa_original.safetensors
    lethe unlearn results/data/digits --forget-set fs.json --original sisa_original.safetensors --method sisa --params '{"lr": 0.1}' --out sisa.safetensors
    lethe evaluate results/data/digits --forget-set fs.json --model ft.safetensors --run ft.run.json --out ft.metrics.json

A dataset is named by its prefix: ``results/data/digits`` means ``digits.npz`` and
``digits.json``. Hyperparameters not given on the command line come from the method
registry (``--params`` takes JSON overrides) and the schema's training defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lethe.engine.log import setup_logging

AMP_ARGS = {"false": False, "true": True, "bfloat16": "bfloat16", "float16": "float16"}


def _train_defaults() -> dict:
    """The training recipe's defaults, from config/schema.yaml (the one place they are written)."""
    from lethe.plan.config import load_schema

    return {
        key: spec["default"]
        for key, spec in load_schema()["properties"]["train"]["properties"].items()
        if "default" in spec
    }


TRAIN_DEFAULTS = _train_defaults()


def _dataset(prefix: str) -> tuple[Path, Path]:
    base = Path(prefix)
    npz, manifest = base.with_suffix(".npz"), base.with_suffix(".json")
    for path in (npz, manifest):
        if not path.is_file():
            raise SystemExit(f"lethe: {path} not found (prepare it with `lethe prepare-data`)")
    return npz, manifest


def _json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lethe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--amp", default="false", choices=list(AMP_ARGS), help="mixed precision (config key amp)")
    parser.add_argument(
        "--memory-format",
        default="auto",
        choices=["auto", "contiguous", "channels_last"],
        help="config key memory_format",
    )
    parser.add_argument("--log", help="also write progress to this file")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("list-methods", help="the method registry with defaults and data needs")
    p = sub.add_parser(
        "check-config",
        help="check config files as the workflow would (YAML, schema, plan), without Snakemake",
    )
    p.add_argument("configs", nargs="+", help="config files; each is checked on its own, as with --configfile")
    p = sub.add_parser(
        "docs", help="rewrite the generated tables (docs/, config/README.md) from the catalogues and the schema"
    )
    p.add_argument("--check", action="store_true", help="only report stale tables (exit 1 if any)")

    p = sub.add_parser("prepare-data", help="write DATASET.npz and its manifest")
    p.add_argument("dataset")
    p.add_argument("--out", default="results/data", help="output folder")
    p.add_argument("--root", default="data", help="torchvision download folder")
    p.add_argument("--idx-folder", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--no-download", action="store_true")
    p.add_argument(
        "--validation",
        type=float,
        default=None,
        help="fraction of every class's training images held out as the validation split (default: data.validation's)",
    )
    p.add_argument(
        "--imagefolder",
        metavar="ROOT",
        default=None,
        help="prepare DATASET from this image folder (one sub-folder per class, or train/ and test/ holding them)",
    )
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="image folder: resize to H x W (32 32)")
    p.add_argument("--channels", type=int, choices=(1, 3), help="image folder: 1 greyscale, 3 RGB (3)")
    p.add_argument("--test-fraction", type=float, help="image folder without train/ and test/: test share (0.2)")
    p.add_argument("--split-seed", type=int, help="image folder without train/ and test/: seed of the split (0)")

    p = sub.add_parser("make-forget-set", help="materialise one forget set as JSON")
    p.add_argument("dataset", help="dataset prefix, e.g. results/data/digits")
    p.add_argument("--id", required=True, help="forget-set id, e.g. class3 or two-0")
    p.add_argument("--spec", required=True, type=_json_arg, help="the config entry, as JSON")
    p.add_argument("--out", required=True)

    p = sub.add_parser("train", help="train an original model")
    p.add_argument("dataset")
    p.add_argument("--arch", default="mlp")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--recipe", type=_json_arg, default={}, help="overrides of the training recipe, JSON")
    p.add_argument("--out", required=True)

    p = sub.add_parser("train-sisa", help="train SISA's sharded original (the sisa method starts from it)")
    p.add_argument("dataset")
    p.add_argument("--arch", default="mlp")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--params", type=_json_arg, default={}, help="overrides of the sisa parameters, JSON")
    p.add_argument("--out", required=True, help="model path; the stage checkpoints go beside it as .stages.safetensors")

    p = sub.add_parser("unlearn", help="apply one method")
    p.add_argument("dataset")
    p.add_argument("--forget-set", required=True)
    p.add_argument("--original", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--params", type=_json_arg, default={}, help="hyperparameter overrides, JSON")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="model path; the run record goes beside it as .run.json")

    p = sub.add_parser("evaluate", help="metrics of one model on one forget set")
    p.add_argument("dataset")
    p.add_argument("--forget-set", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--run", help="the model's run record (time, steps)")
    p.add_argument("--retrain-run", help="retrain's run record, for the time ratio")
    p.add_argument("--method", help="label in the output (default: from the model's sidecar)")
    p.add_argument("--out", required=True)
    return parser


def check_configs(paths: list[str]) -> int:
    """Each file checked as ``snakemake --configfile FILE`` would check it; 1 if any is invalid.

    Snakemake reads ``--configfile`` files before the workflow's code runs, so for a missing
    file or a YAML syntax error it prints its own message (without the line); this names both.
    """
    from lethe.plan.config import ConfigError, load_plan, load_yaml

    failed = 0
    for path in paths:
        try:
            plan = load_plan(load_yaml(path))
        except (KeyError, ValueError) as error:  # ConfigError is a ValueError
            message = str(error) if isinstance(error, ConfigError) else error.args[0]
            print(f"{path}: invalid config: {message}", file=sys.stderr)
            failed = 1
            continue
        for warning in plan.warnings:
            print(f"{path}: warning: {warning}", file=sys.stderr)
        print(
            f"{path}: ok ({len(plan.runs())} runs: {len(plan.methods)} methods, {len(plan.forget_set_ids)} forget sets)"
        )
    return failed


def _imagefolder_spec(args) -> dict:
    """``prepare-data --imagefolder``'s spec, as the config key imagefolders.NAME would give it."""
    options = {
        "size": args.size,
        "channels": args.channels,
        "test_fraction": args.test_fraction,
        "seed": args.split_seed,
    }
    return {"root": args.imagefolder, **{key: value for key, value in options.items() if value is not None}}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log)
    from lethe.methods.catalog import METHODS, merge_params

    if args.command == "list-methods":
        for info in METHODS.values():
            needs = [
                n
                for n, on in (
                    ("forget", info.needs_forget),
                    ("retain", info.needs_retain),
                    (
                        "original" if info.original == "original" else f"its own original ({info.original})",
                        info.needs_original,
                    ),
                )
                if on
            ]
            print(f"{info.name:14s} {info.summary}")
            print(
                f"{'':14s} needs: {', '.join(needs) or 'nothing'}{'; class forgetting only' if info.class_only else ''}"
            )
            print(
                f"{'':14s} defaults: {json.dumps(info.defaults) if info.name != 'retrain' else 'the training recipe'}"
            )
            if info.search_space:
                space = ", ".join(f"{key} {dim.describe()}" for key, dim in info.search_space.items())
                print(f"{'':14s} searched: {space}")
        return 0
    if args.command == "check-config":
        return check_configs(args.configs)
    if args.command == "docs":
        from lethe.docs import update

        stale = update(check=args.check)
        for block in stale:
            print(f"{'stale' if args.check else 'rewrote'}: {block}")
        if args.check and stale:
            print("run `lethe docs` to regenerate them from the catalogues and the schema", file=sys.stderr)
        return 1 if args.check and stale else 0
    if args.command == "prepare-data":
        from lethe.data.datasets import prepare_dataset

        out = Path(args.out)
        prepare_dataset(
            args.dataset,
            out / f"{args.dataset}.npz",
            out / f"{args.dataset}.json",
            args.root,
            args.idx_folder,
            not args.no_download,
            **({} if args.validation is None else {"validation": args.validation}),
            imagefolder=None if args.imagefolder is None else _imagefolder_spec(args),
        )
        return 0
    npz, manifest = _dataset(args.dataset)
    from lethe.device import Runtime

    hardware = {"runtime": Runtime(args.device, AMP_ARGS[args.amp], args.memory_format)}
    if args.command == "make-forget-set":
        from lethe.stages.make_forget_set import make_forget_set

        make_forget_set(npz, manifest, args.id, args.spec, args.out)
    elif args.command == "train":
        unknown = sorted(set(args.recipe) - set(TRAIN_DEFAULTS))
        if unknown:
            raise SystemExit(f"lethe train: unknown recipe key(s) {unknown}; known: {sorted(TRAIN_DEFAULTS)}")
        from lethe.stages.train_original import train_original

        train_original(npz, manifest, args.arch, args.seed, {**TRAIN_DEFAULTS, **args.recipe}, args.out, **hardware)
    elif args.command == "train-sisa":
        try:
            params = merge_params("sisa", args.params)
        except ValueError as error:
            raise SystemExit(f"lethe train-sisa: {error.args[0]}") from None
        out = Path(args.out)
        from lethe.stages.train_sisa import train_sisa

        train_sisa(npz, manifest, args.arch, args.seed, params, out, out.with_suffix(".stages.safetensors"), **hardware)
    elif args.command == "unlearn":
        try:
            params = merge_params(args.method, args.params, TRAIN_DEFAULTS)
        except (KeyError, ValueError) as error:
            raise SystemExit(f"lethe unlearn: {error.args[0]}") from None
        out = Path(args.out)
        from lethe.stages.unlearn import unlearn

        unlearn(
            args.method,
            npz,
            manifest,
            args.forget_set,
            args.original,
            params,
            args.seed,
            out,
            out.with_suffix(".run.json"),
            **hardware,
        )
    elif args.command == "evaluate":
        from lethe.stages.evaluate import evaluate

        evaluate(
            args.model,
            npz,
            manifest,
            args.forget_set,
            args.out,
            args.run,
            args.retrain_run,
            args.method,
            **hardware,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
