"""Linear probes of the penultimate features: does the representation still know the class?

An unlearning method can *hide* a class (change the output layer so the class is never
predicted) or *forget* it (remove what the hidden layers know about it). Output
accuracy cannot tell the two apart; a probe of the features can. This is the
linear-evaluation protocol of representation learning (a multinomial logistic
regression on frozen features, e.g. Kolesnikov et al. 2019; Chen et al., SimCLR 2020),
applied to unlearning as in the "forgetting vs. hiding" analyses that probe the
representation after class unlearning. The model is frozen; only the probe is fitted.

Features: :meth:`lethe.models.registry.Classifier.features` (the body, i.e. everything up
to the output layer), computed once per split in eval mode, batched, on the model's
device, and standardised with the mean and std of the *training* features (labels are
not used for that).

The probe: multinomial logistic regression with scikit-learn's objective,
``sum_i CE(W x_i + b, y_i) + ||W||² / (2 C)`` (bias not penalised, ``C = 1`` by
default), minimised full-batch with Newton's method (:func:`fit_linear_probe`) in float64
from a zero start. The objective is strictly convex, so the result does not depend on a seed or
on batch order and matches ``sklearn.linear_model.LogisticRegression(C=C)`` on the same
standardised features (tested); torch was chosen over scikit-learn so that the fit runs
on the model's device (a GPU for ResNet-18 features of CIFAR) and so that many few-shot
probes are fitted at once as one batched problem.

Three readings (keys of :func:`probe_metrics`; a key is None where it does not apply):

* **Full probe** (class forgetting): fitted on *all* training samples (retain and forget
  set, all classes, true labels); ``probe_acc_forgotten`` / ``probe_acc_retained`` are its
  accuracy on the test samples of the forgotten / retained classes, ``probe_train_acc``
  its accuracy on its own training samples. Compare with the retrained model, not with
  0: retrain never saw the class, yet its features (learnt from the other classes) may
  still separate it linearly when the probe is given the class's labels. The number is
  the linear separability of the class in the features, and a probe trained on 1 347
  digits images separates class 3 perfectly even in raw pixels and in a randomly
  initialised MLP's features (measured: 1.00 and 0.98), so on digits this reading is
  saturated for every model. It becomes informative where the features are a
  bottleneck (wide images, deep networks).
* **Few-shot probe** (class forgetting): the same probe fitted on ``shots`` labelled
  training samples per class (all classes), drawn ``draws`` times from ``seed``;
  ``probe_fewshot_acc_forgotten`` / ``probe_fewshot_acc_retained`` are the mean test
  accuracies over the draws. With a handful of labels the probe succeeds only where the
  class already forms a cluster in feature space, so this reading separates "the
  features still encode the class" (original, zero_output: high) from "the features
  were learnt without it" (retrain: lower, close to a random network's features).
  Measured on digits class 3 (5 shots, 50 draws, seed 0), forgotten / retained:
  original 0.939 / 0.932, zero_output 0.939 / 0.932 (its body is the original's),
  finetune and neggrad 0.937 / 0.932, retrain 0.877 / 0.928, a random MLP 0.838 / 0.812.
  Across seeds 0-2 the readings move by under 0.01. This variant is Lethe's; the papers
  report none.
* **Retain-set probe** (random-sample forgetting): the full probe fitted on D_r only;
  ``probe_dr_acc_forget`` is its accuracy on the forget samples, ``probe_dr_acc_test``
  on the whole test set. For a model that never saw D_f the two are close; features that
  still fit D_f better than unseen data read as a feature-level membership signal.
  Compare the gap with retrain's. Weak on digits (random 10 %, 121 forget samples, one
  sample = 0.008; seed 0): forget / test 1.000 / 0.973 for the original, 0.983 / 0.971
  for retrain, 1.000 / 0.973 for finetune and neggrad (the tests' values), 0.975 / 0.978
  for a random MLP.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lethe.data.tensors import Dataset, Split
from lethe.metrics.predict import features_and_logits
from lethe.models.registry import Classifier

PROBE_KEYS = (
    "probe_acc_forgotten",
    "probe_acc_retained",
    "probe_train_acc",
    "probe_fewshot_acc_forgotten",
    "probe_fewshot_acc_retained",
    "probe_dr_acc_forget",
    "probe_dr_acc_test",
)


def features(model: Classifier, split: Split, batch_size: int = 1024) -> torch.Tensor:
    """Penultimate features of every sample of ``split`` (eval mode, batched), on the model's device."""
    return features_and_logits(model, split, batch_size)[0]


def fit_linear_probe(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, C: float = 1.0, max_iter: int = 1000, tol: float = 1e-9
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multinomial logistic regression(s), full batch, Newton's method; returns (W, b).

    ``x``: (n, d) or (g, n, d) for g independent problems fitted at once (each with its
    own Newton steps, step lengths and stopping point, computed together); ``y``: (n,) or
    (g, n). Objective per problem: ``mean CE + ||W||² / (2 C n)``, which is
    scikit-learn's ``sum CE + ||W||² / (2 C)`` divided by n, strictly convex on the
    parameters with zero-sum columns, where the iterates stay from the zero start (a
    softmax does not change when a constant is added to every class's score). W is
    (g, d, k), b (g, k) (without the leading g for 2-D input). Computed in float64 on
    ``x``'s device.

    The solver is inexact Newton (conjugate gradients on the exact Hessian, through
    Hessian-vector products, preconditioned by its diagonal, truncated at the forcing
    term min(0.5, sqrt|g|)) and an
    Armijo backtracking line search; a problem stops when every partial derivative is at
    most ``tol`` in absolute value (the stopping rule of the L-BFGS fit this replaced,
    whose results it reproduces), or when no step decreases its objective any more in
    float64, or after ``max_iter`` Newton steps. It converges quadratically near the
    optimum, so it reaches ``tol`` in a few dozen Hessian solves where a quasi-Newton
    method needed hundreds of line searches for the same optimum. With fewer samples than
    features (a few-shot probe) W lies in the span of the samples (the penalty removes any
    part orthogonal to it, which no score sees), so the problem is solved in that span,
    x = U S Vᵀ, on the coordinates x V, and W mapped back.
    """
    single = x.dim() == 2
    if single:
        x, y = x.unsqueeze(0), y.unsqueeze(0)
    if x.dim() != 3 or y.shape != x.shape[:2]:
        raise ValueError(
            f"fit_linear_probe: x must be (n, d) or (g, n, d) with y (n,) or (g, n); got {x.shape}, {y.shape}"
        )
    x = x.double()
    if x.shape[1] < x.shape[2]:  # fewer samples than features (few-shot): solve in their span, exactly
        _, _, basis = torch.linalg.svd(x, full_matrices=False)  # x = U S Vᵀ; Vᵀ: (g, n, d)
        W, b = _newton(x @ basis.transpose(1, 2), y, num_classes, C, max_iter, tol)
        W = basis.transpose(1, 2) @ W
    else:
        W, b = _newton(x, y, num_classes, C, max_iter, tol)
    return (W[0], b[0]) if single else (W, b)


def _newton(
    x: torch.Tensor, y: torch.Tensor, num_classes: int, C: float, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The solver of :func:`fit_linear_probe` on (g, n, d) float64 ``x``: (W, b) of shapes (g, d, k), (g, k)."""
    g, n, d = x.shape
    xt = x.transpose(1, 2)
    target = F.one_hot(y.to(x.device).long(), num_classes).double()
    lam = 1.0 / (C * n)

    def dot(a: tuple[torch.Tensor, torch.Tensor], b: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return (a[0] * b[0]).sum((1, 2)) + (a[1] * b[1]).sum(1)

    def objective(W: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.baddbmm(b.unsqueeze(1), x, W)
        lse = torch.logsumexp(scores, -1, keepdim=True)
        loss = (lse.squeeze(-1) - (scores * target).sum(-1)).sum(1) / n + 0.5 * lam * W.pow(2).sum((1, 2))
        return loss, torch.exp(scores - lse)

    def hessian_times(p: torch.Tensor, v: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        u = torch.baddbmm(v[1].unsqueeze(1), x, v[0])
        q = p * u
        q = (q - p * q.sum(-1, keepdim=True)) / n
        return torch.bmm(xt, q) + lam * v[0], q.sum(1)

    W = torch.zeros(g, d, num_classes, dtype=torch.float64, device=x.device)
    b = torch.zeros(g, num_classes, dtype=torch.float64, device=x.device)
    active = torch.ones(g, dtype=torch.bool, device=x.device)
    loss, p = objective(W, b)
    for _ in range(max_iter):
        residual = (p - target) / n
        grad = (torch.bmm(xt, residual) + lam * W, residual.sum(1))
        largest = torch.maximum(grad[0].abs().amax((1, 2)), grad[1].abs().amax(1))
        active &= largest > tol
        if not bool(active.any()):
            break
        # Newton direction: conjugate gradients on H s = -grad, each problem to its own forcing
        # term, preconditioned by H's diagonal; the bias part of every update is kept at
        # zero sum (the direction in which the objective is flat).
        rhs = (-grad[0], -grad[1])
        rr = dot(rhs, rhs)
        goal = torch.clamp(torch.sqrt(rr.sqrt()), max=0.5).pow(2) * rr
        spread = p * (1.0 - p) / n
        diagonal = (torch.bmm(xt.pow(2), spread) + lam, spread.sum(1).clamp_min(1e-12))

        def precondition(v: tuple[torch.Tensor, torch.Tensor], diagonal=diagonal) -> tuple[torch.Tensor, torch.Tensor]:
            zb = v[1] / diagonal[1]
            return v[0] / diagonal[0], zb - zb.mean(1, keepdim=True)

        step = (torch.zeros_like(W), torch.zeros_like(b))
        r = rhs
        z = precondition(r)
        direction = z
        rz = dot(r, z)
        solving = active & (rr > goal)
        for _ in range(d * num_classes + num_classes):
            if not bool(solving.any()):
                break
            hd = hessian_times(p, direction)
            curvature = dot(direction, hd)
            alpha = torch.where(solving, rz / torch.where(solving, curvature, 1.0), 0.0)
            step = (step[0] + alpha[:, None, None] * direction[0], step[1] + alpha[:, None] * direction[1])
            r = (r[0] - alpha[:, None, None] * hd[0], r[1] - alpha[:, None] * hd[1])
            solving &= dot(r, r) > goal
            z = precondition(r)
            rz_next = dot(r, z)
            beta = torch.where(solving, rz_next / torch.where(rz > 0, rz, 1.0), 0.0)
            direction = (z[0] + beta[:, None, None] * direction[0], z[1] + beta[:, None] * direction[1])
            rz = rz_next
        # Armijo backtracking from the full Newton step, per problem. Near the optimum the
        # objective's decrease falls below float64's resolution of it: a full step that
        # does not raise it beyond rounding is then taken, the gradient deciding.
        slope = dot(grad, step)
        t = torch.where(active, 1.0, 0.0).double()
        rounding = 1e-13 * loss.abs().clamp_min(1.0)
        for halving in range(30):
            trial_loss, trial_p = objective(W + t[:, None, None] * step[0], b + t[:, None] * step[1])
            decrease = (trial_loss <= loss + 1e-4 * t * slope) & (trial_loss < loss)
            accepted = ~active | decrease | ((halving == 0) & (trial_loss <= loss + rounding))
            if bool(accepted.all()):
                break
            t = torch.where(accepted, t, 0.5 * t)
        stuck = active & ~accepted  # no decrease left in float64: as good as this problem gets
        active &= ~stuck
        t = torch.where(active, t, 0.0)
        W = W + t[:, None, None] * step[0]
        b = b + t[:, None] * step[1]
        moved = t > 0
        loss = torch.where(moved, trial_loss, loss)
        p = torch.where(moved[:, None, None], trial_p, p)
    return W, b


def probe_predict(W: torch.Tensor, b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Predicted classes: (n,) for one probe, (g, n) for g probes on shared ``x`` (n, d)."""
    x = x.double()
    if W.dim() == 2:
        return (x @ W + b).argmax(-1)
    return (torch.einsum("nd,gdk->gnk", x, W) + b.unsqueeze(1)).argmax(-1)


def _accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, keep: torch.Tensor) -> float | None:
    """Accuracy over ``keep`` (averaged over any leading probe axis); None if nothing is kept."""
    if int(keep.sum()) == 0:
        return None
    return float((y_pred[..., keep] == y_true[keep]).double().mean())


def fewshot_indices(y: np.ndarray, num_classes: int, shots: int, draws: int, seed: int) -> np.ndarray:
    """(draws, shots·num_classes) training indices: ``shots`` per class, without replacement within a draw."""
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    pools = [np.flatnonzero(y == c) for c in range(num_classes)]
    small = [c for c, pool in enumerate(pools) if len(pool) < shots]
    if small:
        raise ValueError(f"few-shot probe: classes {small} have fewer than shots={shots} training samples")
    return np.stack(
        [np.concatenate([rng.choice(pool, size=shots, replace=False) for pool in pools]) for _ in range(draws)]
    )


def probe_metrics(
    model: Classifier,
    dataset: Dataset,
    forget: dict,
    seed: int,
    batch_size: int = 1024,
    C: float = 1.0,
    shots: int = 5,
    draws: int = 50,
    max_iter: int = 1000,
    precomputed: tuple[torch.Tensor, torch.Tensor] | None = None,
    max_train: int | None = 3000,
) -> dict:
    """Linear-probe readings of ``model`` for ``forget`` (see the module docstring).

    ``precomputed``: the penultimate features of the training and test sets, when the
    caller already has them (evaluation computes them once and derives the logits).
    ``max_train``: the full probe is fitted on at most this many training samples, drawn
    at random with ``seed`` (None: all). Full-batch L-BFGS (the solver before Newton) on all 60,000 Fashion-MNIST
    features took over a minute per evaluation on a 2-core CPU; 3,000 samples (300 per
    class on average) keep the fit to seconds, and a linear probe of 128 features does
    not need more.

    ``forget`` is a forget-set record (:func:`lethe.data.forget_sets.make_forget_set`):
    its ``classes`` (None for random-sample forgetting) and training ``indices``.
    ``seed`` draws the few-shot samples; the other probes are deterministic. Returns
    every key of :data:`PROBE_KEYS` (floats in [0, 1], None where it does not apply) and
    the probe's settings (``probe_C``, ``probe_shots``, ``probe_draws``).
    """
    if precomputed is None:
        precomputed = features(model, dataset.train, batch_size), features(model, dataset.test, batch_size)
    f_train, f_test = precomputed
    device = f_train.device
    mean = f_train.mean(0, keepdim=True)
    std = f_train.std(0, keepdim=True).clamp_min(1e-6)  # dead units: constant 0, kept at 0
    f_train, f_test = (f_train - mean) / std, (f_test - mean) / std
    y_train, y_test = dataset.train.y.to(device), dataset.test.y.to(device)
    k = dataset.num_classes
    out: dict = dict.fromkeys(PROBE_KEYS)
    out.update({"probe_C": float(C), "probe_shots": int(shots), "probe_draws": int(draws)})
    out["probe_max_train"] = None if max_train is None else int(max_train)

    def fit_subset(keep: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit the full probe on the training samples where ``keep``, at most ``max_train`` of them."""
        index = torch.nonzero(keep).squeeze(1).cpu().numpy()
        if max_train is not None and len(index) > max_train:
            index = np.sort(np.random.default_rng([seed, 7]).choice(index, size=max_train, replace=False))
        index = torch.as_tensor(index, device=device)
        return fit_linear_probe(f_train[index], y_train[index], k, C, max_iter)

    if forget["classes"] is not None:
        forgotten = torch.isin(y_test, torch.as_tensor(forget["classes"], device=device))
        W, b = fit_subset(torch.ones_like(y_train, dtype=torch.bool))
        pred = probe_predict(W, b, f_test)
        out["probe_acc_forgotten"] = _accuracy(y_test, pred, forgotten)
        out["probe_acc_retained"] = _accuracy(y_test, pred, ~forgotten)
        out["probe_train_acc"] = _accuracy(y_train, probe_predict(W, b, f_train), torch.ones_like(y_train, dtype=bool))
        if draws > 0:
            index = torch.as_tensor(fewshot_indices(y_train.cpu().numpy(), k, shots, draws, seed), device=device)
            W, b = fit_linear_probe(f_train[index], y_train[index], k, C, max_iter)
            pred = probe_predict(W, b, f_test)
            out["probe_fewshot_acc_forgotten"] = _accuracy(y_test, pred, forgotten)
            out["probe_fewshot_acc_retained"] = _accuracy(y_test, pred, ~forgotten)
    else:
        in_forget = torch.zeros(len(y_train), dtype=torch.bool, device=device)
        in_forget[torch.as_tensor(forget["indices"], dtype=torch.long, device=device)] = True
        W, b = fit_subset(~in_forget)
        out["probe_train_acc"] = _accuracy(y_train, probe_predict(W, b, f_train), ~in_forget)
        out["probe_dr_acc_forget"] = _accuracy(y_train, probe_predict(W, b, f_train), in_forget)
        out["probe_dr_acc_test"] = _accuracy(y_test, probe_predict(W, b, f_test), torch.ones_like(y_test, dtype=bool))
    return out
