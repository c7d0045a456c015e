"""The papers' figures, drawn with matplotlib (Agg, no pyplot state) from stored results only.

==================  =====================================================================  =================
name                what                                                                   produced by suite
==================  =====================================================================  =================
``acedec-fig1a``    ACe/DeC Fig. 1a: NMI vs the number of noise dimensions k of SYNTH-k,    ``acedec-fig1a``
                    mean and 95% CI over the autoencoders, DCN vs ACe/DeC+DCN
``acedec-fig4``     ACe/DeC Fig. 4: NMI over the learning rate 10⁻³·γ, DCN per λ (a) and    ``acedec-fig4``
                    ACe/DeC+DCN per data set (b, c); mean and 95% CI
``enrc-fig4``       ENRC Fig. 4: sorted feature weights β_s per clustering, after the       ``enrc-casestudy``
                    initialisation (top) and after training (bottom)
``enrc-fig3``       ENRC Fig. 3: per clustering, the two embedded dimensions with the       ``enrc-casestudy``
                    highest β_s (scatter, histograms on the diagonal) and the decoded
                    centres dec(V μ_{s,i}) as images
``acedec-fig3``     ACe/DeC Fig. 3: latent traversal; the embedded points on the shared    ``acedec-table1``
                    space's first principal component (x) and the top-β_cs dimension (y),
                    and the decoded images on a grid of those coordinates
``acedec-fig1b``    ACe/DeC Fig. 1b: inputs and their reconstructions from the cluster     ``acedec-table1``
                    space only and from the shared space only
==================  =====================================================================  =================

Each figure is computed from the protocol aggregation (``reports.aggregate``:
best run by own loss per autoencoder) or, for the case-study figures, from the
artefacts of the run with the lowest loss.  Images stored as flat vectors are
reshaped to the square (1 or 3 channel) image they came from, and every image is
min-max scaled for display (the data are z-transformed); RGBA is shown as RGB.
A figure whose inputs are not in the store raises :class:`MissingArtefactError`
naming what is missing and the suite that produces it; when the store's rows are
there but their artefact files are not (a store copied without ``artefacts/``), it
says so and how to get them back (a rerun into the same store would find the fits done).
"""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.fileio import check_writable
from benchmark.metrics import NMI_NORMALISATION
from methods.space_split import CLUSTER_SPACE_THRESHOLD, in_cluster_space
from reports.aggregate import aggregate, mean_ci95, select_best
from reports.catalog import FIGURE_INFO
from reports.source import MissingArtefactError, artefact_keys, load_artefact
from reports.tables import dataset_label, method_order

FORMATS = ("png", "pdf")
PNG_DPI = 150

#: The learning rate Fig. 4's γ multiplies (ACe/DeC: "10⁻³γ, where the start value 10⁻³ is based on the pretraining").
FIG4_BASE_LR = 1e-3

#: Horizontal offset between the lines of one Fig. 4 panel (γ units), so that equal values do not hide each other.
FIG4_DODGE = 0.012

#: y-axis label of the NMI figures (the normalisation is stated everywhere NMI is shown).
NMI_LABEL = f"NMI ({NMI_NORMALISATION} normalisation)"

#: Flat vectors shorter than this squared are not treated as images (SYNTH-k's 27 values are not 3x3 RGB).
MIN_IMAGE_SIDE = 8


def _new_figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Any, out_dir: str | Path, name: str, formats: Sequence[str] = FORMATS,
                software: str | None = None) -> list[Path]:
    """Write ``<out_dir>/<name>.png`` and ``.pdf``; return the paths.

    ``software`` (e.g. the nrbench versions that wrote the plotted rows) goes into the files'
    metadata (PNG "Software", PDF "Creator"), so a figure in a paper can be traced to a release.
    The PDF carries no creation date, so plotting the same rows again writes the same bytes
    (a paper's repository sees no change), as the PNG already does.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file; it takes a folder for {name}.png and {name}.pdf")
    check_writable(out, "--out folder")  # created; one line naming it when it cannot be
    paths = []
    for fmt in formats:
        p = out / f"{name}.{fmt}"
        meta: dict[str, Any] = {("Software" if fmt == "png" else "Creator"): software} if software else {}
        if fmt == "pdf":
            meta["CreationDate"] = None
        fig.savefig(p, dpi=PNG_DPI if fmt == "png" else None, metadata=meta or None)
        paths.append(p)
    return paths


def _missing(figure: str, what: str, frame: pd.DataFrame, tier: str | None = None) -> MissingArtefactError:
    """The error of a figure whose input is not stored; with ``tier``, which tiers are (and how to add it)."""
    store = frame.attrs.get("store_path", "the store")
    suite = FIGURES[figure].suite
    if tier is None:
        return MissingArtefactError(f"{figure} needs {what}, which {store} does not hold; "
                                    f"produce it with `nrbench run {suite}`")
    stored = sorted(set(frame.loc[frame["suite"] == suite, "tier"])) if "suite" in frame else []
    have = f"; it holds {suite} at tier {', '.join(stored)}" if stored else ""
    return MissingArtefactError(f"{figure} needs {what} at tier {tier!r}, which {store} does not hold{have}; "
                                f"produce it with `nrbench run {suite} --tier {tier}`"
                                + (f", or plot tier {stored[0]!r} with --tier {stored[0]}" if stored else ""))


def _one_tier(f: pd.DataFrame, frame: pd.DataFrame, configs: dict | None) -> tuple[pd.DataFrame, str]:
    """Rows of the tier to draw: the most complete stored one, a tie to the higher (:func:`choose_tier`).

    ``f`` holds the rows the figure could draw, ``frame`` all rows (the fits of every method count
    towards a tier's completeness).  With more than one tier stored, which one and why is said as a
    :class:`reports.source.Note`; a partial run is also noted under the figure by the caller.
    """
    import warnings

    from reports.source import Note
    from reports.tables import choose_tier

    choice = choose_tier(f, configs, rows=frame[frame["suite"].isin(set(f["suite"]))])
    if choice.note:
        warnings.warn(choice.note, Note, stacklevel=3)
    return f[f["tier"] == choice.tier], choice.tier


def _drawable(cells: pd.DataFrame, figure: str, frame: pd.DataFrame, tier: str | None,
              point: Any) -> tuple[pd.DataFrame, list[str]]:
    """The NMI cells a figure can draw, and a note per point it cannot.

    A cell with failed fits (``err``) or without values is left out of the lines, as the tables
    mark it ``err``; the figure must say so rather than draw a line past it.  ``point(row)``
    names a cell for the note (e.g. "DCN at k=10").  No drawable cell at all is an error.
    """
    nmi = cells[cells["metric"] == "nmi"]
    ok = nmi[(nmi["status"] == "ok") & np.array([len(v) > 0 for v in nmi["values"]], dtype=bool)]
    bad = nmi.drop(index=ok.index)
    if ok.empty:
        raise _missing(figure, "at least one NMI point without failed fits (every stored fit of it failed; "
                       "see `nrbench report`)", frame, tier)
    notes = []
    if not bad.empty:
        names = [f"{point(r)} ({'failed fits' if r.status == 'err' else r.status})" for r in bad.itertuples()]
        notes.append(f"Not drawn: {', '.join(names)}; `nrbench report` lists the errors.")
    return ok, notes


def _footer(fig: Any, notes: list[str], caption: str = "") -> None:
    """Write the figure's notes under it and warn with each, so neither reader nor user misses them.

    ``caption`` (the deviations, :func:`deviations_caption`) is written after the notes, without a warning.
    """
    import warnings

    if not notes and not caption:
        return
    width = int(13 * fig.get_figwidth())
    # a figure-level x label: constrained layout makes room for it (a plain fig.text would be cut off)
    fig.supxlabel("\n".join(textwrap.fill(n, width=width) for n in [*notes, caption] if n), fontsize=7, x=0.01,
                  ha="left")
    for n in notes:
        warnings.warn(n, UserWarning, stacklevel=3)


def deviations_caption(rows: pd.DataFrame, labels: dict[str, str]) -> str:
    """The tables' sentence of the recorded deviations of the drawn cells or run (``dataset``, ``label``,
    ``deviations`` columns), so a figure of a reduced tier says so as a table caption does."""
    from reports.tables import _deviations_text

    return _deviations_text(rows, labels)


def _with_deviations(title: str, row: pd.Series, labels: dict[str, str], width: int) -> str:
    """A single run's figure title with the run's deviations wrapped below it."""
    return title + "\n" + textwrap.fill(deviations_caption(pd.DataFrame([row]), labels), width=width)


def _incomplete(f: pd.DataFrame, configs: dict | None) -> list[str]:
    """The tables' "Incomplete" sentence for the drawn (suite, tier), when the figure's runs are not all stored."""
    from reports.tables import incomplete_text

    out = []
    for s, t in dict.fromkeys(zip(f["suite"], f["tier"])):
        text = incomplete_text(f, s, t, (configs or {}).get((s, t), {}))
        if text:
            out.append(text)
    return out


def _prefer_suite(frame: pd.DataFrame, suite: str | None, preferred: str) -> pd.DataFrame:
    if suite is not None:
        out = frame[frame["suite"] == suite]
        if out.empty:
            raise ValueError(f"suite {suite!r} has no results; stored suites: {', '.join(sorted(set(frame['suite'])))}")
        return out
    if (frame["suite"] == preferred).any():
        return frame[frame["suite"] == preferred]
    return frame


def _labels(configs: dict | None, row: pd.Series) -> dict[str, str]:
    """Data-set display labels of the row's suite config (``{}`` without one)."""
    from reports.tables import suite_datasets

    return suite_datasets((configs or {}).get((row["suite"], row["tier"]), {}))[1]


# --------------------------------------------------------------------------- ACe/DeC Fig. 1a
def noise_dims(dataset: str, config_params: dict[str, Any] | None = None) -> int | None:
    """Number of added noise dimensions k of a SYNTH-k data set: suite params ``noise_dims``/``k``, else the id."""
    for key in ("noise_dims", "k", "n_noise"):
        if config_params and config_params.get(key) is not None:
            return int(config_params[key])
    m = re.fullmatch(r"synth[-_]?k?(\d+)", dataset.strip().lower())
    return int(m.group(1)) if m else None


def fig_acedec_fig1a(frame: pd.DataFrame, suite: str | None = None, configs: dict | None = None,
                     tier: str | None = None) -> Any:
    """ACe/DeC Fig. 1a: NMI against the number of noise dimensions, mean and 95% CI per method label."""
    from reports.tables import suite_datasets

    f = _prefer_suite(frame, suite, "acedec-fig1a")
    f = f[f["method"].isin(["dcn", "acedec"])]
    k_of: dict[tuple[str, str, str], int] = {}
    for (s, t, d) in set(zip(f["suite"], f["tier"], f["dataset"])):
        _, _, params = suite_datasets((configs or {}).get((s, t), {}))
        k = noise_dims(d, params.get(d))
        if k is not None:
            k_of[(s, t, d)] = k
    # a boolean array, not a list: an empty list would select no *columns* of an empty frame
    f = f[np.array([(s, t, d) in k_of for s, t, d in zip(f["suite"], f["tier"], f["dataset"])], dtype=bool)]
    if tier is not None:
        f = f[f["tier"] == tier]
    if f.empty or len({k for key, k in k_of.items() if key[1] in set(f["tier"])}) < 2:
        raise _missing("acedec-fig1a", "NMI results of DCN and ACe/DeC+DCN on SYNTH-k with at least two noise "
                       "levels k", frame, tier)
    f, tier_used = _one_tier(f, frame, configs)
    cells, notes = _drawable(aggregate(f, warn=False), "acedec-fig1a", frame, tier,
                             lambda r: f"{r.label} at k={k_of[(r.suite, r.tier, r.dataset)]}")
    fig = _new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    for label in method_order(zip(cells["method"], cells["label"])):
        g = cells[cells["label"] == label]
        pts = sorted((k_of[(r.suite, r.tier, r.dataset)], *mean_ci95(r.values)) for r in g.itertuples())
        x = np.array([p[0] for p in pts], dtype=float)
        y = np.array([p[1] for p in pts])
        ci = np.nan_to_num(np.array([p[2] for p in pts]))
        line, = ax.plot(x, y, marker="o", label=label)
        ax.fill_between(x, y - ci, y + ci, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("number of added noise dimensions k")
    ax.set_ylabel(NMI_LABEL)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"ACe/DeC Fig. 1a: SYNTH-k ({tier_used} tier), {_over_aes(cells['n_ae'])}", fontsize=9)
    _footer(fig, notes + _incomplete(f, configs), deviations_caption(cells, _labels(configs, f.iloc[0])))
    return fig


def _over_aes(n_ae: Iterable[int]) -> str:
    """What a point of a figure is: "mean and 95% CI over 3 AEs", or, with one network, a single value.

    ``n_ae`` holds each plotted cell's autoencoder count; differing counts are listed ("2/3 AEs").  A
    cell from one autoencoder has no confidence interval, so the title says so instead of "1 AEs".
    """
    counts = sorted({int(n) for n in n_ae})
    if counts == [1]:
        return "one AE per point (no CI)"
    return f"mean and 95% CI over {'/'.join(map(str, counts))} AEs"


# --------------------------------------------------------------------------- ACe/DeC Fig. 4
def _lr_of(params: dict[str, Any]) -> float | None:
    for key in ("lr", "learning_rate"):
        if params.get(key) is not None:
            return float(params[key])
    return None


def _strip_lr(label: str) -> str:
    return re.sub(r"\s*(?:lr|learning_rate)\s*=\s*[-+0-9.eE]+", "", label).strip()


def fig_acedec_fig4(frame: pd.DataFrame, suite: str | None = None, tier: str | None = None,
                    configs: dict | None = None) -> Any:
    """ACe/DeC Fig. 4: NMI over γ (learning rate 10⁻³·γ); DCN per λ per data set, ACe/DeC+DCN per data set."""
    f = _prefer_suite(frame, suite, "acedec-fig4")
    f = f[f["method"].isin(["dcn", "acedec"]).to_numpy() & np.array([_lr_of(p) is not None for p in f["params"]], dtype=bool)]
    if tier is not None:
        f = f[f["tier"] == tier]
    if f.empty:
        raise _missing("acedec-fig4", "NMI results of DCN / ACe/DeC+DCN over a learning-rate grid (params 'lr')",
                       frame, tier)
    f, tier_used = _one_tier(f, frame, configs)
    names = _labels(configs, f.iloc[0])
    cells, notes = _drawable(aggregate(f, warn=False), "acedec-fig4", frame, tier,
                             lambda r: f"{r.label} on {dataset_label(r.dataset, names)}")
    cells = cells.copy()
    cells["gamma"] = [_lr_of(p) / FIG4_BASE_LR for p in cells["params"]]
    cells["line"] = [_strip_lr(lab) for lab in cells["label"]]
    dcn_sets = list(dict.fromkeys(cells.loc[cells["method"] == "dcn", "dataset"]))
    panels = [("dcn", ds) for ds in dcn_sets] + ([("acedec", None)] if (cells["method"] == "acedec").any() else [])
    fig = _new_figure(4.2 * len(panels), 3.6)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for i, (ax, (method, ds)) in enumerate(zip(axes, panels)):
        g = cells[(cells["method"] == method) & ((cells["dataset"] == ds) if ds else True)]
        if method == "dcn":
            groups = [(ln, g[g["line"] == ln]) for ln in method_order(zip(g["method"], g["line"]))]
            title = f"({chr(97 + i)}) DCN on {dataset_label(ds, names)}"
        else:
            groups = [(dataset_label(d, names), g[g["dataset"] == d]) for d in dict.fromkeys(g["dataset"])]
            title = f"({chr(97 + i)}) ACe/DeC+DCN"
        for k, (name, gg) in enumerate(groups):
            pts = sorted((r.gamma, *mean_ci95(r.values)) for r in gg.itertuples())
            dodge = (k - (len(groups) - 1) / 2) * FIG4_DODGE  # overlapping lines stay readable
            x = [p[0] + dodge for p in pts]
            ax.errorbar(x, [p[1] for p in pts], yerr=np.nan_to_num([p[2] for p in pts]), marker="o",
                        capsize=3, label=name)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(sorted(set(g["gamma"].round(6))))
        ax.set_xlabel(f"γ (learning rate {FIG4_BASE_LR:g}·γ)")
        ax.set_ylabel(NMI_LABEL)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    # one panel is 4.2 in wide: wrap the title to the figure instead of letting it run off both edges
    fig.suptitle(textwrap.fill(f"ACe/DeC Fig. 4 ({tier_used} tier): {_over_aes(cells['n_ae'])}",
                               width=int(11 * fig.get_figwidth())), fontsize=10)
    _footer(fig, notes + _incomplete(f, configs), deviations_caption(cells, names))
    return fig


# --------------------------------------------------------------------------- artefact-based figures
def pick_run(frame: pd.DataFrame, figure: str, methods: Sequence[str], keys: Sequence[str],
             suite: str | None = None, dataset: str | None = None,
             prefer_datasets: Sequence[str] = ()) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """The OK run of ``methods`` whose artefact has every key in ``keys``, with the lowest loss.

    Preference: the figure's own suite, then ``prefer_datasets`` in order, then the lowest loss.
    """
    f = _prefer_suite(frame, suite, FIGURES[figure].suite)
    f = f[(f["status"] == "ok") & f["method"].isin(list(methods))]
    if dataset is not None:
        if dataset not in set(f["dataset"]):
            raise ValueError(f"dataset {dataset!r} has no {'/'.join(methods)} results; stored: "
                             f"{', '.join(sorted(set(f['dataset']))) or '(none)'}")
        f = f[f["dataset"] == dataset]
    f = select_best(f, warn=False)
    have = [set(keys) <= artefact_keys(frame, r) for _, r in f.iterrows()]
    what = f"artefact(s) {', '.join(keys)} of a run of {' or '.join(methods)}"
    if not any(have):
        gone = _artefact_files_missing(figure, what, f, frame, suite, dataset)
        if gone is not None:
            raise gone
    f = f[have]
    if f.empty:
        raise _missing(figure, what, frame)
    rank = {d: i for i, d in enumerate(prefer_datasets)}
    f = f.assign(_r=[rank.get(d, len(rank)) for d in f["dataset"]])
    f = f.sort_values(["_r", "loss", "ae_seed"], na_position="last", kind="mergesort")
    row = f.iloc[0]
    return row, load_artefact(frame, row)


#: The store file that :func:`_artefact_files_missing` suggests recomputing into (beside the store in use).
RECOMPUTED_STORE = "recomputed.sqlite"


def _artefact_files_missing(figure: str, what: str, runs: pd.DataFrame, frame: pd.DataFrame,
                            suite: str | None, dataset: str | None) -> MissingArtefactError | None:
    """The error for runs whose rows reference artefact files that are gone (None when no file is missing).

    A store copied without its ``artefacts/`` folder still holds the rows, so ``nrbench run`` takes
    those fits as done and never writes their files again: "run the suite" would not help.  What
    does: put the folder back, or run the suite into a new store, which computes the fits afresh.
    """
    from reports.source import artefact_path

    gone = [(r["suite"], r["tier"], artefact_path(frame, r["artefact"])) for _, r in runs.iterrows()
            if isinstance(r["artefact"], str) and r["artefact"] and not artefact_path(frame, r["artefact"]).is_file()]
    if not gone:
        return None
    folders = ", ".join(sorted({str(p.parent) for _, _, p in gone}))
    store = frame.attrs.get("store_path", "the store")
    new = Path(store).with_name(RECOMPUTED_STORE) if "store_path" in frame.attrs else Path(RECOMPUTED_STORE)
    runs_cmd = " and ".join(f"`nrbench run {s} --tier {t} --store {new}`" for s, t in dict.fromkeys((s, t) for s, t, _ in gone))
    plot_cmd = (f"`nrbench plot {figure} --store {new}" + (f" --suite {suite}" if suite else "")
                + (f" --dataset {dataset}" if dataset else "") + "`")
    n = len(gone)
    return MissingArtefactError(
        f"{figure} needs {what}, but the artefact files of the {n} run{'s' if n != 1 else ''} of {store} it could "
        f"draw are missing from {folders} (was the store copied without its artefacts folder?); a run into this "
        f"store would not write them again, as it takes those fits as done. Put the artefacts folder written "
        f"beside the original store back at {folders}, or recompute into a new store: {runs_cmd}, then {plot_cmd}")


def as_image(a: np.ndarray, scale: tuple[float, float] | None = None) -> tuple[np.ndarray, str | None]:
    """An array as a displayable (H, W) or (H, W, 3) image in [0, 1] and the colormap to use.

    CHW with 1, 3 or 4 channels; HW; or a flat vector of a square 1- or 3-channel
    image.  Min-max scaled per image (the stored data are z-transformed), or to
    the common range ``scale = (lo, hi)`` (clipped) where images are compared by
    intensity.
    """
    a = np.asarray(a, dtype=float)
    if a.ndim == 1:
        for c in (1, 3):
            side = math.isqrt(a.size // c) if a.size % c == 0 else 0
            if side >= MIN_IMAGE_SIDE and c * side * side == a.size:
                a = a.reshape(c, side, side)
                break
        else:
            raise ValueError(f"cannot show a flat vector of {a.size} values as a square image")
    if a.ndim == 3:
        if a.shape[0] in (1, 3, 4):
            a = a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)
        elif a.shape[-1] in (1, 3, 4):
            a = a[..., 0] if a.shape[-1] == 1 else a[..., :3]
        else:
            raise ValueError(f"cannot show an array of shape {a.shape} as an image")
    elif a.ndim != 2:
        raise ValueError(f"cannot show an array of shape {a.shape} as an image")
    lo, hi = (np.nanmin(a), np.nanmax(a)) if scale is None else scale
    a = np.clip((a - lo) / (hi - lo), 0.0, 1.0) if hi > lo else np.zeros_like(a)
    return a, ("gray" if a.ndim == 2 else None)


def _clustering_names(row: pd.Series, n: int) -> list[str]:
    names = [str(c) for c in row["clusterings"]]
    return names if len(names) == n else [f"clustering {s + 1}" for s in range(n)]


def fig_enrc_fig4(frame: pd.DataFrame, suite: str | None = None, dataset: str | None = None,
                  configs: dict | None = None) -> Any:
    """ENRC Fig. 4: per clustering, the β_s weights sorted in decreasing order, before and after training."""
    row, art = pick_run(frame, "enrc-fig4", ["enrc"], ["betas_init", "betas"], suite, dataset,
                        prefer_datasets=("nrobjects", "stickfigures"))
    b0, b1 = np.atleast_2d(art["betas_init"]), np.atleast_2d(art["betas"])
    S, D = b1.shape
    _, match, _ = _truth_for_found(art, S)
    gt = [str(c) for c in row["clusterings"]]
    names = [f"clustering {s + 1}" + (f" (↔ {gt[match[s]]})" if "Z_labels_true" in art and match[s] < len(gt) else "")
             for s in range(S)]
    fig = _new_figure(max(4.0, 3.2 * S), 4.8)
    axes = fig.subplots(2, S, squeeze=False, sharey=True)
    for r, (b, when) in enumerate(((b0, "after initialisation"), (b1, "after training"))):
        for s in range(S):
            ax = axes[r][s]
            order = np.argsort(-b[s], kind="stable")
            ax.bar(np.arange(D), b[s][order], color=f"C{s}")
            ax.set_xticks(np.arange(D), [str(i) for i in order], fontsize=6 if D > 12 else 8)
            ax.set_ylim(0, 1)
            ax.set_title(f"β for {names[s]}, {when}", fontsize=9)
            if s == 0:
                ax.set_ylabel("β")
            if r == 1:
                ax.set_xlabel("embedded dimension (sorted by β)")
    labels = _labels(configs, row)
    fig.suptitle(_with_deviations(f"ENRC Fig. 4: sorted feature weights, {dataset_label(row['dataset'], labels)} "
                                  f"(ae_seed {row['ae_seed']}, run {row['run_seed']}, {row['tier']} tier)", row,
                                  labels, int(11 * fig.get_figwidth())), fontsize=10)
    return fig


def _truth_for_found(art: dict[str, np.ndarray], S: int) -> tuple[np.ndarray | None, list[int], list[float]]:
    """Ground-truth labels of the Z_rot points and, per found clustering, the best-matching truth (by NMI)."""
    from benchmark.metrics import nmi_matrix

    truth = art.get("Z_labels_true")
    if truth is None:
        return None, [0] * S, [math.nan] * S
    truth = truth.reshape(len(truth), -1)
    labels = art.get("labels")
    idx = art.get("Z_index")
    if labels is not None and idx is not None:
        found = np.asarray(labels).reshape(len(labels), -1)[idx]
    elif labels is not None and len(labels) == len(truth):
        found = np.asarray(labels).reshape(len(labels), -1)
    else:
        return truth, [min(s, truth.shape[1] - 1) for s in range(S)], [math.nan] * S
    M = nmi_matrix(truth, found)  # (S_true, S_found)
    best = [int(M[:, s].argmax()) if s < M.shape[1] else 0 for s in range(S)]
    return truth, best, [float(M[best[s], s]) if s < M.shape[1] else math.nan for s in range(S)]


def fig_enrc_fig3(frame: pd.DataFrame, suite: str | None = None, dataset: str | None = None,
                  configs: dict | None = None) -> Any:
    """ENRC Fig. 3: per clustering, top-2-β scatter with histograms on the diagonal, decoded centres below."""
    row, art = pick_run(frame, "enrc-fig3", ["enrc"], ["Z_rot", "betas"], suite, dataset,
                        prefer_datasets=("nrobjects", "stickfigures"))
    labels = _labels(configs, row)
    Z, B = art["Z_rot"], np.atleast_2d(art["betas"])
    S = B.shape[0]
    missing = [f"decoded_centers_{s}" for s in range(S) if f"decoded_centers_{s}" not in art]
    if missing:
        raise _missing("enrc-fig3", f"artefact(s) {', '.join(missing)} of the ENRC run", frame)
    truth, match, match_nmi = _truth_for_found(art, S)
    gt_names = [str(c) for c in row["clusterings"]]
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    k_max = max(art[f"decoded_centers_{s}"].shape[0] for s in range(S))
    fig = _new_figure(3.6 * S, 3.6 + 1.2 * math.ceil(k_max / 6))
    outer = fig.add_gridspec(2, S, height_ratios=[3.2, 1.2 * math.ceil(k_max / 6)])
    for s in range(S):
        top = np.argsort(-B[s], kind="stable")[:2]
        colours = truth[:, match[s]] if truth is not None else np.zeros(len(Z), dtype=int)
        gt = gt_names[match[s]] if match[s] < len(gt_names) else f"truth {match[s] + 1}"
        inner = GridSpecFromSubplotSpec(2, 2, subplot_spec=outer[0, s], hspace=0.05, wspace=0.05)
        for i in range(2):
            for j in range(2):
                ax = fig.add_subplot(inner[i, j])
                a, b = top[j], top[i]
                if i == j:
                    classes = np.unique(colours)
                    ax.hist([Z[colours == c, a] for c in classes], bins=30, stacked=True,
                            color=[f"C{int(c) % 10}" for c in range(len(classes))])
                    ax.set_yticks([])
                else:
                    ax.scatter(Z[:, a], Z[:, b], c=[f"C{int(c) % 10}" for c in np.searchsorted(np.unique(colours), colours)],
                               s=3, alpha=0.6, linewidths=0)
                ax.tick_params(labelsize=6)
                if i == 1:
                    ax.set_xlabel(f"z{a} (β={B[s, a]:.2f})", fontsize=7)
                else:
                    ax.set_xticklabels([])
                if j == 0 and i != j:
                    ax.set_ylabel(f"z{b} (β={B[s, b]:.2f})", fontsize=7)
                if i == 0 and j == 0:
                    nmi_txt = f", NMI {match_nmi[s]:.2f}" if not math.isnan(match_nmi[s]) else ""
                    ax.set_title(f"found clustering {s + 1} ↔ {gt}{nmi_txt}", fontsize=8, loc="left")
        centers = art[f"decoded_centers_{s}"]
        k = centers.shape[0]
        cols = min(k, 6)
        img_grid = GridSpecFromSubplotSpec(math.ceil(k / cols), cols, subplot_spec=outer[1, s], wspace=0.05, hspace=0.05)
        for c in range(k):
            ax = fig.add_subplot(img_grid[c // cols, c % cols])
            img, cmap = as_image(centers[c])
            ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
            ax.set_axis_off()
    fig.suptitle(_with_deviations(
        f"ENRC Fig. 3: {dataset_label(row['dataset'], labels)} (ae_seed {row['ae_seed']}, {row['tier']} tier)\n"
        "the two top-β dimensions per clustering (colours: ground truth); below: decoded centres dec(Vμ)", row,
        labels, int(12 * fig.get_figwidth())), fontsize=9)
    return fig


def _show_sample(ax: Any, a: np.ndarray, images: bool, lo: float = 0.0, hi: float = 1.0,
                 common_scale: bool = False) -> None:
    """One decoded sample: an image, or (not image data, e.g. SYNTH-k) a bar chart of its values.

    Images are min-max scaled each, or to ``(lo, hi)`` with ``common_scale``.
    """
    if images:
        img, cmap = as_image(a, (lo, hi) if common_scale else None)
        ax.imshow(img, cmap=cmap, vmin=0, vmax=1)
    else:
        flat = np.asarray(a, dtype=float).ravel()
        ax.bar(np.arange(flat.size), flat, width=1.0, color="C0")
        ax.set_ylim(lo, hi)
    ax.set_xticks([])
    ax.set_yticks([])


def _is_image(a: np.ndarray) -> bool:
    try:
        as_image(a)
        return True
    except ValueError:
        return False


def traversal_scatter_coordinates(Z_rot: np.ndarray, betas: np.ndarray,
                                  x_grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Fig. 3 (left): each point's (PC1 of the shared space, top-β_cs dimension) coordinates.

    The axes are :func:`methods.acedec.traversal_basis`, the rule the runner's
    traversal grid uses.  PC1's sign is arbitrary; if ``x_grid`` (the stored
    traversal's x values, 5-95 % quantiles of the same points) matches the
    negated coordinates better, the sign is flipped so that scatter and grid
    agree.  Returns ``(x, y, top)``.
    """
    from methods.acedec import traversal_basis

    Zr = np.asarray(Z_rot, dtype=np.float64)
    top, shared, mean, pc = traversal_basis(Zr, np.atleast_2d(betas))
    x = (Zr[:, shared] - mean[shared]) @ pc
    if x_grid is not None:
        xg = np.asarray(x_grid, dtype=float)
        xg = xg[np.isfinite(xg)]
        if xg.size:
            q = np.linspace(0.05, 0.95, xg.size)
            if np.abs(np.quantile(-x, q) - xg).max() < np.abs(np.quantile(x, q) - xg).max():
                x = -x
    return x, Zr[:, top], top


def fig_acedec_fig3(frame: pd.DataFrame, suite: str | None = None, dataset: str | None = None,
                    configs: dict | None = None) -> Any:
    """ACe/DeC Fig. 3: latent traversal; left the embedded points, right the decoded grid.

    Left (the paper's scatter): the stored embedded points (``Z_rot``) on the
    first principal component of the shared space (x) and the dimension with the
    highest β_cs (y), coloured by the ground-truth labels (as in the paper; the
    predicted labels when the truth is not stored), with × at the grid
    positions that are decoded on the right.  Right: ``dec(V g)`` for each grid
    point g (artefact ``traversal``), the highest y value in the top row as in
    the scatter.  Data that are not images (SYNTH-k) are shown as one bar chart
    of the decoded vector per grid point.  Runs stored before the runner kept
    ``Z_rot`` for ACe/DeC get the grid only, with a warning.
    """
    import warnings

    row, art = pick_run(frame, "acedec-fig3", ["acedec", "acedec-aug"], ["traversal"], suite, dataset,
                        prefer_datasets=("mnist", "mnist-test", "objects"))
    T = np.asarray(art["traversal"])
    if T.ndim < 3:
        raise ValueError(f"artefact 'traversal' must have shape (rows, cols, *sample_shape); got {T.shape}")
    rows, cols = T.shape[:2]
    axes_vals = art.get("traversal_axes")
    xs = ys = None
    if axes_vals is not None:
        A = np.asarray(axes_vals, dtype=float)
        if A.shape == (rows, cols, 2):
            ys, xs = A[:, 0, 0], A[0, :, 1]
        elif A.ndim == 2 and A.shape[0] == 2 and A.shape[1] >= max(rows, cols):
            ys, xs = A[0, :rows], A[1, :cols]  # benchmark.runner.acedec_traversal: row 0 y, row 1 x
    scatter = "Z_rot" in art and "betas" in art
    if not scatter:
        warnings.warn("acedec-fig3: the run has no 'Z_rot' artefact (stored before the runner kept it for "
                      "ACe/DeC); drawing the image grid without the scatter panel", stacklevel=2)
    grid_w, grid_h = 0.9 * cols + 1.2, 0.9 * rows + 1.0
    fig = _new_figure(grid_w + (grid_h + 0.6 if scatter else 0.0), grid_h)
    if scatter:
        outer = fig.add_gridspec(1, 2, width_ratios=[grid_h + 0.6, grid_w])
        ax = fig.add_subplot(outer[0, 0])
        x, y, top = traversal_scatter_coordinates(art["Z_rot"], art["betas"], xs)
        truth = art.get("Z_labels_true")
        if truth is not None:
            colour_by, what = np.asarray(truth).reshape(len(truth), -1)[:, 0], "ground truth"
        else:
            lab = np.asarray(art["labels"]).reshape(len(art["labels"]), -1)[:, 0]
            idx = art.get("Z_index")
            colour_by, what = (lab[idx] if idx is not None else lab[:len(x)]), "predicted clusters"
        classes = np.unique(colour_by)
        for c_i, c in enumerate(classes):
            m = colour_by == c
            ax.scatter(x[m], y[m], s=4, alpha=0.6, linewidths=0, color=f"C{c_i % 10}", label=str(c))
        if xs is not None and ys is not None:
            gx, gy = np.meshgrid(xs, ys)
            ax.scatter(gx.ravel(), gy.ravel(), marker="x", s=25, color="black", linewidths=1.0,
                       label="traversal")
        B = np.atleast_2d(art["betas"])
        beta_cs = float(B[0, top])
        if (~in_cluster_space(np.delete(B[0], top))).any():
            ax.set_xlabel("PC1 of the shared space", fontsize=8)
        else:  # methods.acedec.traversal_basis's fallback; said, not hidden
            ax.set_xlabel(f"shared space EMPTY (no β_cs ≤ {CLUSTER_SPACE_THRESHOLD:g}): x is the dimension with "
                          "the highest β_ss",
                          fontsize=8)
        ax.set_ylabel(f"z{top} (highest β_cs = {beta_cs:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"embedded points ({len(x)}), colours: {what}", fontsize=8)
        if len(classes) <= 12:
            ax.legend(fontsize=6, markerscale=2, loc="best", ncol=2)
        grid_spec = outer[0, 1].subgridspec(rows, cols, wspace=0.03, hspace=0.03)
    else:
        grid_spec = fig.add_gridspec(rows, cols, wspace=0.03, hspace=0.03)
    images = _is_image(T[0, 0])
    lo, hi = float(T.min()), float(T.max())
    for r in range(rows):
        i = rows - 1 - r  # the highest y value on top, as in the scatter
        for j in range(cols):
            ax = fig.add_subplot(grid_spec[r, j])
            _show_sample(ax, T[i, j], images, lo, hi)
            if r == rows - 1 and xs is not None:
                ax.set_xlabel(f"{xs[j]:.2g}", fontsize=7)
            if j == 0 and ys is not None:
                ax.set_ylabel(f"{ys[i]:.2g}", fontsize=7)
    fig.supxlabel("first principal component of the shared space →", fontsize=9)
    fig.supylabel("dimension with the highest β_cs ↑", fontsize=9)
    labels = _labels(configs, row)
    fig.suptitle(_with_deviations(f"ACe/DeC Fig. 3: latent traversal, {dataset_label(row['dataset'], labels)} "
                                  f"(ae_seed {row['ae_seed']}, {row['tier']} tier)", row, labels,
                                  int(11 * fig.get_figwidth())), fontsize=10)
    return fig


#: Row titles of ACe/DeC Fig. 1b (top to bottom).
FIG1B_ROWS = ("input", "cluster space only", "shared space only")


def _space_sizes_note(beta_cs: np.ndarray | None) -> str:
    """'cluster space d_cs dims, shared space d_ss dims' (``methods.space_split``), flagging an empty space."""
    if beta_cs is None:
        return ""
    b = np.asarray(beta_cs, dtype=float).ravel()
    n_cs = int(in_cluster_space(b).sum())
    note = f"cluster space {n_cs} dims, shared space {b.size - n_cs} dims (β_cs > / ≤ {CLUSTER_SPACE_THRESHOLD:g})"
    if n_cs == b.size:
        note += "; shared space EMPTY: the bottom row is dec(Vμ) for every input"
    elif n_cs == 0:
        note += "; cluster space EMPTY: the middle row is dec(Vμ) for every input"
    return note


def draw_acedec_fig1b(x: np.ndarray, x_cluster: np.ndarray, x_shared: np.ndarray, title: str = "",
                      beta_cs: np.ndarray | None = None) -> Any:
    """ACe/DeC Fig. 1b from arrays: inputs (top), cluster-space-only (middle), shared-space-only (bottom).

    ``x_cluster``/``x_shared`` are :meth:`methods.acedec.ACeDeC.reconstruct_spaces`
    of ``x`` (the definitions are in its docstring); one column per sample.
    ``beta_cs`` (optional) adds the sizes of the two spaces to the title and
    flags an empty one.  Everything shares one intensity scale (the minimum and maximum over all
    three rows), so that the paper's "less light information" in the
    cluster-only row stays visible; non-image data are drawn as bar charts.
    """
    x, xc, xs = (np.asarray(a, dtype=float) for a in (x, x_cluster, x_shared))
    if not (len(x) == len(xc) == len(xs) and len(x) > 0):
        raise ValueError(f"x, x_cluster and x_shared must hold the same number (> 0) of samples; "
                         f"got {len(x)}, {len(xc)}, {len(xs)}")
    if not (x[0].size == xc[0].size == xs[0].size):
        raise ValueError(f"x, x_cluster and x_shared must have samples of the same size; "
                         f"got {x[0].size}, {xc[0].size}, {xs[0].size}")
    m = len(x)
    images = _is_image(x[0])
    lo = float(min(a.min() for a in (x, xc, xs)))
    hi = float(max(a.max() for a in (x, xc, xs)))
    fig = _new_figure(1.1 * m + 1.4, 3.6)
    grid = fig.subplots(3, m, squeeze=False, gridspec_kw={"wspace": 0.04, "hspace": 0.08})
    for r, (name, arr) in enumerate(zip(FIG1B_ROWS, (x, xc, xs))):
        for j in range(m):
            _show_sample(grid[r][j], arr[j], images, lo, hi, common_scale=True)
        grid[r][0].set_ylabel(name, fontsize=8)
    title = title or "ACe/DeC Fig. 1b: reconstructions from the cluster space only and the shared space only"
    note = _space_sizes_note(beta_cs)
    fig.suptitle(title + (f"\n{note}" if note else ""), fontsize=9)
    return fig


def acedec_fig1b_from_model(est: Any, X: np.ndarray, title: str = "") -> Any:
    """ACe/DeC Fig. 1b straight from a fitted :class:`methods.acedec.ACeDeC` and the inputs X to show."""
    if not hasattr(est, "reconstruct_spaces"):
        raise ValueError(f"est must be a fitted ACeDeC (with reconstruct_spaces); got {type(est).__name__}")
    x_cs, x_ss = est.reconstruct_spaces(X)
    return draw_acedec_fig1b(np.asarray(X), x_cs, x_ss, title, beta_cs=est.betas_[0])


def fig_acedec_fig1b(frame: pd.DataFrame, suite: str | None = None, dataset: str | None = None,
                     configs: dict | None = None) -> Any:
    """ACe/DeC Fig. 1b from the store: the ``recon_*`` artefacts of the lowest-loss ACe/DeC run.

    The paper shows OBJECTS; that data set is preferred when stored, then MNIST.
    """
    row, art = pick_run(frame, "acedec-fig1b", ["acedec", "acedec-aug"],
                        ["recon_input", "recon_cluster", "recon_shared"], suite, dataset,
                        prefer_datasets=("objects", "mnist", "mnist-test"))
    labels = _labels(configs, row)
    width = int(12 * (1.1 * len(art["recon_input"]) + 1.4))  # the figure's width in inches (draw_acedec_fig1b)
    title = _with_deviations(f"ACe/DeC Fig. 1b: {dataset_label(row['dataset'], labels)} "
                             f"(ae_seed {row['ae_seed']}, {row['tier']} tier)", row, labels, width)
    beta_cs = np.atleast_2d(art["betas"])[0] if "betas" in art else None
    return draw_acedec_fig1b(art["recon_input"], art["recon_cluster"], art["recon_shared"], title, beta_cs)


class FigureSpec:
    """A named figure: its drawing function, the suite that produces its inputs, a description."""

    def __init__(self, name: str, func: Callable[..., Any], options: tuple[str, ...]) -> None:
        self.name, self.func, self.options = name, func, options
        self.suite, self.description = FIGURE_INFO[name]


FIGURES: dict[str, FigureSpec] = {
    s.name: s
    for s in [
        FigureSpec("acedec-fig1a", fig_acedec_fig1a, ("suite", "configs", "tier")),
        FigureSpec("acedec-fig4", fig_acedec_fig4, ("suite", "tier", "configs")),
        FigureSpec("enrc-fig3", fig_enrc_fig3, ("suite", "dataset", "configs")),
        FigureSpec("enrc-fig4", fig_enrc_fig4, ("suite", "dataset", "configs")),
        FigureSpec("acedec-fig3", fig_acedec_fig3, ("suite", "dataset", "configs")),
        FigureSpec("acedec-fig1b", fig_acedec_fig1b, ("suite", "dataset", "configs")),
    ]
}
if set(FIGURES) != set(FIGURE_INFO):  # one source of truth for the names: reports.catalog
    raise RuntimeError("reports.catalog.FIGURE_INFO and reports.figures.FIGURES disagree")


def draw(name: str, frame: pd.DataFrame, **options: Any) -> Any:
    """Draw figure ``name`` (a key of :data:`FIGURES`) from a store frame; unused options are ignored."""
    if name not in FIGURES:
        raise ValueError(f"figure must be one of {', '.join(FIGURES)}; got {name!r}")
    spec = FIGURES[name]
    unused = [k for k in ("tier", "dataset") if options.get(k) is not None and k not in spec.options]
    if unused:
        takes = [f"--{k}" for k in ("tier", "dataset") if k in spec.options]
        raise ValueError(f"{name} does not take --{' or --'.join(unused)}"
                         + (f" (it takes {', '.join(takes)})" if takes else ""))
    if options.get("configs"):  # only the rows of each suite's recorded configuration
        from reports.source import current_rows, no_current_rows_text

        attrs = dict(frame.attrs)
        frame, other = current_rows(frame, options["configs"])
        frame.attrs.update(attrs)
        wanted = options.get("suite") or spec.suite
        stale = [x for x in no_current_rows_text(frame, other) if x.startswith(f"{wanted} [")]
        if stale and not (frame["suite"] == wanted).any():
            raise MissingArtefactError(f"{name}: " + "; ".join(stale))
    if frame.empty:
        raise _missing(name, "results", frame)
    return spec.func(frame, **{k: v for k, v in options.items() if k in spec.options and v is not None})


__all__ = [
    "FIGURES",
    "acedec_fig1b_from_model",
    "as_image",
    "draw",
    "draw_acedec_fig1b",
    "noise_dims",
    "pick_run",
    "save_figure",
    "traversal_scatter_coordinates",
]
