"""Devices: mixed precision (config key ``amp``) and memory format (``memory_format``), on the CPU.

Measured on digits (torch 2.14.1, CPU, one thread; fit with Adam 1e-3, batch 32, seed 0):
MLP 10 epochs, test accuracy 0.969 in float32, 0.969 under bfloat16 autocast and 0.969
under float16 autocast with the gradient scaler (no step skipped); CNN 5 epochs 0.949 /
0.949 / 0.944. bfloat16 logits of a trained MLP differ from float32 ones by at most 0.08
with the same argmax on every test image. A channels_last CNN gives the contiguous
CNN's logits within 2e-6. Nothing here runs on a GPU: the CUDA choices (bfloat16 or
float16, channels_last under ``auto``) are tested as decisions, not run.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import torch
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from lethe.device import Runtime, amp_dtype, grad_scaler, memory_format_name, memory_format_of, prepare_model
from lethe.methods.catalog import merge_params
from lethe.metrics.evaluate import evaluate_model
from lethe.metrics.predict import features_and_logits, logits
from lethe.models.checkpoint import load_checkpoint, save_checkpoint
from lethe.models.registry import build_model
from lethe.stages.evaluate import evaluate
from lethe.stages.train_original import train_original
from lethe.stages.unlearn import unlearn
from lethe.train import accuracy, cross_entropy, fit
from lethe.unlearning import run_unlearning

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "config" / "schema.yaml"
CUDA = torch.device("cuda")  # a device object only: nothing is allocated on it
SHORT = {"batch_size": 32, "lr": 1e-3, "seed": 0}
TRAINED = 0.9  # test accuracy after 10 epochs (measured 0.969 at every precision; chance 0.1)


def model(arch, digits):
    return build_model(arch, tuple(digits.manifest["shape"]), digits.num_classes, seed=0)


def kernels(net):
    """4-d weights with more than one input channel (a 1-channel kernel is contiguous in both layouts)."""
    found = [p for p in net.parameters() if p.dim() == 4 and p.shape[1] > 1]
    assert found
    return found


# --------------------------------------------------------------------------- config schema


def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_schema_defaults_keep_float32_and_auto_layout():
    config = {k: v for k, v in default_config().items() if k not in ("amp", "memory_format")}
    validate(config, str(SCHEMA))
    assert config["amp"] is False and config["memory_format"] == "auto"


@pytest.mark.parametrize("amp", [False, True, "bfloat16", "float16"])
@pytest.mark.parametrize("memory_format", ["auto", "contiguous", "channels_last"])
def test_schema_accepts(amp, memory_format):
    validate({**default_config(), "amp": amp, "memory_format": memory_format}, str(SCHEMA))


@pytest.mark.parametrize(
    "key, value", [("amp", "fp16"), ("amp", "true"), ("amp", 1), ("memory_format", "nhwc"), ("memory_format", True)]
)
def test_schema_rejects_naming_the_key(key, value):
    with pytest.raises(WorkflowError) as error:
        validate({**default_config(), key: value}, str(SCHEMA))
    message = str(error.value)
    assert f"instance[{key!r}]" in message and repr(value) in message


# --------------------------------------------------------------------------- precision policy


def test_amp_dtype_policy(monkeypatch):
    cpu = torch.device("cpu")
    assert amp_dtype(False, cpu) is None and amp_dtype(False, CUDA) is None
    assert amp_dtype(True, cpu) == torch.bfloat16
    assert amp_dtype("float16", cpu) == torch.float16 and amp_dtype("bfloat16", CUDA) == torch.bfloat16
    monkeypatch.setattr("lethe.device._cuda_bf16", lambda: True)  # A100, H100
    assert amp_dtype(True, CUDA) == torch.bfloat16
    monkeypatch.setattr("lethe.device._cuda_bf16", lambda: False)  # V100, T4
    assert amp_dtype(True, CUDA) == torch.float16
    for bad in ("true", 1, None, "fp16"):
        with pytest.raises(ValueError, match="amp must be one of"):
            amp_dtype(bad, cpu)
    assert grad_scaler(cpu, torch.float16) is not None
    assert grad_scaler(cpu, torch.bfloat16) is None and grad_scaler(cpu, None) is None


@pytest.mark.parametrize("amp, dtype", [(False, torch.float32), (True, torch.bfloat16), ("float16", torch.float16)])
def test_fit_runs_the_forward_pass_in_the_amp_dtype(digits, amp, dtype):
    seen = set()

    def loss_fn(net, x, y):
        out = net(x)
        seen.add(out.dtype)
        return torch.nn.functional.cross_entropy(out, y)

    net = model("mlp", digits)
    fit(net, digits.train, epochs=1, max_steps=3, loss_fn=loss_fn, amp=amp, **SHORT)
    assert seen == {dtype}
    assert {p.dtype for p in net.parameters()} == {torch.float32}


# --------------------------------------------------------------------------- fit


def test_fit_without_amp_is_the_float32_loop_bit_for_bit(digits):
    """amp=False (and no amp argument) gives exactly the weights of a plain float32 loop."""
    from lethe.data.tensors import index_batches

    default, off, plain, mixed = (model("mlp", digits) for _ in range(4))
    fit(default, digits.train, epochs=2, **SHORT)
    fit(off, digits.train, epochs=2, amp=False, **SHORT)
    fit(mixed, digits.train, epochs=2, amp=True, **SHORT)
    generator = torch.Generator().manual_seed(SHORT["seed"])  # the loop fit ran before AMP existed
    opt = torch.optim.Adam(plain.parameters(), lr=SHORT["lr"])
    plain.train()
    for _ in range(2):
        for index in index_batches(len(digits.train), SHORT["batch_size"], generator):
            loss = cross_entropy(plain, digits.train.x[index], digits.train.y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    for name, p in plain.state_dict().items():
        assert torch.equal(default.state_dict()[name], p), name
        assert torch.equal(off.state_dict()[name], p), name
    # The comparison can tell precisions apart: bfloat16 autocast changes the weights.
    assert any(not torch.equal(mixed.state_dict()[n], p) for n, p in plain.state_dict().items())


# Not float16 with the CNN: CPU float16 convolutions are slow (5 s), and the scaler is the same for any model.
@pytest.mark.parametrize("arch, amp", [("mlp", True), ("mlp", "float16"), ("cnn", True)])
def test_fit_with_amp_trains_and_keeps_float32_weights(digits, arch, amp):
    net = model(arch, digits)
    result = fit(net, digits.train, epochs=10 if arch == "mlp" else 5, amp=amp, **SHORT)
    assert accuracy(net, digits.test) > TRAINED
    assert {p.dtype for p in net.parameters()} == {torch.float32}
    assert all(torch.isfinite(p).all() for p in net.parameters())
    assert result.skipped_steps == 0  # measured: no float16 overflow on digits


def test_float16_gradient_scaler_skips_a_non_finite_step(digits):
    """A step whose gradients are infinite is skipped (weights untouched), the scale drops, training goes on."""

    def first_step_explodes():
        calls = {"n": 0}

        def loss_fn(net, x, y):
            calls["n"] += 1
            loss = cross_entropy(net, x, y)
            return loss * float("inf") if calls["n"] == 1 else loss

        return loss_fn

    net = model("mlp", digits)
    result = fit(net, digits.train, epochs=10, amp="float16", loss_fn=first_step_explodes(), **SHORT)
    assert result.skipped_steps == 1
    assert all(torch.isfinite(p).all() for p in net.parameters())
    assert accuracy(net, digits.test) > TRAINED
    # Without a scaler (bfloat16) the same step destroys the weights: the scaler is what saved them.
    unscaled = model("mlp", digits)
    fit(unscaled, digits.train, epochs=1, max_steps=2, amp=True, loss_fn=first_step_explodes(), **SHORT)
    assert not all(torch.isfinite(p).all() for p in unscaled.parameters())


def test_methods_pass_amp_to_fit():
    """Every fit() call of a method or of what methods share passes ``amp`` (by keyword, or inside a **
    mapping); methodkit.passes.train_with, which most methods train through, passes the run's."""
    fits = train_withs = 0
    package = REPO / "workflow/lethe"
    for path in sorted([*(package / "methods").glob("*.py"), *(package / "methodkit").glob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "fit":
                fits += 1
                keywords = [k.arg for k in node.keywords]
                assert "amp" in keywords or None in keywords, f"{path.name}:{node.lineno}: fit() without amp"
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "train_with":
                train_withs += 1
                assert "amp" not in [k.arg for k in node.keywords], f"{path.name}:{node.lineno}: amp is the run's"
    assert fits >= 5 and train_withs >= 10


@pytest.mark.parametrize("method", ["finetune", "neggrad", "retrain"])
def test_amp_reaches_the_methods_training(original_mlp, digits, forget_class3, train_recipe, cpu, method):
    params = merge_params(method, {"epochs": 1}, train_recipe)
    runs = {
        amp: run_unlearning(
            method, original_mlp, digits, forget_class3, params, arch="mlp", seed=0, device=cpu, amp=amp
        )
        for amp in (False, "float16")
    }
    assert runs[False][1]["amp"] is None and runs["float16"][1]["amp"] == "float16"
    a, b = (runs[amp][0].state_dict() for amp in (False, "float16"))
    assert any(not torch.equal(a[n], b[n]) for n in a)  # the precision changed the training


# --------------------------------------------------------------------------- evaluation


def test_evaluation_forward_passes_under_amp(original_mlp, digits, forget_class3):
    full = logits(original_mlp, digits.test)
    mixed = logits(original_mlp, digits.test, amp=True)
    assert mixed.dtype == torch.float32 and not torch.equal(full, mixed)
    assert torch.allclose(full, mixed, atol=0.5)  # measured 0.08
    assert (full.argmax(1) == mixed.argmax(1)).float().mean() >= 0.99  # measured 1.0
    feats, z = features_and_logits(original_mlp, digits.test, amp=True)
    assert feats.dtype == z.dtype == torch.float32
    assert not torch.equal(z, features_and_logits(original_mlp, digits.test)[1])
    off = evaluate_model(original_mlp, digits, forget_class3, full=False)["metrics"]
    on = evaluate_model(original_mlp, digits, forget_class3, full=False, amp=True)["metrics"]
    for key in ("acc_forget", "acc_retain", "acc_test"):
        assert abs(on[key] - off[key]) <= 0.01, key


# --------------------------------------------------------------------------- memory format


@pytest.fixture(scope="module")
def trained_cnn(digits):
    net = model("cnn", digits)
    fit(net, digits.train, epochs=2, **SHORT)
    return net.eval()


def test_channels_last_gives_the_same_outputs(trained_cnn, digits, cpu):
    last = prepare_model(copy.deepcopy(trained_cnn), cpu, "channels_last")
    assert all(p.is_contiguous(memory_format=torch.channels_last) for p in kernels(last))
    assert not any(p.is_contiguous(memory_format=torch.channels_last) for p in kernels(trained_cnn))
    assert memory_format_name(last) == "channels_last" and memory_format_name(trained_cnn) == "contiguous"
    assert torch.allclose(logits(last, digits.test), logits(trained_cnn, digits.test), atol=1e-4)  # measured 2e-6
    # Training keeps the layout, and a deep copy (run_unlearning's) keeps it too.
    fit(last, digits.train, epochs=1, max_steps=5, **SHORT)
    assert memory_format_name(last) == memory_format_name(copy.deepcopy(last)) == "channels_last"


def test_auto_is_contiguous_on_cpu_and_channels_last_for_cnns_on_cuda(digits, cpu):
    cnn, mlp = model("cnn", digits), model("mlp", digits)
    prepared = prepare_model(copy.deepcopy(cnn), cpu, "auto")
    assert memory_format_name(prepared) == "contiguous"
    assert all(p.is_contiguous() and not p.is_contiguous(memory_format=torch.channels_last) for p in kernels(prepared))
    assert memory_format_of("auto", cpu, cnn) == torch.contiguous_format
    assert memory_format_of("auto", CUDA, cnn) == torch.channels_last
    assert memory_format_of("auto", CUDA, mlp) == torch.contiguous_format
    assert memory_format_of("contiguous", CUDA, cnn) == torch.contiguous_format
    assert memory_format_of("channels_last", cpu, cnn) == torch.channels_last
    with pytest.raises(ValueError, match="memory_format must be one of"):
        memory_format_of("nhwc", cpu, cnn)


def test_channels_last_checkpoint_round_trip(trained_cnn, digits, cpu, tmp_path):
    last = prepare_model(copy.deepcopy(trained_cnn), cpu, "channels_last")
    path = tmp_path / "cnn.safetensors"
    save_checkpoint(last, path, {"arch": "cnn", "shape": digits.manifest["shape"], "num_classes": digits.num_classes})
    loaded, _ = load_checkpoint(path)
    assert memory_format_name(loaded) == "contiguous"
    for name, p in trained_cnn.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], p), name


# --------------------------------------------------------------------------- stages


def test_stages_record_precision_and_layout(digits_files, forget_class3, train_recipe, tmp_path):
    """train_original, unlearn and evaluate take a Runtime's amp and memory_format and record what they used."""
    from lethe.io import read_json, write_json

    npz, manifest, _ = digits_files
    forget = tmp_path / "class3.json"
    write_json(forget, forget_class3)
    on = {"runtime": Runtime("cpu", amp=True, memory_format="channels_last")}
    original = tmp_path / "original.safetensors"
    meta = train_original(npz, manifest, "cnn", 0, {**train_recipe, "epochs": 2}, original, **on)
    assert meta["amp"] == "bfloat16" and meta["memory_format"] == "channels_last"
    assert read_json(original.with_suffix(".json"))["amp"] == "bfloat16"
    params = merge_params("finetune", {"epochs": 1}, train_recipe)
    out = tmp_path / "finetune.safetensors"
    record = unlearn("finetune", npz, manifest, forget, original, params, 0, out, tmp_path / "ft.run.json", **on)
    assert record["amp"] == "bfloat16" and record["memory_format"] == "channels_last"
    cheap = {"mia_samples": 100, "probe": {"draws": 2}}
    result = evaluate(out, npz, manifest, forget, tmp_path / "ft.metrics.json", **on, settings=cheap)
    # Measured: acc_test_retained 0.884 (0.896 in float32, contiguous); finetune forgot class 3 entirely.
    assert result["amp"] == "bfloat16" and result["metrics"]["acc_test_retained"] > 0.8
    with pytest.raises(ValueError, match="amp must be one of"):
        train_original(npz, manifest, "cnn", 0, train_recipe, tmp_path / "bad.safetensors", runtime=Runtime(amp="fp16"))
