"""Figures: each one is written from small synthetic results, and says so when there is nothing to show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from lethe.methods.catalog import METHODS
from lethe.metrics.stats import avg_gap
from lethe.models.checkpoint import save_checkpoint
from lethe.models.registry import build_model
from lethe.report.aggregate import tidy_rows
from lethe.report.figures import (
    MIA_VARIANTS,
    TABLE_FIGURES,
    confusion_matrices,
    cost_vs_classes,
    fnn_curves,
    frontier,
    frontier_points,
    hidden_vs_visible,
    membership_inference,
    relearn_curve_means,
    relearn_curves,
    relearn_time,
    saliency_panels,
    trade_off,
)
from lethe.report.saliency import GRAD_CAM, INPUT_GRADIENT, saliency_block, saliency_kind, saliency_maps
from lethe.report.style import method_style, save

# Slow (drawing every figure: 22 s on 2 busy cores): make test-fast leaves it out.
pytestmark = pytest.mark.slow


PDF, PNG = b"%PDF-", b"\x89PNG"

# forget-set id -> (name, kind, classes)
FORGET_SETS = {
    "class3": ("class3", "classes", [3]),
    "classes2-0": ("classes2", "random_classes", [1, 5]),
    "classes2-1": ("classes2", "random_classes", [0, 7]),
    "random10": ("random10", "random_samples", None),
}
METHOD_VALUES = {  # method -> (acc_forget, seconds per forgotten class, probe, relearn epochs)
    "original": (0.99, None, 0.95, 0),
    "retrain": (0.0, 1.0, 0.85, 30),
    "finetune": (0.6, 0.1, 0.93, 2),
    "zero_output": (0.3, 0.001, 0.95, 10),
    "unsir": (0.0, 0.05, 0.85, 50),
}


def metrics_record(forget_set: str, method: str, seed: int) -> dict:
    """A metrics JSON as lethe.stages.evaluate writes it (the metrics the figures read)."""
    name, kind, classes = FORGET_SETS[forget_set]
    acc_f, seconds, probe, relearn = METHOD_VALUES[method]
    k = len(classes) if classes else 0
    noise = 0.01 * seed
    metrics = {
        "acc_forget": acc_f + noise if classes else 0.98,
        "acc_retain": 0.99,
        "acc_test": 0.9,
        "acc_test_retained": 0.97 - noise,
        "acc_test_forgotten": acc_f if classes else None,
        "mia_entropy": 0.3 + noise,
        "mia_efficacy": 0.7 - noise,
        "mia_loss_auc": 0.5 + noise,
        "probe_fewshot_acc_forgotten": probe if classes else None,
        "relearn_epochs": relearn,
        "relearn_reached": relearn < 50,
        "unlearn_seconds": None if seconds is None else seconds * max(k, 1) * (1 + noise),
        "time_ratio_to_retrain": None if seconds is None else seconds * (1 + noise),  # retrain: 1 s per class
        "relearn_target": 0.97,
    }
    confusion = np.diag([10] * 10)
    for c in classes or []:
        confusion[c] = 0 if method in ("retrain", "unsir") else confusion[c]
        confusion[c, (c + 1) % 10] += 10 if method in ("retrain", "unsir") else 0
    return {
        "dataset": "digits",
        "arch": "mlp",
        "seed": seed,
        "forget_set": forget_set,
        "forget_set_name": name,
        "forget_kind": kind,
        "forget_classes": classes,
        "method": method,
        "metrics": metrics,
        "confusion_test": confusion.tolist(),
        "eval_seconds": 0.01,
        "relearn_curve": np.linspace(metrics["acc_forget"], 0.97, relearn + 1).tolist(),
    }


def records(forget_sets=FORGET_SETS, methods=METHOD_VALUES) -> list[dict]:
    return [
        metrics_record(fs, m, seed)
        for fs in forget_sets
        for m in methods
        for seed in (0, 1)
        if not (m in ("zero_output", "unsir") and FORGET_SETS[fs][1] == "random_samples")
    ]


POPULATION_VALUES = {  # method -> (F, U-LiRA on shadow originals, U-LiRA with the original known), seed 0 only
    "retrain_twin": (0.35, 0.5, 0.5),
    "finetune": (0.2, 0.7, 0.8),
    "zero_output": (float("nan"), 0.9, 1.0),  # deterministic: no F
    "unsir": (0.3, 0.6, 0.65),
}


def population_record(forget_set: str, method: str) -> dict:
    """A comparison with retrain's population as lethe.stages.forgetting_quality writes it (seed 0)."""
    name, kind, classes = FORGET_SETS[forget_set]
    f, shadow, known = POPULATION_VALUES[method]
    metrics = {}
    for key, value in (("fq_F", f), ("fq_score", f), ("ulira_acc", shadow), ("ulira_known_acc", known)):
        metrics.update({key: value, f"{key}_lo": value - 0.03, f"{key}_hi": value + 0.03})
    return {
        "dataset": "digits",
        "arch": "mlp",
        "seed": 0,
        "forget_set": forget_set,
        "forget_set_name": name,
        "forget_kind": kind,
        "forget_classes": classes,
        "method": method,
        "metrics": metrics,
        "quality_seconds": 0.1,
    }


def tidy_of(recs: list[dict]) -> pd.DataFrame:
    """The tidy frame as the aggregate rule writes it: every metric, and each run's avg gap to retrain."""
    tidy = pd.DataFrame([row for rec in recs for row in tidy_rows(rec)])
    return pd.concat([tidy, avg_gap(tidy)], ignore_index=True)


@pytest.fixture(scope="module")
def tidy() -> pd.DataFrame:
    populations = [
        population_record(fs, m)
        for fs in FORGET_SETS
        for m in POPULATION_VALUES
        if not (m in ("zero_output", "unsir") and FORGET_SETS[fs][1] == "random_samples")
    ]
    return tidy_of(records() + populations)


def written(tmp_path, name: str) -> list:
    return [tmp_path / f"{name}.pdf", tmp_path / f"{name}.png"]


def assert_figure_files(paths) -> None:
    pdf, png = paths
    assert pdf.read_bytes().startswith(PDF) and pdf.stat().st_size > 1000
    assert png.read_bytes().startswith(PNG) and png.stat().st_size > 1000


# --------------------------------------------------------------------------- figures from the tidy table


@pytest.mark.parametrize("name", sorted(TABLE_FIGURES))
def test_table_figures_write_pdf_and_png(name, tidy, tmp_path):
    paths = written(tmp_path, name)
    assert TABLE_FIGURES[name](tidy, paths) is True
    assert_figure_files(paths)


def test_placeholders_say_there_is_nothing_to_show(tidy, tmp_path):
    one_count = tidy[tidy["n_forget_classes"] != 2]  # class3 (1 class) and random10 only
    paths = written(tmp_path, "cost")
    assert cost_vs_classes(one_count, paths) is False
    assert_figure_files(paths)  # a figure that says so, not a missing file

    random_only = tidy[tidy["forget_kind"] == "random_samples"]
    assert hidden_vs_visible(random_only, written(tmp_path, "hidden")) is False
    assert cost_vs_classes(random_only, written(tmp_path, "cost2")) is False

    accuracies_only = tidy[tidy["metric"].str.startswith("acc_")]
    assert membership_inference(accuracies_only, written(tmp_path, "mia")) is False
    assert relearn_time(accuracies_only, written(tmp_path, "relearn")) is False
    assert frontier(accuracies_only, written(tmp_path, "frontier")) is False  # no times, no gap
    assert trade_off(accuracies_only, written(tmp_path, "trade")) is True
    assert trade_off(tidy.iloc[0:0], written(tmp_path, "empty")) is False
    for name in ("hidden", "cost2", "mia", "relearn", "frontier", "empty"):
        assert_figure_files(written(tmp_path, name))


def test_mia_figure_uses_only_the_variants_present(tidy):
    present = {m for m, _ in MIA_VARIANTS} & set(tidy["metric"])
    assert present == {"mia_entropy", "mia_efficacy", "mia_loss_auc"}


def test_pdf_is_reproducible(tidy, tmp_path):
    trade_off(tidy, [tmp_path / "a.pdf"])
    trade_off(tidy, [tmp_path / "b.pdf"])
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()  # no creation date


def test_save_rejects_unknown_format(tmp_path):
    from matplotlib.figure import Figure

    with pytest.raises(ValueError, match="unknown format 'jpeg'"):
        save(Figure(), [tmp_path / "figure.jpeg"])


def test_every_method_has_its_own_look():
    looks = [tuple(method_style(m).values()) for m in ["original", *METHODS]]
    assert len(set(looks)) == len(looks)
    assert method_style("retrain") == {"color": "#000000", "marker": "*"}
    assert method_style("finetune") == method_style("finetune")
    assert method_style("not_a_method")["color"].startswith("#")


# --------------------------------------------------------------------------- frontier


def test_frontier_points_speedup_gap_and_pareto_front(tidy):
    points = frontier_points(tidy).set_index(["forget_set_name", "method"])
    assert not {"retrain", "original"} & set(points.index.get_level_values("method"))  # the reference, not points
    # Speed-up per run is 1 / time_ratio_to_retrain, then the mean over seeds (not 1 / mean ratio).
    finetune = points.loc[("class3", "finetune")]
    assert finetune["speedup"] == pytest.approx(np.mean([1 / 0.1, 1 / 0.101]))
    assert finetune["speedup_std"] == pytest.approx(np.std([1 / 0.1, 1 / 0.101], ddof=1))
    # Gap: mean |metric - retrain's| over Acc_f, Acc_r, Acc_te,r, MIA_ent; only Acc_f differs here.
    assert finetune["gap"] == pytest.approx(0.6 / 4) and finetune["n"] == 2
    assert points.loc[("class3", "unsir"), "gap"] == pytest.approx(0.0)
    # zero_output: fastest; unsir: closest; finetune slower than both and farther than unsir.
    class3 = points.loc["class3"]
    assert class3["pareto"].to_dict() == {"finetune": False, "zero_output": True, "unsir": True}
    assert points.loc[("random10", "finetune"), "pareto"]  # alone in its scenario


def test_the_no_op_gap_is_the_originals(tidy):
    """The dashed line: the original's mean average gap per scenario, from the same tidy rows."""
    from lethe.report.figures import no_op_gaps

    gaps = {scenario[2]: gap for scenario, gap in no_op_gaps(tidy).items()}
    original = tidy[(tidy["metric"] == "avg_gap") & (tidy["method"] == "original")]
    assert gaps and set(gaps) == set(original["forget_set_name"])
    for name, gap in gaps.items():
        assert gap == pytest.approx(original[original["forget_set_name"] == name]["value"].mean())
    assert no_op_gaps(tidy[tidy["method"] != "original"]) == {}


def test_frontier_leaves_out_runs_without_a_time(tidy, tmp_path):
    no_ratio = tidy[~((tidy["metric"] == "time_ratio_to_retrain") & (tidy["method"] == "finetune"))]
    assert "finetune" not in set(frontier_points(no_ratio)["method"])
    paths = written(tmp_path, "frontier")
    assert frontier(no_ratio, paths) is True
    assert_figure_files(paths)


# --------------------------------------------------------------------------- relearn curves


def curve_record(method: str, seed: int, curve, target: float | None = 0.9, forget_set: str = "class3") -> dict:
    rec = metrics_record(forget_set, "finetune", seed)
    rec["method"], rec["metrics"]["relearn_target"] = method, target
    if curve == "absent":  # a JSON without the curves
        del rec["relearn_curve"]
    else:
        rec["relearn_curve"] = curve
    return rec


def test_relearn_curve_means_hold_the_last_value_of_runs_that_stopped_early():
    recs = [
        curve_record("neggrad", 0, [0.1, 0.5, 0.96]),  # reached the target after 2 epochs
        curve_record("neggrad", 1, [0.1, 0.3, 0.6, 0.97], target=0.92),
        curve_record("original", 0, [0.99]),
        curve_record("unsir", 0, None),  # relearning did not run
        curve_record("unsir", 1, "absent"),
        curve_record("retrain", 0, [0.0, 0.2], forget_set="random10"),
    ]
    panels = relearn_curve_means(recs)
    class3 = ("digits", "mlp", "class3", "classes", 1)
    assert list(panels) == [class3, ("digits", "mlp", "random10", "random_samples", 0)]
    panel = panels[class3]
    assert list(panel.curves) == ["original", "neggrad"]  # method order; unsir has no curve
    np.testing.assert_allclose(panel.curves["neggrad"], [0.1, 0.4, (0.96 + 0.6) / 2, (0.96 + 0.97) / 2])
    np.testing.assert_allclose(panel.curves["original"], [0.99])
    assert panel.runs == {"original": 1, "neggrad": 2}
    assert panel.target == pytest.approx((0.9 + 0.92 + 0.9) / 3)  # runs with a curve only


def test_relearn_curves(tmp_path):
    paths = written(tmp_path, "relearn_curves")
    assert relearn_curves(records(), paths) is True
    assert_figure_files(paths)


def test_relearn_curves_without_curves_say_so(tmp_path):
    recs = [curve_record("finetune", 0, None), curve_record("retrain", 0, "absent")]
    paths = written(tmp_path, "relearn_curves")
    assert relearn_curves(recs, paths) is False
    assert_figure_files(paths)


def test_relearn_figure_stage_reads_metrics_files(tmp_path):
    from lethe.io import write_json
    from lethe.stages.figure import relearn_figure

    files = []
    for i, rec in enumerate(records(["class3"])):
        files.append(tmp_path / f"{i}.json")
        write_json(files[-1], rec)
    out = written(tmp_path, "relearn_curves")
    assert relearn_figure(files, out) is True
    assert_figure_files(out)


def test_lira_roc_means_and_figure(tmp_path):
    from lethe.metrics.lira import ROC_FPRS
    from lethe.report.figures import lira_roc, lira_roc_means

    def rec(method, seed, audit, forget):
        return {
            "dataset": "digits",
            "arch": "mlp",
            "seed": seed,
            "forget_set": "class3",
            "forget_set_name": "class3",
            "forget_kind": "classes",
            "forget_classes": [3],
            "method": method,
            "lira_roc": {
                "fpr": list(ROC_FPRS),
                "online_audit": audit,
                "online_forget": forget,
                "offline_audit": audit,
                "offline_forget": forget,
            },
        }

    n = len(ROC_FPRS)
    recs = [
        rec("original", 0, [0.2] * n, [None] + [0.4] * (n - 1)),  # the first FPR unresolved in this run
        rec("original", 1, [0.4] * n, [0.6] * n),
        rec("retrain", 0, [0.1] * n, [None] * n),
        {**rec("finetune", 0, [0.1] * n, [0.1] * n), "lira_roc": None},  # no reference models: left out
    ]
    means = lira_roc_means(recs)
    (scenario,) = means
    assert set(means[scenario]) == {"original", "retrain"}
    assert means[scenario]["original"]["audit"] == pytest.approx([0.3] * n)
    assert means[scenario]["original"]["forget"][0] == pytest.approx(0.6)  # only the run that resolved it
    assert np.isnan(means[scenario]["retrain"]["forget"]).all()
    paths = written(tmp_path, "lira_roc")
    assert lira_roc(recs, paths) is True
    assert_figure_files(paths)
    assert lira_roc(recs[3:], written(tmp_path / "none", "lira_roc")) is False  # a placeholder


# --------------------------------------------------------------------------- FNN curves


def fnn_run(seed: int, forget_set: str = "class3", scheme: str = "rank", accepted: bool = True) -> dict:
    phases = ["learn", "learn", "unlearn", "unlearn", "unlearn"]
    trajectory = [
        {
            "turn": 1,
            "phase": p,
            "epoch": i + 1,
            "t": float(max(0, i - 1)),
            "loss": 0.1,
            "val_acc": 0.9,
            "val_acc_retained": 0.97,
            "retain_acc": 0.99,
            "forget_acc": max(0.0, 0.9 - 0.3 * i),
            "mia": 0.1 + 0.1 * i + 0.01 * seed,
            "attack_acc": 0.5,
        }
        for i, p in enumerate(phases)
    ]
    return {
        "dataset": "digits",
        "arch": "mlp",
        "seed": seed,
        "forget_set": forget_set,
        "method": "fnn",
        "params": {"scheme": scheme, "acc_threshold": 0.95, "mia_tolerance": 0.1, "accept_on": "validation"},
        "notes": {"trajectory": trajectory, "accepted": accepted},
    }


def test_fnn_curves(tmp_path):
    runs = [fnn_run(0), fnn_run(1, accepted=False), fnn_run(0, "classes2-1", scheme="fixed")]
    paths = written(tmp_path, "fnn")
    assert fnn_curves(runs, paths) is True
    assert_figure_files(paths)


def test_fnn_curves_without_fnn_says_so(tmp_path):
    paths = written(tmp_path, "fnn")
    assert fnn_curves([], paths) is False
    assert_figure_files(paths)


# --------------------------------------------------------------------------- confusion matrices


def test_confusion_matrices(tmp_path):
    recs = [r for r in records(["class3"]) if r["method"] in ("original", "zero_output", "retrain")]
    paths = written(tmp_path, "confusion")
    assert confusion_matrices(recs, ["original", "zero_output", "retrain"], paths) is True
    assert_figure_files(paths)
    # A method without metrics gets an empty panel; none of the methods: a placeholder.
    assert confusion_matrices(recs, ["original", "scrub", "retrain"], written(tmp_path, "c2")) is True
    assert confusion_matrices(recs, ["scrub"], written(tmp_path, "c3")) is False


# --------------------------------------------------------------------------- saliency


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, torch.Tensor, np.ndarray]:
    """20 random 8×8 'images' (uint8 and normalised) of classes 0..9, twice each."""
    raw = np.random.default_rng(0).integers(0, 256, size=(20, 1, 8, 8), dtype=np.uint8)
    x = torch.from_numpy(raw).float().div(255.0).sub(0.5).div(0.25)
    return raw, x, np.arange(20) % 10


@pytest.mark.parametrize("arch, kind", [("mlp", INPUT_GRADIENT), ("cnn", GRAD_CAM)])
def test_saliency_maps(arch, kind, images):
    _, x, y = images
    model = build_model(arch, (1, 8, 8), 10, seed=0).eval()
    assert saliency_kind(model) == kind
    maps = saliency_maps(model, x[:4], torch.as_tensor(y[:4]))
    assert maps.shape == (4, 8, 8)
    assert maps.min() >= 0 and maps.max() <= 1 and maps.max() > 0.5  # each map scaled to [0, 1]
    if arch == "mlp":  # input gradients only: the parameters' gradients are not touched
        assert all(p.grad is None for p in model.parameters())


def test_saliency_of_a_zeroed_output_row_is_blank(images):
    _, x, y = images
    model = build_model("mlp", (1, 8, 8), 10, seed=0).eval()
    with torch.no_grad():
        model.head.weight[3].zero_()
        model.head.bias[3] = 0.0
    maps = saliency_maps(model, x[:2], torch.tensor([3, 4]))
    assert np.all(maps[0] == 0) and maps[1].max() == pytest.approx(1.0)


def test_saliency_panels(images, tmp_path):
    raw, x, y = images
    models = {
        "original": build_model("cnn", (1, 8, 8), 10, seed=0),
        "zero_output": build_model("cnn", (1, 8, 8), 10, seed=1),
        "retrain": build_model("cnn", (1, 8, 8), 10, seed=2),
    }
    block = saliency_block(models, raw, x, y, [3], 2, title="synthetic / cnn")
    assert block["models"] == ["original", "zero_output", "retrain"]
    assert [row["label"].split("\n")[0] for row in block["rows"]] == ["forgotten class 3"] * 2 + [
        "retained class 0"
    ] * 2
    assert all(len(row["maps"]) == 3 and row["image"].shape == (8, 8) for row in block["rows"])
    paths = written(tmp_path, "gradcam")
    assert saliency_panels([block], paths) is True
    assert_figure_files(paths)
    assert saliency_panels([], written(tmp_path, "none")) is False
    assert_figure_files(written(tmp_path, "none"))


def test_saliency_figure_stage_reads_checkpoints(digits_files, forget_class3, tmp_path):
    """The stage pairs checkpoints (by their sidecars) with the dataset and the forget set."""
    from lethe.io import write_json
    from lethe.report.saliency import saliency_figure

    npz, manifest_path, manifest = digits_files
    shape, classes = tuple(manifest["shape"]), int(manifest["num_classes"])
    meta = {"arch": "mlp", "shape": list(shape), "num_classes": classes, "dataset": "digits", "seed": 0}
    paths = {}
    for method in ("original", "zero_output", "retrain"):
        model = build_model("mlp", shape, classes, seed=0)
        paths[method] = tmp_path / f"{method}.safetensors"
        extra = {} if method == "original" else {"method": method, "forget_set": "class3"}
        save_checkpoint(model, paths[method], {**meta, **extra})
    forget_path = tmp_path / "class3.json"
    write_json(forget_path, forget_class3)
    out = written(tmp_path, "gradcam")
    shown = saliency_figure(
        [paths["retrain"], paths["original"], paths["zero_output"]],
        [npz],
        [manifest_path],
        [forget_path],
        ["original", "zero_output", "retrain"],
        1,
        out,
    )
    assert shown is True
    assert_figure_files(out)


def test_forgetting_quality_draws_each_population_metric_against_the_twin(tidy, tmp_path):
    """One row of panels (F, U-LiRA on shadow originals, U-LiRA with the original known) per scenario,
    the twin's value as the band; a deterministic method has no F dot; without populations a placeholder."""
    from lethe.report.figures import forgetting_quality

    with_populations = forgetting_quality(tidy, written(tmp_path, "quality"))
    assert with_populations is True
    fig_tidy = tidy[~tidy["metric"].str.startswith(("fq_", "ulira"))]
    assert forgetting_quality(fig_tidy, written(tmp_path, "none")) is False
    assert_figure_files(written(tmp_path, "none"))
