"""Render planning without Blender: label balance, per-image jitter, shards, bad input (fast)."""

from __future__ import annotations

import numpy as np
import pytest

from generators.render import spec as S
from generators.render.shards import RenderJob


def test_nrobjects_labels_balanced_and_shuffled() -> None:
    labels = S.plan_labels(S.NROBJECTS, 72, seed=0)
    assert labels.shape == (72, 3) and labels.dtype == np.int64
    combos, counts = np.unique(labels, axis=0, return_counts=True)
    assert len(combos) == 36 and set(counts) == {2}
    assert [len(np.unique(labels[:, j])) for j in range(3)] == [6, 2, 3]
    # shuffled: not the sorted enumeration
    assert not np.array_equal(labels[:36], labels[36:])
    assert np.array_equal(labels, S.plan_labels(S.NROBJECTS, 72, seed=0))
    assert not np.array_equal(labels, S.plan_labels(S.NROBJECTS, 72, seed=1))


def test_default_n_is_nearly_balanced_and_says_so() -> None:
    labels = S.plan_labels(S.NROBJECTS, 10000, seed=0)
    _, counts = np.unique(labels, axis=0, return_counts=True)
    assert counts.max() - counts.min() == 1 and counts.sum() == 10000
    assert sorted(np.unique(counts, return_counts=True)[1]) == [8, 28]  # 10000 = 36*277 + 28
    note = S.balance_note(S.NROBJECTS, 10000)
    assert note is not None and "28 combinations appear 278 times" in note
    assert S.balance_note(S.NROBJECTS, 36) is None
    assert S.balance_note(S.NROBJECTS, 37).endswith(": 1 combination appears 2 times and 35 appear once")
    small = S.balance_note(S.NROBJECTS, 20)  # fewer images than combinations: say what that means
    assert small == ("n=20 is below the 36 label combinations of nrobjects: 20 combinations appear once and 16 "
                     "never, so a value of a factor may be missing from the data set")
    obj = S.plan_labels(S.OBJECTS, 9, seed=3)
    assert obj.shape == (9, 1) and np.bincount(obj[:, 0]).tolist() == [3, 3, 3]


def test_image_params_follow_clevr_and_the_labels() -> None:
    labels, images = S.plan_images(S.NROBJECTS, 36, seed=5)
    for row, p in zip(labels, images):
        cname = S.NR_COLORS[row[0]]
        assert p.color == pytest.approx(tuple(c / 255 for c in S.CLEVR_COLORS[cname]))
        assert p.material == ("rubber", "metal")[row[1]]
        assert p.shape == S.SHAPES[row[2]]
        assert 0.0 <= p.rotation_deg < 360.0
        assert np.all(np.abs(p.camera_jitter) <= S.CAMERA_JITTER)
        assert np.allclose(np.subtract(p.camera_location, S.CAMERA_LOCATION), p.camera_jitter)
        assert np.all(np.abs(p.light_jitter) <= S.LIGHT_JITTER)
        assert p.key_power_factor == 1.0
    # metadata arrays
    ex = S.extras_from_plan(images)
    assert ex["camera_jitter"].shape == (36, 3) and ex["light_jitter"].shape == (36, 3, 3)
    assert len(np.unique(ex["image_seed"])) == 36


def test_objects_key_light_moves_far_more_than_clevr_jitter() -> None:
    _, images = S.plan_images(S.OBJECTS, 300, seed=0)
    key = np.array([p.light_locations[0] for p in images])
    dist = np.linalg.norm(S.LIGHTS[0].location)
    assert np.allclose(np.linalg.norm(key, axis=1), dist)  # on a sphere around the object
    az = np.degrees(np.arctan2(key[:, 1], key[:, 0]))
    assert az.max() - az.min() > 300  # all around, not CLEVR's +-1 unit
    assert np.all(key[:, 2] > 0)  # always above the ground
    assert all(p.color == (S.OBJECTS.object_gray,) * 3 and p.material == "rubber" for p in images)
    fill = np.array([p.light_jitter[1] for p in images])
    assert np.all(np.abs(fill) <= S.LIGHT_JITTER)


def test_image_draws_do_not_depend_on_n_or_sharding() -> None:
    _, a = S.plan_images(S.OBJECTS, 30, seed=2)
    b = [S.draw_image(S.OBJECTS, 2, i, np.array([0])) for i in range(30)]
    assert [p.image_seed for p in a] == [p.image_seed for p in b]
    assert [p.camera_jitter for p in a] == [p.camera_jitter for p in b]


def test_shards_cover_the_images_and_digest_tracks_settings(tmp_path) -> None:
    job = RenderJob("objects", 25, 16, 2, 0, shard_size=10, root=tmp_path)
    assert [(s.start, s.stop) for s in job.shards] == [(0, 10), (10, 20), (20, 25)]
    assert len(job.pending()) == 3
    other = RenderJob("objects", 25, 16, 4, 0, shard_size=10, root=tmp_path)
    assert job.shard_spec(job.shards[0])["digest"] != other.shard_spec(other.shards[0])["digest"]
    assert job.workdir != other.workdir
    with pytest.raises(RuntimeError, match=r"shards \[0, 1, 2\]"):
        job.assemble()


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"resolution": 7}, "resolution"),
        ({"samples": 0}, "samples"),
        ({"n": 0}, "n"),
        ({"seed": -1}, "seed"),
        ({"n": 2.5}, "n"),
        ({"shard_size": 0}, "shard_size"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs, param, tmp_path) -> None:
    args = {"n": 36, "resolution": 32, "samples": 4, "seed": 0, **kwargs}
    shard_size = args.pop("shard_size", 10)
    with pytest.raises(ValueError, match=rf"^{param} "):
        RenderJob("nrobjects", args["n"], args["resolution"], args["samples"], args["seed"],
                  shard_size=shard_size, root=tmp_path)


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match="name must be one of"):
        S.dataset_spec("clevr")


def test_render_package_does_not_import_bpy() -> None:
    import subprocess
    import sys

    code = ("import sys, generators.render, generators.render.executors, benchmark.commands.render;"
            "import generators.render.worker; print('bpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_render_dataset_warns_about_imbalance_and_needs_bpy(monkeypatch) -> None:
    import generators.render.datasets as rd

    monkeypatch.setattr(rd, "bpy_available", lambda: False)
    with (pytest.warns(UserWarning, match="n=37 is not a multiple of the 36 label combinations"),
          pytest.raises(rd.BpyMissingError, match=r"pip install 'nrbench\[render\]'") as err):
        rd.render_dataset("nrobjects", n=37, resolution=16, samples=1, seed=0, progress=False)
    # a ModuleNotFoundError naming bpy: the harness skips the data set as it does any missing optional package
    assert isinstance(err.value, ModuleNotFoundError) and err.value.name == "bpy"


def test_without_bpy_a_render_leaves_no_work_folder_behind(monkeypatch, tmp_path) -> None:
    """Every data set that needed bpy (``nrbench run`` of a suite with OBJECTS, say) made an empty shard
    folder under $NRBENCH_HOME/render before saying bpy is missing."""
    import generators.render.datasets as rd

    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    monkeypatch.setattr(rd, "bpy_available", lambda: False)
    with pytest.raises(rd.BpyMissingError):
        rd.render_dataset("objects", n=6, resolution=16, samples=1, seed=0, progress=False)
    assert not (tmp_path / "render").exists()


@pytest.mark.parametrize("name", ["nrobjects", "objects"])
def test_the_papers_size_is_not_warned_about(monkeypatch, tmp_path, name) -> None:
    # 10,000 is not a multiple of 36 (or 3), but it is the published size and the default:
    # its one-image imbalance is recorded in the data set, not warned about on every use.
    import warnings

    import generators.render.datasets as rd

    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    monkeypatch.setattr(rd, "bpy_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(rd.BpyMissingError):
            rd.render_dataset(name, n=10000, resolution=16, samples=1, seed=0, progress=False)
    assert S.balance_note(S.dataset_spec(name), 10000) is not None


def test_builder_signatures_keep_execution_options_out_of_the_cache_key() -> None:
    import generators

    for name in ("nrobjects", "objects"):
        assert generators.resolve_params(name) == {"n": 10000, "resolution": 64, "samples": 16, "seed": 0}


@pytest.mark.parametrize("shape", S.SHAPES)
def test_meshes_are_closed_outward_and_two_units_across(shape: str) -> None:
    from collections import Counter

    from generators.render import meshes

    built = getattr(meshes, {"sphere": "uv_sphere"}.get(shape, shape))()
    verts, faces = built[0], built[1]
    assert np.allclose(verts.min(axis=0), -1) and np.allclose(verts.max(axis=0), 1)
    # closed 2-manifold, consistently wound: every directed edge once, its reverse once
    directed = Counter((f[k], f[(k + 1) % len(f)]) for f in faces for k in range(len(f)))
    assert max(directed.values()) == 1 and all((b, a) in directed for a, b in directed)
    # every face's normal points away from the centre
    for f in faces:
        p = verts[list(f)]
        assert np.dot(np.cross(p[1] - p[0], p[2] - p[0]), p.mean(axis=0)) > 0
    expected = {"cube": 8.0, "sphere": 4 / 3 * np.pi, "cylinder": 2 * np.pi}[shape]
    # the polyhedra are inscribed: slightly less than the smooth solid
    assert 0.97 * expected < meshes.signed_volume(verts, faces) <= expected + 1e-9


def test_mesh_resolution_and_bad_input() -> None:
    from generators.render import meshes

    verts, faces = meshes.uv_sphere()
    assert len(verts) == S.SPHERE_SEGMENTS * (S.SPHERE_RINGS - 1) + 2 and len(faces) == S.SPHERE_SEGMENTS * S.SPHERE_RINGS
    assert np.allclose(np.linalg.norm(verts, axis=1), 1.0)
    verts, faces, caps = meshes.cylinder()
    assert len(verts) == 2 * S.CYLINDER_VERTICES and [len(faces[c]) for c in caps] == [S.CYLINDER_VERTICES] * 2
    with pytest.raises(ValueError, match="segments"):
        meshes.uv_sphere(segments=2)
    with pytest.raises(ValueError, match="vertices"):
        meshes.cylinder(vertices=2)


def test_contact_sheet_of_a_small_objects_set_has_no_missing_tiles(tmp_path, monkeypatch) -> None:
    """`nrbench render objects --n 6`: shapes with 3, 2 and 1 images give 3 columns, blank tiles beyond a
    shape's images (they were titled 'cube #None (missing)' under a '6 examples per shape' title)."""
    import matplotlib.pyplot as plt

    from generators.dataset import Dataset
    from generators.render.contact_sheet import write_contact_sheet

    shown = []
    monkeypatch.setattr(plt, "close", lambda fig: shown.append(fig))
    X = np.arange(6 * 16 * 16, dtype=np.uint8).reshape(6, 1, 16, 16)
    ds = Dataset(name="objects", X=X, labels=np.array([[0], [0], [0], [1], [1], [2]]), clusterings=("shape",))
    path = write_contact_sheet(ds, tmp_path / "sheet.png")
    assert path.is_file()
    fig = shown[0]
    assert fig._suptitle.get_text() == "objects: up to 3 examples per shape (16x16, n=6)"
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 9 and sum(1 for ax in fig.axes if ax.images) == 6
    assert not [t for t in titles if "None" in t or "missing" in t]
    assert titles[:3] == [f"{S.dataset_spec('objects').factors[0][0]} #{i}" for i in range(3)]


def test_two_writers_of_one_contact_sheet_both_succeed(tmp_path, monkeypatch) -> None:
    """Two renders of one data set each write its sheet (`nrbench render` beside `generate`, or two
    renders one after the other); a fixed temporary name let one writer rename the other's file away,
    which then failed with FileNotFoundError.  Here the second write happens inside the first's."""
    from matplotlib.figure import Figure
    from PIL import Image

    from generators.dataset import Dataset
    from generators.render.contact_sheet import write_contact_sheet

    ds = Dataset(name="objects", X=np.arange(3 * 16 * 16, dtype=np.uint8).reshape(3, 1, 16, 16),
                 labels=np.arange(3), clusterings=("shape",))
    path = tmp_path / "sheet.png"
    savefig, writers = Figure.savefig, []

    def save_then_let_another_writer_finish(fig, *a, **kw):
        savefig(fig, *a, **kw)
        if not writers:  # the outer writer only
            writers.append("inner")
            assert write_contact_sheet(ds, path) == path

    monkeypatch.setattr(Figure, "savefig", save_then_let_another_writer_finish)
    assert write_contact_sheet(ds, path) == path
    assert writers == ["inner"]
    with Image.open(path) as im:
        assert im.format == "PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheet.png"]  # no temporary file left
