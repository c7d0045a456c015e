"""ACe/DeC Fig. 1b (cluster-/shared-space reconstructions) and the Fig. 3 scatter panel."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from benchmark.runner import _artefacts, acedec_traversal, fig1b_picks
from generators.planted import make_planted
from methods.acedec import CLUSTER_SPACE_THRESHOLD, ACeDeC, split_space_codes, traversal_basis
from methods.autoencoders import LinearAutoencoder
from reports.figures import (
    FIG1B_ROWS,
    acedec_fig1b_from_model,
    draw,
    draw_acedec_fig1b,
    save_figure,
    traversal_scatter_coordinates,
)
from reports.source import load_runs
from reports.synthetic import figure_rows_and_artefacts, figure_store, write_rows


@pytest.fixture(scope="module")
def tiny_fit():
    """A tiny ACe/DeC fit on a linear AE (6-d embedding): only the fitted geometry matters here."""
    ds = make_planted(n=120, n_clusters=(3,), dims_per_subspace=2, noise_dims=4, separation=8.0, seed=1)
    torch.manual_seed(0)
    ae = LinearAutoencoder(ds.X.shape[1]).eval()
    est = ACeDeC(3, ae, max_iter=20, init_max_iter=5, kmeans_n_init=1, batch_size=32, progress=False,
                 random_state=0).fit(ds.X)
    return ds, est


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    return load_runs(figure_store(tmp_path_factory.mktemp("figs") / "f.sqlite"))


def test_split_space_codes_exact():
    Z = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    beta_cs = np.array([0.9, 0.52, 0.2])  # 0.52 is not > CLUSTER_SPACE_THRESHOLD (0.55): shared, as in n_cluster_dims_
    c = np.array([10.0, 20.0, 30.0])
    cs, ss = split_space_codes(Z, beta_cs, c)
    np.testing.assert_array_equal(cs, [[1, 20, 30], [4, 20, 30]])
    np.testing.assert_array_equal(ss, [[10, 2, 3], [10, 5, 6]])
    with pytest.raises(ValueError, match="Z_rot must be"):
        split_space_codes(Z, beta_cs[:2], c)


def test_reconstruct_spaces_by_hand_on_linear_ae(tiny_fit):
    ds, est = tiny_fit
    X = ds.X[:7]
    x_cs, x_ss = est.reconstruct_spaces(X)
    assert x_cs.shape == x_ss.shape == X.shape
    ae = est.autoencoder_
    We, be = ae.encoder.weight.detach().double().numpy(), ae.encoder.bias.detach().double().numpy()
    Wd, bd = ae.decoder.weight.detach().double().numpy(), ae.decoder.bias.detach().double().numpy()
    V = est.V_.astype(np.float64)
    P_cs = np.diag((est.betas_[0] > CLUSTER_SPACE_THRESHOLD).astype(float))
    P_ss = np.eye(len(P_cs)) - P_cs
    assert 0 < P_cs.trace() < len(P_cs), "the tiny fit must have both a cluster and a shared space"
    mu = est.shared_center_.astype(np.float64)
    zr = (X @ We.T + be) @ V
    dec = lambda code: (code @ V.T) @ Wd.T + bd
    np.testing.assert_allclose(x_cs, dec(zr @ P_cs + mu @ P_ss), atol=1e-4)
    np.testing.assert_allclose(x_ss, dec(zr @ P_ss + mu @ P_cs), atol=1e-4)
    # affine decoder: the two parts add up to the full reconstruction plus dec(V mu)
    np.testing.assert_allclose(x_cs + x_ss - dec(mu[None]), dec(zr), atol=1e-4)
    # points of one cluster differ only in the shared space's coordinates in the cluster-only image
    assert not np.allclose(x_cs, x_ss)


def test_reconstruct_spaces_unfitted_and_bad_input(tiny_fit):
    ds, est = tiny_fit
    with pytest.raises(NotFittedError, match="not fitted"):
        ACeDeC(3, LinearAutoencoder(10)).reconstruct_spaces(ds.X)
    with pytest.raises(ValueError, match="X"):
        est.reconstruct_spaces(ds.X[:, :3])
    with pytest.raises(ValueError, match="est must be a fitted ACeDeC"):
        acedec_fig1b_from_model(object(), ds.X)


def test_fig1b_from_model_panels_and_files(tiny_fit, tmp_path):
    ds, est = tiny_fit
    fig = acedec_fig1b_from_model(est, ds.X[:5])
    axes = fig.axes
    assert len(axes) == 3 * 5
    assert [axes[r * 5].get_ylabel() for r in range(3)] == list(FIG1B_ROWS)
    # 6-d vectors are not images: bars, one per value, heights = the data / reconstructions
    x_cs, _ = est.reconstruct_spaces(ds.X[:5])
    np.testing.assert_allclose([p.get_height() for p in axes[5].patches], x_cs[0], rtol=1e-5)
    n_cs = int((est.betas_[0] > CLUSTER_SPACE_THRESHOLD).sum())
    assert f"cluster space {n_cs} dims, shared space {6 - n_cs} dims" in fig._suptitle.get_text()
    paths = save_figure(fig, tmp_path, "fig1b")
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 2000 for p in paths)


def test_fig1b_draw_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="same number"):
        draw_acedec_fig1b(np.zeros((3, 64)), np.zeros((2, 64)), np.zeros((3, 64)))
    with pytest.raises(ValueError, match="same size"):
        draw_acedec_fig1b(np.zeros((3, 64)), np.zeros((3, 63)), np.zeros((3, 64)))


def test_fig1b_from_store(frame, tmp_path):
    fig = draw("acedec-fig1b", frame)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 3 * 4
    planted = next(a for _, a in figure_rows_and_artefacts() if a and "recon_shared" in a)
    shown = image_axes[8].images[0].get_array()  # row 3 (shared only), first sample, one common scale
    keys = ("recon_input", "recon_cluster", "recon_shared")
    lo, hi = min(planted[k].min() for k in keys), max(planted[k].max() for k in keys)
    np.testing.assert_allclose(shown, (planted["recon_shared"][0, 0] - lo) / (hi - lo), atol=1e-6)
    # the planted lighting grows from sample to sample: brighter on the common scale
    means = [ax.images[0].get_array().mean() for ax in image_axes[8:]]
    assert means == sorted(means) and means[-1] > means[0] + 0.1
    png, pdf = save_figure(fig, tmp_path, "acedec-fig1b")
    assert png.stat().st_size > 5000 and pdf.read_bytes()[:5] == b"%PDF-"


def test_fig3_scatter_panel(frame):
    fig = draw("acedec-fig3", frame)
    scatter_ax = fig.axes[0]
    assert not scatter_ax.images and sum(1 for ax in fig.axes if ax.images) == 4 * 5
    art = next(a for _, a in figure_rows_and_artefacts() if a and "traversal" in a)
    pts = np.concatenate([c.get_offsets() for c in scatter_ax.collections[:-1]])
    assert len(pts) == len(art["Z_rot"]) == 200
    # y is z0 (highest beta_cs 0.97), coloured by the 3 ground-truth classes, grid marked with 4 x 5 crosses
    assert scatter_ax.get_ylabel() == "z0 (highest β_cs = 0.97)"
    assert len(scatter_ax.collections) == 3 + 1 and len(scatter_ax.collections[-1].get_offsets()) == 20
    x, _, top = traversal_scatter_coordinates(art["Z_rot"], art["betas"], art["traversal_axes"][0, :, 1])
    assert top == 0
    np.testing.assert_allclose(np.sort(pts[:, 1]), np.sort(art["Z_rot"][:, 0]), rtol=1e-6)
    np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(x), rtol=1e-6, atol=1e-9)
    # the grid's top row is the highest y value, as in the scatter
    grid_ylabels = [ax.get_ylabel() for ax in fig.axes[1:] if ax.get_ylabel()]
    assert grid_ylabels == ["2", "0.67", "-0.67", "-2"]


def test_fig3_without_z_rot_warns_and_draws_grid(tmp_path):
    rows = [(r, {k: v for k, v in a.items() if k != "Z_rot"}) for r, a in figure_rows_and_artefacts()
            if a and "traversal" in a]
    from benchmark.store import Store, params_hash, row_key

    path = tmp_path / "s.sqlite"
    out = []
    with Store(path) as st:
        for row, art in rows:
            row = dict(row, params_hash=params_hash(row["params"]))
            row["artefact"] = st.write_artefact(row_key(row), art)
            out.append(row)
    frame = load_runs(write_rows(path, out))
    with pytest.warns(UserWarning, match="no 'Z_rot' artefact"):
        fig = draw("acedec-fig3", frame)
    assert len(fig.axes) == 4 * 5


def test_runner_traversal_and_scatter_share_axes(tiny_fit):
    """The grid's x values are the 5-95 % quantiles of the scatter's x coordinates (same PC1, same sign)."""
    ds, est = tiny_fit
    seed = 3
    _, axes = acedec_traversal(est, ds.X, seed, rows=3, cols=4)
    spec = types.SimpleNamespace(name="acedec")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        art = _artefacts(est, spec, ds.X, ds.labels, est.labels_[:, None], seed)
    x, y, top = traversal_scatter_coordinates(art["Z_rot"], art["betas"], axes[1, :4])
    np.testing.assert_allclose(np.quantile(x, np.linspace(0.05, 0.95, 4)), axes[1, :4], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.quantile(y, np.linspace(0.05, 0.95, 3)), axes[0, :3], rtol=1e-5, atol=1e-6)
    assert top == traversal_basis(art["Z_rot"], est.betas_)[0] == int(np.argmax(est.betas_[0]))
    # Fig. 1b artefacts: up to 8 inputs, one per predicted cluster first, and their two reconstructions
    assert art["recon_input"].shape == art["recon_cluster"].shape == art["recon_shared"].shape == (8, ds.X.shape[1])
    x_cs, x_ss = est.reconstruct_spaces(art["recon_input"])
    np.testing.assert_allclose(art["recon_cluster"], x_cs, rtol=1e-6)
    np.testing.assert_allclose(art["recon_shared"], x_ss, rtol=1e-6)


def test_fig1b_picks_round_robin():
    labels = np.array([2, 2, 0, 1, 0, 2, 1])
    np.testing.assert_array_equal(fig1b_picks(labels, 5), [2, 3, 0, 4, 6])
    np.testing.assert_array_equal(fig1b_picks(labels, 20), [2, 3, 0, 4, 6, 1, 5])


def test_cli_plot_acedec_fig1b(tmp_path, capsys):
    from benchmark.cli import main

    fstore = figure_store(tmp_path / "f.sqlite")
    out = tmp_path / "figs"
    assert main(["plot", "acedec-fig1b", "--store", str(fstore), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["acedec-fig1b.pdf", "acedec-fig1b.png"]
    assert all(p.stat().st_size > 2000 for p in out.iterdir())
    with pytest.raises(SystemExit):
        main(["plot", "--help"])
    assert "acedec-fig1b" in capsys.readouterr().out


def test_empty_shared_space_is_flagged():
    fig = draw_acedec_fig1b(np.zeros((2, 64)), np.ones((2, 64)), np.ones((2, 64)), beta_cs=np.full(4, 0.9))
    assert "shared space EMPTY" in fig._suptitle.get_text()
    fig = draw_acedec_fig1b(np.zeros((2, 64)), np.ones((2, 64)), np.ones((2, 64)), beta_cs=np.array([0.9, 0.2]))
    assert "EMPTY" not in fig._suptitle.get_text()
