"""Findings, claims and the overview table: each test made true and made false on synthetic summaries."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from lethe.report import claims, findings
from lethe.report.findings import Results, derive, findings_latex
from lethe.report.overview import overview_table, verdict

CLASS = ("digits", "mlp", "class3", "classes", 1)
TWO = ("digits", "mlp", "classes2", "random_classes", 2)
RANDOM = ("digits", "mlp", "random10", "random_samples", 0)


def frame(cells: dict, n: int = 3) -> pd.DataFrame:
    """A summary from {(scenario, method): {metric: mean or (mean, ci95) or (mean, ci95, has_power)}}."""
    rows = []
    for (scenario, method), metrics in cells.items():
        for metric, value in metrics.items():
            mean, ci, power = (value, 0.0, None) if not isinstance(value, tuple) else (value + (None,))[:3]
            rows.append(
                dict(
                    zip(("dataset", "arch", "forget_set_name", "forget_kind", "n_forget_classes"), scenario, strict=True),
                    method=method, metric=metric, mean=mean, std=0.0, n=n, ci95=ci,
                    power=0.52 if power is False else float("nan"), power_lo=0.49 if power is False else float("nan"),
                    power_hi=0.55 if power is False else float("nan"),
                    has_power=power if power is not None else float("nan"),
                )
            )  # fmt: skip
    return pd.DataFrame(rows)


def base(scenario=CLASS, **methods) -> dict:
    """The references of one scenario plus ``methods`` ({name: {metric: value}})."""
    cells = {
        (scenario, "original"): {"acc_forget": 1.0, "acc_test_retained": 0.98, "avg_gap": (0.5, 0.01),
                                 "probe_fewshot_acc_forgotten": (0.94, 0.01)},
        (scenario, "retrain"): {"acc_forget": 0.0, "acc_test_retained": 0.98, "avg_gap": 0.0,
                                "probe_fewshot_acc_forgotten": (0.86, 0.01), "time_ratio_to_retrain": 1.0},
        (scenario, "retrain_twin"): {"acc_forget": 0.0, "avg_gap": (0.002, 0.001), "fq_F": (0.2, 0.07),
                                     "ulira_acc": (0.55, 0.04), "time_ratio_to_retrain": 1.0},
    }  # fmt: skip
    for name, metrics in methods.items():
        cells[(scenario, name)] = {"unchanged": 0.0, "diverged": 0.0, **metrics}
    return cells


def found(cells: dict, test: str, order=()) -> list[findings.Finding]:
    return findings.TESTS[test](Results(frame(cells), order))


GOOD = {"acc_forget": 0.0, "acc_test_retained": 0.975, "avg_gap": (0.001, 0.001), "fq_F": (0.01, 0.01),
        "ulira_acc": (0.95, 0.01), "time_ratio_to_retrain": 0.02, "probe_fewshot_acc_forgotten": (0.86, 0.01)}  # fmt: skip


def test_population_separates_names_a_method_inside_the_twins_interval_and_only_then():
    close = found(base(a=GOOD | {"ulira_acc": (0.56, 0.02)}), "population_separates")
    assert [f.methods for f in close] == [("a",)]
    apart = found(base(a=GOOD), "population_separates")
    assert [f.methods for f in apart] == [()] and "told apart" in apart[0].text and "95.0" in apart[0].text


def test_population_none_anywhere_needs_every_scenario_apart():
    cells = base(a=GOOD) | base(RANDOM, a=GOOD)
    assert len(found(cells, "population_none_anywhere")) == 1
    cells[(RANDOM, "a")]["fq_F"] = (0.21, 0.02)
    assert found(cells, "population_none_anywhere") == []


def test_gap_within_floor_and_a_no_op_is_never_named():
    assert found(base(a=GOOD), "gap_within_floor")[0].methods == ("a",)
    assert found(base(a=GOOD | {"avg_gap": (0.05, 0.01)}), "gap_within_floor") == []
    # A run that changed nothing (or diverged) may sit on the floor by accident: it is never named.
    assert found(base(a=GOOD | {"unchanged": 1.0}), "gap_within_floor") == []
    assert found(base(a=GOOD | {"diverged": 0.5}), "gap_within_floor") == []
    assert found(base(a=GOOD | {"population_nonfinite_models": 8.0}), "gap_within_floor") == []


def test_methods_with_their_own_gold_standard_get_no_verdict():
    assert found(base(sisa=GOOD), "gap_within_floor") == []
    assert found(base(sisa=GOOD), "own_gold_standard")[0].methods == ("sisa",)
    assert found(base(a=GOOD), "own_gold_standard") == []


def test_gap_blind_to_population():
    assert found(base(a=GOOD), "gap_blind_to_population")[0].methods == ("a",)
    assert found(base(a=GOOD | {"ulira_acc": (0.55, 0.02)}), "gap_blind_to_population") == []


def test_hiding_needs_the_output_to_forget_and_the_probe_to_stay_at_the_original():
    hides = found(base(a=GOOD | {"probe_fewshot_acc_forgotten": (0.94, 0.01)}), "hiding")
    assert hides[0].methods == ("a",) and "hide" in hides[0].text
    assert found(base(a=GOOD), "hiding")[0].methods == ()  # the probe falls to retrain's: forgets
    assert found(base(a=GOOD | {"acc_forget": 0.5, "probe_fewshot_acc_forgotten": (0.94, 0.01)}), "hiding") == []
    assert found(base(RANDOM, a=GOOD | {"probe_fewshot_acc_forgotten": (0.94, 0.01)}), "hiding") == []


def test_frontier_names_the_undominated_and_never_a_marked_run():
    slow = GOOD | {"time_ratio_to_retrain": 0.5, "avg_gap": (0.01, 0.001)}
    assert found(base(a=GOOD, b=slow), "frontier")[0].methods == ("a",)
    fast_far = GOOD | {"time_ratio_to_retrain": 0.001, "avg_gap": (0.1, 0.001)}
    assert set(found(base(a=GOOD, b=fast_far), "frontier")[0].methods) == {"a", "b"}
    assert found(base(a=GOOD, b=fast_far | {"unchanged": 1.0}), "frontier") == []  # one judged method: no front


def test_worse_than_noop_and_output_blind():
    cells = base(RANDOM, a=GOOD | {"avg_gap": (0.9, 0.01)})
    assert found(cells, "worse_than_noop")[0].methods == ("a",)
    assert found(base(RANDOM, a=GOOD), "worse_than_noop") == []
    random = base(RANDOM, a=GOOD)
    random[(RANDOM, "retrain")]["acc_forget"] = 0.97
    assert len(found(random, "output_blind")) == 1
    assert found(base(RANDOM, a=GOOD), "output_blind") == []  # retrain 0 %, original 100 %: output shows it
    assert found(base(a=GOOD), "output_blind") == []  # class scenario


def test_no_effect_and_no_power():
    assert found(base(a=GOOD | {"unchanged": 1.0}), "no_effect")[0].methods == ("a",)
    assert found(base(a=GOOD), "no_effect") == []
    cells = base(a=GOOD)
    cells[(CLASS, "original")]["mia_entropy"] = (0.9, 0.05, False)
    assert "MIA" in found(cells, "no_power")[0].text
    cells[(CLASS, "original")]["mia_entropy"] = (0.9, 0.05, True)
    assert found(cells, "no_power") == []


def test_consistent_across_scenarios():
    cells = base(a=GOOD) | base(TWO, a=GOOD)
    assert found(cells, "consistent")[0].methods == ("a",)
    cells[(TWO, "a")]["avg_gap"] = (0.3, 0.01)
    assert all("gap floor" not in f.text for f in found(cells, "consistent"))


def test_headlines_follow_the_configured_order_and_latex_has_every_place():
    cells = base(a=GOOD) | base(RANDOM, a=GOOD | {"avg_gap": (0.001, 0.0)})
    for first in ("class3", "random10"):
        heads = [f for f in derive(Results(frame(cells), [first])) if f.headline and f.scenario]
        assert heads and {f.scenario for f in heads} == {first}
    text = findings_latex(derive(Results(frame(cells), ["class3"])))
    for place in findings.PLACES:
        assert f"lethe@findings@{place}" in text
    assert text.count("{") == text.count("}")


def test_a_place_without_findings_says_no_test_passed():
    text = findings_latex([])
    assert "No scenario passed" in text and r"\FindingsAbstract" in text


def test_results_sentences_quote_no_number_by_hand():
    """The paper's hand-written text carries no result: numbers come from findings and generated tables."""
    from pathlib import Path

    paper = Path(__file__).resolve().parents[2] / "paper"
    for path in [paper / "main.tex", *sorted((paper / "sections").glob("*.tex"))]:
        text = path.read_text()
        assert r"\HeadNum" not in text and r"\IfRan" not in text and r"\lethenum" not in text, path
        # No percentages typed in prose (a definition's 95 % interval and 50 % chance are not results).
        typed = [m for m in re.findall(r"(\d+(?:\.\d+)?)\\,\\%", text) if m not in ("95", "50")]
        assert not typed, (path, typed)


# --------------------------------------------------------------------------- claims


def verdicts(cells: dict) -> dict[str, claims.Verdict]:
    return {c.key: v for c, v in claims.check(Results(frame(cells)))}


def test_claim_zeroing_forgets_and_hides():
    zero = {"acc_forget": 0.35, "acc_test_retained": 0.98, "probe_fewshot_acc_forgotten": (0.94, 0.01)}
    v = verdicts(base(zero_output=zero))
    assert v["zeroing_forgets"].status == "not reproduced" and v["zeroing_hides"].status == "reproduced"
    v = verdicts(base(zero_output=zero | {"acc_forget": 0.0, "probe_fewshot_acc_forgotten": (0.86, 0.01)}))
    assert v["zeroing_forgets"].status == "reproduced" and v["zeroing_hides"].status == "not reproduced"


def test_claim_cost_flat_needs_two_class_counts():
    one = base(usifr=GOOD | {"unlearn_seconds": 0.1})
    assert verdicts(one)["usifr_flat"].status == "not testable"
    flat = one | base(TWO, usifr=GOOD | {"unlearn_seconds": 0.11})
    assert verdicts(flat)["usifr_flat"].status == "reproduced"
    steep = one | base(TWO, usifr=GOOD | {"unlearn_seconds": 0.2})
    assert verdicts(steep)["usifr_flat"].status == "not reproduced"


def test_claims_partly_not_run_and_without_power():
    cells = base(pbu=GOOD) | base(TWO, pbu=GOOD | {"acc_test_retained": 0.9})
    assert verdicts(cells)["pbu_forgets"].status == "partly"
    assert verdicts(base(a=GOOD))["pbu_forgets"].status == "not testable"
    bad = base(bad_teaching=GOOD | {"mia_entropy": (0.1, 0.01)})
    bad[(CLASS, "original")]["mia_entropy"] = (0.9, 0.05, False)
    assert verdicts(bad)["bad_teaching_mia"].status == "not testable"
    bad[(CLASS, "original")]["mia_entropy"] = (0.9, 0.05, True)
    bad[(CLASS, "retrain")]["mia_entropy"] = (0.1, 0.02)
    assert verdicts(bad)["bad_teaching_mia"].status == "reproduced"


def test_claim_salun_smallest_gap():
    cells = base(RANDOM, salun=GOOD, a=GOOD | {"avg_gap": (0.01, 0.001)})
    assert verdicts(cells)["salun_gap"].status == "reproduced"
    cells[(RANDOM, "a")]["avg_gap"] = (0.0001, 0.0)
    assert verdicts(cells)["salun_gap"].status == "not reproduced"


def test_claim_sources_are_cited_or_named():
    from pathlib import Path

    bib = (Path(__file__).resolve().parents[2] / "paper" / "references.bib").read_text()
    for claim in claims.CLAIMS:
        assert claim.source in claims.SOURCES or f"{{{claim.source}," in bib, claim
        assert claim.method in findings.METHODS, claim


# --------------------------------------------------------------------------- overview


@pytest.mark.parametrize(
    ("probe", "acc_forget", "expected"),
    [((0.86, 0.01), 0.0, "F"), ((0.94, 0.01), 0.0, "H"), ((0.86, 0.01), 0.5, "N")],
)
def test_overview_verdicts(probe, acc_forget, expected):
    results = Results(frame(base(a=GOOD | {"probe_fewshot_acc_forgotten": probe, "acc_forget": acc_forget})))
    assert verdict(results, results.scenarios[0], "a") == expected


def test_overview_marks_own_gold_standard_and_no_ops():
    text = overview_table(Results(frame(base(sisa=GOOD, finetune=GOOD | {"unchanged": 1.0}))))
    sisa = next(line for line in text.splitlines() if line.startswith(r"\texttt{sisa}"))
    assert sisa.count("n/b") >= 2
    finetune = next(line for line in text.splitlines() if line.startswith(r"\texttt{finetune}"))
    assert "= &" in finetune and r"\approx" not in finetune


def test_limitations_from_the_searches_and_the_population_seeds():
    cells = base(a=GOOD)
    ok = {"method": "a", "kind": "classes", "best": {"lr": 0.1}, "feasible": True}
    assert findings.searches_without_answer(Results(frame(cells), tuned=[ok])) == []
    slow = {"method": "a", "kind": "classes", "best": {}, "feasible": False}
    assert findings.searches_without_answer(Results(frame(cells), tuned=[ok, slow]))[0].methods == ("a",)
    assert findings.population_one_seed(Results(frame(cells, n=3))) == []
    assert "one seed" in findings.population_one_seed(Results(frame(cells, n=1)))[0].text


@pytest.mark.parametrize(
    "cells",
    [
        {(CLASS, "original"): {"acc_forget": 1.0}, (CLASS, "retrain"): {"acc_forget": 0.0}},  # references only
        base(RANDOM, a=GOOD),  # random samples only
        {k: v for k, v in base(a=GOOD).items() if k[1] != "retrain_twin"},  # no twin, no populations
        base(a=GOOD) | base(("fashion_mnist", "cnn", "class3", "classes", 1), a=GOOD),  # two datasets
    ],
)
def test_every_part_renders_for_any_run(cells):
    results = Results(frame(cells).drop(columns=["has_power", "ci95"]))
    text = findings_latex(derive(results)) + overview_table(results) + claims.claims_table(results)
    assert text.count("{") == text.count("}")
    if len({(s.dataset, s.arch) for s in results.scenarios}) > 1:
        assert "fashion\\_mnist/cnn/class3" in text


def test_overview_splits_many_scenarios():
    cells = {}
    for i in range(5):
        cells |= base(("digits", "mlp", f"class{i}", "classes", 1), a=GOOD)
    text = overview_table(Results(frame(cells)))
    assert text.count(r"\begin{table}") == 2 and r"\label{tab:overview-2}" in text


def test_conclusions_of_a_single_scenario_are_its_headlines():
    text = findings_latex(derive(Results(frame(base(a=GOOD)), ["class3"])))
    conclusions = next(line for line in text.splitlines() if "lethe@findings@conclusions" in line)
    assert "No scenario passed" not in conclusions and "class3" in conclusions


def test_overview_marks_runs_outside_the_papers_setting():
    text = overview_table(Results(frame(base(RANDOM, pbu=GOOD))))  # PBU's paper forgets classes only
    pbu = next(line for line in text.splitlines() if line.startswith(r"\texttt{pbu}"))
    assert r"$^{\S}$" in pbu
