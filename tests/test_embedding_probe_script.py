"""benchmark/scripts/embedding_probe.py: the re-lit NR-Objects copy (``--lighting``) and the CLI's refusals.

The re-render itself needs bpy (tests/test_render.py renders under other lighting);
here a stored re-lit copy is read back, and a data set that does not follow the
renderer's label plan is refused.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.scripts import embedding_probe
from generators.dataset import Dataset
from generators.render.spec import NROBJECTS, plan_labels

N = 36


def _nrobjects(labels: np.ndarray) -> Dataset:
    X = np.zeros((len(labels), 4, 8, 8), np.uint8)
    return Dataset("nrobjects", X, labels, NROBJECTS.clusterings,
                   params={"n": len(labels), "resolution": 8, "samples": 4, "seed": 0})


def test_relit_reads_the_stored_copy(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    ds = _nrobjects(plan_labels(NROBJECTS, N, 0))
    stored = np.random.default_rng(0).integers(0, 256, size=ds.X.shape, dtype=np.uint8)
    folder = tmp_path / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"nrobjects-lighting-0.4-0-1.3-n{N}-r8-s4-seed0.npy", stored)
    out = embedding_probe.relit(ds, (0.4, 0.0, 1.3))
    np.testing.assert_array_equal(out.X, stored)
    np.testing.assert_array_equal(out.labels, ds.labels)
    assert out.params["lighting"] == [0.4, 0.0, 1.3]
    assert ds.X.max() == 0  # the original is untouched


def test_relit_refuses_a_data_set_off_the_label_plan(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    labels = plan_labels(NROBJECTS, N, 0)
    labels[0, 0] = (labels[0, 0] + 1) % 6
    with pytest.raises(ValueError, match="label plan"):
        embedding_probe.relit(_nrobjects(labels), (0.4, 0.0, 1.3))


@pytest.mark.parametrize("argv", [["cmnist", "--lighting", "0.5,0.35,1"], ["nrobjects", "--lighting", "0.5,0.35"],
                                  ["nrobjects", "--lighting", "2,0.35,1"], ["cmnist", "--resolution", "128"],
                                  ["nrobjects", "--resolution", "4"]])
def test_cli_refuses_bad_lighting_and_resolution(argv) -> None:
    with pytest.raises(SystemExit) as e:
        embedding_probe.main(argv)
    assert e.value.code == 2
