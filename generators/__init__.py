"""Benchmark data sets: synthetic generators, loaders of real data, the Blender renderer.

Public API::

    generators.available()            # names of every data set
    generators.get(name, **params)    # cached Dataset, built on first use
    generators.build(name, **params)  # build without the cache
    generators.Dataset                # the container (see generators.dataset)
"""

from generators.dataset import CorruptDatasetError, Dataset
from generators.registry import CATALOG, available, build, cache_path, entry, get, resolve_params

__all__ = [
    "CATALOG",
    "CorruptDatasetError",
    "Dataset",
    "available",
    "build",
    "cache_path",
    "entry",
    "get",
    "resolve_params",
]
