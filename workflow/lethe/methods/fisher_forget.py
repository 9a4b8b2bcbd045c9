"""Fisher forgetting: replace θ* by a sample of a Gaussian shaped by the retain set's Fisher.

Golatkar, Achille and Soatto, "Eternal Sunshine of the Spotless Net: Selective
Forgetting in Deep Networks", CVPR 2020; official code ``AdityaGolatkar/SelectiveForgetting``
(the same procedure, functions ``hessian`` and ``get_mean_var``, is in the SCRUB
notebooks and in the SSD repository's ``FisherForgetting``). The noise destroys the
information the retain data does not pin down (low Fisher), which includes what is
specific to the forget data; no training and no forget samples are used, only the
forget class ids (the catalogue declares ``needs_forget=False``).

1. Fisher on D_r at θ*, model in eval mode (the code calls ``model.eval()``):
   F_i = mean over x ∈ D_r of Σ_y p_θ*(y|x)·(∂CE(x, y)/∂θ_i)², the expected Fisher, by
   :func:`lethe.methodkit.fisher.diagonal_fisher` (``fisher: "expected"``, default, C
   per-sample gradients per retain sample as in the code).
2. Per parameter tensor, in the code's order:
   var = clamp(1/(F + 1e-8), max=1e3), and max=1e2 for the classifier (the output
   layer's weight and bias); var ← α·var (the clamp acts *before* α, as in the code);
   for tensors with more than one dimension, var is averaged over dimension 1 (input
   features / input channels) and broadcast back; μ = θ*.
3. Class forgetting: in the classifier's weight and bias, the rows of the forgotten
   classes get μ = 0 and var = 1e-4.
4. var ← 10·var for the classifier and for every 1-D parameter (biases, BatchNorm
   affine parameters). Applied after step 3, as in the code, so the forgotten rows end
   with var = 1e-3 (standard deviation ≈ 0.032).
5. θ = μ + √var·ε, ε ~ N(0, I), drawn from a generator seeded by the run's seed (the
   code draws from the global RNG). α = 1e-6 (default; the code's small-scale value,
   1e-7 for its larger models).

Choices the paper and code leave open, and what Lethe does:

* Which tensors are "the classifier". The code tests ``p.size(0) == num_classes``,
  which also catches any other layer with as many outputs as there are classes;
  Lethe uses the model's ``head`` (weight and bias), which is what the code means.
* Random-sample forgetting: the code's branch for a forget *subset* skips step 3
  (nothing is zeroed) and only adds the Fisher-shaped noise; Lethe does the same when
  the forget set has no class ids.
* Cost. The code runs the C backward passes per retain sample one sample at a time
  over all of D_r; the SSD authors call it "extremely slow". Lethe batches them with
  ``vmap`` and offers two ways to bound the cost, both documented in the run's notes:
  ``retain_samples`` (an int) computes F on a seeded random subset of D_r of that size
  (an unbiased estimate of the same mean, noisier for rarely-active weights; the clamp
  bounds the variance of weights that get F = 0), and ``fisher: "sampled"`` draws one
  label per sample from p_θ*(·|x) instead of summing over all C (one gradient per
  sample instead of C; also unbiased). ``None`` uses all of D_r, as the code does.

On digits' MLP (measured table in tests/methods/test_fisher_forget.py): the retain Fisher is
so small for 91–94 % of the entries that their variance sits at the clamp (α·1e3)
whatever they encode, and the noise does not single out the forgotten data. Class
forgetting then comes from the zeroed head rows, as for zero_output: acc_forget 0.43–0.48
over three seeds at α = 1e-6 (zero_output: 0.19–0.48), retained accuracy within 1.5
points; α = 1e-7 gives 0.31–0.43, and 1e-5 and above wreck the retained classes first.
On a random 10 % forget set, α = 1e-6 keeps the forget set classified (0.99) and the test
accuracy within a point, and moves the forget and retain losses by about a hundredth
each; larger α lowers forget and test accuracy together. The tests run the defaults; the
default run takes α from the shipped search (config/tuned/digits/mlp/fisher_forget-*.yaml).
On Fashion-MNIST's
CNN the head row does the work too (class 0 to 0.00, retained accuracy +0.7 points).

Cost counters: ``steps`` counts per-sample gradient computations (C per Fisher sample
for "expected", 1 for "sampled": the code's backward passes); ``samples`` the samples
that went through the Fisher pass. ``notes`` record the Fisher samples, the Fisher's
trace, the fraction of entries whose variance hit the clamp, the mean noise standard
deviation, the classes zeroed, and ‖θ − θ*‖.
"""

from __future__ import annotations

import torch

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.fisher import diagonal_fisher
from lethe.models.registry import Classifier
from lethe.seeds import derived_seed

VAR_CLAMP = 1e3  # max of 1/(F + 1e-8) for every tensor but the classifier's
HEAD_VAR_CLAMP = 1e2  # max of 1/(F + 1e-8) for the classifier's weight and bias
FORGET_ROW_VAR = 1e-4  # variance of the forgotten classes' rows (before the ×10 below)
HEAD_AND_1D_SCALE = 10.0  # variance multiplier for the classifier and 1-D parameters
EPS = 1e-8


def forgetting_distribution(
    model: Classifier,
    fisher: dict[str, torch.Tensor],
    alpha: float,
    forget_classes: tuple[int, ...] | None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Mean and variance of the Gaussian the unlearned weights are drawn from: ({name: μ}, {name: var})."""
    head = {f"head.{name}" for name, _ in model.head.named_parameters()}
    mean, variance = {}, {}
    for name, p in model.named_parameters():
        if name not in fisher:
            continue
        is_head = name in head
        var = (1.0 / (fisher[name] + EPS)).clamp(max=HEAD_VAR_CLAMP if is_head else VAR_CLAMP) * alpha
        if p.ndim > 1:
            var = var.mean(dim=1, keepdim=True).expand_as(p).clone()
        mu = p.detach().clone()
        if is_head and forget_classes:
            rows = torch.as_tensor(forget_classes, dtype=torch.long, device=p.device)
            mu[rows] = 0.0
            var[rows] = FORGET_ROW_VAR
        if is_head or p.ndim == 1:
            var = var * HEAD_AND_1D_SCALE
        mean[name], variance[name] = mu, var
    return mean, variance


def sample_weights(
    model: torch.nn.Module, mean: dict[str, torch.Tensor], variance: dict[str, torch.Tensor], seed: int
) -> None:
    """Set each parameter in ``mean`` to μ + √var·ε in place, ε from a CPU generator seeded with ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in mean:
                noise = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
                p.copy_(mean[name] + variance[name].sqrt() * noise)


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    if data.retain is None:
        raise ValueError("fisher_forget needs the retain set (the Fisher is computed on D_r)")
    retain = data.retain
    limit = params["retain_samples"]
    if limit is not None and int(limit) < len(retain):
        stream = torch.Generator().manual_seed(derived_seed(ctx.seed, 1))
        retain = retain.subset(torch.randperm(len(retain), generator=stream)[: int(limit)])
    fisher = diagonal_fisher(model, retain, labels=params["fisher"], batch_size=params["batch_size"], seed=ctx.seed)
    per_sample = data.num_classes if params["fisher"] == "expected" else 1
    ctx.steps += per_sample * len(retain)
    ctx.samples += len(retain)
    mean, variance = forgetting_distribution(model, fisher, float(params["alpha"]), data.forget_classes)
    anchor = {name: p.detach().clone() for name, p in model.named_parameters()}
    noise_seed = derived_seed(ctx.seed, 2)
    sample_weights(model, mean, variance, noise_seed)
    head = {f"head.{name}" for name, _ in model.head.named_parameters()}
    clamped = sum(
        int((1.0 / (f + EPS) >= (HEAD_VAR_CLAMP if name in head else VAR_CLAMP)).sum()) for name, f in fisher.items()
    )
    entries = sum(f.numel() for f in fisher.values())
    moved = sum((p.detach() - anchor[name]).pow(2).sum().item() for name, p in model.named_parameters())
    ctx.notes.update(
        fisher=params["fisher"],
        fisher_samples=len(retain),
        fisher_trace=sum(f.sum().item() for f in fisher.values()),
        clamped_fraction=clamped / max(entries, 1),
        mean_noise_std=sum(v.sqrt().sum().item() for v in variance.values()) / max(entries, 1),
        zeroed_classes=list(data.forget_classes or ()),
        distance_to_original=moved**0.5,
    )
    return model
