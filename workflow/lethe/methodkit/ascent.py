"""Safe gradient ascent: a guard that keeps an unbounded objective from returning a broken model.

NegGrad, NegGrad+ and PBU raise the loss on D_f, which nothing bounds: at a learning
rate that forgets at all the ascent can overshoot into a model whose weights are no
longer finite, or whose every prediction is one class. Such a model scores "forgotten"
on D_f and is useless, and without this guard it would be the method's result
(measured on Fashion-MNIST, six forgotten classes: NegGrad's NaN weights argmax every
image to class 0; PBU's ascent put every prediction on one forgotten class, where its
accuracy target 1/C can never fire).

Why the checks are spaced and retained accuracy has a floor (measured on Fashion-MNIST's CNN,
T-shirt class): a check after every one of NegGrad+'s 760 steps makes it 7x slower than
retraining, and a model at 22 % retained accuracy passes the collapse check alone, since its
predictions are spread over several classes.

:class:`AscentGuard` is the ``stop`` hook of :func:`lethe.train.fit`, called after every
optimiser step and checking every ``check_every``-th (1: every step; the method's
:meth:`AscentGuard.finish` checks the final weights when the run ends between checks), on data
the method is allowed to see:

1. **Finite weights and outputs.** A non-finite parameter or buffer, or a non-finite logit on
   the watched images (finite weights can grow until the logits overflow), stops the run.
2. **Collapse.** On ``watch`` (a fixed subset of at most :data:`MONITOR_SAMPLES` images:
   the validation split for NegGrad and NegGrad+, D_f for PBU, which sees nothing else),
   the most predicted class takes more than ``collapse_share`` of the predictions and
   more than the original's most predicted class took on the same images. Where every
   watched image has the same label (PBU's D_f on one forgotten class) the check is off:
   there is no spread of labels to lose, and the images of a forgotten class may rightly
   all go to one neighbouring class (measured on Fashion-MNIST's T-shirt class, seed 0: one
   PBU step sent 95.6 % of D_f to one class, above the original's 87.5 %, and the check
   restored the original). PBU's accuracy target is its only stop there.
3. **Retained accuracy** (with ``max_retained_drop``, for a method that watches the validation
   split): the accuracy on the watched images of the retained classes (all of them for
   random-sample forgetting) falls more than ``max_retained_drop`` below the original's on
   the same images. PBU sees no retained data, so it has no floor.
4. **Target.** With a ``target``, accuracy on (a fixed subset of) D_f at or below it
   ends the run with the current weights (NegGrad's and PBU's early stop).

Every check that passes remembers the weights (a copy of the state dict, buffers
included). On 1, 2 or 3 the run stops and the last healthy weights are loaded back, so the
method returns a model that passed every check: the original itself if the first checked
step already broke it. :meth:`AscentGuard.notes` says why and where the run stopped.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from lethe.data.tensors import Split
from lethe.metrics import predict

MONITOR_SAMPLES = 1024  # images per check: ±3 points on an accuracy, one batched forward pass
STOP_REASONS = ("target", "collapse", "retained_drop", "non_finite")
BROKEN = ("collapse", "retained_drop", "non_finite")  # the reasons that restore the last healthy weights


def monitor_subset(split: Split, seed: int, stream: int) -> Split:
    """A fixed random subset of at most :data:`MONITOR_SAMPLES` of ``split`` (all of it if smaller)."""
    if len(split) <= MONITOR_SAMPLES:
        return split
    rng = np.random.default_rng([seed, stream])
    return split.subset(np.sort(rng.choice(len(split), size=MONITOR_SAMPLES, replace=False)))


def outputs(model: nn.Module, split: Split) -> torch.Tensor:
    """Logits of ``model`` on ``split`` (eval mode, on CPU); the model's mode is restored, since
    the guard runs between training steps."""
    was_training = model.training
    try:
        return predict.logits(model, split)
    finally:
        model.train(was_training)


def predictions(model: nn.Module, split: Split) -> torch.Tensor:
    """Top-1 predictions of ``model`` on ``split`` (see :func:`outputs`)."""
    return outputs(model, split).argmax(1)


def top_share(pred: torch.Tensor) -> float:
    """The share of the most frequent value of ``pred`` (NaN for none)."""
    if len(pred) == 0:
        return float("nan")
    return float(torch.bincount(pred).max().item() / len(pred))


def finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


class AscentGuard:
    """The checks of a gradient-ascent run (see the module docstring).

    ``model`` is the model before the first step (its weights are the first healthy
    state); ``forget``: D_f, for the target (None: no target); ``watch``: the images the
    collapse and retained-accuracy checks predict on; ``forget_classes``: the classes of
    ``watch`` that do not count towards the retained accuracy; ``seed``: the run's seed,
    which fixes both subsets.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        watch: Split,
        collapse_share: float,
        seed: int,
        forget: Split | None = None,
        target: float | None = None,
        check_every: int = 1,
        max_retained_drop: float | None = None,
        forget_classes: list[int] | None = None,
    ) -> None:
        if not 0.0 < collapse_share <= 1.0:
            raise ValueError(f"collapse_share must be in (0, 1], got {collapse_share}")
        if int(check_every) != check_every or check_every < 1:
            raise ValueError(f"check_every must be a whole number of steps, 1 or more, got {check_every}")
        if max_retained_drop is not None and not 0.0 <= max_retained_drop <= 1.0:
            raise ValueError(f"max_retained_drop must be in [0, 1] (a drop in accuracy), got {max_retained_drop}")
        if len(watch) == 0:
            raise ValueError("the ascent guard needs images to watch for a collapse; got none")
        self.target = None if target is None else float(target)
        self.forget = None if self.target is None or forget is None else monitor_subset(forget, seed, 11)
        self.watch = monitor_subset(watch, seed, 12)
        self.check_every = int(check_every)
        z = outputs(model, self.watch)
        self.baseline_share = top_share(z.argmax(1))
        one_label = len(torch.unique(self.watch.y)) == 1  # no spread of labels to lose (module docstring)
        self.limit = 1.0 if one_label else max(float(collapse_share), self.baseline_share)
        self.kept: torch.Tensor | None = None
        self.retained_original = self.retained = self.floor = None
        if max_retained_drop is not None:
            y = self.watch.y.cpu()
            self.kept = ~torch.isin(y, torch.as_tensor(sorted(forget_classes or []), dtype=y.dtype))
            if not bool(self.kept.any()):
                raise ValueError("the retained-accuracy check needs watched images of a retained class; got none")
            self.retained_original = self.retained = self._retained_accuracy(z)
            self.floor = self.retained_original - float(max_retained_drop)
        self.healthy = copy.deepcopy(model.state_dict())
        self.step = 0
        self.checked_step = 0
        self.healthy_step = 0
        self.reason: str | None = None
        self.share = self.baseline_share

    def _retained_accuracy(self, z: torch.Tensor) -> float:
        return float((z.argmax(1)[self.kept] == self.watch.y.cpu()[self.kept]).float().mean())

    def __call__(self, model: nn.Module) -> bool:
        """After an optimiser step: True ends the run (with the healthy weights loaded back if
        the check failed)."""
        self.step += 1
        if self.step % self.check_every:
            return False
        return self._check(model)

    def finish(self, model: nn.Module) -> None:
        """After the run: check the final weights if the run ended between two checks, and load
        the last healthy ones back if they fail."""
        if self.reason is None and self.step > self.checked_step:
            self._check(model)

    def _check(self, model: nn.Module) -> bool:
        self.checked_step = self.step
        if not finite(model):
            return self._broken(model, "non_finite")
        z = outputs(model, self.watch)
        if not bool(torch.isfinite(z).all()):  # finite but huge weights can overflow the logits
            return self._broken(model, "non_finite")
        self.share = top_share(z.argmax(1))
        if self.share > self.limit:
            return self._broken(model, "collapse")
        if self.kept is not None:
            self.retained = self._retained_accuracy(z)
            if self.retained < self.floor:
                return self._broken(model, "retained_drop")
        self.healthy = copy.deepcopy(model.state_dict())
        self.healthy_step = self.step
        if self.target is not None and self.forget is not None:
            pred = predictions(model, self.forget)
            if float((pred == self.forget.y.cpu()).float().mean()) <= self.target:
                self.reason = "target"
                return True
        return False

    def _broken(self, model: nn.Module, reason: str) -> bool:
        self.reason = reason
        model.load_state_dict(self.healthy)
        return True

    def notes(self) -> dict:
        """For the run record: why the run stopped (``stop_reason``: one of :data:`STOP_REASONS`,
        or None when its budget ran out), the step it stopped at, the step whose weights it
        returns (``restored_step``; 0 is the original; None where nothing was restored), and
        the checks' numbers (retained accuracies as fractions, None without the floor)."""
        restored = self.reason in BROKEN
        return {
            "stop_reason": self.reason,
            "stop_step": self.step if self.reason else None,
            "restored_step": self.healthy_step if restored else None,
            "check_every": self.check_every,
            "top_share": None if math.isnan(self.share) else self.share,
            "top_share_original": None if math.isnan(self.baseline_share) else self.baseline_share,
            "collapse_limit": self.limit,
            "retained_accuracy": self.retained,
            "retained_accuracy_original": self.retained_original,
            "retained_floor": self.floor,
        }
