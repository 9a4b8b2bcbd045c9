"""Architecture registry.

Every model is a :class:`Classifier`: a ``body`` mapping images to the penultimate
feature vector and a linear ``head``. Methods that act on the output layer
(zero_output) and probes of the hidden representation use these two parts, whatever
the architecture.

Besides the built-in architectures (:data:`ARCHITECTURES`), ``timm-NAME`` builds any timm
model (:func:`build_timm`; names: :mod:`lethe.models.catalog`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

Shape = tuple[int, int, int]


class Classifier(nn.Module):
    """``head(body(x))``: body gives penultimate features, head is the output layer."""

    def __init__(self, body: nn.Module, feature_dim: int, num_classes: int):
        super().__init__()
        self.body = body
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def build_mlp(shape: Shape, num_classes: int, hidden: int = 128) -> Classifier:
    """The original notebooks' MLP (784-128-10 on MNIST), for any input size."""
    c, h, w = shape
    body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU())
    return Classifier(body, hidden, num_classes)


def build_cnn(shape: Shape, num_classes: int, width: int = 16, hidden: int = 128) -> Classifier:
    """A small CNN: two 3×3 conv blocks (width, 2·width) with max-pooling, then a hidden FC layer."""
    c, h, w = shape
    body = nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * (h // 4) * (w // 4), hidden),
        nn.ReLU(),
    )
    return Classifier(body, hidden, num_classes)


class _TimmBody(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def build_resnet18(shape: Shape, num_classes: int) -> Classifier:
    """timm's ResNet-18 (random init) adapted to small images.

    As in the CIFAR variants used by the unlearning papers: the 7×7/2 stem becomes a
    3×3/1 convolution and the stem max-pool is removed, so 8×8 to 32×32 inputs keep
    spatial resolution; ``in_chans`` follows the dataset (1 or 3 channels).
    """
    import timm

    c, _, _ = shape
    model = timm.create_model("resnet18", pretrained=False, num_classes=0, in_chans=c)
    model.conv1 = nn.Conv2d(c, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return Classifier(_TimmBody(model), model.num_features, num_classes)


def _conv_bn_relu(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    )


def build_allcnn(shape: Shape, num_classes: int, width: float = 1.0, dropout: float = 0.0) -> Classifier:
    """All-CNN-C (Springenberg et al. 2015, "Striving for simplicity: the all convolutional net")
    as the unlearning code bases use it (Golatkar et al.'s Fisher forgetting, SCRUB, Bad Teaching).

    Convolutions only, and one pooling layer at the end: three 3×3 convolutions of 96
    channels (the third with stride 2), three 3×3 of 192 (the third with stride 2), one 3×3
    and one 1×1 of 192, then global average pooling; the 192 pooled features are the
    penultimate representation and a linear ``head`` gives the logits. Choices, as in those
    code bases rather than the paper: every convolution is followed by batch normalisation
    (no bias) and ReLU; the first stride-2 convolution already widens to 192 channels (the
    paper keeps 96); the paper's final 1×1 convolution to C channels is the linear head;
    dropout (the paper: 0.2 on the input, 0.5 after each stride-2 convolution) is off by
    default, ``dropout`` > 0 puts it after the stride-2 convolutions. Every convolution is
    padded to keep its size ("same"), and the pooling is adaptive, so 8×8, 28×28 and 32×32
    inputs all work (on 32×32 the last map is 8×8, as in the code bases' ``AvgPool2d(8)``).
    ``width`` scales the channels (the code bases' ``filters_percentage``).
    """
    c, _, _ = shape
    n1, n2 = int(96 * width), int(192 * width)
    drop = [nn.Dropout(dropout)] if dropout > 0 else []
    body = nn.Sequential(
        _conv_bn_relu(c, n1, 3),
        _conv_bn_relu(n1, n1, 3),
        _conv_bn_relu(n1, n2, 3, stride=2),
        *drop,
        _conv_bn_relu(n2, n2, 3),
        _conv_bn_relu(n2, n2, 3),
        _conv_bn_relu(n2, n2, 3, stride=2),
        *drop,
        _conv_bn_relu(n2, n2, 3),
        _conv_bn_relu(n2, n2, 1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return Classifier(body, n2, num_classes)


ARCHITECTURES: dict[str, Callable[..., Classifier]] = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "resnet18": build_resnet18,
    "allcnn": build_allcnn,
}


# The timm modules whose models are Vision Transformers (timm's VisionTransformer or a subclass:
# vit_*, deit_*, deit3_*): their img_size and patch size follow the dataset (build_timm).
# Hybrid ViTs (vision_transformer_hybrid: a CNN stem) and other transformers are not among them.
VIT_MODULES = ("timm.models.vision_transformer", "timm.models.deit")


def vit_patch_size(height: int, width: int) -> int:
    """The patch size of a ViT on ``height`` × ``width`` images: the largest of 4, 2, 1 that divides
    both and leaves at least 4 patches a side (28×28 and 32×32: 4, so 7×7 and 8×8 tokens; 8×8: 2, 4×4)."""
    for patch in (4, 2, 1):
        if height % patch == 0 and width % patch == 0 and height // patch >= 4 and width // patch >= 4:
            return patch
    raise ValueError(f"a ViT needs images of at least 4x4 pixels, got {height}x{width}")


def _is_vit(model_name: str) -> bool:
    from timm.models import model_entrypoint

    return model_entrypoint(model_name).__module__ in VIT_MODULES


def build_timm(arch: str, shape: Shape, num_classes: int, pretrained: bool = True) -> Classifier:
    """``timm-NAME`` (or ``timm-NAME.TAG``): timm's model ``NAME`` as a :class:`Classifier`.

    ``timm.create_model(NAME, num_classes=0, in_chans=C)``, its pooled penultimate features
    (``forward_head(..., pre_logits=True)``) as the body and a linear head, as
    :func:`build_resnet18` does; dropout and stochastic depth stay at timm's defaults (off
    for the ViTs). Nothing else is changed: a CNN keeps its stem, so its downsampling was
    made for 224×224 (still valid on small images: adaptive pooling).

    Vision Transformers (models of timm's ``vision_transformer`` and ``deit`` modules, whose
    class is timm's ``VisionTransformer`` or a subclass; not the hybrid ViTs with a CNN stem)
    are made for the dataset's images: ``img_size=(H, W)`` and a patch size for small images,
    the largest of 4, 2, 1 that divides H and W and leaves at least 4 patches a side
    (:func:`vit_patch_size`: 28×28 and 32×32 get 4, so 7×7 and 8×8 tokens; 8×8 gets 2, 4×4
    tokens), whatever the name says (``vit_tiny_patch16_224`` is ViT-Tiny's width and depth
    with 4×4 patches on CIFAR). Any other model that does not take H×W inputs fails here,
    naming the model.

    Weights: random (seeded by :func:`build_model`) unless the name has a pretrained tag
    (``timm-vit_tiny_patch16_224.augreg_in21k``); then timm downloads them from the Hugging
    Face Hub (or reads its local cache) and adapts them: the 3-channel input convolution is
    summed to 1 channel for grey images, and for a ViT timm 1.0's checkpoint filter resamples
    the 16×16 patch embedding to the adapted patch size and interpolates the position
    embeddings to the new token grid (so they are a starting point, not the pretrained
    model). The head is always new. ``pretrained=False`` skips the download where the
    weights are replaced anyway (:func:`lethe.models.checkpoint.load_checkpoint`).
    """
    import timm

    from lethe.models.catalog import arch_problem, split_timm_arch

    problem = arch_problem(arch)
    if problem is not None:
        raise KeyError(problem)
    name, tag = split_timm_arch(arch)
    c, h, w = shape
    kwargs = {"num_classes": 0, "in_chans": c}
    if _is_vit(name):
        kwargs.update(img_size=(h, w), patch_size=vit_patch_size(h, w))
    load = pretrained and tag is not None
    try:
        model = timm.create_model(f"{name}.{tag}" if load else name, pretrained=load, **kwargs)
    except Exception as error:
        if not load:
            raise
        raise RuntimeError(
            f"architecture {arch}: could not load timm's pretrained weights {name}.{tag} ({type(error).__name__}: "
            f"{error}). They are downloaded from the Hugging Face Hub: this needs the network, or the weights "
            f"already in the local Hugging Face cache (HF_HOME; HF_HUB_OFFLINE=1 reads only the cache). "
            f"The untagged name timm-{name} builds the same model with random weights (trained from scratch)."
        ) from error
    body = _TimmBody(model)
    was_training = body.training
    body.eval()
    try:
        with torch.no_grad():
            features = body(torch.zeros(1, c, h, w))
    except Exception as error:
        raise ValueError(
            f"architecture {arch}: timm's {name} does not take {c}x{h}x{w} images ({type(error).__name__}: {error}); "
            f"only Vision Transformers of timm's vision_transformer and deit modules are adapted to the image size"
        ) from error
    body.train(was_training)
    # The pre-logits width, measured: model.num_features is the trunk's, and models with a
    # hidden head layer (MobileNetV3's conv_head) have another (head_hidden_size).
    return Classifier(body, features.shape[-1], num_classes)


def build_model(
    arch: str, shape: Shape, num_classes: int, seed: int | None = None, pretrained: bool = True, **kwargs
) -> Classifier:
    """Build ``arch`` for inputs of ``shape``; seeded initialisation when ``seed`` is given.

    ``arch``: a name of :data:`ARCHITECTURES` or ``timm-NAME`` (:func:`build_timm`).
    ``pretrained=False``: no pretrained weights even where a ``timm-NAME.TAG`` name asks for
    them (for a model whose weights are about to be replaced, e.g. by a checkpoint's).
    """
    if arch in ARCHITECTURES:
        builder = ARCHITECTURES[arch]
    else:
        from lethe.models.catalog import arch_problem, is_timm_arch

        if not is_timm_arch(arch):
            raise KeyError(arch_problem(arch))
        builder = partial(build_timm, arch, pretrained=pretrained)
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return builder(tuple(shape), num_classes, **kwargs)
    return builder(tuple(shape), num_classes, **kwargs)
