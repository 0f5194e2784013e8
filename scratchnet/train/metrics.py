"""Classification metrics on NumPy arrays: accuracy, top-k, the confusion matrix, ROC AUC.

Top-5 accuracy is the ILSVRC measure the lecture quotes ("7.3% top-5 error" for VGG): a guess
counts if the true class is among the 5 highest scores. The confusion matrix shows which classes
are taken for which. ROC AUC is what MedMNIST reports next to accuracy, and what a medical task
needs when classes are rare: it does not depend on a decision threshold.
"""

from __future__ import annotations

import numpy as np


def topk_accuracy(scores: np.ndarray, targets: np.ndarray, k: int = 1) -> float:
    """Share of samples whose true class is among the ``k`` highest scores.

    Parameters
    ----------
    scores : ndarray, shape (N, K)
        Logits or probabilities.
    targets : ndarray, shape (N,)
        True class indices.
    """
    if len(targets) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (N, k) the k best classes, in any order
    return float((top == targets[:, None]).any(axis=1).mean())


def accuracy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Top-1 accuracy for class indices; for multi-label 0/1 targets (N, L), the share of correct
    labels with the decision ``score > 0`` (logits) per label.
    """
    if targets.ndim == 2:
        return float(((scores > 0) == (targets > 0.5)).mean())
    return topk_accuracy(scores, targets, 1)


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true class, predicted class) pairs: row i, column j = true i predicted as j.

    Returns
    -------
    ndarray, shape (K, K), int64
        The diagonal holds the correct predictions.
    """
    # one index per (i, j)
    pairs = targets.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(pairs, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_recall(confusion: np.ndarray) -> np.ndarray:
    """Recall (sensitivity) of each class: correct / how many of that class there are."""
    totals = confusion.sum(axis=1)
    return np.divide(np.diag(confusion), totals, out=np.full(len(totals), np.nan), where=totals > 0)


def roc_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Area under the ROC curve of a binary problem: the probability that a random positive scores
    higher than a random negative (ties count one half), computed from ranks (Mann-Whitney U).

    Parameters
    ----------
    scores : ndarray, shape (N,)
    targets : ndarray, shape (N,) of 0/1
    """
    positive = targets > 0.5
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    sorted_scores = scores[order]
    # Tied scores share the mean of their ranks.
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for s, c in zip(start[counts > 1], counts[counts > 1], strict=True):
        ranks[order[s : s + c]] = s + (c + 1) / 2
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def mean_auc(scores: np.ndarray, targets: np.ndarray) -> float:
    """MedMNIST's AUC: one-vs-rest for class indices (N,),
    per label for multi-label (N, L); averaged.
    """
    if targets.ndim == 1:
        targets = np.eye(scores.shape[1])[targets]  # (N, K) one-hot
    return float(np.nanmean([roc_auc(scores[:, j], targets[:, j]) for j in range(scores.shape[1])]))
