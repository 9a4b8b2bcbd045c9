"""The shared thresholds of the relabelling and distillation tests reject what they must."""

from __future__ import annotations

from helpers.forgetting import forgetting_failures
from helpers.relabel_checks import FORGOTTEN, KEPT, accuracies, destroyed_model


def test_checks_reject_a_no_op_and_a_destroyed_model(original_metrics, digits, forget_class3):
    assert forgetting_failures(original_metrics, original_metrics, FORGOTTEN, KEPT)
    metrics = accuracies(destroyed_model(), digits, forget_class3)
    assert any("acc_test_retained" in f for f in forgetting_failures(metrics, original_metrics, FORGOTTEN, KEPT))
