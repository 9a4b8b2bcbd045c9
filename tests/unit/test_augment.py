"""Augmentation on tensors (lethe.data.augment) against torchvision's transforms for the same draws."""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms.functional as TF

from lethe.data.augment import Augmenter, black, flip, parse, random_crop


@pytest.fixture
def batch():
    return torch.randn(6, 3, 8, 10, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("padding", [1, 2, 4])
def test_random_crop_equals_torchvision_pad_then_crop(batch, padding):
    fill = torch.tensor([-1.5, 0.25, 2.0])
    offsets = torch.randint(0, 2 * padding + 1, (len(batch), 2), generator=torch.Generator().manual_seed(1))
    ours = random_crop(batch, padding, offsets, fill)
    for i, image in enumerate(batch):
        # torchvision pads one fill for all channels: pad each channel with its own, then crop.
        padded = torch.stack([TF.pad(c[None], [padding], fill=float(v))[0] for c, v in zip(image, fill, strict=True)])
        top, left = (int(v) for v in offsets[i])
        expected = TF.crop(padded, top, left, batch.shape[2], batch.shape[3])
        assert torch.equal(ours[i], expected), i
    # The centre offset is the identity.
    centre = torch.full((len(batch), 2), padding)
    assert torch.equal(random_crop(batch, padding, centre, fill), batch)


def test_flip_equals_torchvision_hflip(batch):
    mask = torch.tensor([True, False, True, True, False, False])
    ours = flip(batch, mask)
    for i, image in enumerate(batch):
        assert torch.equal(ours[i], TF.hflip(image) if mask[i] else image)


def test_augmenter_is_seeded_and_draws_apart_from_the_batch_order(batch):
    spec = [{"crop": 2}, {"flip": 0.5}]
    a, b = Augmenter(spec, seed=3), Augmenter(spec, seed=3)
    assert torch.equal(a(batch), b(batch)) and torch.equal(a(batch), b(batch))
    assert not torch.equal(Augmenter(spec, seed=4)(batch), Augmenter(spec, seed=3)(batch))
    assert not Augmenter([], seed=0)  # no steps: falsy, nothing to apply


def test_black_is_the_normalised_raw_zero():
    mean, std = [0.5, 0.25], [0.5, 0.125]
    assert black(mean, std) == [-1.0, -2.0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([{"rotate": 3}], "unknown step 'rotate'"),
        ([{"crop": 0}], "crop takes"),
        ([{"crop": 2.5}], "crop takes"),
        ([{"flip": 1.5}], "flip takes"),
        ([{"crop": 2, "flip": 0.5}], "one-key mapping"),
        (["flip"], "one-key mapping"),
    ],
)
def test_parse_names_the_bad_entry(spec, message):
    with pytest.raises(ValueError, match=message):
        parse(spec)
