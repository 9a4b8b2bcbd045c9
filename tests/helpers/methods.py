"""Methods run with the tests' settings, and a method's code inputs."""

from __future__ import annotations

from pathlib import Path

from helpers.settings import METHOD_OVERRIDES, TRAIN_RECIPE


def unlearn_each(methods, original_mlp, digits, forget: dict, cpu, request) -> dict:
    """Each of ``methods`` applied once to ``forget`` with the tests' settings (METHOD_OVERRIDES), seed 0,
    from the model its catalogue entry names: the original MLP or its own (SISA's, by fixture
    ``{original}_mlp``). {method: (model, record)}."""
    from lethe.methods.catalog import METHODS, merge_params
    from lethe.unlearning import run_unlearning

    results = {}
    for method in methods:
        params = merge_params(method, METHOD_OVERRIDES.get(method), TRAIN_RECIPE)
        start = (
            original_mlp
            if METHODS[method].original == "original"
            else request.getfixturevalue(METHODS[method].original + "_mlp")
        )
        results[method] = run_unlearning(method, start, digits, forget, params, arch="mlp", seed=0, device=cpu)
    return results


def method_code(method: str) -> set[str]:
    """The unlearn rule's code inputs for ``method``, relative to workflow/ (``lethe/...``)."""
    from lethe.engine.stamps import code_inputs

    workflow = Path(__file__).resolve().parents[2] / "workflow"
    return set(code_inputs(workflow, "unlearn", (f"lethe.methods.{method}",), start=workflow))
