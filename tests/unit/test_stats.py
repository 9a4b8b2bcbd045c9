"""Paired comparisons with retrain and SalUn's average gap, on small synthetic tidy frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from lethe.metrics.stats import GAP_METRICS, attack_power, avg_gap, avg_gaps, paired_vs_retrain
from lethe.report.aggregate import RUN_KEYS


def _row(method: str, seed: int, metric: str, value: float, forget_set: str = "class3") -> dict:
    return {
        "dataset": "digits",
        "arch": "mlp",
        "seed": seed,
        "forget_set": forget_set,
        "forget_set_name": forget_set.split("-")[0],
        "forget_kind": "classes",
        "n_forget_classes": 1,
        "method": method,
        "metric": metric,
        "value": value,
    }


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "metric", "value"])


def test_paired_differences_and_t_test():
    retrain = [0.10, 0.20, 0.30, 0.25]
    method = [0.15, 0.22, 0.41, 0.30]
    rows = [_row("retrain", s, "acc_forget", v) for s, v in enumerate(retrain)]
    rows += [_row("finetune", s, "acc_forget", v) for s, v in enumerate(method)]
    rows += [_row("finetune", s, "acc_retain", 0.9) for s in range(4)]  # another metric: ignored
    out = paired_vs_retrain(_frame(rows), "acc_forget")
    assert len(out) == 1
    row = out.iloc[0]
    diffs = np.subtract(method, retrain)
    assert row["method"] == "finetune" and row["metric"] == "acc_forget"
    assert row["mean_diff"] == pytest.approx(diffs.mean())
    assert row["std_diff"] == pytest.approx(diffs.std(ddof=1))
    assert row["n"] == 4
    assert row["p_value"] == pytest.approx(sps.ttest_rel(method, retrain).pvalue)
    wilcoxon = paired_vs_retrain(_frame(rows), "acc_forget", test="wilcoxon").iloc[0]
    assert wilcoxon["p_value"] == pytest.approx(sps.wilcoxon(diffs).pvalue)
    assert wilcoxon["test"] == "wilcoxon"


def test_pairs_are_matched_by_seed_and_draw_not_by_order():
    rows = [
        _row("retrain", 0, "m", 1.0, "two-0"),
        _row("retrain", 0, "m", 5.0, "two-1"),
        _row("neggrad", 0, "m", 5.5, "two-1"),
        _row("neggrad", 0, "m", 1.5, "two-0"),
        _row("neggrad", 1, "m", 9.0, "two-0"),  # no retrain partner: left out
    ]
    row = paired_vs_retrain(_frame(rows), "m").iloc[0]
    assert row["n"] == 2
    assert row["mean_diff"] == pytest.approx(0.5)
    assert row["std_diff"] == pytest.approx(0.0)
    assert row["p_value"] == 0.0  # equal non-zero differences


def test_small_and_degenerate_samples():
    one = _frame([_row("retrain", 0, "m", 0.5), _row("finetune", 0, "m", 0.7)])
    row = paired_vs_retrain(one, "m").iloc[0]
    assert row["n"] == 1 and row["mean_diff"] == pytest.approx(0.2)
    assert np.isnan(row["std_diff"]) and np.isnan(row["p_value"])
    same = _frame([_row(m, s, "m", 0.5) for m in ("retrain", "finetune") for s in range(3)])
    assert paired_vs_retrain(same, "m").iloc[0]["p_value"] == 1.0
    assert paired_vs_retrain(same, "other").empty
    with pytest.raises(ValueError, match="test must be"):
        paired_vs_retrain(same, "m", test="anova")
    with pytest.raises(ValueError, match="lacks columns"):
        paired_vs_retrain(same.drop(columns="seed"), "m")


def test_avg_gap_per_run():
    values = {
        "retrain": {"acc_forget": 0.0, "acc_retain": 0.99, "acc_test_retained": 0.97, "mia_efficacy": 0.30},
        "zero_output": {"acc_forget": 0.14, "acc_retain": 0.97, "acc_test_retained": 0.97, "mia_efficacy": 0.50},
        "neggrad": {"acc_forget": 0.03, "acc_retain": 0.99, "acc_test_retained": 0.97},  # no MIA
    }
    rows = [_row(m, 0, k, v) for m, metrics in values.items() for k, v in metrics.items()]
    rows += [_row(m, 0, "unlearn_seconds", 1.0) for m in values]
    gaps = avg_gap(_frame(rows))
    assert list(gaps.columns) == [*RUN_KEYS, "metric", "value"]
    assert (gaps["metric"] == "avg_gap").all()
    by_method = dict(zip(gaps["method"], gaps["value"], strict=True))
    assert GAP_METRICS == ("acc_forget", "acc_retain", "acc_test_retained", "mia_efficacy")  # SalUn's four
    assert set(by_method) == {"retrain", "zero_output"}  # neggrad lacks mia_efficacy: left out
    assert by_method["retrain"] == 0.0
    assert by_method["zero_output"] == pytest.approx((0.14 + 0.02 + 0.0 + 0.20) / 4)
    # Another MIA column, or fewer metrics, by argument.
    accs = avg_gap(_frame(rows), metrics=GAP_METRICS[:3])
    assert dict(zip(accs["method"], accs["value"], strict=True))["neggrad"] == pytest.approx(0.03 / 3)
    with pytest.raises(ValueError, match="at least one"):
        avg_gap(_frame(rows), metrics=())


def test_avg_gap_pairs_each_seed_with_its_own_retrain():
    rows = []
    for seed, (ref, val) in enumerate([(0.1, 0.3), (0.5, 0.4)]):
        rows += [_row("retrain", seed, "acc_forget", ref), _row("finetune", seed, "acc_forget", val)]
    gaps = avg_gap(_frame(rows), metrics=("acc_forget",))
    finetune = gaps[gaps["method"] == "finetune"].set_index("seed")["value"]
    assert finetune[0] == pytest.approx(0.2) and finetune[1] == pytest.approx(0.1)


def test_avg_gaps_names_salun_and_the_entropy_variant():
    values = {
        "retrain": {
            "acc_forget": 0.0,
            "acc_retain": 0.9,
            "acc_test_retained": 0.9,
            "mia_efficacy": 0.8,
            "mia_entropy": 0.2,
        },
        "finetune": {
            "acc_forget": 0.2,
            "acc_retain": 0.9,
            "acc_test_retained": 0.9,
            "mia_efficacy": 0.4,
            "mia_entropy": 0.2,
        },
    }
    rows = [_row(m, 0, k, v) for m, metrics in values.items() for k, v in metrics.items()]
    gaps = avg_gaps(_frame(rows))
    finetune = gaps[gaps["method"] == "finetune"].set_index("metric")["value"]
    assert finetune["avg_gap"] == pytest.approx((0.2 + 0.4) / 4)  # MIA-efficacy's 0.4 counts
    assert finetune["avg_gap_entropy"] == pytest.approx(0.2 / 4)  # the entropy MIA agrees with retrain


def test_attack_power_pools_runs_and_gates_on_chance():
    rows = []
    for seed in range(3):
        for method, acc in (("finetune", 0.52), ("original", 0.60)):
            lo, hi = acc - 0.031, acc + 0.031  # about Wilson's interval at n = 1000
            for suffix, value in (("", acc), ("_lo", lo), ("_hi", hi), ("_n", 1000)):
                rows.append(_row(method, seed, f"mia_efficacy_attack_acc{suffix}", value))
    power = attack_power(_frame(rows)).set_index("method")
    assert set(power["metric"]) == {"mia_efficacy"}
    # Three runs of n = 1000 pool to a half-width of 0.031 / sqrt(3) = 0.018: 0.52 clears 0.5, barely.
    assert power.loc["finetune", "power_lo"] == pytest.approx(0.52 - 0.031 / np.sqrt(3))
    assert bool(power.loc["finetune", "has_power"]) and bool(power.loc["original", "has_power"])
    one = _frame([r for r in rows if r["seed"] == 0])
    assert not bool(attack_power(one).set_index("method").loc["finetune", "has_power"])  # 0.489 < 0.5
