"""The tables' marks and verdicts: diverged (×), unchanged (=) and outside-the-paper (§) rows are never bold, in
every table (the populations' marks their own); SISA and ERM-KTP, whose own gold standard is not built, print no
verdict against retrain; the captions say what each ± is (Student's t at n ≥ 2, the run's own interval at n = 1)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lethe.methods.catalog import GOLD_STANDARDS, METHODS, gold_standard, judged_against_retrain
from lethe.metrics.catalog import METRICS, POPULATION_METRICS, VS_RETRAIN_METRICS
from lethe.report.aggregate import summarise
from lethe.report.latex import (
    BROKEN,
    DIVERGED,
    HIDING_CAPTION,
    LIRA_CAPTION,
    MAIN_CAPTION,
    NOT_BUILT,
    OWN_GOLD,
    POPULATION_CAPTION,
    UNCHANGED,
    cost_table,
    family_sections,
    main_table,
    population_tables,
)

SCENARIO = {"dataset": "fmnist", "arch": "cnn", "forget_set_name": "random10", "forget_kind": "random_samples"}
SCENARIO = {**SCENARIO, "n_forget_classes": 0}


def summary_rows(values: dict[str, dict[str, float]], n: int = 1, ci95: float = 0.01) -> pd.DataFrame:
    """A summary of one scenario: {method: {metric: mean}}."""
    return pd.DataFrame(
        [
            {**SCENARIO, "method": method, "metric": metric, "mean": mean, "std": 0.0, "n": n, "ci95": ci95}
            for method, metrics in values.items()
            for metric, mean in metrics.items()
        ]
    )


def rows_of(text: str) -> dict[str, list[str]]:
    """{row name with its marks: its cells} of every method row of a table."""
    out = {}
    for line in text.splitlines():
        if " & " in line and line.endswith(r"\\") and not line.startswith((r"\multicolumn", "Method", "Data")):
            cells = line.rstrip(" \\").split(" & ")
            out[cells[0]] = cells[1:]
    return out


def bolded(text: str) -> set[str]:
    return {name for name, cells in rows_of(text).items() if any(r"\textbf" in cell for cell in cells)}


def population(f: float, ulira: float, models: int = 8, **counts) -> dict[str, float]:
    return {
        "fq_F": f,
        "fq_score": f,
        "ulira_acc": ulira,
        "ulira_known_acc": ulira,
        "population_models": models,
        "population_nonfinite_models": 0,
        **counts,
    }


# --------------------------------------------------------------------------- the gold standard


def test_every_method_declares_a_described_gold_standard():
    assert all(info.gold_standard in GOLD_STANDARDS for info in METHODS.values())
    assert gold_standard("sisa") == "sisa_retrain" and gold_standard("erm_ktp") == "erm_ktp_retrain"
    assert not judged_against_retrain("sisa") and not judged_against_retrain("erm_ktp")
    assert judged_against_retrain("original") and judged_against_retrain("retrain_twin")
    assert all(judged_against_retrain(m) for m in METHODS if m not in ("sisa", "erm_ktp"))
    with pytest.raises(KeyError):
        judged_against_retrain("no_such_method")
    # The population metrics, the gaps and JS to retrain are the verdicts against retrain.
    assert set(POPULATION_METRICS) | {"avg_gap", "avg_gap_entropy", "js_to_retrain"} == VS_RETRAIN_METRICS


def test_sisa_and_erm_ktp_print_no_verdict_against_retrain_and_the_caption_names_their_gold_standard():
    summary = summary_rows(
        {
            "original": {"acc_forget": 1.0, "js_to_retrain": 0.3, "avg_gap": 0.2},
            "retrain": {"acc_forget": 0.90, "js_to_retrain": 0.0, "avg_gap": 0.0},
            "sisa": {"acc_forget": 0.90, "js_to_retrain": 0.01, "avg_gap": 0.001},  # level with retrain
            "erm_ktp": {"acc_forget": 0.905, "js_to_retrain": 0.02, "avg_gap": 0.002},
            "finetune": {"acc_forget": 0.95, "js_to_retrain": 0.1, "avg_gap": 0.05},
            "scrub": {"acc_forget": 0.97, "js_to_retrain": 0.2, "avg_gap": 0.06},
        },
        n=3,
    )
    columns = [("acc_forget", "Acc", "pct"), ("js_to_retrain", "JS", "frac"), ("avg_gap", "Gap", "pct")]
    table = main_table(summary, columns=columns)
    rows = rows_of(table)
    sisa, erm = rows[r"sisa$^{\circ}$" + OWN_GOLD], rows[r"erm\_ktp$^{\circ}$" + OWN_GOLD]
    assert sisa[2:] == [NOT_BUILT, NOT_BUILT] and erm[2:] == [NOT_BUILT, NOT_BUILT]
    assert sisa[1] == r"90.0 $\pm$ 1.0"  # a measurement: printed, but never bold as closest to retrain
    assert bolded(table) == {"finetune"} and rows["finetune"][1].startswith(r"\textbf")
    assert "finetune" in rows and "retrain" in rows  # the others carry no ∗
    for caption in (MAIN_CAPTION, HIDING_CAPTION, LIRA_CAPTION, POPULATION_CAPTION):
        assert "SISA trained from scratch on $D_r$ with the same seed, shards and slices" in caption
        assert "ERM-KTP's masked original retrained from scratch on $D_r$" in caption and "n/b" in caption
        assert "the network retrained from scratch on $D_r$" in caption
    # Their population rows too: F, Score and U-LiRA are all verdicts against retrain.
    pops = summary_rows(
        {
            "retrain_twin": population(0.2, 0.55),
            "sisa": population(0.9, 0.5),
            "erm_ktp": population(0.9, 0.5),
            "finetune": population(0.01, 0.99),
            "scrub": population(0.02, 0.9),
        }
    )
    rows = rows_of(population_tables(pops))
    assert rows[r"sisa$^{\circ}$" + OWN_GOLD][1:] == [NOT_BUILT] * 4
    assert rows[r"erm\_ktp$^{\circ}$" + OWN_GOLD][1:] == [NOT_BUILT] * 4
    assert bolded(population_tables(pops)) == {"scrub"}
    # The family table's sentence says so too.
    section = family_sections(summary)
    assert r"all but \texttt{sisa}, whose own gold standard is not built" in section


def test_paired_tests_say_whether_retrain_is_the_methods_gold_standard():
    from lethe.metrics.stats import paired_vs_retrain

    base = {**SCENARIO, "metric": "acc_forget", "forget_set": "random10-0"}
    tidy = pd.DataFrame(
        [
            {**base, "seed": seed, "method": method, "value": value + 0.01 * seed}
            for seed in (0, 1, 2)
            for method, value in (("retrain", 0.9), ("sisa", 0.91), ("finetune", 0.95))
        ]
    )
    out = paired_vs_retrain(tidy, "acc_forget").set_index("method")
    assert not out.loc["sisa", "judged"] and out.loc["finetune", "judged"]


# --------------------------------------------------------------------------- marks and bold


def test_a_diverged_population_is_marked_and_not_a_measurement():
    """SCRUB+R with 8 of 8 non-finite models: × and no numbers, never bold; 4 of 8: numbers, ×4/8, not bold."""
    pops = summary_rows(
        {
            "retrain_twin": population(0.2, 0.55),
            "scrub_r": population(0.0, 1.0, population_nonfinite_models=8),
            "neggrad": population(0.3, 0.5, population_nonfinite_models=4),  # best by value, but half broken
            "finetune": population(0.01, 0.99),
            "scrub": population(0.02, 0.9),
        }
    )
    table = population_tables(pops)
    rows = rows_of(table)
    assert rows["scrub\\_r" + DIVERGED][1:] == [BROKEN] * 4
    assert rows[r"neggrad$^{\times 4/8}$"][1] == r"30.0 $\pm$ 1.0"
    assert bolded(table) == {"scrub"}
    assert "non-finite outputs" in table
    # The shadow population's models count too.
    pops.loc[len(pops)] = {**SCENARIO, "method": "scrub", "metric": "population_shadow_models", "mean": 8, "n": 1}
    pops.loc[len(pops)] = {
        **SCENARIO, "method": "scrub", "metric": "population_shadow_nonfinite_models", "mean": 8, "n": 1,
    }  # fmt: skip
    assert r"scrub$^{\times 8/16}$" in rows_of(population_tables(pops))


def test_an_unchanged_population_closest_to_the_null_is_not_bold():
    """SSD that changed no weight looks like retraining on a model that barely memorises: U-LiRA 48.4 %, level
    with the retrain twin's null. Its population is marked = and never bold."""
    pops = summary_rows(
        {
            "retrain_twin": population(0.5, 0.484),
            "ssd": population(0.5, 0.484, population_unchanged_models=8),
            "finetune": population(0.01, 0.99),
            "scrub": population(0.02, 0.9),
        }
    )
    table = population_tables(pops)
    assert "ssd" + UNCHANGED in rows_of(table) and bolded(table) == {"scrub"}
    # Results from before the populations counted: the evaluation runs' share stands in.
    older = summary_rows(
        {
            "retrain_twin": population(0.5, 0.484),
            "ssd": {**population(0.5, 0.484), "unchanged": 1.0},
            "finetune": {**population(0.01, 0.99), "unchanged": 0.0},
            "scrub": population(0.02, 0.9),
        },
        n=3,
    )
    table = population_tables(older)
    assert "ssd" + UNCHANGED in rows_of(table) and "finetune" in rows_of(table) and bolded(table) == {"scrub"}


def test_an_unchanged_row_closest_to_retrain_is_never_bold_in_the_run_tables():
    summary = summary_rows(
        {
            "original": {"acc_forget": 0.99, "mia_efficacy": 0.1},
            "retrain": {"acc_forget": 0.98, "mia_efficacy": 0.2},
            "ssd": {"acc_forget": 0.99, "mia_efficacy": 0.1, "unchanged": 1.0},  # the original: closest on Acc_f
            "pbu": {"acc_forget": 0.98, "mia_efficacy": 0.2},  # exactly retrain's, but outside its paper's scope
            "finetune": {"acc_forget": 0.95, "mia_efficacy": 0.3},
            "scrub": {"acc_forget": 0.90, "mia_efficacy": 0.5, "diverged": 1 / 3},
            "salun": {"acc_forget": 0.80, "mia_efficacy": 0.6},
        },
        n=3,
    )
    table = main_table(summary, columns=[("acc_forget", "Acc", "pct"), ("mia_efficacy", "MIA", "pct")])
    rows = rows_of(table)
    assert {"ssd" + UNCHANGED, "pbu$^{\\S}$", r"scrub$^{\times 1/3}$"} <= set(rows)
    assert bolded(table) == {"finetune"}


def test_the_cost_table_marks_its_cells_and_never_bolds_a_marked_one():
    base = {**SCENARIO, "forget_set_name": "class3", "forget_kind": "classes", "n_forget_classes": 1}
    rows = []
    for seed in (0, 1, 2):
        for method, seconds, unchanged, diverged in (
            ("retrain", 5.0, None, 0.0),
            ("ssd", 0.01, 1.0, 0.0),  # the fastest, having done nothing
            ("neggrad", 0.02, 0.0, float(seed == 0)),  # next, one run broken
            ("finetune", 0.5, 0.0, 0.0),
            ("scrub", 0.9, 0.0, 0.0),
        ):
            run = {**base, "seed": seed, "forget_set": "class3", "method": method}
            rows.append({**run, "metric": "unlearn_seconds", "value": seconds})
            rows.append({**run, "metric": "diverged", "value": diverged})
            if unchanged is not None:
                rows.append({**run, "metric": "unchanged", "value": unchanged})
    table = cost_table(pd.DataFrame(rows))
    lines = [line.rstrip(" \\").split(" & ") for line in table.splitlines() if line.startswith("fmnist")]
    cells = {parts[1]: parts[2] for parts in lines}
    assert cells["ssd"].endswith(UNCHANGED) and cells["neggrad"].endswith(r"$^{\times 1/3}$")
    assert cells["finetune"].startswith(r"\textbf") and not any(r"\textbf" in cells[m] for m in ("ssd", "neggrad"))


# --------------------------------------------------------------------------- interval wording


def test_captions_say_what_the_interval_is_at_one_run_and_at_several():
    for caption in (MAIN_CAPTION, HIDING_CAPTION, LIRA_CAPTION):
        assert r"Student's $t$ over the cell's $n$ runs" in caption and r"$n \geq 2$" in caption
        assert "where a cell has one run, that run's own 95" in caption and "Wilson's" in caption
        assert "the mean alone for the other metrics (times" in caption
        assert r"(Student $t$) over $n$ runs" not in caption
    assert r"$n \geq 2$; where $n = 1$, a bootstrap over the one population's models" in POPULATION_CAPTION
    section = family_sections(summary_rows({"original": {"acc_forget": 1.0}, "retrain": {"acc_forget": 0.0}}))
    assert "Wilson's" in section and r"$n \geq 2$" in section


def test_a_one_run_cell_prints_its_own_interval_where_it_has_one_and_the_mean_alone_otherwise():
    """At n = 1 an accuracy carries Wilson's interval and the time none: what the captions say."""
    rows = [
        {**SCENARIO, "seed": 0, "forget_set": "random10", "method": method, "metric": metric, "value": value}
        for method in ("original", "retrain", "finetune")
        for metric, value in (
            ("acc_forget", 0.9),
            ("acc_forget_lo", 0.85),
            ("acc_forget_hi", 0.93),
            ("unlearn_seconds", 0.1),
        )
    ]
    table = main_table(
        summarise(pd.DataFrame(rows)), columns=[("acc_forget", "A", "pct"), ("unlearn_seconds", "T", "ms")]
    )
    assert rows_of(table)["finetune"] == ["1", r"90.0 $\pm$ 4.0", "100.0"]
    assert METRICS["acc_forget"].interval and not METRICS["unlearn_seconds"].interval


# --------------------------------------------------------------------------- the populations' own evidence


def test_the_quality_stage_passes_on_the_populations_unchanged_counts(tmp_path):
    from lethe.io import sha256_file, write_json
    from lethe.stages.forgetting_quality import forgetting_quality

    rng = np.random.default_rng(0)

    def write(name: str, method: str, unchanged):
        npz = tmp_path / f"{name}.npz"
        arrays = {"phi": rng.normal(size=(4, 10)).astype(np.float32)}
        arrays.update({key: np.full(4, 0.9) for key in ("acc_forget", "acc_retain", "acc_test_retained")})
        np.savez(npz, **arrays)
        record = {
            "method": method, "dataset": "digits", "arch": "mlp", "seed": 0, "forget_set": "class3",
            "forget_set_name": "class3", "forget_kind": "classes", "forget_classes": [3], "forget_size": 10,
            "models": 4, "deterministic": False, "seconds": [0.1], "npz_sha256": sha256_file(npz),
            "originals": "fixed",
        }  # fmt: skip
        if unchanged is not None:
            record["unchanged_models"] = unchanged
        write_json(tmp_path / f"{name}.json", record)
        return npz, tmp_path / f"{name}.json"

    retrain = write("retrain", "retrain", None)
    out = forgetting_quality(write("ssd", "ssd", 4), retrain, tmp_path / "q.json", shadow_paths=write("sh", "ssd", 3))
    metrics = json.loads((tmp_path / "q.json").read_text())["metrics"]
    assert metrics == out["metrics"]
    assert metrics["population_unchanged_models"] == 4 and metrics["population_shadow_unchanged_models"] == 3
    assert metrics["population_shadow_models"] == 4 and metrics["population_shadow_nonfinite_models"] == 0
    older = forgetting_quality(write("old", "ssd", None), retrain, tmp_path / "q2.json")["metrics"]
    assert "population_unchanged_models" not in older and "population_shadow_models" not in older
