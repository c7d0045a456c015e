"""The papers' figures from a planted store: files written, pixels not blank, plotted numbers right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.aggregate import mean_ci95
from reports.figures import FIGURES, as_image, draw, noise_dims, save_figure
from reports.source import MissingArtefactError, load_runs
from reports.synthetic import figure_rows_and_artefacts, figure_store, tiny_rows, write_rows


@pytest.fixture(scope="module")
def frame(tmp_path_factory):
    return load_runs(figure_store(tmp_path_factory.mktemp("figs") / "f.sqlite"))


@pytest.fixture(scope="module")
def drawn(frame):
    """Each figure drawn once per module (drawing is the slow part)."""
    cache: dict = {}

    def get(name):
        if name not in cache:
            cache[name] = draw(name, frame)
        return cache[name]

    return get


def _not_blank(png) -> None:
    from matplotlib.image import imread

    img = imread(png)[..., :3]
    assert img.shape[0] > 200 and img.shape[1] > 200
    non_white = (img < 0.95).any(axis=-1).mean()
    assert non_white > 0.03, f"{png} is almost blank ({non_white:.3f} non-white)"
    assert img.std() > 0.05


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_is_written_as_png_and_pdf(drawn, tmp_path, name):
    fig = drawn(name)
    paths = save_figure(fig, tmp_path, name)
    assert [p.name for p in paths] == [f"{name}.png", f"{name}.pdf"]
    assert paths[1].read_bytes()[:5] == b"%PDF-" and paths[1].stat().st_size > 2000
    _not_blank(paths[0])


def test_fig1a_plots_protocol_means_over_noise_dims(drawn):
    fig = drawn("acedec-fig1a")
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert set(lines) == {"ACe/DeC+DCN", "DCN λ=0.1", "DCN λ=1.0", "DCN λ=10.0"}  # one line per λ (ACe/DeC §1)
    for lam in (0.1, 1.0, 10.0):
        dcn = lines[f"DCN λ={lam}"]
        assert dcn.get_xdata().tolist() == [0, 10, 25]
        expected = []
        for k in (0, 10, 25):
            vals = [r["metrics"]["nmi"][0] for r, _ in figure_rows_and_artefacts()
                    if r["suite"] == "acedec-fig1a" and r["dataset"] == f"synth-{k}" and r["method"] == "dcn"
                    and r["label"] == f"DCN λ={lam}"]
            assert len(vals) == 3
            expected.append(mean_ci95(vals)[0])
        np.testing.assert_allclose(dcn.get_ydata(), expected)
        assert dcn.get_ydata()[-1] < 0.5 < lines["ACe/DeC+DCN"].get_ydata()[-1]


def test_fig4_panels_per_method(drawn):
    fig = drawn("acedec-fig4")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["(a) DCN on SYNTH-k", "(b) ACe/DeC+DCN"]
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["DCN λ=0.1", "DCN λ=1.0", "DCN λ=10.0"]
    assert fig.axes[0].get_xticks() == pytest.approx([0.1, 0.5, 0.9])  # γ of the learning-rate grid


def test_fig4_title_fits_a_single_panel_figure(frame):
    """With ACe/DeC runs only (one panel, 4.2 in wide), the title is wrapped inside the figure, not clipped."""
    only_acedec = frame[(frame["suite"] != "acedec-fig4") | (frame["method"] == "acedec")]
    fig = draw("acedec-fig4", only_acedec)
    assert [ax.get_title() for ax in fig.axes] == ["(a) ACe/DeC+DCN"]
    fig.canvas.draw()
    box = fig._suptitle.get_window_extent()
    assert box.x0 >= 0 and box.x1 <= fig.bbox.x1
    assert " ".join(fig._suptitle.get_text().split()) == "ACe/DeC Fig. 4 (quick tier): mean and 95% CI over 3 AEs"


@pytest.mark.parametrize("name, prefix", [("acedec-fig4", "ACe/DeC Fig. 4 (quick tier): "),
                                          ("acedec-fig1a", "ACe/DeC Fig. 1a: SYNTH-k (quick tier), ")])
def test_one_autoencoder_titles_say_single_value_not_1_aes(frame, name, prefix):
    """A store with one network per point has no CI: the title says so instead of "over 1 AEs"."""
    fig = draw(name, frame[frame["ae_seed"] == 0])
    title = fig._suptitle.get_text() if fig._suptitle is not None else fig.axes[0].get_title()
    assert " ".join(title.split()) == prefix + "one AE per point (no CI)"


def _fail(frame, mask):
    out = frame.copy()
    out.loc[mask, "status"] = "error"
    out.loc[mask, "error"] = "RuntimeError: deliberate"
    return out


def test_a_point_with_failed_fits_is_named_not_silently_skipped(frame):
    """The line must not run straight past a failed point as if it were there; the figure says which it left out."""
    k10 = (frame["suite"] == "acedec-fig1a") & (frame["dataset"] == "synth-10") & (frame["method"] == "dcn")
    with pytest.warns(UserWarning, match=r"Not drawn: DCN λ=1.0 at k=10 \(failed fits\)"):
        fig = draw("acedec-fig1a", _fail(frame, k10 & (frame["ae_seed"] == 0)))
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    assert lines["DCN λ=1.0"].get_xdata().tolist() == [0, 25]
    # in the file, too: on the canvas, not cut off below it
    note = fig._supxlabel
    assert note is not None and "Not drawn: DCN λ=1.0 at k=10" in note.get_text()
    fig.canvas.draw()
    box = note.get_window_extent()
    assert box.y0 >= 0 and box.x0 >= 0 and box.x1 <= fig.bbox.x1


@pytest.mark.parametrize("name", ["acedec-fig1a", "acedec-fig4"])
def test_a_figure_whose_fits_all_failed_is_an_error_not_an_empty_plot(frame, name):
    mine = frame["suite"] == name
    with pytest.raises(MissingArtefactError, match="every stored fit of it failed"):
        draw(name, _fail(frame[mine], np.ones(mine.sum(), dtype=bool)))


def test_options_a_figure_does_not_take_are_refused(frame):
    with pytest.raises(ValueError, match=r"enrc-fig4 does not take --tier \(it takes --dataset\)"):
        draw("enrc-fig4", frame, tier="standard")
    with pytest.raises(ValueError, match=r"acedec-fig1a does not take --dataset \(it takes --tier\)"):
        draw("acedec-fig1a", frame, dataset="nosuch")


def test_enrc_fig4_bars_are_sorted_betas(drawn):
    fig = drawn("enrc-fig4")
    art = figure_rows_and_artefacts()[0][1]
    after_first = fig.axes[2]  # row 2 (after training), clustering 1
    heights = [p.get_height() for p in after_first.patches]
    np.testing.assert_allclose(heights, np.sort(art["betas"][0])[::-1])
    assert [t.get_text() for t in after_first.get_xticklabels()][:2] == ["1", "4"]
    assert "↔ upper" in after_first.get_title()


def test_enrc_fig3_top_beta_dimensions_and_centres(drawn):
    fig = drawn("enrc-fig3")
    xlabels = [ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()]
    assert xlabels == ["z1 (β=0.95)", "z4 (β=0.95)", "z2 (β=0.90)", "z6 (β=0.90)"]  # ties: lower index first
    assert sum(1 for ax in fig.axes if ax.images) == 6  # 3 + 3 decoded centres
    assert any("↔ lower, NMI 1.00" in ax.get_title(loc="left") for ax in fig.axes)


def test_acedec_fig3_grid_and_axes(drawn):
    fig = drawn("acedec-fig3")
    assert sum(1 for ax in fig.axes if ax.images) == 4 * 5
    assert [ax.get_xlabel() for ax in fig.axes[-5:]] == ["-3", "-1.5", "0", "1.5", "3"]


def test_missing_artefacts_name_what_and_which_suite(tmp_path):
    frame = load_runs(write_rows(tmp_path / "s.sqlite", tiny_rows()))
    with pytest.raises(MissingArtefactError, match=r"artefact\(s\) betas_init, betas .*nrbench run enrc-casestudy"):
        draw("enrc-fig4", frame)
    with pytest.raises(MissingArtefactError, match="nrbench run acedec-fig1a"):
        draw("acedec-fig1a", frame)
    no_deep = frame[~frame["method"].isin(["dcn", "acedec"])]
    for tier in (None, "quick", "paper"):  # was a KeyError: 'tier' when no DCN/ACe/DeC row was left
        with pytest.raises(MissingArtefactError, match="nrbench run acedec-fig1a"):
            draw("acedec-fig1a", no_deep, tier=tier)
    with pytest.raises(MissingArtefactError, match="traversal.*nrbench run acedec-table1"):
        draw("acedec-fig3", frame)


@pytest.mark.parametrize("name", ["acedec-fig1a", "acedec-fig4"])
def test_a_missing_tier_is_named_with_the_tiers_that_are_stored(frame, name):
    # the store holds these figures' suites at the quick tier only
    with pytest.raises(MissingArtefactError) as err:
        draw(name, frame, tier="paper")
    msg = str(err.value)
    assert "at tier 'paper', which" in msg and f"it holds {name} at tier quick" in msg
    assert f"`nrbench run {name} --tier paper`, or plot tier 'quick' with --tier quick" in msg
    with pytest.raises(ValueError, match="figure must be one of acedec-fig1a, acedec-fig4"):
        draw("fig9", frame)


def test_as_image_shapes():
    img, cmap = as_image(np.arange(784.0))
    assert img.shape == (28, 28) and cmap == "gray" and img.min() == 0 and img.max() == 1
    assert as_image(np.zeros(3 * 32 * 32))[0].shape == (32, 32, 3)
    assert as_image(np.random.default_rng(0).normal(size=(4, 8, 8)))[0].shape == (8, 8, 3)  # RGBA shown as RGB
    with pytest.raises(ValueError, match="square image"):
        as_image(np.zeros(27))


def test_noise_dims():
    assert noise_dims("synth-25") == 25 and noise_dims("synth_k10") == 10
    assert noise_dims("synth", {"noise_dims": 5}) == 5
    assert noise_dims("mnist") is None


# --------------------------------------------------------------------------- which tier a figure draws
def _planned_rows(tier: str, n: int | None = None) -> tuple[list[dict], dict]:
    """The first ``n`` (default all) planned fits of acedec-fig1a at ``tier`` as rows, and the suite's config."""
    from benchmark.protocol import build_tasks
    from benchmark.suites import resolve
    from reports.synthetic import run_row

    suite = resolve("acedec-fig1a", tier)
    rows = []
    for t in build_tasks(suite)[1][:n]:
        row = run_row(t.suite, t.dataset["id"], t.method["method"], t.ae_seed, t.run_seed, tier=tier,
                      label=t.method["label"], params=t.method["params"], clusterings=("cluster",), nmi=(0.7,))
        rows.append(dict(row, params_hash=t.key[4]))
    return rows, suite.to_config()


@pytest.fixture(scope="module")
def tiered(tmp_path_factory):
    """acedec-fig1a with quick and standard complete (18 and 60 fits) and paper barely started (1 of 480)."""
    rows, configs = [], {}
    for tier, n in (("quick", None), ("standard", None), ("paper", 1)):
        r, cfg = _planned_rows(tier, n)
        rows += r
        configs[("acedec-fig1a", tier)] = cfg
    path = write_rows(tmp_path_factory.mktemp("tiers") / "t.sqlite", rows, suites=configs)
    return load_runs(path), configs, path


def _title(fig) -> str:
    return fig.axes[0].get_title()


def test_a_complete_tier_is_drawn_not_a_barely_started_higher_one(tiered):
    from reports.source import Note

    frame, configs, _ = tiered
    two = frame[frame["tier"] != "standard"]
    with pytest.warns(Note) as notes:
        fig = draw("acedec-fig1a", two, configs=configs)
    assert "(quick tier)" in _title(fig)
    assert [str(w.message) for w in notes if w.category is Note] == [
        "drawing tier 'quick' (complete); tier 'paper' has 1 of 480 fits; choose another with --tier"]


def test_equally_complete_tiers_draw_the_higher(tiered):
    from reports.source import Note

    frame, configs, _ = tiered
    with pytest.warns(Note) as notes:
        fig = draw("acedec-fig1a", frame, configs=configs)
    assert "(standard tier)" in _title(fig)
    assert [str(w.message) for w in notes if w.category is Note] == [
        "drawing tier 'standard' (complete, the higher of the equally complete tiers); tier 'paper' has 1 of 480 "
        "fits, tier 'quick' is complete; choose another with --tier"]


def test_an_asked_tier_or_a_single_stored_tier_draws_without_a_note(tiered):
    import warnings

    from reports.source import Note

    frame, configs, _ = tiered
    with warnings.catch_warnings():
        warnings.simplefilter("error", Note)
        assert "(quick tier)" in _title(draw("acedec-fig1a", frame, configs=configs, tier="quick"))
        assert "(standard tier)" in _title(draw("acedec-fig1a", frame[frame["tier"] == "standard"], configs=configs))


def test_choose_tier_shares_and_ties(tiered):
    """Partial tiers: the largest share wins; an equal share goes to the higher tier."""
    from reports.tables import TierChoice, choose_tier

    frame, configs, _ = tiered
    q, s, p = (frame[frame["tier"] == t] for t in ("quick", "standard", "paper"))
    half = pd.concat([q.iloc[:9], s.iloc[:30], p])
    assert choose_tier(half, configs) == TierChoice(
        "standard", "drawing tier 'standard' (30 of 120 fits, the higher of the equally complete tiers); tier "
        "'paper' has 1 of 480 fits, tier 'quick' has 9 of 36 fits; choose another with --tier")
    more = pd.concat([q.iloc[:10], s.iloc[:30]])
    assert choose_tier(more, configs) == TierChoice(
        "quick", "drawing tier 'quick' (10 of 36 fits, the most complete); tier 'standard' has 30 of 120 fits; "
        "choose another with --tier")
    assert choose_tier(q, configs) == TierChoice("quick", None)
    # without recorded plans (a hand-made store) every tier counts as complete: the highest is drawn
    assert choose_tier(half, {}) == TierChoice(
        "paper", "drawing tier 'paper' (no recorded plan, the higher of the equally complete tiers); tier "
        "'standard' has no recorded plan, tier 'quick' has no recorded plan; choose another with --tier")


def test_plotting_the_same_figure_again_writes_the_same_bytes(tmp_path):
    """PNG and PDF alike: a figure regenerated from the same rows must not show as changed in a paper's repository."""
    import time

    from matplotlib.figure import Figure

    written = []
    for out in ("a", "b"):
        fig = Figure(figsize=(3, 2))
        fig.add_subplot().plot([0, 1, 2], [2, 0, 1])
        written.append(save_figure(fig, tmp_path / out, "fig", software="nrbench 0.1.0"))
        time.sleep(1.1)  # a creation date would differ in its seconds
    for a, b in zip(*written):
        assert a.read_bytes() == b.read_bytes(), a.name


def _figure_text(fig) -> str:
    parts = [t.get_text() for t in (fig._suptitle, fig._supxlabel) if t is not None]
    return " ".join(" ".join(parts).split())


@pytest.mark.parametrize("name", list(FIGURES))
def test_every_figure_states_the_deviations_of_the_runs_it_draws(frame, name):
    """A figure of a reduced tier must say so, as the tables' captions do: its runs' recorded deviations."""
    assert "Deviations from the paper protocol: none recorded." in _figure_text(draw(name, frame))
    reduced = frame.assign(deviations=[["autoencoders: 3 (paper 20)", "budget: max_iter=300 (paper 20000)"]]
                           * len(frame))
    assert ("Deviations from the paper protocol: autoencoders: 3 (paper 20); budget: max_iter=300 (paper 20000)."
            in _figure_text(draw(name, reduced)))
