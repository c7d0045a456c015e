"""Input checks shared by the baselines and the deep methods: complex X and malformed n_clusters lists."""

from __future__ import annotations

import numpy as np
import pytest

from baselines import ISAAC, MSC, NrKmeans, Orth1, Orth2, SubKmeans
from baselines.validation import check_n_clusters_list, check_X
from methods.base import check_fit_input

X = np.random.default_rng(0).normal(size=(60, 4))


@pytest.mark.parametrize("bad", [[2.7, 2], [2.0, 2], ["2", 2], [2, None], [[2, 2]], [True, 2], "23", b"23"])
def test_n_clusters_lists_take_integers_only(bad) -> None:
    with pytest.raises(ValueError, match="n_clusters"):
        check_n_clusters_list(bad, 60)
    assert check_n_clusters_list([np.int64(2), 3], 60) == [2, 3]


@pytest.mark.parametrize("bad", [np.array(3), np.array([[2, 2]])])
@pytest.mark.parametrize("cls", [Orth1, Orth2, NrKmeans, MSC])
def test_n_clusters_arrays_other_than_1d_are_a_value_error(cls, bad) -> None:
    # a 0-d array (np.array(3)) raised "TypeError: iteration over a 0-d array" from list(n_clusters)
    with pytest.raises(ValueError, match="n_clusters must be a list of cluster counts"):
        cls(bad, progress=False).fit(X)
    assert check_n_clusters_list(np.array([3, 2]), 60) == [3, 2]


@pytest.mark.parametrize("bad", [True, False, 2.0, "3", None])
def test_a_single_cluster_count_is_an_int_not_a_bool(bad) -> None:
    # SubKmeans(True) said "n_clusters = 1 must be >= 2": True was taken as the count 1
    with pytest.raises(ValueError, match=r"n_clusters must be an int; got"):
        SubKmeans(bad, progress=False).fit(X)


@pytest.mark.parametrize("est", [NrKmeans([2.7, 2], n_init=1, progress=False), Orth1("23", progress=False),
                                 Orth2([2, None], progress=False)])
def test_multi_clustering_baselines_reject_malformed_n_clusters(est) -> None:
    # NrKmeans([2.7, "2"]) fitted as [2, 2], Orth1("23") as [2, 3]; [2, None] was a TypeError
    with pytest.raises(ValueError, match="n_clusters"):
        est.fit(X)


@pytest.mark.parametrize("est", [SubKmeans(2, progress=False), NrKmeans([2, 2], n_init=1, progress=False),
                                 Orth1([2, 2], progress=False), Orth2([2, 2], progress=False),
                                 MSC([2, 2], n_init=1, progress=False), ISAAC(progress=False)])
def test_complex_X_is_refused_not_cast(est) -> None:
    # np.asarray(X, float) only warned (ComplexWarning) and dropped the imaginary part
    with pytest.raises(ValueError, match="X is complex"):
        est.fit(X + 1j)


def test_check_functions_refuse_complex_input() -> None:
    with pytest.raises(ValueError, match="X is complex"):
        check_X(X.astype(np.complex64))
    with pytest.raises(ValueError, match="X is complex"):
        check_fit_input(X + 0j)
    assert check_fit_input(X).dtype == np.float32


def test_transform_subspace_checks_the_subspace_and_the_features() -> None:
    m = NrKmeans([2, 2], n_init=1, progress=False, random_state=0).fit(X)
    for bad in (1.0, True, 2, -1):
        with pytest.raises(ValueError, match="subspace must be an int in"):
            m.transform_subspace(X, bad)
    with pytest.raises(ValueError, match="X has 3 features; the model was fitted on 4"):
        m.transform_subspace(X[:, :3], 0)
    assert m.transform_subspace(X, np.int64(1)).shape == (60, len(m.P_[1]))


@pytest.mark.parametrize("bad", [-1, True])
def test_random_state_must_be_a_non_negative_int(bad) -> None:
    with pytest.raises(ValueError, match="random_state"):
        SubKmeans(2, progress=False, random_state=bad).fit(X)


@pytest.mark.parametrize("est", [SubKmeans(2, progress=False), NrKmeans([2, 2], n_init=1, progress=False),
                                 Orth1([2, 2], progress=False), Orth2([2, 2], progress=False),
                                 MSC([2, 2], n_init=1, max_iter=2, progress=False), ISAAC(progress=False)])
def test_baselines_record_n_features_in(est) -> None:
    # seeded: an unseeded ISAAC's FastICA now and then stops short of convergence on this noise, and warns
    assert est.set_params(random_state=0).fit(X).n_features_in_ == 4


@pytest.mark.parametrize("kind", ["csr_matrix", "csr_array"])
@pytest.mark.parametrize("check", [check_X, check_fit_input])
def test_sparse_X_is_refused_with_a_message_that_says_sparse(check, kind) -> None:
    # check_X said 'setting an array element with a sequence', check_fit_input 'got ()' (a 0-d object array)
    import scipy.sparse

    S = getattr(scipy.sparse, kind)(np.eye(5, 4, dtype=np.float32))
    with pytest.raises(ValueError, match=rf"X is a sparse {kind}; sparse input is not supported"):
        check(S)


@pytest.mark.parametrize("est", [SubKmeans(2, progress=False), NrKmeans([2, 2], n_init=1, progress=False),
                                 Orth1([2, 2], progress=False), Orth2([2, 2], progress=False),
                                 MSC([2, 2], n_init=1, progress=False), ISAAC(progress=False)])
def test_a_failed_refit_leaves_the_baseline_unfitted_not_half_old(est) -> None:
    # NrKmeans kept the first fit's V_ and labels_ beside the failed call's n_features_in_, and predicted with them
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    est.set_params(random_state=0).fit(X)  # seeded: an unseeded ISAAC's FastICA now and then warns
    assert est.n_features_in_ == 4 and hasattr(est, "labels_")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError):
        est.fit(bad)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    with pytest.raises(NotFittedError):
        check_is_fitted(est)
