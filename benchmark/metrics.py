"""Evaluation metrics: the only place where ground truth and predictions meet.

Conventions (stated in every table caption, see ``NMI_NORMALISATION``):

- NMI uses the *arithmetic* normalisation, NMI = 2 I(U;V) / (H(U) + H(V))
  (Vinh et al. 2010, "NMI_sum"; scikit-learn's default), as in the ENRC code.
- For several ground-truth clusterings, each one is matched to the found
  clustering with the highest NMI (ENRC evaluation protocol, BASELINES.md §7.3);
  several ground truths may match the same found clustering.
- VI (Meila 2007) uses the natural log: VI(C, C') = H(C) + H(C') - 2 I(C; C').
  ``vi_mean`` averages it over unordered pairs of found clusterings
  (ENRC Table 3: higher means less redundant).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

NMI_NORMALISATION = "arithmetic"
NMI_CAPTION = "NMI with arithmetic normalisation, best match per ground-truth clustering"
VI_CAPTION = "VI: mean pairwise variation of information between found clusterings, natural log"


def _as_2d(labels: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(labels)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, S); got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return a


def _contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    c = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.float64)
    np.add.at(c, (ai.ravel(), bi.ravel()), 1.0)
    return c


def entropy(labels: np.ndarray) -> float:
    """Shannon entropy H(C) of a labelling, natural log."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information I(A; B) between two labellings, natural log."""
    c = _contingency(np.asarray(a), np.asarray(b))
    n = c.sum()
    pij = c / n
    pi = pij.sum(1, keepdims=True)
    pj = pij.sum(0, keepdims=True)
    nz = pij > 0
    return float(max((pij[nz] * np.log(pij[nz] / (pi @ pj)[nz])).sum(), 0.0))


def nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Arithmetic-normalised NMI: 2 I / (H(a) + H(b)); 1.0 when both are constant."""
    ha, hb = entropy(a), entropy(b)
    if ha + hb == 0.0:
        return 1.0
    return float(min(1.0, 2.0 * mutual_info(a, b) / (ha + hb)))


def variation_of_information(a: np.ndarray, b: np.ndarray) -> float:
    """VI(a, b) = H(a) + H(b) - 2 I(a; b), natural log (Meila 2007)."""
    return float(max(entropy(a) + entropy(b) - 2.0 * mutual_info(a, b), 0.0))


def nmi_matrix(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """NMI of every (ground truth s, found clustering t) pair, shape (S, T)."""
    t = _as_2d(labels_true, "labels_true")
    p = _as_2d(labels_pred, "labels_pred")
    if t.shape[0] != p.shape[0]:
        raise ValueError(f"labels_true has {t.shape[0]} rows but labels_pred has {p.shape[0]}")
    return np.array([[nmi(t[:, s], p[:, j]) for j in range(p.shape[1])] for s in range(t.shape[1])])


def nmi_best_match(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """For each ground-truth clustering, the best NMI over the found clusterings; shape (S,)."""
    return nmi_matrix(labels_true, labels_pred).max(axis=1)


def best_match_index(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """Index of the found clustering that best matches each ground truth; shape (S,)."""
    return nmi_matrix(labels_true, labels_pred).argmax(axis=1)


def vi_mean(labels_pred: np.ndarray) -> float:
    """Mean pairwise VI between the found clusterings; NaN when fewer than two exist.

    Clusterings with a single cluster (e.g. a noise space) are not clusterings
    for this purpose and are excluded, as in ENRC Table 3 ("n.a." when only one
    clustering is found).
    """
    p = _as_2d(labels_pred, "labels_pred")
    cols = [p[:, j] for j in range(p.shape[1]) if len(np.unique(p[:, j])) > 1]
    if len(cols) < 2:
        return float("nan")
    return float(np.mean([variation_of_information(a, b) for a, b in combinations(cols, 2)]))


def between_class_share(Z: np.ndarray, labels: np.ndarray) -> float:
    """Between-class scatter of ``Z`` over its total scatter (eta squared, summed over the dimensions).

    Why: k-means minimises the within-cluster scatter, so of two partitions with the
    same number of clusters it prefers the one with the larger between-class share.
    Comparing the share of a ground-truth clustering with that of a competing
    partition (such as the joint labels of two other clusterings) says which of
    them the k-means cost of a space favours.  1 when every point sits on its class
    mean; 0 when every class mean is the overall mean.
    """
    A = np.asarray(Z, dtype=np.float64)
    y = np.asarray(labels)
    if A.ndim != 2 or y.ndim != 1 or A.shape[0] != y.shape[0] or A.shape[0] == 0:
        raise ValueError(f"Z must be (n, d) and labels (n,) with n > 0; got {A.shape} and {y.shape}")
    if not np.isfinite(A).all():
        raise ValueError("Z contains NaN or inf")
    Ac = A - A.mean(axis=0)
    total = float(np.square(Ac).sum())
    if total == 0.0:
        raise ValueError("Z has no scatter: every row is the same")
    _, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    sums = np.zeros((len(counts), A.shape[1]))
    np.add.at(sums, inv, Ac)
    return float((np.square(sums).sum(axis=1) / counts).sum() / total)


def ari_best_match(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """ARI of each ground truth against its best-NMI match; shape (S,)."""
    t = _as_2d(labels_true, "labels_true")
    p = _as_2d(labels_pred, "labels_pred")
    idx = best_match_index(t, p)
    return np.array([adjusted_rand_score(t[:, s], p[:, idx[s]]) for s in range(t.shape[1])])


def ami_best_match(labels_true: np.ndarray, labels_pred: np.ndarray) -> np.ndarray:
    """AMI (arithmetic) of each ground truth against its best-NMI match; shape (S,)."""
    t = _as_2d(labels_true, "labels_true")
    p = _as_2d(labels_pred, "labels_pred")
    idx = best_match_index(t, p)
    return np.array(
        [adjusted_mutual_info_score(t[:, s], p[:, idx[s]], average_method="arithmetic") for s in range(t.shape[1])]
    )


def evaluate(labels_true: np.ndarray, labels_pred: np.ndarray) -> dict[str, list[float] | float | int]:
    """All metrics of one run, JSON-ready: nmi/ari/ami per ground truth, vi, n_found."""
    p = _as_2d(labels_pred, "labels_pred")
    return {
        "nmi": nmi_best_match(labels_true, p).tolist(),
        "ari": ari_best_match(labels_true, p).tolist(),
        "ami": ami_best_match(labels_true, p).tolist(),
        "vi": vi_mean(p),
        "n_found": int(sum(len(np.unique(p[:, j])) > 1 for j in range(p.shape[1]))),
    }
