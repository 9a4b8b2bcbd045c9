"""Membership-inference attacks (MIA) on the forget set, one function per published variant.

Every variant trains (or applies) an attack that tells members of the training set from
non-members, then asks it about D_f. The variants disagree on the feature, the attacker,
the data and the direction of the score, so each keeps its own name in every output key:

============================  ==============================  ============================  =================
key                           feature                         attacker                      D_f score
============================  ==============================  ============================  =================
``mia_entropy``               entropy H(p(·|x))               SVC(C=3, rbf, gamma=auto)     mean "member"
``mia_entropy_logreg``        entropy H(p(·|x))               LogisticRegression(balanced)  mean "member"
``mia_efficacy``              confidence p(y|x)               SVC(C=3, rbf, gamma=auto)     mean "NON-member"
``mia_loss_auc``              CE loss                         none (ROC AUC)                AUC vs held-out
``mia_loss_acc``              CE loss                         LogisticRegression, 5×SSS     CV accuracy
``mia_art_blackbox``          softmax vector + one-hot label  ART black-box, random forest  mean "member"
``mia_art_blackbox_aligned``  p(y|x), other probs sorted      ART black-box, random forest  mean "member"
``mia_art_rule``              is the prediction correct?      ART rule-based, no training   mean "member"
============================  ==============================  ============================  =================

Sources:

* **Entropy MIA** — Chundawat et al., Bad Teaching (AAAI 2023), ``metrics.py::
  get_membership_attack_prob`` (after Graves et al., Amnesiac ML), used in the same form by
  UNSIR, PBU (SVC) and SSD (Foster et al.) / SCRUB's large-scale experiments
  (``LogisticRegression(class_weight="balanced")``). Lower = more forgetting; compare with retrain.
* **MIA-efficacy** — Jia et al., ℓ1-sparse (NeurIPS 2023) and Fan et al., SalUn (ICLR 2024),
  ``evaluation/SVC_MIA.py`` (``confidence`` entry; ``target_test`` = D_f, so the score is
  1 − mean predicted membership). Higher = more forgetting; compare with retrain.
* **Loss MIA** — Kurmanji et al., SCRUB (NeurIPS 2023), ``membership_inference_attack``:
  per-sample CE losses of D_f (label 1) against test samples of the same classes (label 0),
  balanced by subsampling, clipped to [−100, 100], ``LogisticRegression()`` scored by
  ``cross_val_score`` over ``StratifiedShuffleSplit(n_splits=5, test_size=0.1)``. Its ideal is
  ≈ 0.5 or the retrain value. ``mia_loss_auc`` is the threshold-free form of the same test,
  the ROC AUC of "lower loss ⇒ member" (0.5 = indistinguishable, 1 = every forget sample
  has a lower loss than every held-out one).
* **ART** — Hatua et al., FNN (arXiv 2410.22374) score forgetting with IBM ART's
  ``MembershipInferenceBlackBox`` (acceptance: 0.5 ± 0.1 on D_f); ART's
  ``MembershipInferenceBlackBoxRuleBased`` (Yeom et al. 2018's gap attack: a sample is a
  member iff the model classifies it correctly) is added as the trivial baseline.
  ``mia_art_blackbox_aligned`` is Lethe's class-agnostic variant of FNN's attack, made
  for class forgetting (see "Which non-members" below): the same ART attack on the true
  label's probability followed by the remaining probabilities in decreasing order (the
  sorted-posterior features of Salem et al., ML-Leaks, NDSS 2019), with the label withheld.

Choices shared by every trained attack (entropy, efficacy, ART black-box) and the rule:

* members are D_r (label 1), non-members test samples (label 0), balanced: ``n = min(|D_r|,
  |non-members|, max_samples)`` of each drawn at random from ``seed``; the first half of each
  trains the attack, the second half measures it (``*_attack_acc``, so a useless attack,
  accuracy ≈ 0.5, is visible next to its verdict). The published code trains on all of
  D_te and |D_te| retain samples and reports no held-out accuracy; the split costs half the
  training data and buys the check. The rule-based attack trains nothing: its accuracy is
  measured on all 2n samples;
* at most ``max_samples`` samples of D_f, drawn from the same seed, are scored;
* all attacks of one call see the same member / non-member / target samples;
* the attackers are deterministic given their data (SVC without ``probability``, lbfgs
  logistic regression); ART's random forest gets ``random_state=seed``.

ART needs an estimator; here it wraps predictions, not the model: a
``BlackBoxClassifier`` whose "inputs" are row numbers into the precomputed output table, so
ART's batched ``predict`` looks rows up (no second forward pass, no per-sample loop).
MembershipInferenceBlackBox reads only the estimator's ``nb_classes`` and ``input_shape``
when predictions are given, so :func:`art_blackbox_mia` (the model-in form FNN calls during
unlearning) gives the same numbers as before through the same core. Its own choices:
``input_type="prediction"``; ``features="probabilities"`` (default) applies a softmax to the
logits, as a black-box API would answer — measured on digits, a 128-unit MLP that memorised
200 randomly labelled images gives the random-forest attack 0.81 held-out accuracy with
probabilities and near chance with raw logits (whose scale varies wildly between samples);
``"aligned"`` is the class-agnostic view above; the attack model is ART's ``"rf"`` (100 trees, a fraction of a second on a thousand
samples) rather than ART's default ``"nn"`` (100 epochs of a 3-layer network); ``"gb"``,
``"lr"``, ``"dt"``, ``"knn"``, ``"svm"`` and ``"nn"`` (seeded through torch) are accepted.
ART (two to four seconds to import) and scikit-learn are imported where they are used, so
that a job that only imports this module for one function (FNN's unlearning) does not load
them; a caller that times an attack imports ART first (:mod:`lethe.methods.fnn` does, at
its top, so that FNN's clock never times the import).

Which non-members (:func:`membership_metrics`): for class forgetting, the test images of the
*retained* classes only. Members (D_r) then hold no forgotten-class sample either, so
members and non-members have the same label distribution and no attack can learn
"label ∈ forgotten classes ⇒ non-member" (with the whole test set as non-members, the
forgotten classes occur only among non-members and their label alone decides); the attack
is a "seen vs unseen" detector trained on retained classes and applied to D_f. (SalUn's
code uses the whole test set; FNN's caller already used the retained-class test images.)
For random-sample forgetting: the whole test set. The price of this choice: an attack
that reads class-specific coordinates never saw a forgotten-class sample. Entropy,
confidence and correctness are class-agnostic and transfer; ART's attack on the raw
probability vector plus one-hot label does not (its trees never split on the forgotten
class's columns) — measured on digits class 3 (MLP, seeds 0–2), its D_f verdict is
0.00 / 0.34 / 0.34 for the original model and 0.28 / 0.17 / 0.18 for retrain, no consistent
direction, while the aligned variant gives 0.58 / 0.50 / 0.53 against 0.00 / 0.00 / 0.00.
Both are reported; read ``mia_art_blackbox`` for class forgetting with that in mind.

The loss MIA compares D_f with held-out samples of the same classes instead (SCRUB's
rule: the test samples whose label occurs in D_f): for class forgetting, the test images
of the forgotten classes; for random-sample forgetting, every test image (the splits are
stratified, so the class proportions of D_f and of the test set agree up to sampling).
``mia_loss_auc`` uses all of D_f and all of those test samples; ``mia_loss_acc`` balances
them by subsampling, as SCRUB does. Neither is capped by ``max_samples`` (a 1-D logistic
regression and an AUC are cheap at any size).

What the numbers mean on a model that generalises: if the attack's held-out accuracy is
≈ 0.5, the model leaks no membership that the feature can see, and the D_f score only
says which side of the attack's (arbitrary) boundary D_f falls on — for the entropy and
efficacy attacks, in effect, whether D_f is classified as confidently as training data.
That is the published metric; the ``*_attack_acc`` keys, with Wilson 95 % intervals
(``*_attack_acc_lo``, ``*_attack_acc_hi``, over ``*_attack_acc_n`` held-out samples), are there so a
reader can tell, and the tables gate on them: a verdict whose attack's interval contains
0.5 is marked as having no power and never bolded (:mod:`lethe.metrics.intervals`).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import entr
from torch import nn

from lethe.data.tensors import Dataset, Split
from lethe.metrics.intervals import wilson
from lethe.metrics.predict import logits

ATTACKS = ("rf", "gb", "lr", "dt", "knn", "svm", "nn")
FEATURES = ("logits", "probabilities", "aligned")
ENTROPY_ATTACKERS = ("svc", "logreg")
LOSS_CV_SPLITS = 5
LOSS_CLIP = 100.0

ArrayLike = np.ndarray | torch.Tensor


# ----------------------------------------------------------------------------------------------
# Features
# ----------------------------------------------------------------------------------------------


def _numpy(a: ArrayLike, dtype=np.float64) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=dtype)


def softmax(logits_: ArrayLike) -> np.ndarray:
    """Row-wise softmax of N×C logits (float64, numerically stable)."""
    z = _numpy(logits_)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def entropy(probs: ArrayLike) -> np.ndarray:
    """Shannon entropy (nats) of each row of N×C probabilities; 0·log 0 = 0 (BadT's ``entropy``)."""
    return entr(_numpy(probs)).sum(axis=1)


def confidence(probs: ArrayLike, y: ArrayLike) -> np.ndarray:
    """p(y|x): each row's probability of its true label (SalUn's ``confidence`` feature)."""
    p = _numpy(probs)
    return p[np.arange(len(p)), _numpy(y, np.int64)]


def cross_entropy_losses(logits_: ArrayLike, y: ArrayLike) -> np.ndarray:
    """Per-sample cross-entropy −log softmax(z)_y from N×C logits (float64)."""
    z = _numpy(logits_)
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    return log_norm - z[np.arange(len(z)), _numpy(y, np.int64)]


# ----------------------------------------------------------------------------------------------
# Balanced sampling and a generic trained attack
# ----------------------------------------------------------------------------------------------


def _balanced_sample(
    name: str, n_members: int, n_nonmembers: int, n_target: int, seed: int, max_samples: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random (member, non-member, target) positions: n = min(counts, max_samples) of each side."""
    n = min(n_members, n_nonmembers, int(max_samples))
    if n < 4 or n_target == 0:
        raise ValueError(
            f"{name}: need at least 4 members and 4 non-members and a non-empty target; "
            f"got {n_members} members, {n_nonmembers} non-members, {n_target} target samples"
        )
    rng = np.random.default_rng(seed)
    member_idx = rng.permutation(n_members)[:n]  # random order: the first half trains the attack,
    nonmember_idx = rng.permutation(n_nonmembers)[:n]  # the second half measures it
    target_idx = rng.permutation(n_target)[: int(max_samples)]
    return member_idx, nonmember_idx, target_idx


def _trained_attack(clf, x_mem: np.ndarray, x_non: np.ndarray, x_tgt: np.ndarray) -> dict:
    """Fit ``clf`` on the first halves (members 1, non-members 0); score held-out halves and target."""
    n = len(x_mem)
    half = n // 2
    x_train = np.concatenate([x_mem[:half], x_non[:half]]).reshape(2 * half, -1)
    y_train = np.concatenate([np.ones(half), np.zeros(half)])
    clf.fit(x_train, y_train)
    held = clf.predict(np.concatenate([x_mem[half:], x_non[half:], x_tgt]).reshape(2 * (n - half) + len(x_tgt), -1))
    held_mem, held_non, verdict = held[: n - half], held[n - half : 2 * (n - half)], held[2 * (n - half) :]
    return {
        "member": float(verdict.mean()),
        "attack_acc": float((held_mem.sum() + (1 - held_non).sum()) / (2 * (n - half))),
    }


def _check_rows(name: str, **arrays: np.ndarray) -> None:
    for key, a in arrays.items():
        if a.ndim != 2:
            raise ValueError(f"{name}: {key} must be N×C (one row of class scores per sample), got shape {a.shape}")


# ----------------------------------------------------------------------------------------------
# 1. Entropy MIA (Bad Teaching / UNSIR / PBU: SVC; SSD / SCRUB large-scale: logistic regression)
# ----------------------------------------------------------------------------------------------


def entropy_mia(
    probs_members: ArrayLike,
    probs_nonmembers: ArrayLike,
    probs_target: ArrayLike,
    seed: int,
    attacker: str = "svc",
    max_samples: int = 1000,
) -> dict:
    """Entropy MIA: mean predicted membership of the target samples (lower = more forgetting).

    Feature H(p(·|x)); attacker ``"svc"`` = ``SVC(C=3, kernel="rbf", gamma="auto")`` (Bad
    Teaching, PBU), ``"logreg"`` = ``LogisticRegression(class_weight="balanced")`` (SSD, SCRUB
    large-scale; lbfgs, binary). Balanced members (1) / non-members (0), first half trains,
    second half gives ``*_attack_acc`` (module docstring). Keys: ``mia_entropy`` and
    ``mia_entropy_attack_acc`` for the SVC, ``mia_entropy_logreg`` and
    ``mia_entropy_logreg_attack_acc`` for the logistic regression.
    """
    if attacker not in ENTROPY_ATTACKERS:
        raise ValueError(f"entropy_mia: attacker must be one of {ENTROPY_ATTACKERS}, got {attacker!r}")
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import SVC

    p_mem, p_non, p_tgt = _numpy(probs_members), _numpy(probs_nonmembers), _numpy(probs_target)
    _check_rows("entropy_mia", probs_members=p_mem, probs_nonmembers=p_non, probs_target=p_tgt)
    mi, ni, ti = _balanced_sample("entropy_mia", len(p_mem), len(p_non), len(p_tgt), seed, max_samples)
    clf = (
        SVC(C=3, kernel="rbf", gamma="auto")
        if attacker == "svc"
        else LogisticRegression(class_weight="balanced", solver="lbfgs")
    )
    out = _trained_attack(clf, entropy(p_mem[mi]), entropy(p_non[ni]), entropy(p_tgt[ti]))
    key = "mia_entropy" if attacker == "svc" else "mia_entropy_logreg"
    return {key: out["member"], f"{key}_attack_acc": out["attack_acc"]}


# ----------------------------------------------------------------------------------------------
# 2. MIA-efficacy (ℓ1-sparse / SalUn, evaluation/SVC_MIA.py, "confidence")
# ----------------------------------------------------------------------------------------------


def efficacy_mia(
    probs_members: ArrayLike,
    y_members: ArrayLike,
    probs_nonmembers: ArrayLike,
    y_nonmembers: ArrayLike,
    probs_target: ArrayLike,
    y_target: ArrayLike,
    seed: int,
    max_samples: int = 1000,
) -> dict:
    """MIA-efficacy: fraction of the target samples predicted NON-member (higher = more forgetting).

    Feature p(y|x) of the true label; ``SVC(C=3, kernel="rbf", gamma="auto")`` as in SalUn's
    ``SVC_fit_predict``; balanced members / non-members as in the module docstring (SalUn draws
    |D_te| retain samples, which is the balance when |D_r| ≥ |D_te|). Keys ``mia_efficacy``,
    ``mia_efficacy_attack_acc``.
    """
    from sklearn.svm import SVC

    p_mem, p_non, p_tgt = _numpy(probs_members), _numpy(probs_nonmembers), _numpy(probs_target)
    _check_rows("efficacy_mia", probs_members=p_mem, probs_nonmembers=p_non, probs_target=p_tgt)
    mi, ni, ti = _balanced_sample("efficacy_mia", len(p_mem), len(p_non), len(p_tgt), seed, max_samples)
    y_mem, y_non, y_tgt = (_numpy(y, np.int64) for y in (y_members, y_nonmembers, y_target))
    out = _trained_attack(
        SVC(C=3, kernel="rbf", gamma="auto"),
        confidence(p_mem[mi], y_mem[mi]),
        confidence(p_non[ni], y_non[ni]),
        confidence(p_tgt[ti], y_tgt[ti]),
    )
    return {"mia_efficacy": 1.0 - out["member"], "mia_efficacy_attack_acc": out["attack_acc"]}


# ----------------------------------------------------------------------------------------------
# 3. Loss MIA (SCRUB's logistic regression; threshold-free ROC AUC)
# ----------------------------------------------------------------------------------------------


def loss_auc_mia(losses_forget: ArrayLike, losses_heldout: ArrayLike, seed: int) -> dict:
    """Loss MIA of forget samples against held-out samples (ideally of the same classes).

    ``mia_loss_auc``: ROC AUC of the score −loss with forget = positive, on all samples given
    (0.5 = indistinguishable; > 0.5 = the forget samples have the lower losses of members).
    ``mia_loss_acc``: SCRUB's attack — the larger side subsampled (from ``seed``) to the size
    of the smaller, losses clipped to [−100, 100], ``LogisticRegression()`` scored by 5-fold
    ``StratifiedShuffleSplit(test_size=0.1, random_state=seed)``, mean accuracy.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

    lf, lh = _numpy(losses_forget).ravel(), _numpy(losses_heldout).ravel()
    if min(len(lf), len(lh)) < 10:
        raise ValueError(
            f"loss_auc_mia: need at least 10 forget and 10 held-out losses for a 5-split 10% "
            f"cross-validation; got {len(lf)} and {len(lh)}"
        )
    if not (np.isfinite(lf).all() and np.isfinite(lh).all()):
        raise ValueError("loss_auc_mia: losses must be finite (compute them from logits with cross_entropy_losses)")
    auc = roc_auc_score(np.r_[np.ones(len(lf)), np.zeros(len(lh))], -np.r_[lf, lh])
    rng = np.random.default_rng(seed)
    n = min(len(lf), len(lh))
    lf_b, lh_b = rng.choice(lf, n, replace=False), rng.choice(lh, n, replace=False)
    features = np.clip(np.r_[lh_b, lf_b], -LOSS_CLIP, LOSS_CLIP).reshape(-1, 1)
    labels = np.r_[np.zeros(n), np.ones(n)]
    cv = StratifiedShuffleSplit(n_splits=LOSS_CV_SPLITS, random_state=seed)
    acc = cross_val_score(LogisticRegression(), features, labels, cv=cv, scoring="accuracy")
    return {"mia_loss_auc": float(auc), "mia_loss_acc": float(acc.mean())}


# ----------------------------------------------------------------------------------------------
# 4. ART: black-box (FNN) and rule-based attacks
# ----------------------------------------------------------------------------------------------


def _table_estimator(table: np.ndarray):
    """An ART classifier whose input is a row number into ``table`` (N×C model outputs)."""
    from art.estimators.classification import BlackBoxClassifier

    def lookup(rows: np.ndarray) -> np.ndarray:
        return table[np.asarray(rows, dtype=np.int64).reshape(-1)]

    return BlackBoxClassifier(lookup, input_shape=(1,), nb_classes=int(table.shape[1]))


def _art_blackbox_attack(
    p_mem: np.ndarray,
    y_mem: np.ndarray,
    p_non: np.ndarray,
    y_non: np.ndarray,
    p_tgt: np.ndarray,
    y_tgt: np.ndarray,
    seed: int,
    attack: str,
) -> dict:
    """The core of :func:`art_blackbox_mia` on already sampled float32 outputs."""
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBox

    n = len(p_mem)
    half = n // 2
    mia = MembershipInferenceBlackBox(_table_estimator(p_mem), input_type="prediction", attack_model_type=attack)
    if attack != "nn" and "random_state" in mia.attack_model.get_params():
        mia.attack_model.set_params(random_state=seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # only the "nn" attack draws from torch's generator
        mia.fit(y=y_mem[:half], test_y=y_non[:half], pred=p_mem[:half], test_pred=p_non[:half])
        # One inference call for the held-out members, held-out non-members and the target;
        # ART's own 0/1 verdict is np.round of this probability.
        proba = mia.infer(
            None,
            np.concatenate([y_mem[half:], y_non[half:], y_tgt]),
            pred=np.concatenate([p_mem[half:], p_non[half:], p_tgt]),
            probabilities=True,
        ).ravel()
    verdicts = np.round(proba)
    held_mem, held_non = verdicts[: n - half], verdicts[n - half : 2 * (n - half)]
    verdict, proba = verdicts[2 * (n - half) :], proba[2 * (n - half) :]
    return {
        "mia": float(verdict.mean()),
        "mia_proba": float(proba.mean()),
        "attack_acc": float((held_mem.sum() + (1 - held_non).sum()) / (len(held_mem) + len(held_non))),
        "member_rate": float(held_mem.mean()),
        "nonmember_rate": float(held_non.mean()),
        "attack": attack,
        "n_attack_train": 2 * half,
        "n_attack_holdout": 2 * (n - half),
        "n_target": len(p_tgt),
    }


def _check_art_args(name: str, attack: str, features: str) -> None:
    if attack not in ATTACKS:
        raise ValueError(f"{name}: attack must be one of {ATTACKS}, got {attack!r}")
    if features not in FEATURES:
        raise ValueError(f"{name}: features must be one of {FEATURES}, got {features!r}")


def _art_features(logits_: ArrayLike, y: np.ndarray, features: str) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) handed to ART's black-box attack as ``pred`` and ``y``.

    ``"aligned"``: the true label's probability first, then the other probabilities sorted in
    decreasing order, and every label replaced by 0 (so ART's one-hot label column carries
    nothing): a class-agnostic view that transfers to classes the attack never saw.
    """
    out = torch.as_tensor(logits_).float()
    if features == "logits":
        return out.numpy().astype(np.float32), y
    probs = torch.softmax(out, dim=1)
    if features == "probabilities":
        return probs.numpy().astype(np.float32), y
    label = torch.as_tensor(y, dtype=torch.long).view(-1, 1)
    own = probs.gather(1, label)
    others = probs.scatter(1, label, -1.0).sort(dim=1, descending=True).values[:, :-1]
    return torch.cat([own, others], dim=1).numpy().astype(np.float32), np.zeros_like(y)


def _outputs(model: nn.Module, split: Split, batch_size: int, features: str) -> tuple[np.ndarray, np.ndarray]:
    return _art_features(logits(model, split, batch_size), split.y.cpu().numpy(), features)


def art_blackbox_mia(
    model: nn.Module,
    members: Split,
    nonmembers: Split,
    target: Split,
    seed: int,
    max_samples: int = 1000,
    attack: str = "rf",
    features: str = "probabilities",
    batch_size: int = 1024,
) -> dict:
    """ART black-box membership inference of ``target`` against ``model`` (see the module docstring).

    Returns ``mia`` (mean predicted membership of the target samples, in [0, 1]),
    ``mia_proba``, the attack's held-out ``attack_acc``, ``member_rate`` and
    ``nonmember_rate``, and the sample counts. The model is left in eval mode.
    """
    _check_art_args("art_blackbox_mia", attack, features)
    member_idx, nonmember_idx, target_idx = _balanced_sample(
        "art_blackbox_mia", len(members), len(nonmembers), len(target), seed, max_samples
    )
    member_split, nonmember_split, target_split = (
        members.subset(member_idx),
        nonmembers.subset(nonmember_idx),
        target.subset(target_idx),
    )
    p_mem, y_mem = _outputs(model, member_split, batch_size, features)
    p_non, y_non = _outputs(model, nonmember_split, batch_size, features)
    p_tgt, y_tgt = _outputs(model, target_split, batch_size, features)
    result = _art_blackbox_attack(p_mem, y_mem, p_non, y_non, p_tgt, y_tgt, seed, attack)
    model.eval()
    return result


def art_blackbox_mia_from_logits(
    logits_members: ArrayLike,
    y_members: ArrayLike,
    logits_nonmembers: ArrayLike,
    y_nonmembers: ArrayLike,
    logits_target: ArrayLike,
    y_target: ArrayLike,
    seed: int,
    max_samples: int = 1000,
    attack: str = "rf",
    features: str = "probabilities",
) -> dict:
    """:func:`art_blackbox_mia` on precomputed logits (same sampling, same keys, no model)."""
    _check_art_args("art_blackbox_mia_from_logits", attack, features)
    z_mem, z_non, z_tgt = (torch.as_tensor(z) for z in (logits_members, logits_nonmembers, logits_target))
    mi, ni, ti = _balanced_sample("art_blackbox_mia_from_logits", len(z_mem), len(z_non), len(z_tgt), seed, max_samples)
    y_mem, y_non, y_tgt = (_numpy(y, np.int64) for y in (y_members, y_nonmembers, y_target))
    p_mem, y_mem = _art_features(z_mem[mi], y_mem[mi], features)
    p_non, y_non = _art_features(z_non[ni], y_non[ni], features)
    p_tgt, y_tgt = _art_features(z_tgt[ti], y_tgt[ti], features)
    return _art_blackbox_attack(p_mem, y_mem, p_non, y_non, p_tgt, y_tgt, seed, attack)


def art_rule_mia(
    probs_members: ArrayLike,
    y_members: ArrayLike,
    probs_nonmembers: ArrayLike,
    y_nonmembers: ArrayLike,
    probs_target: ArrayLike,
    y_target: ArrayLike,
    seed: int,
    max_samples: int = 1000,
) -> dict:
    """ART's ``MembershipInferenceBlackBoxRuleBased``: member iff the model classifies the sample correctly.

    ``mia_art_rule``: mean verdict on (at most ``max_samples``) target samples;
    ``mia_art_rule_attack_acc``: accuracy on the balanced n members + n non-members (no
    training, so all of them are held out). Labels go to ART one-hot with the full class
    count: ART's own integer-label path sizes the one-hot by the number of *distinct*
    labels, which breaks on a forget set of one class.
    """
    p_mem, p_non, p_tgt = _numpy(probs_members), _numpy(probs_nonmembers), _numpy(probs_target)
    _check_rows("art_rule_mia", probs_members=p_mem, probs_nonmembers=p_non, probs_target=p_tgt)
    mi, ni, ti = _balanced_sample("art_rule_mia", len(p_mem), len(p_non), len(p_tgt), seed, max_samples)
    y_mem, y_non, y_tgt = (_numpy(y, np.int64) for y in (y_members, y_nonmembers, y_target))
    table = np.concatenate([p_mem[mi], p_non[ni], p_tgt[ti]]).astype(np.float32)
    labels = np.concatenate([y_mem[mi], y_non[ni], y_tgt[ti]])
    one_hot = np.eye(table.shape[1], dtype=np.float32)[labels]
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased

    attack = MembershipInferenceBlackBoxRuleBased(_table_estimator(table))
    verdict = attack.infer(np.arange(len(table)).reshape(-1, 1), one_hot).ravel()
    n = len(mi)
    v_mem, v_non, v_tgt = verdict[:n], verdict[n : 2 * n], verdict[2 * n :]
    return {
        "mia_art_rule": float(v_tgt.mean()),
        "mia_art_rule_attack_acc": float((v_mem.sum() + (1 - v_non).sum()) / (2 * n)),
    }


# ----------------------------------------------------------------------------------------------
# 5. Everything for one model and one forget set, from the logits evaluate_model computed
# ----------------------------------------------------------------------------------------------


def populations(forget: dict, y_train: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who is who for every membership attack (module docstring, "Which non-members"), as masks:
    ``in_forget`` over the training set (D_f; D_r is the rest), ``nonmember`` over the test set
    (the retained classes' images for class forgetting, all of them for random samples) and
    ``heldout`` over the test set (SCRUB's rule: the images of D_f's classes)."""
    in_forget = np.zeros(len(y_train), dtype=bool)
    in_forget[np.asarray(forget["indices"], dtype=np.int64)] = True
    if forget["classes"] is not None:
        nonmember = ~np.isin(y_test, forget["classes"])
    else:
        nonmember = np.ones(len(y_test), dtype=bool)
    heldout = np.isin(y_test, np.unique(y_train[in_forget]))
    return in_forget, nonmember, heldout


def membership_metrics(
    model: nn.Module | None,
    dataset: Dataset,
    forget: dict,
    train_logits: ArrayLike,
    test_logits: ArrayLike,
    seed: int,
    max_samples: int = 1000,
) -> dict:
    """All MIA variants of one model on one forget set, as one flat dict of floats.

    ``train_logits`` / ``test_logits``: the model's logits on every sample of
    ``dataset.train`` / ``dataset.test``, in order (evaluate_model's one forward pass per
    split). ``forget["indices"]`` index D_f in the training set, D_r is the rest.
    ``model`` is not run (every attack reads the logits; ART's estimator wraps them) and may
    be None. Non-members: test images of the retained classes for class forgetting
    (``forget["classes"]`` not None), all test images for random-sample forgetting; the loss
    MIA uses the test samples of D_f's classes instead (module docstring). One ``seed`` draws every
    sample set, so all attacks see the same members, non-members and targets.

    Keys: ``mia_entropy``, ``mia_entropy_attack_acc``, ``mia_entropy_logreg``,
    ``mia_entropy_logreg_attack_acc``, ``mia_efficacy``, ``mia_efficacy_attack_acc``,
    ``mia_art_blackbox``, ``mia_art_blackbox_attack_acc``, ``mia_art_blackbox_aligned``,
    ``mia_art_blackbox_aligned_attack_acc``, ``mia_art_rule``, ``mia_art_rule_attack_acc``,
    ``mia_loss_auc``, ``mia_loss_acc``; for each ``*_attack_acc`` its Wilson 95 % interval
    ``*_attack_acc_lo`` / ``*_attack_acc_hi`` and held-out count ``*_attack_acc_n``; and the sample counts ``mia_n_members`` (=
    ``mia_n_nonmembers``, before the half split), ``mia_n_target``, ``mia_n_loss_forget``,
    ``mia_n_loss_heldout``.
    """
    del model  # kept in the signature for evaluate_model's call; nothing here runs the network
    z_train, z_test = _numpy(train_logits), _numpy(test_logits)
    y_train, y_test = _numpy(dataset.train.y, np.int64), _numpy(dataset.test.y, np.int64)
    if z_train.shape != (len(y_train), dataset.num_classes) or z_test.shape != (len(y_test), dataset.num_classes):
        raise ValueError(
            f"membership_metrics: expected train logits {(len(y_train), dataset.num_classes)} and test logits "
            f"{(len(y_test), dataset.num_classes)} for {dataset.name}; got {z_train.shape} and {z_test.shape}"
        )
    in_forget, nonmember, heldout = populations(forget, y_train, y_test)

    z_mem, y_mem = z_train[~in_forget], y_train[~in_forget]
    z_non, y_non = z_test[nonmember], y_test[nonmember]
    z_tgt, y_tgt = z_train[in_forget], y_train[in_forget]
    p_mem, p_non, p_tgt = softmax(z_mem), softmax(z_non), softmax(z_tgt)

    out: dict = {}
    out.update(entropy_mia(p_mem, p_non, p_tgt, seed, attacker="svc", max_samples=max_samples))
    out.update(entropy_mia(p_mem, p_non, p_tgt, seed, attacker="logreg", max_samples=max_samples))
    out.update(efficacy_mia(p_mem, y_mem, p_non, y_non, p_tgt, y_tgt, seed, max_samples=max_samples))
    for features, key in (("probabilities", "mia_art_blackbox"), ("aligned", "mia_art_blackbox_aligned")):
        art = art_blackbox_mia_from_logits(
            z_mem, y_mem, z_non, y_non, z_tgt, y_tgt, seed, max_samples=max_samples, features=features
        )
        out[key] = art["mia"]
        out[f"{key}_attack_acc"] = art["attack_acc"]
    out.update(art_rule_mia(p_mem, y_mem, p_non, y_non, p_tgt, y_tgt, seed, max_samples=max_samples))

    out.update(
        loss_auc_mia(cross_entropy_losses(z_tgt, y_tgt), cross_entropy_losses(z_test[heldout], y_test[heldout]), seed)
    )
    n = min(len(y_mem), len(y_non), int(max_samples))
    # Each trained attack's power: its held-out accuracy on the second halves (2·(n − n//2)
    # samples), the rule-based attack's on all 2n, with Wilson's 95 % interval.
    for key in [k for k in out if k.endswith("_attack_acc")]:
        held = 2 * n if key == "mia_art_rule_attack_acc" else 2 * (n - n // 2)
        out[f"{key}_lo"], out[f"{key}_hi"] = wilson(out[key], held)
        out[f"{key}_n"] = held
    out.update(
        {
            "mia_n_members": n,
            "mia_n_nonmembers": n,
            "mia_n_target": art["n_target"],
            "mia_n_loss_forget": int(len(y_tgt)),
            "mia_n_loss_heldout": int(heldout.sum()),
        }
    )
    return out
