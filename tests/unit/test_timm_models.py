"""Any timm model as an architecture (``timm-NAME``): ViTs adapted to small images, pretrained
weights only by a tag (and a clear error offline), and the name checked when the config is read."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import timm.models._builder
import torch
from helpers.plan_config import CONFIG

from lethe.data.tensors import Split
from lethe.models import catalog
from lethe.models.catalog import arch_problem, is_timm_arch, needs_timm, split_timm_arch
from lethe.models.checkpoint import load_checkpoint, save_checkpoint
from lethe.models.registry import Classifier, build_model, vit_patch_size
from lethe.plan.config import ConfigError, check
from lethe.plan.experiment import Plan
from lethe.train import fit

VIT = "timm-vit_tiny_patch16_224"  # ViT-Tiny: 12 blocks of width 192, 3 heads; ~5.4M parameters here
CNN = "timm-resnet10t"  # a timm CNN that no builder adapts


def plan_config(**changes) -> dict:
    result = copy.deepcopy(CONFIG)
    result.update(changes)
    return result


# --------------------------------------------------------------------------- ViTs on small images


@pytest.mark.parametrize(
    ("height", "width", "patch"),
    [(28, 28, 4), (32, 32, 4), (8, 8, 2), (12, 12, 2), (30, 30, 2), (16, 28, 4), (4, 4, 1), (5, 7, 1)],
)
def test_vit_patch_size_rule(height, width, patch):
    """The largest of 4, 2, 1 that divides both sides and leaves at least 4 patches a side."""
    assert vit_patch_size(height, width) == patch


def test_vit_patch_size_needs_four_pixels():
    with pytest.raises(ValueError, match="at least 4x4 pixels, got 3x8"):
        vit_patch_size(3, 8)


@pytest.mark.parametrize(
    ("shape", "patch", "grid"), [((1, 28, 28), 4, (7, 7)), ((3, 32, 32), 4, (8, 8)), ((1, 8, 8), 2, (4, 4))]
)
def test_vit_builds_for_small_images(shape, patch, grid):
    model = build_model(VIT, shape, 10, seed=0).eval()
    vit = model.body.model
    assert isinstance(model, Classifier) and isinstance(vit, timm.models.VisionTransformer)
    assert vit.patch_embed.patch_size == (patch, patch) and vit.patch_embed.grid_size == grid
    assert vit.patch_embed.proj.in_channels == shape[0]
    assert vit.pos_embed.shape[1] == grid[0] * grid[1] + 1  # the tokens and the class token
    assert model.head.in_features == 192 and model.head.out_features == 10
    x = torch.randn(3, *shape)
    with torch.no_grad():
        assert model(x).shape == (3, 10) and model.features(x).shape == (3, 192)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())


def test_deit_is_adapted_too():
    vit = build_model("timm-deit_tiny_patch16_224", (1, 28, 28), 10, seed=0).body.model
    assert vit.patch_embed.patch_size == (4, 4) and vit.patch_embed.grid_size == (7, 7)


def test_vit_seeded_build_is_reproducible():
    a, b = build_model(VIT, (1, 8, 8), 10, seed=3), build_model(VIT, (1, 8, 8), 10, seed=3)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    c = build_model(VIT, (1, 8, 8), 10, seed=4).state_dict()
    assert not torch.equal(sa["head.weight"], c["head.weight"])
    assert not torch.equal(sa["body.model.pos_embed"], c["body.model.pos_embed"])


def test_vit_trains_with_the_training_loop():
    """Five Adam steps (lr 1e-3) on 32 images of two classes told apart by their mean lower the
    loss a lot (measured: 2.5 to below 0.05); no BatchNorm, so train and eval mode agree."""
    model = build_model(VIT, (1, 8, 8), 10, seed=0)
    y = torch.arange(32) % 2
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) + 2.0 * (2 * y - 1).view(-1, 1, 1, 1)
    batch = Split(x, y)

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(batch.x), batch.y).item()

    before = loss()
    result = fit(model, batch, epochs=5, batch_size=32, lr=1e-3, optimizer="adam", seed=0)
    assert result.steps == 5
    after = loss()
    assert after < 0.2 * before, (before, after)


def test_vit_checkpoint_round_trip(tmp_path):
    model = build_model(VIT, (3, 32, 32), 10, seed=0).eval()
    path = tmp_path / "vit.safetensors"
    save_checkpoint(model, path, {"arch": VIT, "shape": [3, 32, 32], "num_classes": 10, "seed": 0})
    loaded, meta = load_checkpoint(path)
    assert meta["arch"] == VIT
    x = torch.randn(4, 3, 32, 32)
    loaded.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


# --------------------------------------------------------------------------- other timm models


def test_timm_cnn_builds_for_tiny_images():
    model = build_model(CNN, (1, 8, 8), 10, seed=0).eval()
    assert model.body.model.conv1[0].in_channels == 1  # in_chans follows the data; the stem is timm's
    with torch.no_grad():
        assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert needs_timm(CNN) and needs_timm("resnet18") and not needs_timm("allcnn")


def test_head_width_is_the_pre_logits_width():
    """MobileNetV3 has a hidden head layer: its pre-logits width (1024) is not num_features."""
    model = build_model("timm-mobilenetv3_small_050", (3, 32, 32), 10, seed=0).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model.head.in_features == 1024 != model.body.model.num_features


def test_a_model_that_does_not_fit_the_images_fails_clearly():
    """A hybrid ViT (CNN stem, not adapted) on 8×8 images: the builder says which model and size."""
    with pytest.raises(
        ValueError, match=r"timm-vit_tiny_r_s16_p8_224: timm's vit_tiny_r_s16_p8_224 does not take 1x8x8"
    ):
        build_model("timm-vit_tiny_r_s16_p8_224", (1, 8, 8), 10)


# --------------------------------------------------------------------------- pretrained weights


def test_a_pretrained_tag_loads_weights(monkeypatch):
    """The tag turns pretrained weights on. timm's download is replaced (no network in tests) by
    the weights of a 224×224, 16×16-patch, RGB ViT-Tiny; timm's own loader adapts them to
    4×4 patches, a 7×7 token grid and grey images. Without the tag, or when a checkpoint
    replaces the weights, nothing is downloaded."""
    source = timm.create_model("vit_tiny_patch16_224", num_classes=10).state_dict()
    calls = []

    def fake_download(*args, **kwargs):
        calls.append(args)
        return {k: v.clone() for k, v in source.items()}

    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", fake_download)
    tagged = f"{VIT}.augreg_in21k"
    model = build_model(tagged, (1, 28, 28), 10, seed=0)
    assert len(calls) == 1
    vit = model.body.model
    assert vit.patch_embed.patch_size == (4, 4)  # adapted like the untagged model
    assert vit.patch_embed.proj.weight.shape == (192, 1, 4, 4)  # resampled from (192, 3, 16, 16)
    assert vit.pos_embed.shape == (1, 50, 192)  # interpolated from 14×14 + 1 tokens
    assert torch.equal(vit.blocks[5].mlp.fc1.weight, source["blocks.5.mlp.fc1.weight"])
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    build_model(VIT, (1, 28, 28), 10, seed=0)
    build_model(tagged, (1, 28, 28), 10, seed=0, pretrained=False)
    assert len(calls) == 1


def test_pretrained_weights_unavailable_offline(monkeypatch, tmp_path):
    """What timm's download raises offline with an empty cache (huggingface_hub's
    LocalEntryNotFoundError, after its retries) becomes one error naming the architecture and
    the way out; a saved model of that architecture still loads (its weights are the checkpoint's)."""
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(*args, **kwargs):
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the file on the Hub and we cannot find the requested files "
            "in the local cache. Please check your connection and try again or make sure your Internet connection "
            "is on."
        )

    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", offline)
    tagged = f"{VIT}.augreg_in21k"
    with pytest.raises(RuntimeError) as caught:
        build_model(tagged, (3, 32, 32), 10, seed=0)
    message = str(caught.value)
    assert f"architecture {tagged}: could not load timm's pretrained weights" in message
    assert "LocalEntryNotFoundError" in message
    assert "needs the network" in message and "Hugging Face cache" in message
    assert f"untagged name {VIT} builds the same model with random weights" in message
    model = build_model(tagged, (3, 32, 32), 10, seed=0, pretrained=False).eval()
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path, {"arch": tagged, "shape": [3, 32, 32], "num_classes": 10})
    loaded, _ = load_checkpoint(path)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), model(x))


# --------------------------------------------------------------------------- names and the config


def test_names():
    assert is_timm_arch(VIT) and is_timm_arch(f"{VIT}.augreg_in21k")
    for name in ("mlp", "timm:vit_tiny_patch16_224", "timm-", "timm-a-b", "timm-a.b.c", "timm-a/b", "vit_tiny"):
        assert not is_timm_arch(name), name
    assert split_timm_arch(f"{VIT}.augreg_in21k") == ("vit_tiny_patch16_224", "augreg_in21k")
    assert split_timm_arch(VIT) == ("vit_tiny_patch16_224", None)
    assert arch_problem(VIT) is None and arch_problem("allcnn") is None and arch_problem(f"{VIT}.augreg_in21k") is None


def test_source_scan_agrees_with_timm():
    """The torch-free check reads timm's registered names from its source: each is a timm model."""
    scanned = catalog._registered_in_source()
    assert {"vit_tiny_patch16_224", "deit_tiny_patch16_224", "resnet10t", "resnet18"} <= scanned
    assert scanned <= set(timm.list_models())


def test_colon_spelling_is_one_clear_error():
    expected = "'timm:vit_tiny_patch16_224': write 'timm-vit_tiny_patch16_224'"
    with pytest.raises(KeyError, match=re.escape(expected)):
        build_model("timm:vit_tiny_patch16_224", (1, 8, 8), 10)
    with pytest.raises(ValueError, match=re.escape(f"config key archs: {expected}")):
        Plan(plan_config(archs=["mlp", "timm:vit_tiny_patch16_224"]))
    with pytest.raises(ConfigError) as caught:  # the schema's check, which runs first in the workflow
        check({"archs": ["timm:vit_tiny_patch16_224"]})
    assert str(caught.value) == (
        f"archs.0: {expected} (timm-NAME; architecture names become folder and file names, where ':' is not allowed)"
    )


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        (
            "timm-vit_nosuch_model",
            "'timm-vit_nosuch_model': timm has no model 'vit_nosuch_model'; find its names with "
            "timm.list_models('vit_*')",
        ),
        (
            f"{VIT}.nosuch",
            f"'{VIT}.nosuch': timm model 'vit_tiny_patch16_224' has no pretrained tag 'nosuch'; "
            "its tags: ['augreg_in21k', 'augreg_in21k_ft_in1k']",
        ),
        ("timm-a-b", "'timm-a-b' is not a timm architecture name: timm-NAME or timm-NAME.TAG"),
        ("vgg", "unknown architecture 'vgg'; known: ['mlp', 'cnn', 'resnet18', 'allcnn'] or timm-NAME"),
    ],
)
def test_unknown_names_fail_when_the_config_is_read(arch, message):
    with pytest.raises(ValueError, match=re.escape(f"config key archs: {message}")):
        Plan(plan_config(archs=["mlp", arch]))
    with pytest.raises(KeyError, match=re.escape(message)):
        build_model(arch, (1, 8, 8), 10)


def test_plan_accepts_timm_archs():
    plan = Plan(plan_config(archs=["mlp", VIT, CNN]))
    assert plan.archs == ["mlp", VIT, CNN]
    assert {(d, a) for d, a, _ in plan.models()} == {("digits", a) for a in ("mlp", VIT, CNN)}
    constraint = plan.wildcard_constraints()["arch"]
    for run in plan.runs():
        assert re.fullmatch(f"(?:{constraint})", run.arch)
    for other in ("timm:vit_tiny_patch16_224", "timm-", "timm-a/b", "timm-a-b", "vgg", f"{VIT}/seed0"):
        assert not re.fullmatch(f"(?:{constraint})", other), other


def test_plan_of_a_timm_config_stays_torch_free():
    """The Snakefile's parse checks timm names without importing timm (or torch)."""
    code = (
        "import sys; from helpers.plan_config import CONFIG; from lethe.plan.experiment import Plan; "
        f"Plan({{**CONFIG, 'archs': ['{VIT}', '{CNN}']}}); "
        "assert 'torch' not in sys.modules and 'timm' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).parents[1])
