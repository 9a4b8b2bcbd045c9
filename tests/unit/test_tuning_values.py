"""Where a method's hyperparameters come from (config key ``tuning``, lethe.tuning.values, lethe.plan.experiment):
the paper's defaults, shipped tuned values, or the workflow's own search (rule tune)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from helpers.plan_config import CONFIG

from lethe.methods.catalog import METHODS
from lethe.plan.config import load_plan
from lethe.plan.experiment import Plan
from lethe.tuning import values as tuned

REPO = Path(__file__).resolve().parents[2]


def config(tuning: dict, **changes) -> dict:
    result = copy.deepcopy(CONFIG)
    result.update(copy.deepcopy(changes))
    result["tuning"] = {"source": "defaults", "per_method": {}, "seed": 100, "folder": "config/tuned", **tuning}
    return result


def ship(folder: Path, method: str, kind: str, best: dict, dataset="digits", arch="mlp") -> Path:
    path = tuned.shipped_path(folder, dataset, arch, method, kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"method": method, "best": best, "trials": 3, "gap": 1.0, "feasible": True}))
    return path


def test_defaults_are_the_catalogues_merged_with_method_params():
    plan = Plan(config({}))
    assert all(plan.tuning.source(m) == "defaults" for m in plan.methods)
    assert plan.method_params("neggrad", "digits", "mlp", "class3") == plan.params["neggrad"]
    assert plan.params["neggrad"]["lr"] == 0.003 and plan.tuning.tune_jobs() == [] and plan.tuning.tuned_files() == []


def test_shipped_values_apply_per_kind_and_method_params_win(tmp_path):
    ship(tmp_path, "finetune", "classes", {"lr": 0.05, "epochs": 2})
    ship(tmp_path, "finetune", "random_classes", {"lr": 0.02, "epochs": 3})
    ship(tmp_path, "finetune", "random_samples", {"lr": 0.01, "epochs": 4})
    plan = Plan(
        config(
            {"per_method": {"finetune": "tuned"}, "folder": str(tmp_path)},
            method_params={"finetune": {"epochs": 7}},
        )
    )
    assert plan.tuning.source("finetune") == "tuned" and plan.tuning.source("neggrad") == "defaults"
    by_set = {fs: plan.method_params("finetune", "digits", "mlp", fs) for fs in ("class3", "classes2-1", "random10")}
    assert {fs: p["lr"] for fs, p in by_set.items()} == {"class3": 0.05, "classes2-1": 0.02, "random10": 0.01}
    assert {p["epochs"] for p in by_set.values()} == {7}  # hand-written method_params win
    assert by_set["class3"] == {**METHODS["finetune"].defaults, "lr": 0.05, "epochs": 7}
    assert plan.tuning.tune_jobs() == []  # nothing to search
    assert len(plan.tuning.tuned_files()) == 3  # the paper's setup section reads them


def test_a_missing_shipped_file_names_it_and_what_to_do(tmp_path):
    ship(tmp_path, "finetune", "classes", {"lr": 0.05})
    with pytest.raises(ValueError, match=r"finetune-random_classes\.yaml does not exist.*search.*or defaults"):
        Plan(config({"per_method": {"finetune": "tuned"}, "folder": str(tmp_path)}))


def test_a_shipped_file_with_a_foreign_key_is_refused(tmp_path):
    for kind in ("classes", "random_classes", "random_samples"):
        ship(tmp_path, "finetune", kind, {"lr": 0.05, "learning_rate": 1})
    with pytest.raises(ValueError, match=r"\['learning_rate'\] are not hyperparameters of 'finetune'"):
        Plan(config({"per_method": {"finetune": "tuned"}, "folder": str(tmp_path)}))


def test_a_search_runs_per_kind_and_skips_the_keys_method_params_fix():
    plan = Plan(config({"source": "search"}))
    # retrain and zero_output have no search space, and method_params fixes all three of neggrad's searched
    # keys: they keep their values, and nothing searches them (neggrad with a warning).
    assert [plan.tuning.source(m) for m in plan.methods] == ["defaults", "search", "defaults", "defaults"]
    assert any("method_params.neggrad fixes every hyperparameter" in w for w in plan.warnings)
    assert plan.tuning.tune_jobs() == [
        ("digits", "mlp", "finetune", "classes"),
        ("digits", "mlp", "finetune", "random_classes"),
        ("digits", "mlp", "finetune", "random_samples"),
    ]
    assert set(plan.tuning.search_space("finetune")) == set(METHODS["finetune"].search_space)
    assert (
        plan.tuning.tuned_file("digits", "mlp", "finetune", "classes2-2")
        == "results/tuned/digits/mlp/finetune-random_classes.yaml"
    )


def test_per_kind_sources_and_their_precedence(tmp_path):
    """tuning.per_kind picks a source per forget-set kind (a config with shipped values for one kind
    only); tuning.per_method wins over it, and it over tuning.source."""
    from lethe.report.setup import search_spaces

    ship(tmp_path, "finetune", "classes", {"lr": 0.05, "epochs": 2})
    tuning = {
        "source": "tuned",
        "per_kind": {"random_classes": "defaults", "random_samples": "search"},
        "folder": str(tmp_path),
    }
    plan = Plan(config(tuning))
    assert plan.tuning.sources("finetune") == {
        "classes": "tuned",
        "random_classes": "defaults",
        "random_samples": "search",
    }
    assert plan.method_params("finetune", "digits", "mlp", "class3")["lr"] == 0.05
    assert plan.method_params("finetune", "digits", "mlp", "classes2-1") == plan.params["finetune"]
    assert plan.tuning.tune_jobs() == [("digits", "mlp", "finetune", "random_samples")]
    assert plan.tuning.tuned_file("digits", "mlp", "finetune", "classes2-1") is None
    assert plan.tuning.tuned_file("digits", "mlp", "finetune", "random10") == tuned.RESULT.format(
        dataset="digits", arch="mlp", method="finetune", kind="random_samples"
    )
    text = search_spaces(plan.methods, {}, plan.setup_config()["tuning"])
    assert (
        "Tuned by a search shipped with the repository for classes forgetting; by a search run by this workflow "
        "for random samples forgetting; the paper's defaults for random classes forgetting." in text
    )
    whole = Plan(config({**tuning, "per_method": {"finetune": "defaults"}}))  # per_method wins
    assert set(whole.tuning.sources("finetune").values()) == {"defaults"} and whole.tuning.tune_jobs() == []
    with pytest.raises(ValueError, match=r"tuning\.per_kind: unknown forget-set kind\(s\) \['class'\]"):
        Plan(config({"per_kind": {"class": "tuned"}}))
    with pytest.raises(ValueError, match=r"or tuning\.per_kind\.random_classes to search"):
        Plan(config({"source": "tuned", "folder": str(tmp_path)}, methods=["retrain", "finetune"]))


def test_a_method_searched_by_name_with_every_key_fixed_is_an_error():
    with pytest.raises(
        ValueError, match=r"method_params\.neggrad fixes every hyperparameter.*nothing is left to search"
    ):
        Plan(config({"per_method": {"neggrad": "search"}}))
    partly = Plan(config({"per_method": {"neggrad": "search"}}, method_params={"neggrad": {"lr": 0.003}}))
    assert set(partly.tuning.search_space("neggrad")) == {"epochs", "batch_size"}


def test_the_search_never_sees_a_reported_seed_or_draw():
    plan = Plan(config({"source": "search"}, method_params={}))
    # A fixed class list is the scenario itself (on the tuning seed's models); random forget sets take the
    # tuning seed as their draw, drawn like a per-seed forget set whatever the reported runs use.
    assert plan.tuning.tuning_forget_set("classes") == "class3"
    assert plan.tuning.tuning_forget_set("random_classes") == "classes2-100"
    assert plan.tuning.tuning_forget_set("random_samples") == "random10-100"
    assert plan.forget_spec("random10-100") == {**CONFIG["forget_sets"]["random10"], "per_seed": True}
    assert plan.forget_spec("classes2-100") == CONFIG["forget_sets"]["classes2"]
    assert "random10-100" not in plan.forget_set_ids and "classes2-100" not in plan.forget_set_ids
    with pytest.raises(ValueError, match=r"tuning\.seed: 1 is one of the reported seeds"):
        Plan(config({"source": "search", "seed": 1}, method_params={}))
    with pytest.raises(ValueError, match=r"tuning\.seed: 2 is a draw index of forget set classes2"):
        Plan(config({"source": "search", "seed": 2}, seeds=[5], method_params={}))


def test_tuned_draws_differ_from_the_reported_ones():
    from lethe.data.forget_sets import make_forget_set

    plan = Plan(config({"source": "search"}, method_params={}))
    y = [c for c in range(10) for _ in range(30)]
    tuning = make_forget_set("random10-100", plan.forget_spec("random10-100"), y, 10, "digits")
    reported = make_forget_set("random10", plan.forget_spec("random10"), y, 10, "digits")
    assert tuning["indices"] != reported["indices"] and tuning["size"] == reported["size"]
    classes = {fs: make_forget_set(fs, plan.forget_spec(fs), y, 10, "digits")["classes"] for fs in plan.forget_set_ids}
    draw = make_forget_set("classes2-100", plan.forget_spec("classes2-100"), y, 10, "digits")["classes"]
    assert draw not in [classes[f"classes2-{i}"] for i in range(3)]


def test_per_method_sources_are_checked():
    with pytest.raises(ValueError, match=r"tuning\.per_method: unknown method\(s\) \['negrad'\]"):
        Plan(config({"per_method": {"negrad": "search"}}))
    with pytest.raises(ValueError, match=r"tuning\.per_method\.zero_output: zero_output has no search space"):
        Plan(config({"per_method": {"zero_output": "search"}}))
    plan = Plan(config({"per_method": {"salun": "search"}}))
    assert any("tuning.per_method.salun is set but salun is not run" in w for w in plan.warnings)


def test_a_searched_run_reads_the_search_and_keeps_method_params(tmp_path):
    path = tmp_path / "neggrad-classes.yaml"
    path.write_text(yaml.safe_dump({"method": "neggrad", "best": {"epochs": 3, "batch_size": 64}}))
    params = {**METHODS["neggrad"].defaults, "lr": 0.003}  # lr fixed by method_params, so not searched
    assert tuned.with_search(params, path, "neggrad") == {**params, "epochs": 3, "batch_size": 64}
    assert tuned.with_search(params, None, "neggrad") == params
    with pytest.raises(ValueError, match="written for method 'neggrad', not 'pbu'"):
        tuned.with_search(params, path, "pbu")


def test_the_shipped_configs_resolve_and_their_files_are_real_searches(monkeypatch):
    """Every config that runs with shipped values finds them, and each file is a search's record:
    its trial log has ``trials`` completed trials and ``best`` is the best feasible one's values;
    a random-sample search scored its trials with the forget-loss shift."""
    monkeypatch.chdir(REPO)  # the workflow's working directory: tuning.folder is relative to it
    for name in ("config.yaml", "fashion.yaml", "fashion_tshirt.yaml", "fashion_random.yaml"):
        raw = yaml.safe_load((REPO / "config" / name).read_text())
        plan = load_plan(raw)
        for path in plan.tuning.tuned_files():
            record = yaml.safe_load((REPO / path).read_text())
            history = record["history"]
            assert len(history) == record["trials"], path
            finished = [t for t in history if not t["aborted"]]
            if not finished:  # every trial stopped at its time cap: no values chosen
                assert record["best"] == {} and record["gap"] is None, path
                continue
            best = min(finished, key=lambda t: (t["objective"], t["number"]))
            assert best["params"] == record["best"] and best["gap"] == record["gap"], path
            if record["kind"] == "random_samples":  # searched with the forget-loss shift (lethe.tuning.search)
                assert all(t["loss_shift"] is not None for t in finished), path
            assert record["seed"] not in plan.seeds, path
