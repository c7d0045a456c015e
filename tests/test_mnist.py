"""MNIST / Fashion-MNIST loaders, the IDX reader and the verified download path.

Fake IDX files (generators.fakes) stand in for the real ones; the real files are
checked in the `slow` tests when NRBENCH_DATA has them.  No test touches the
network: downloads use file:// URLs or a monkeypatched fetch.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from generators import download
from generators.dataset import DataFileError
from generators.download import ChecksumError, DataUnavailableError, ensure_file
from generators.fakes import fake_idx_sources, write_idx
from generators.idx import parse_idx, read_idx
from generators.mnist import load_fmnist, load_mnist
from generators.sources import FMNIST, MNIST, SourceFile


@pytest.fixture
def fake_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir with fake MNIST (60 train, 20 test) whose checksums replace the published ones."""
    for key, src in fake_idx_sources(tmp_path, "mnist", n_train=60, n_test=20).items():
        monkeypatch.setitem(MNIST, key, src)
    return tmp_path


# ----------------------------------------------------------------------------- IDX
def test_parse_idx_exact_bytes() -> None:
    data = bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    arr = parse_idx(data)
    assert arr.dtype == np.uint8 and arr.shape == (2, 3)
    assert arr.tolist() == [[0, 1, 2], [3, 4, 5]]
    arr.flags.writeable or pytest.fail("parsed array must be writable")


def test_parse_idx_big_endian_int32() -> None:
    data = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + (258).to_bytes(4, "big") + (-1).to_bytes(4, "big", signed=True)
    assert parse_idx(data).tolist() == [258, -1]


@pytest.mark.parametrize("data, msg", [
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "not an IDX file"),  # unknown type code
    (b"\x01\x00\x08\x01", "not an IDX file"),
    (b"\x00\x00\x08\x02\x00\x00", "truncated IDX header"),
    (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "needs 13"),  # payload too short
])
def test_parse_idx_rejects_bad_bytes(data: bytes, msg: str) -> None:
    with pytest.raises(DataFileError, match=msg):  # a data error (nrbench exits 1), and a ValueError
        parse_idx(data, "x.idx")


def test_read_idx_gzip_and_plain_roundtrip(tmp_path: Path) -> None:
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", a)
    (tmp_path / "a.idx").write_bytes(gzip.decompress((tmp_path / "a.gz").read_bytes()))
    assert np.array_equal(read_idx(tmp_path / "a.gz"), a)
    assert np.array_equal(read_idx(tmp_path / "a.idx"), a)


# ------------------------------------------------------------------------ loaders
@pytest.mark.parametrize("split, n", [("full", 80), ("train", 60), ("test", 20)])
def test_load_mnist_splits(fake_mnist: Path, split: str, n: int) -> None:
    ds = load_mnist(split=split, data_dir=fake_mnist, progress=False)
    assert ds.X.shape == (n, 1, 28, 28) and ds.X.dtype == np.uint8
    assert ds.clusterings == ("digit",)
    # pixel (0, 2) of each fake image carries its label: X and labels stay aligned
    assert np.array_equal(ds.X[:, 0, 0, 2], ds.labels[:, 0])
    if split == "full":  # train first, then test
        train = read_idx(fake_mnist / "mnist" / MNIST["train-images"].filename)
        assert np.array_equal(ds.X[:60, 0], train)
    assert set(ds.params["sources"].values()) <= {s.sha256 for s in MNIST.values()}


def test_load_fmnist_uses_its_own_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, src in fake_idx_sources(tmp_path, "fmnist", n_train=30, n_test=10, seed=5).items():
        monkeypatch.setitem(FMNIST, key, src)
    ds = load_fmnist(split="test", data_dir=tmp_path, progress=False)
    assert ds.n == 10 and ds.clusterings == ("class",) and ds.name == "fmnist-test"
    assert (tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").exists()
    assert ds.params["label_names"]["class"][0] == "T-shirt/top" and ds.params["label_names"]["class"][9] == "Ankle boot"
    assert len(ds.params["label_names"]["class"]) == 10


def test_loader_is_deterministic(fake_mnist: Path) -> None:
    a = load_mnist(split="full", data_dir=fake_mnist, progress=False)
    b = load_mnist(split="full", data_dir=fake_mnist, progress=False)
    assert a.checksum == b.checksum


def test_unknown_split_names_parameter(fake_mnist: Path) -> None:
    with pytest.raises(ValueError, match="split"):
        load_mnist(split="validation", data_dir=fake_mnist)


def test_data_dir_from_environment(fake_mnist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NRBENCH_DATA", str(fake_mnist))
    assert load_mnist(split="test", progress=False).n == 20


# --------------------------------------------------------------- checksum / download
def test_altered_file_names_file_and_expected_checksum(fake_mnist: Path) -> None:
    path = fake_mnist / "mnist" / MNIST["test-labels"].filename
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # truncated
    with pytest.raises(ChecksumError) as err:
        load_mnist(split="test", data_dir=fake_mnist, progress=False)
    assert str(path) in str(err.value) and MNIST["test-labels"].sha256 in str(err.value)


def _source_for(payload: bytes, urls: tuple[str, ...]) -> SourceFile:
    return SourceFile("mnist", "t10k-labels-idx1-ubyte.gz", hashlib.sha256(payload).hexdigest(), len(payload), urls)


def test_download_from_file_url_verifies_and_installs(tmp_path: Path) -> None:
    payload = b"fake archive bytes"
    remote = tmp_path / "remote.bin"
    remote.write_bytes(payload)
    src = _source_for(payload, ("file:///nonexistent/first.gz", remote.as_uri()))
    path = ensure_file(src, tmp_path / "data", progress=False)  # first URL fails, second works
    assert path == tmp_path / "data" / "mnist" / src.filename and path.read_bytes() == payload
    assert [p.name for p in path.parent.iterdir()] == [src.filename]  # no temporary left
    from benchmark.fileio import default_file_mode

    assert path.stat().st_mode & 0o777 == default_file_mode()  # not mkstemp's 0o600


def test_download_with_wrong_checksum_is_rejected(tmp_path: Path) -> None:
    remote = tmp_path / "remote.bin"
    remote.write_bytes(b"something else")
    src = _source_for(b"expected bytes", (remote.as_uri(),))
    with pytest.raises(DataUnavailableError) as err:
        ensure_file(src, tmp_path / "data", progress=False)
    assert src.sha256 in str(err.value)
    assert not (tmp_path / "data").exists()  # nothing half-written stays, not even the folders it made


def test_failed_download_keeps_a_folder_that_was_there(tmp_path: Path) -> None:
    (tmp_path / "data" / "mnist").mkdir(parents=True)
    (tmp_path / "data" / "mnist" / "other.gz").write_bytes(b"x")
    src = _source_for(b"expected bytes", ("file:///nonexistent/first.gz",))
    with pytest.raises(DataUnavailableError):
        ensure_file(src, tmp_path / "data", progress=False)
    assert [p.name for p in (tmp_path / "data" / "mnist").iterdir()] == ["other.gz"]


def _interrupted_fetch(written: list[Path]):
    """A fetch that writes part of the file, then is stopped by Ctrl-C."""
    def fetch(url: str, dest: Path, **kw: object) -> None:
        dest.write_bytes(b"partial" * 100)
        written.append(dest)
        raise KeyboardInterrupt
    return fetch


def test_an_interrupted_download_leaves_no_partial_file_and_no_folder_it_made(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    written: list[Path] = []
    monkeypatch.setattr(download, "fetch", _interrupted_fetch(written))
    src = _source_for(b"expected bytes", ("https://example.invalid/t10k-labels-idx1-ubyte.gz",))
    with pytest.raises(KeyboardInterrupt):
        ensure_file(src, tmp_path / "raw" / "data", progress=False)
    assert len(written) == 1 and written[0].parent == tmp_path / "raw" / "data" / "mnist"  # bytes were written
    assert list(tmp_path.iterdir()) == []  # raw/, raw/data/ and raw/data/mnist/ are all gone


def test_an_interrupted_download_keeps_what_was_there_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data folder and the user's files in it stay; only the folder the download made goes."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    (root / "empty-of-mine").mkdir()
    written: list[Path] = []
    monkeypatch.setattr(download, "fetch", _interrupted_fetch(written))
    with pytest.raises(KeyboardInterrupt):
        load_mnist(split="test", data_dir=root, progress=False)
    assert len(written) == 1
    assert sorted(p.name for p in root.iterdir()) == ["empty-of-mine", "notes.txt"]
    assert (root / "notes.txt").read_text() == "mine"


def test_an_interrupt_after_one_verified_file_keeps_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MNIST-Test reads two files: the first, installed and verified, is kept (and its folder with it)."""
    mirror = tmp_path / "mirror"
    fakes = fake_idx_sources(mirror, "mnist", n_train=20, n_test=10)
    for key, src in fakes.items():
        monkeypatch.setitem(MNIST, key, SourceFile(src.folder, src.filename, src.sha256, src.size,
                                                   (f"https://example.invalid/{src.filename}",)))
    written: list[Path] = []
    interrupted = _interrupted_fetch(written)

    def fetch(url: str, dest: Path, **kw: object) -> None:
        if "images" in url:
            dest.write_bytes((mirror / "mnist" / url.rsplit("/", 1)[1]).read_bytes())
        else:
            interrupted(url, dest)

    monkeypatch.setattr(download, "fetch", fetch)
    with pytest.raises(KeyboardInterrupt):
        load_mnist(split="test", data_dir=tmp_path / "data", progress=False)
    assert len(written) == 1
    assert [p.name for p in (tmp_path / "data" / "mnist").iterdir()] == [MNIST["test-images"].filename]


def test_loader_downloads_missing_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    fakes = fake_idx_sources(mirror, "mnist", n_train=20, n_test=10)
    calls = []

    def fake_fetch(url: str, dest: Path, **kw: object) -> None:
        calls.append(url)
        dest.write_bytes((mirror / "mnist" / url.rsplit("/", 1)[1]).read_bytes())

    for key, src in fakes.items():
        monkeypatch.setitem(MNIST, key, SourceFile(src.folder, src.filename, src.sha256, src.size,
                                                   (f"https://example.invalid/{src.filename}",)))
    monkeypatch.setattr(download, "fetch", fake_fetch)
    ds = load_mnist(split="full", data_dir=tmp_path / "empty", progress=False)
    assert ds.n == 30 and len(calls) == 4
    load_mnist(split="full", data_dir=tmp_path / "empty", progress=False)
    assert len(calls) == 4  # present and verified now: no second download


def test_missing_data_without_download_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, dest: Path, **kw: object) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr(download, "fetch", offline)
    with pytest.raises(DataUnavailableError) as err:
        load_mnist(split="test", data_dir=tmp_path, progress=False)
    msg = str(err.value)
    assert str(tmp_path / "mnist") in msg and "NRBENCH_DATA" in msg and "network unreachable" in msg


def test_an_uncompressed_file_is_pointed_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, dest: Path, **kw: object) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr(download, "fetch", offline)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "t10k-images-idx3-ubyte").write_bytes(b"\x00" * 16)
    with pytest.raises(DataUnavailableError, match="An uncompressed t10k-images-idx3-ubyte is there, but the "
                       "checksum is that of the published t10k-images-idx3-ubyte.gz"):
        load_mnist(split="test", data_dir=tmp_path, progress=False)


# --------------------------------------------------------------------- real files
@pytest.mark.slow
@pytest.mark.parametrize("loader, folder", [(load_mnist, "mnist"), (load_fmnist, "fashion-mnist")])
def test_real_files_parse_and_verify(real_data_dir: Path, loader, folder: str) -> None:
    ds = loader(split="full", data_dir=real_data_dir, progress=False)
    assert ds.X.shape == (70000, 1, 28, 28) and ds.X.dtype == np.uint8
    assert ds.X.max() == 255 and ds.X.min() == 0
    counts = np.bincount(ds.labels[:60000, 0])
    if folder == "fashion-mnist":
        assert counts.tolist() == [6000] * 10
        assert np.bincount(ds.labels[60000:, 0]).tolist() == [1000] * 10
    else:
        assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert len(ds.params["sources"]) == 4
