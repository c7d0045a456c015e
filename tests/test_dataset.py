"""generators.dataset: round trip, checksum, atomic save, corruption detection."""

from __future__ import annotations

import numpy as np
import pytest

from generators.dataset import CorruptDatasetError, Dataset, array_sha256


def _toy(rng, n=50):
    X = rng.integers(0, 255, (n, 1, 4, 4)).astype(np.uint8)
    labels = np.stack([np.arange(n) % 2, np.arange(n) % 3], 1)
    return Dataset("toy", X, labels, ("a", "b"), params={"seed": 1, "n": n}, extras={"rot": rng.random(n)})


def test_round_trip(tmp_path, rng):
    ds = _toy(rng)
    p = ds.save(tmp_path / "toy.npz")
    back = Dataset.load(p)
    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.labels, ds.labels)
    np.testing.assert_array_equal(back.extras["rot"], ds.extras["rot"])
    assert back.clusterings == ("a", "b")
    assert back.params == {"seed": 1, "n": 50}
    assert back.checksum == ds.checksum
    assert back.n_clusters == [2, 3]
    assert not list(tmp_path.glob("*.tmp"))


def test_checksum_sensitive_to_dtype_and_shape():
    a = np.arange(6, dtype=np.uint8)
    assert array_sha256(a) != array_sha256(a.reshape(2, 3))
    assert array_sha256(a) != array_sha256(a.astype(np.float32))
    assert array_sha256(a) == array_sha256(a.copy())


def test_truncated_file_is_rejected(tmp_path, rng):
    p = _toy(rng).save(tmp_path / "toy.npz")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDatasetError, match="toy.npz"):
        Dataset.load(p)


def test_altered_array_is_rejected(tmp_path, rng):
    ds = _toy(rng)
    p = ds.save(tmp_path / "toy.npz")
    with np.load(p) as z:
        arrays = dict(z)
    arrays["X"] = arrays["X"].copy()
    arrays["X"][0, 0, 0, 0] ^= 1
    np.savez_compressed(p, **arrays)
    with pytest.raises(CorruptDatasetError, match="SHA-256 mismatch"):
        Dataset.load(p)


def test_bad_construction(rng):
    with pytest.raises(ValueError, match="labels"):
        Dataset("x", np.zeros((3, 2), np.float32), np.zeros((4, 1)), ("a",))
    with pytest.raises(ValueError, match="clusterings"):
        Dataset("x", np.zeros((3, 2), np.float32), np.zeros((3, 2)), ("a",))
    with pytest.raises(ValueError, match="uint8 or float32"):
        Dataset("x", np.zeros((3, 2), np.float64), np.zeros((3, 1)), ("a",))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_get_the_mode_open_would_give_them(tmp_path, rng, umask):
    """Cache files follow the umask like any new file (mkstemp alone gives 0o600, which hides a
    shared $NRBENCH_HOME from the rest of a group)."""
    import os
    import stat

    from benchmark.fileio import default_file_mode

    old = os.umask(umask)
    try:
        assert default_file_mode() == 0o666 & ~umask
        ds = Dataset(name="toy", X=rng.normal(size=(4, 3)).astype(np.float32), labels=np.zeros((4, 1), int),
                     clusterings=("c",))
        path = ds.save(tmp_path / "toy.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
