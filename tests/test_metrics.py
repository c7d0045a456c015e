"""benchmark.metrics: hand-computed values, identities and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score

from benchmark import metrics


def test_entropy_and_mi_by_hand():
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 1, 0, 1])
    assert metrics.entropy(a) == pytest.approx(math.log(2))
    assert metrics.mutual_info(a, b) == pytest.approx(0.0, abs=1e-15)
    assert metrics.mutual_info(a, a) == pytest.approx(math.log(2))
    # independent halves: VI = H(a) + H(b) = 2 log 2
    assert metrics.variation_of_information(a, b) == pytest.approx(2 * math.log(2))
    assert metrics.variation_of_information(a, 1 - a) == pytest.approx(0.0, abs=1e-15)


def test_nmi_hand_example():
    # a = {0,0,0,1,1,1}, b = {0,0,1,1,2,2}
    a = np.array([0, 0, 0, 1, 1, 1])
    b = np.array([0, 0, 1, 1, 2, 2])
    ha = math.log(2)
    hb = math.log(3)
    # joint: (0,0)=2,(0,1)=1,(1,1)=1,(1,2)=2 over 6
    p = {(0, 0): 2 / 6, (0, 1): 1 / 6, (1, 1): 1 / 6, (1, 2): 2 / 6}
    pa = {0: 0.5, 1: 0.5}
    pb = {0: 1 / 3, 1: 1 / 3, 2: 1 / 3}
    mi = sum(v * math.log(v / (pa[i] * pb[j])) for (i, j), v in p.items())
    assert metrics.mutual_info(a, b) == pytest.approx(mi)
    assert metrics.nmi(a, b) == pytest.approx(2 * mi / (ha + hb))
    assert metrics.nmi(a, b) == pytest.approx(normalized_mutual_info_score(a, b, average_method="arithmetic"))


def test_vi_identity_random(rng):
    for _ in range(20):
        a = rng.integers(0, 5, 200)
        b = rng.integers(0, 3, 200)
        vi = metrics.variation_of_information(a, b)
        assert vi == pytest.approx(metrics.entropy(a) + metrics.entropy(b) - 2 * metrics.mutual_info(a, b))
        # metric properties
        assert vi >= 0
        assert vi <= math.log(200) + 1e-12


def test_nmi_best_match_and_vi_mean():
    left = np.repeat(np.arange(4), 24)
    right = np.tile(np.arange(4), 24)
    truth = np.stack([left, right], 1)
    pred = np.stack([right, left, np.zeros(96, int)], 1)  # swapped order + a noise space
    np.testing.assert_allclose(metrics.nmi_best_match(truth, pred), [1.0, 1.0])
    np.testing.assert_array_equal(metrics.best_match_index(truth, pred), [1, 0])
    # the constant column is excluded; VI of two independent uniform 4-way labellings = 2 log 4
    assert metrics.vi_mean(pred) == pytest.approx(2 * math.log(4))
    assert math.isnan(metrics.vi_mean(left))
    out = metrics.evaluate(truth, pred)
    assert out["n_found"] == 2 and out["ari"] == pytest.approx([1.0, 1.0])


def test_bad_input():
    with pytest.raises(ValueError, match="rows"):
        metrics.nmi_best_match(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="labels_pred"):
        metrics.nmi_best_match(np.zeros(5), np.zeros((5, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        metrics.vi_mean(np.zeros((0, 2)))


def test_between_class_share_exact_and_invariant():
    from benchmark.metrics import between_class_share

    Z = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    assert between_class_share(Z, np.array([0, 0, 1, 1])) == 1.0
    assert between_class_share(Z, np.array([0, 1, 0, 1])) == 0.0
    # two dims: classes separate dim 0 by +-1 only; dim 1 is within-class scatter of +-1 -> 4 / 8
    Z2 = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]])
    assert between_class_share(Z2, np.array([5, 5, 7, 7])) == pytest.approx(0.5)
    # invariant to label names, row order and a shift of Z
    rng = np.random.default_rng(0)
    Z3 = rng.normal(size=(50, 3))
    y = rng.integers(0, 4, size=50)
    p = rng.permutation(50)
    ref = between_class_share(Z3, y)
    assert between_class_share(Z3[p] + 7.0, (y * 10)[p]) == pytest.approx(ref, rel=1e-12)
    # one class per point explains everything
    assert between_class_share(Z3, np.arange(50)) == pytest.approx(1.0)


@pytest.mark.parametrize("Z, y, match", [
    (np.ones((3, 2)), np.array([0, 1, 0]), "no scatter"),
    (np.array([[0.0], [np.nan]]), np.array([0, 1]), "NaN"),
    (np.zeros((3, 2)), np.array([0, 1]), "must be"),
    (np.zeros(3), np.array([0, 1, 1]), "must be"),
])
def test_between_class_share_bad_input(Z, y, match):
    from benchmark.metrics import between_class_share

    with pytest.raises(ValueError, match=match):
        between_class_share(Z, y)
