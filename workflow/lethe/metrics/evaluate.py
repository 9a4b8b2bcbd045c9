"""Evaluate one model against one forget set (one JSON per model).

Accuracies (fractions in [0, 1]):

* ``acc_forget``: training samples of the forget set (D_f);
* ``acc_retain``: the other training samples (D_r);
* ``acc_test``: the whole test set;
* ``acc_test_retained`` / ``acc_test_forgotten``: test samples of the retained /
  forgotten classes (class forgetting; for random-sample forgetting the forgotten-class
  split does not exist and ``acc_test_retained`` equals ``acc_test``);
* ``confusion_test``: the test confusion matrix.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from lethe.data.tensors import Dataset
from lethe.metrics.accuracy import accuracy, confusion_matrix
from lethe.metrics.predict import predictions
from lethe.models.registry import Classifier


def evaluate_model(model: Classifier, dataset: Dataset, forget: dict, batch_size: int = 1024) -> dict:
    """Accuracy metrics of ``model`` for ``forget``; also the evaluation's own time."""
    started = time.perf_counter()
    y_train = dataset.train.y.cpu().numpy()
    y_test = dataset.test.y.cpu().numpy()
    pred_train = predictions(model, dataset.train, batch_size)
    pred_test = predictions(model, dataset.test, batch_size)

    in_forget = np.zeros(len(y_train), dtype=bool)
    in_forget[np.asarray(forget["indices"], dtype=np.int64)] = True
    if forget["classes"] is not None:
        test_forgotten = np.isin(y_test, forget["classes"])
    else:
        test_forgotten = np.zeros(len(y_test), dtype=bool)

    metrics = {
        "acc_forget": accuracy(y_train[in_forget], pred_train[in_forget]),
        "acc_retain": accuracy(y_train[~in_forget], pred_train[~in_forget]),
        "acc_test": accuracy(y_test, pred_test),
        "acc_test_retained": accuracy(y_test[~test_forgotten], pred_test[~test_forgotten]),
        "acc_test_forgotten": accuracy(y_test[test_forgotten], pred_test[test_forgotten]),
    }
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return {
        "metrics": metrics,
        "confusion_test": confusion_matrix(y_test, pred_test, dataset.num_classes).tolist(),
        "eval_seconds": time.perf_counter() - started,
    }


def cost_metrics(run: dict | None, retrain_run: dict | None) -> dict:
    """Unlearning time, gradient steps and the time ratio to retraining."""
    if run is None:  # the original model: no unlearning happened
        return {"unlearn_seconds": None, "unlearn_steps": None, "time_ratio_to_retrain": None}
    ratio = None
    if retrain_run is not None and retrain_run["seconds"] > 0:
        ratio = run["seconds"] / retrain_run["seconds"]
    return {
        "unlearn_seconds": run["seconds"],
        "unlearn_steps": run["steps"],
        "time_ratio_to_retrain": ratio,
    }
