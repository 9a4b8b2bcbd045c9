"""EU-k: exact unlearning of the last k layers (retrain them from scratch on D_r).

Goel, Prabhu, Sanyal, Lim, Torr and Kumaraguru, "Towards Adversarial Evaluations for
Inexact Machine Unlearning" (arXiv 2201.06640); code ``shash42/Evaluating-Inexact-Unlearning``.
The layers before the last k are the original's, frozen; the last k layers
(:mod:`lethe.methodkit.last_layers`: convolutions and linear maps counted from the
output layer, with the norm layers after them) are reinitialised and trained on the
retain set alone. The forget set never reaches the method: if the frozen layers carry
no information about D_f that the last k layers could read back, the result is an exact
retrain of those layers, which is what the name claims and what the paper tests
adversarially.

Choices, from the authors' code (``src/methods.py``, ``src/learn.py``, the CIFAR-10 scripts)
and where Lethe differs (see ``lethe.methodkit.last_layers`` for what a layer is):

* Reinitialisation: each convolution and linear map among the last k gets Kaiming-normal
  weights (fan-in, ReLU gain) and zero biases, as the code's ``_reinit``, drawn from the
  seed ``derived_seed(seed, 1)``. The norm layers among them are trained but not reset.
* Recipe: SGD with momentum 0.9, weight decay 5e-5, batch 64, gradient norm clipped at
  10, cross-entropy on D_r, the last epoch's model returned. The learning rate follows
  cosine annealing with warm restarts stepped per epoch (cycles of 1, 2, 4, ... epochs)
  from 0.1 down to 5 % of it (the scripts' ``maxlr`` 0.1, ``minlr`` 5e-3). Epochs: 62, the
  scripts' EU-k count on CIFAR-10, which is also the length of their originals' training
  there; k 1 (the head alone), the smallest k of every script that varies it.
* Deviation: frozen norm layers stay in eval mode, so their running statistics are the
  original's and the frozen part computes exactly what it computed before. The code puts
  the whole model in train mode, so frozen batch-norm statistics drift towards D_r.
* No data augmentation (Lethe trains every model without it).

Cost: the steps and samples of the fit; ``notes`` record the layers chosen, the
effective k and the share of trainable parameters.
"""

from __future__ import annotations

from lethe.methodkit.base import Context, UnlearningData
from lethe.methodkit.last_layers import train_last_layers
from lethe.models.registry import Classifier


def unlearn(model: Classifier, data: UnlearningData, params: dict, ctx: Context) -> Classifier:
    return train_last_layers(model, data, params, ctx, reset=True, name="eu_k")
