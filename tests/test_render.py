"""Real Blender renders (tiny): shapes, balance, determinism, that colour/material/shape act, resume.

Marked ``render`` and ``slow``; skipped with a reason when bpy is not installed.
Two module-scoped renders (36 NR-Objects, 36 OBJECTS at 32x32, 4 samples) are
shared by most tests; the resume test re-renders the NR-Objects settings after a
simulated worker crash, in other processes, and must reproduce the same pixel hash.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from generators.render import spec as S
from generators.render.datasets import bpy_available, render_dataset

pytestmark = [
    pytest.mark.render,
    pytest.mark.slow,
    pytest.mark.skipif(not bpy_available(), reason="bpy not installed (pip install 'nrbench[render]')"),
]

N, RES, SAMPLES, SHARD = 36, 32, 4, 12


def _render_in(home: Path, name: str, **kw):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NRBENCH_HOME", str(home))
        return render_dataset(name, progress=False, **kw)


@pytest.fixture(scope="module")
def nro_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home-nro")


@pytest.fixture(scope="module")
def nrobjects(nro_home):
    return _render_in(nro_home, "nrobjects", n=N, resolution=RES, samples=SAMPLES, seed=0, shard_size=SHARD)


@pytest.fixture(scope="module")
def objects(tmp_path_factory):
    return _render_in(tmp_path_factory.mktemp("home-obj"), "objects", n=N, resolution=RES,
                      samples=SAMPLES, seed=0, shard_size=SHARD)


def _centre(X: np.ndarray, frac: float = 0.5) -> np.ndarray:
    """The central ``frac`` x ``frac`` window (the object sits at the image centre)."""
    h = X.shape[-1]
    a, b = int(h * (1 - frac) / 2), int(h * (1 + frac) / 2)
    return X[..., a:b, a:b]


# ------------------------------------------------------------------ NR-Objects


def test_nrobjects_shapes_dtypes_balance_metadata(nrobjects) -> None:
    ds = nrobjects
    assert ds.X.shape == (N, 4, RES, RES) and ds.X.dtype == np.uint8
    assert ds.clusterings == ("color", "material", "shape")
    assert ds.n_clusters == [6, 2, 3]
    _, counts = np.unique(ds.labels, axis=0, return_counts=True)
    assert len(counts) == 36 and set(counts) == {1}
    assert np.all(ds.X[:, 3] == 255)  # CLEVR-style RGBA: opaque alpha
    assert ds.X[:, :3].std() > 10  # not blank
    for key, shape in [("rotation_deg", (N,)), ("camera_jitter", (N, 3)), ("light_jitter", (N, 3, 3)),
                       ("image_seed", (N,))]:
        assert ds.extras[key].shape == shape
    assert ds.params["n"] == N and ds.params["samples"] == SAMPLES


def test_nrobjects_is_cached_where_generators_get_finds_it(nrobjects, nro_home, monkeypatch) -> None:
    import generators
    import generators.render.datasets as rd

    monkeypatch.setenv("NRBENCH_HOME", str(nro_home))

    def no_render(*a, **k):
        raise AssertionError("generators.get must load the cached render, not render again")

    monkeypatch.setattr(rd, "render_dataset", no_render)
    ds = generators.get("nrobjects", n=N, resolution=RES, samples=SAMPLES, seed=0, progress=False)
    assert ds.checksum == nrobjects.checksum
    assert not list(nro_home.glob("render/*/shard-*.npz"))  # shards removed once the data set is saved


def test_colour_classes_have_their_clevr_hue(nrobjects) -> None:
    ds = nrobjects
    rgb = _centre(ds.X[:, :3]).astype(float).mean(axis=(2, 3))  # (n, 3)
    means = {c: rgb[ds.labels[:, 0] == i].mean(axis=0) for i, c in enumerate(S.NR_COLORS)}
    r, g, b = 0, 1, 2
    assert means["red"][r] > means["red"][g] + 15 and means["red"][r] > means["red"][b] + 15
    assert means["blue"][b] > means["blue"][r] + 15 and means["blue"][b] > means["blue"][g] + 10
    assert means["green"][g] > means["green"][r] + 10 and means["green"][g] > means["green"][b] + 10
    assert min(means["yellow"][r], means["yellow"][g]) > means["yellow"][b] + 20
    assert min(means["purple"][r], means["purple"][b]) > means["purple"][g] + 15
    assert np.ptp(means["gray"]) < 8  # gray stays neutral
    # and the six colour classes are pairwise far apart in mean colour
    keys = list(means)
    d = [np.linalg.norm(means[a] - means[b]) for i, a in enumerate(keys) for b in keys[i + 1:]]
    assert min(d) > 12


def test_metal_differs_from_rubber_in_highlights_and_variance(nrobjects) -> None:
    ds = nrobjects
    metal = ds.labels[:, 1] == 1

    def lum(frac: float) -> np.ndarray:
        return _centre(ds.X[:, :3], frac).astype(float).mean(axis=1).reshape(N, -1)

    # variance over the object and its surroundings: metal's dark mirror body vs lit rubber
    spread = lum(0.5).std(axis=1)
    # specular highlight on the object (it spans about a third of the frame): brightest minus median
    on_object = lum(0.35)
    highlight = on_object.max(axis=1) - np.median(on_object, axis=1)
    for stat, ratio, min_wins in ((spread, 1.3, 15), (highlight, 1.5, 13)):
        assert stat[metal].mean() > ratio * stat[~metal].mean()
        wins = 0  # matched pairs: same colour and shape, metal vs rubber
        for c in range(6):
            for s in range(3):
                sel = (ds.labels[:, 0] == c) & (ds.labels[:, 2] == s)
                wins += int(stat[sel & metal].mean() > stat[sel & ~metal].mean())
        assert wins >= min_wins  # of 18


def _controlled_shard(tmp: Path, res: int = 48) -> np.ndarray:
    """Render red and blue rubber cube/sphere/cylinder with no jitter through the worker CLI."""
    images = []
    for shape in S.SHAPES:
        for col in ("red", "blue"):
            images.append(S.ImageParams(
                index=len(images), image_seed=7, shape=shape,
                color=tuple(v / 255 for v in S.CLEVR_COLORS[col]), material="rubber", rotation_deg=30.0,
                camera_location=S.CAMERA_LOCATION, camera_jitter=(0.0, 0.0, 0.0),
                light_locations=tuple(lt.location for lt in S.LIGHTS),
                light_jitter=((0.0, 0.0, 0.0),) * 3, key_power_factor=1.0).to_json())
    spec = {"dataset": "nrobjects", "resolution": res, "samples": 4, "threads": 2, "shard": 0,
            "images": images, "digest": "controlled", "out": str(tmp / "shard.npz")}
    (tmp / "shard.json").write_text(json.dumps(spec))
    subprocess.run([sys.executable, "-m", "generators.render.worker", str(tmp / "shard.json")],
                   check=True, capture_output=True)
    with np.load(tmp / "shard.npz") as z:
        assert bytes(z["digest"]).decode() == "controlled"
        return z["X"]


def test_silhouettes_differ_by_shape_not_by_colour(tmp_path) -> None:
    X = _controlled_shard(tmp_path)[:, :3].astype(float) / 255
    mx, mn = X.max(axis=1), X.min(axis=1)
    masks = (mx - mn) / np.maximum(mx, 1e-6) > 0.35  # saturated object vs gray ground and shadow
    areas = masks.sum(axis=(1, 2))
    assert np.all(areas > 100)

    def iou(a, b):
        return (a & b).sum() / (a | b).sum()

    for k in range(3):  # same shape, other colour: same silhouette
        assert iou(masks[2 * k], masks[2 * k + 1]) > 0.9
    for i in range(3):  # other shape: clearly different silhouette
        for j in range(i + 1, 3):
            assert iou(masks[2 * i], masks[2 * j]) < 0.8
    # the cylinder (1.4 tall, 1.4 wide) is the largest; the cube (0.99 wide) is no larger than the sphere
    cube, sphere, cyl = areas[0], areas[2], areas[4]
    assert cyl > 1.3 * max(cube, sphere)


def test_resume_after_worker_crash_renders_only_the_rest_and_matches(nrobjects, tmp_path, monkeypatch) -> None:
    from generators.render.executors import RenderWorkerError
    from generators.render.worker import CRASH_ENV

    monkeypatch.setenv(CRASH_ENV, "1")  # the worker process dies when it reaches shard 1
    with pytest.raises(RenderWorkerError, match=r"shard 1 \(images 12-23\).*exited with code 3.*"
                                                r"1 of 3 shards are done.*to resume: RESUME-HINT"):
        _render_in(tmp_path, "nrobjects", n=N, resolution=RES, samples=SAMPLES, seed=0, shard_size=SHARD,
                   resume_hint="RESUME-HINT")
    assert sorted(p.name for p in tmp_path.glob("render/*/shard-*.npz")) == ["shard-00000.npz"]
    assert not list(tmp_path.glob("datasets/*.npz"))  # nothing final until complete
    monkeypatch.delenv(CRASH_ENV)
    ds = _render_in(tmp_path, "nrobjects", n=N, resolution=RES, samples=SAMPLES, seed=0, shard_size=SHARD)
    stats = ds.params["render_stats"]
    assert stats["resumed_from"] == SHARD and stats["rendered_now"] == N - SHARD
    # deterministic: a second, interrupted render in other processes gives the same data
    _assert_same_render(ds, nrobjects)


def _assert_same_render(a, b) -> None:
    """Pixels, labels and metadata bit-identical (the same hash twice)."""
    from generators.dataset import array_sha256

    assert array_sha256(a.X) == array_sha256(b.X), \
        f"{int((a.X != b.X).sum())} of {a.X.size} pixel values differ"
    assert array_sha256(a.labels, *[a.extras[k] for k in sorted(a.extras)]) == \
        array_sha256(b.labels, *[b.extras[k] for k in sorted(b.extras)])


_MESH_HASH = """
import hashlib, sys
import numpy as np
from generators.render import spec as S
from generators.render.scene import Renderer, bpy
r = Renderer(S.NROBJECTS, 8, 1, 1)
h = hashlib.sha256()
for name in S.SHAPES:
    me = r.shapes[name].data
    for coll, attr in ((me.vertices, "co"), (me.corner_normals, "vector")):
        a = np.empty(3 * len(coll), np.float32)
        coll.foreach_get(attr, a)
        h.update(a.tobytes())
    t = np.empty(3 * len(me.loop_triangles), np.int32)
    me.loop_triangles.foreach_get("vertices", t)
    h.update(t.tobytes())
r.close()
sys.stdout.flush()
print("MESH", h.hexdigest(), flush=True)
"""


def test_meshes_are_identical_in_every_process() -> None:
    """The cause of the old +-1 pixels: Blender's UV-sphere operator gave another face order per process.

    The explicit meshes must give the same positions, triangles and shading normals
    (what Cycles renders) in two fresh processes.
    """
    outs = [subprocess.run([sys.executable, "-c", _MESH_HASH], check=True, capture_output=True, text=True).stdout
            for _ in range(2)]
    hashes = [next(ln for ln in o.splitlines() if ln.startswith("MESH")) for o in outs]
    assert hashes[0] == hashes[1]


def test_another_seed_gives_other_images_and_labels(nrobjects, tmp_path) -> None:
    ds = _render_in(tmp_path, "nrobjects", n=N, resolution=RES, samples=SAMPLES, seed=1, shard_size=N)
    assert not np.array_equal(ds.labels, nrobjects.labels)
    assert not np.array_equal(ds.X, nrobjects.X)


# --------------------------------------------------------------------- OBJECTS


def test_objects_shapes_balance_and_contrast(objects) -> None:
    ds = objects
    assert ds.X.shape == (N, 1, RES, RES) and ds.X.dtype == np.uint8
    assert ds.clusterings == ("shape",) and np.bincount(ds.labels[:, 0]).tolist() == [12, 12, 12]
    img = ds.X[:, 0].astype(float)
    centre = _centre(img, 0.25).mean(axis=(1, 2))
    border = np.concatenate([img[:, :3].reshape(N, -1), img[:, -3:].reshape(N, -1)], axis=1).mean(axis=1)
    assert np.all(centre - border > 25)  # the object stands out from the floor in every image


def test_objects_lighting_varies_more_than_nrobjects(objects, nrobjects) -> None:
    spread_obj = objects.extras["light_jitter"][:, 0].std(axis=0).mean()
    spread_nro = nrobjects.extras["light_jitter"][:, 0].std(axis=0).mean()
    assert spread_obj > 3 * spread_nro
    # and it shows: per-shape image variance across images is substantial
    img = objects.X[:, 0].astype(float)
    for s in range(3):
        sel = img[objects.labels[:, 0] == s]
        assert sel.std(axis=0).mean() > 5


_FRAMING = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import render_stats
from generators.render.spec import FRAMING_ZOOM
n, res, samples, threads, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
from generators.render import scene
from generators.render.spec import NROBJECTS
refused = []
for kw in ({"ground_gray": 1.5}, {"world_strength": -1.0}, {"light_scale": 0.0}):
    try:
        scene.Renderer(NROBJECTS, 8, 1, 1, **kw)
    except ValueError as e:
        refused.append(str(e))
np.savez(out, data=render_stats.render_framing(FRAMING_ZOOM, n, res, samples, 0, threads),
         clevr=render_stats.render_framing(1.0, n, res, samples, 0, threads),
         default_light=render_stats.render_framing(FRAMING_ZOOM, n, res, samples, 0, threads, lighting=(0.5, 0.35, 1.0)),
         dark_ground=render_stats.render_framing(FRAMING_ZOOM, n, res, samples, 0, threads, lighting=(0.1, 0.35, 1.0)),
         brighter=render_stats.render_framing(FRAMING_ZOOM, n, res, samples, 0, threads, lighting=(0.5, 0.35, 2.0)),
         refused=np.array(refused))
"""


def test_render_stats_framings(nrobjects, tmp_path) -> None:
    """The script's data-set framing reproduces the data set's pixels; CLEVR's framing shows a smaller object.

    The lighting keywords: the data set's values reproduce its pixels, a darker ground
    darkens the ground (the image corners), brighter area lights brighten the object,
    and out-of-range values are refused with the parameter's name.

    The object's footprint is counted as saturated pixels (max - min over RGB > 40)
    in the images of the five non-gray colours: the ground is near neutral.
    """
    out = tmp_path / "framings.npz"
    scripts = Path(__file__).resolve().parents[1] / "benchmark" / "scripts"
    subprocess.run([sys.executable, "-c", _FRAMING, str(scripts), str(N), str(RES), str(SAMPLES),
                    str(S.THREADS_PER_PROCESS), str(out)], check=True, capture_output=True, text=True)
    f = np.load(out)
    np.testing.assert_array_equal(f["data"], nrobjects.X)
    coloured = nrobjects.labels[:, 0] != S.NROBJECTS.factors[0].index("gray")

    def footprint(X: np.ndarray) -> float:
        rgb = X[coloured, :3].astype(int)
        return float(((rgb.max(axis=1) - rgb.min(axis=1)) > 40).sum(axis=(1, 2)).mean())

    assert footprint(f["data"]) > 3 * footprint(f["clevr"]) > 0
    np.testing.assert_array_equal(f["default_light"], nrobjects.X)
    corners = (slice(None), slice(0, 3), slice(0, 4), slice(0, 4))  # ground only, RGB
    assert f["dark_ground"][corners].mean() < 0.6 * nrobjects.X[corners].mean()
    centre = _centre(nrobjects.X[:, :3]).astype(float)
    assert _centre(f["brighter"][:, :3]).astype(float).mean() > centre.mean() + 10
    refused = [str(r) for r in f["refused"]]
    assert len(refused) == 3
    for name, msg in zip(("ground_gray", "world_strength", "light_scale"), refused):
        assert msg.startswith(name), msg


# ------------------------------------------------------ the worker's surroundings

_FOREIGN_SITE = """
import sys
bpy_site, link, repo, shard = sys.argv[1:5]
sys.path[:] = [p for p in sys.path if p.rstrip('/') != bpy_site] + [link, repo]
from generators.render import worker
sys.exit(worker.main([shard]))
"""


def test_worker_renders_from_an_environment_under_a_folder_named_like_blender_scripts(tmp_path) -> None:
    """bpy's site-packages reached through ``.../blender-scripts/site-packages``: the worker dropped every
    sys.path entry containing "blender" and "scripts" (meant for bpy's own script folders), so it could not
    import bpy at all (``No module named 'bpy'``)."""
    import importlib.util

    bpy_site = Path(importlib.util.find_spec("bpy").origin).resolve().parents[1]
    link = tmp_path / "blender-scripts" / "site-packages"
    link.parent.mkdir()
    link.symlink_to(bpy_site, target_is_directory=True)
    _, images = S.plan_images(S.NROBJECTS, 1, seed=0)
    spec = {"dataset": "nrobjects", "resolution": 8, "samples": 1, "threads": 1, "shard": 0,
            "images": [images[0].to_json()], "digest": "d", "out": str(tmp_path / "shard.npz")}
    (tmp_path / "shard.json").write_text(json.dumps(spec))
    repo = Path(__file__).resolve().parents[1]
    run = subprocess.run([sys.executable, "-c", _FOREIGN_SITE, str(bpy_site), str(link), str(repo),
                          str(tmp_path / "shard.json")], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-600:]
    with np.load(tmp_path / "shard.npz") as z:
        assert z["X"].shape == (1, 4, 8, 8) and z["X"][:, :3].std() > 0


def test_an_interrupted_local_render_leaves_no_temporary_folder(tmp_path, monkeypatch) -> None:
    """Ctrl-C: the parent kills its render workers (SIGKILL), which cannot remove their frame folder in
    /dev/shm, so every interrupted render left one behind; the parent now removes the folder of each
    worker it killed."""
    import os
    import signal

    from generators.render import executors
    from generators.render.shards import RenderJob
    from generators.render.worker_env import TMP_PREFIX, tmp_base

    started = []

    class Recorded(subprocess.Popen):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            started.append(self)

    monkeypatch.setattr(executors.subprocess, "Popen", Recorded)
    fired: list[int] = []
    folders: list[Path] = []

    def interrupt_after_first_image(k: int) -> None:
        if not fired:
            fired.append(k)
            folders.extend(tmp_base().glob(f"{TMP_PREFIX}{started[0].pid}-*"))
            os.kill(os.getpid(), signal.SIGINT)

    job = RenderJob("objects", 60, 8, 1, 0, shard_size=60, root=tmp_path)  # still rendering when killed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
    try:
        with pytest.raises(KeyboardInterrupt):
            executors.run_local(job, job.shards, on_images=interrupt_after_first_image)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(started) == 1 and started[0].wait(10) == -signal.SIGKILL  # killed mid-shard
    assert fired == [1] and len(folders) == 1  # the worker's frame folder, while it rendered
    assert not folders[0].exists()
