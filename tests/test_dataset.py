"""generators.dataset: round trip, checksum, atomic save, corruption detection."""

from __future__ import annotations

import io
import re
import struct
import zipfile

import numpy as np
import pytest

from generators.dataset import CorruptDatasetError, Dataset, array_sha256, read_meta


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


@pytest.mark.parametrize("damage", ["zlib", "header", "metadata", "not-an-object", "stored-array"])
def test_every_way_a_file_is_unreadable_is_reported_as_corrupt(tmp_path, rng, damage):
    """Whatever the readers raise for a damaged file (zlib.error, the header parser's SyntaxError or
    TokenError, a JSON error, TypeError, ...) comes out as CorruptDatasetError naming the file."""
    ds = _toy(rng)
    p = ds.save(tmp_path / "toy.npz")
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    if damage == "zlib":  # the deflate stream of every member is altered, the zip directory is kept
        data = bytearray(p.read_bytes())
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
        for info in infos:
            name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
            start = info.header_offset + 30 + name_len + extra_len
            data[start:start + 2] = b"\xff\xff"  # an invalid block type right at the start
        p.write_bytes(bytes(data))
    elif damage == "header":  # a valid zip whose X.npy header is not a Python literal
        with zipfile.ZipFile(p, "w") as zf:
            for k, v in arrays.items():
                buf = io.BytesIO()
                np.save(buf, v)
                raw = buf.getvalue()
                zf.writestr(f"{k}.npy", raw.replace(b"'descr'", b"('descr'") if k == "X" else raw)
    else:
        if damage == "metadata":
            arrays["__meta__"] = np.frombuffer(b'{"name": "toy", "clusterings": [', dtype=np.uint8)
        elif damage == "not-an-object":
            arrays["__meta__"] = np.frombuffer(b"[1, 2]", dtype=np.uint8)
        else:  # an object array, which allow_pickle=False refuses
            arrays["X"] = np.array([None] * len(arrays["X"]), dtype=object)
        np.savez_compressed(p, **arrays)
    with pytest.raises(CorruptDatasetError, match=f"^{re.escape(str(p))}: not a readable nrbench data set"):
        Dataset.load(p)
    if damage in ("zlib", "metadata", "not-an-object"):  # read_meta reads the metadata only
        with pytest.raises(CorruptDatasetError, match=f"^{re.escape(str(p))}: not a readable nrbench data set"):
            read_meta(p)


def test_memory_error_means_damage_only_when_the_archive_fails_its_crc(tmp_path, rng, monkeypatch):
    """A damaged header can announce an absurd size (MemoryError): that file is corrupt.  An intact
    archive that does not fit in memory is not rebuilt: its MemoryError is raised as it is."""
    from numpy.lib.npyio import NpzFile

    p = _toy(rng).save(tmp_path / "toy.npz")

    def no_memory(self, key):
        raise MemoryError("Unable to allocate 3.2 TiB")

    monkeypatch.setattr(NpzFile, "__getitem__", no_memory)
    with pytest.raises(MemoryError, match="3.2 TiB"):
        Dataset.load(p)
    data = bytearray(p.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside a member's compressed bytes: its CRC-32 no longer matches
    p.write_bytes(bytes(data))
    with pytest.raises(CorruptDatasetError, match=r"toy.npz: not a readable nrbench data set \(MemoryError: "):
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
