"""``python -m bench {loader,methods,population,tuning,dag,overhead,outputs,recipes,all}``: run from the repository root (see BENCHMARKS.md)."""

from __future__ import annotations

import argparse
import logging
import sys

from bench import dag, loader, methods, outputs, overhead, population, recipes, tuning

BENCHMARKS = {
    "loader": loader,
    "methods": methods,
    "population": population,
    "tuning": tuning,
    "dag": dag,
    "overhead": overhead,
    "outputs": outputs,
    "recipes": recipes,
}
ALL = ("loader", "methods", "population", "dag")  # overhead runs the whole workflow: on its own


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, module in BENCHMARKS.items():
        p = sub.add_parser(
            name,
            help=module.__doc__.splitlines()[0],
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
    sub.add_parser("all", help="loader, methods, population and dag, each with its defaults")
    return parser


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.benchmark == "all":
        for name in ALL:
            module = BENCHMARKS[name]
            module_args = build_parser().parse_args([name])
            module.main(module_args, [name])
            print()
        return
    BENCHMARKS[args.benchmark].main(args, argv)


if __name__ == "__main__":
    main()
