"""The class-forgetting check the method tests share."""

from __future__ import annotations


def forgetting_failures(metrics: dict, original: dict, forgotten: float, kept: float) -> list[str]:
    """Why ``metrics`` does not show class forgetting that keeps the rest (empty list: it does).

    Forgetting: acc_forget and acc_test_forgotten at most ``forgotten``; keeping:
    acc_test_retained and acc_retain at most ``kept`` below the original's.
    """
    out = [
        f"{k} {metrics[k]:.3f} > {forgotten}" for k in ("acc_forget", "acc_test_forgotten") if metrics[k] > forgotten
    ]
    out += [
        f"{k} {metrics[k]:.3f} < {original[k]:.3f} - {kept}"
        for k in ("acc_test_retained", "acc_retain")
        if metrics[k] < original[k] - kept
    ]
    return out
