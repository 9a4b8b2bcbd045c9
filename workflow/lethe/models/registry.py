"""Architecture registry.

Every model is a :class:`Classifier`: a ``body`` mapping images to the penultimate
feature vector and a linear ``head``. Methods that act on the output layer
(zero_output) and probes of the hidden representation use these two parts, whatever
the architecture.
"""

from __future__ import annotations

from collections.abc import Callable

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
        nn.Conv2d(c, width, 3, padding=1), nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * width * (h // 4) * (w // 4), hidden), nn.ReLU(),
    )  # fmt: skip
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


def build_model(arch: str, shape: Shape, num_classes: int, seed: int | None = None, **kwargs) -> Classifier:
    """Build ``arch`` for inputs of ``shape``; seeded initialisation when ``seed`` is given."""
    try:
        builder = ARCHITECTURES[arch]
    except KeyError:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(ARCHITECTURES)}") from None
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return builder(tuple(shape), num_classes, **kwargs)
    return builder(tuple(shape), num_classes, **kwargs)
