"""Raw source files of the real data sets: names, sizes, SHA-256 checksums and download URLs.

This module is the single source of truth for every raw file nrbench reads.
The checksums are those of the published files (MNIST and Fashion-MNIST: the
MD5s match the published MD5s; see ``shared/data/*/SOURCES.md``).  A loader
looks for ``<data_dir>/<folder>/<file name>``; when the file is absent it is
downloaded from the URLs below, in order, and verified against ``sha256``
before use (:mod:`generators.download`).

GTSRB is not downloaded automatically (a 263 MB zip that needs unpacking);
:data:`GTSRB_URL` is shown in the error message when it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceFile:
    """One raw file: where it lives below the data folder and how to check it."""

    folder: str  # sub-folder of the raw-data root, e.g. "mnist"
    filename: str
    sha256: str
    size: int  # bytes
    urls: tuple[str, ...]  # tried in order


_MNIST_BASES = (
    "http://yann.lecun.com/exdb/mnist/",  # the official page
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # PyTorch's mirror of the same files
)
_FMNIST_BASES = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


def _files(folder: str, bases: tuple[str, ...], rows: list[tuple[str, str, str, int]]) -> dict[str, SourceFile]:
    return {
        key: SourceFile(folder, fname, sha, size, tuple(b + fname for b in bases))
        for key, fname, sha, size in rows
    }


#: MNIST (LeCun, Cortes, Burges), the four gzipped IDX files.
MNIST: dict[str, SourceFile] = _files("mnist", _MNIST_BASES, [
    ("train-images", "train-images-idx3-ubyte.gz",
     "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    ("train-labels", "train-labels-idx1-ubyte.gz",
     "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    ("test-images", "t10k-images-idx3-ubyte.gz",
     "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    ("test-labels", "t10k-labels-idx1-ubyte.gz",
     "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
])

#: Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), the four gzipped IDX files.
FMNIST: dict[str, SourceFile] = _files("fashion-mnist", _FMNIST_BASES, [
    ("train-images", "train-images-idx3-ubyte.gz",
     "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
    ("train-labels", "train-labels-idx1-ubyte.gz",
     "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
    ("test-images", "t10k-images-idx3-ubyte.gz",
     "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
    ("test-labels", "t10k-labels-idx1-ubyte.gz",
     "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
])

#: USPS in the widely shared Kaggle HDF5 layout (no published checksum exists;
#: this is the SHA-256 of the copy at the pinned commit below).
USPS: dict[str, SourceFile] = {
    "h5": SourceFile(
        "usps", "usps.h5",
        "734f88c541104a956d88be2c95d03b4a463ffd74ccc2ba9c80841fb98e3fcb36", 2913522,
        ("https://raw.githubusercontent.com/niuers/Learning-From-Data-A-Short-Course/"
         "879a698b960e5867f7c2b11f8938fa89c3d21839/data/usps.h5",),
    ),
}

#: All downloadable sources by data-set family.
SOURCES: dict[str, dict[str, SourceFile]] = {"mnist": MNIST, "fmnist": FMNIST, "usps": USPS}

#: GTSRB training images (official layout); downloaded and unpacked by hand.
GTSRB_URL = ("https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"
             "GTSRB_Final_Training_Images.zip")
