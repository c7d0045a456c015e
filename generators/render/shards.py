"""Planning a render as shards, finding what is already done, and assembling the result.

A render job (data set, n, resolution, samples, seed) is cut into shards of
``shard_size`` consecutive images.  Each shard is described by a JSON spec and,
once rendered, stored as ``shard-<id>.npz`` in the job's work folder
``<NRBENCH_HOME>/render/<name>-<key>-s<shard_size>/`` (written atomically by the
worker).  A shard file carries a digest of its spec; only a file whose digest
matches counts as done, so a re-run after a kill renders exactly the missing
shards and never mixes settings.  :meth:`RenderJob.assemble` builds the
:class:`~generators.dataset.Dataset` once every shard is present.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.paths import render_dir
from generators.dataset import Dataset
from generators.render.spec import (
    THREADS_PER_PROCESS,
    DatasetSpec,
    ImageParams,
    balance_note,
    check_settings,
    dataset_spec,
    extras_from_plan,
    plan_images,
)

DEFAULT_SHARD_SIZE = 250


@dataclass(frozen=True)
class Shard:
    """Images ``start`` to ``stop - 1`` of a job."""

    id: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        """Number of images."""
        return self.stop - self.start


@dataclass
class RenderJob:
    """One data set render: the plan, its shards and their files."""

    name: str
    n: int
    resolution: int
    samples: int
    seed: int
    shard_size: int = DEFAULT_SHARD_SIZE
    threads: int = THREADS_PER_PROCESS
    root: Path | None = None
    spec: DatasetSpec = field(init=False)
    labels: np.ndarray = field(init=False, repr=False)
    images: list[ImageParams] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.spec = dataset_spec(self.name)
        check_settings(self.n, self.resolution, self.samples, self.seed)
        for pname, val in (("shard_size", self.shard_size), ("threads", self.threads)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"{pname} must be a positive integer; got {val!r}")
        self.labels, self.images = plan_images(self.spec, self.n, self.seed)

    # ---------------------------------------------------------------- naming
    @property
    def params(self) -> dict[str, Any]:
        """The data parameters (the builder's arguments; the cache key of the data set)."""
        return {"n": self.n, "resolution": self.resolution, "samples": self.samples, "seed": self.seed}

    @property
    def key(self) -> str:
        """Short hash of the data parameters."""
        blob = json.dumps({"name": self.name, "params": self.params}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def workdir(self) -> Path:
        """Folder of this job's shard files."""
        root = Path(self.root) if self.root is not None else render_dir()
        return root / f"{self.name}-{self.key}-s{self.shard_size}"

    @property
    def shards(self) -> list[Shard]:
        """All shards in order."""
        return [Shard(i, s, min(s + self.shard_size, self.n))
                for i, s in enumerate(range(0, self.n, self.shard_size))]

    def shard_path(self, shard: Shard) -> Path:
        """Where the shard's pixels are stored once rendered."""
        return self.workdir / f"shard-{shard.id:05d}.npz"

    def spec_path(self, shard: Shard) -> Path:
        """Where the shard's JSON spec is written for a worker."""
        return self.workdir / f"shard-{shard.id:05d}.json"

    # ------------------------------------------------------------- the specs
    def shard_spec(self, shard: Shard) -> dict[str, Any]:
        """The JSON-able description a worker renders (settings + per-image parameters)."""
        body = {
            "dataset": self.name,
            "resolution": self.resolution,
            "samples": self.samples,
            "threads": self.threads,
            "shard": shard.id,
            "images": [p.to_json() for p in self.images[shard.start:shard.stop]],
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        # threads do not change the pixels' meaning; 1 and 2 threads gave bit-identical
        # images here, but Cycles/OIDN do not promise that for every thread count, so
        # they are part of the digest.
        return {**body, "digest": digest, "out": str(self.shard_path(shard))}

    def write_spec(self, shard: Shard) -> Path:
        """Write the shard's spec file (atomically) and return its path."""
        path = self.spec_path(shard)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.shard_spec(shard), fh)
        os.replace(tmp, path)
        return path

    # ---------------------------------------------------------------- resume
    def load_shard(self, shard: Shard) -> tuple[np.ndarray, np.ndarray] | None:
        """The shard's ``(X, index)`` if its file exists and matches this plan, else None."""
        path = self.shard_path(shard)
        if not path.exists():
            return None
        want = self.shard_spec(shard)["digest"]
        try:
            with np.load(path, allow_pickle=False) as z:
                if bytes(z["digest"]).decode() != want:
                    return None
                X, index = z["X"], z["index"]
        except Exception:  # noqa: BLE001 - an unreadable shard is simply not done
            return None
        c = self.spec.channels
        if X.shape != (shard.size, c, self.resolution, self.resolution) or X.dtype != np.uint8:
            return None
        if not np.array_equal(index, np.arange(shard.start, shard.stop)):
            return None
        return X, index

    def pending(self) -> list[Shard]:
        """Shards without a valid file (what a run still has to render)."""
        return [s for s in self.shards if self.load_shard(s) is None]

    # -------------------------------------------------------------- assembly
    def assemble(self, extra_params: dict[str, Any] | None = None) -> Dataset:
        """The complete :class:`Dataset`; raises ``RuntimeError`` naming missing shards."""
        parts = []
        missing = []
        for s in self.shards:
            got = self.load_shard(s)
            if got is None:
                missing.append(s.id)
            else:
                parts.append(got[0])
        if missing:
            raise RuntimeError(f"cannot assemble {self.name}: shards {missing} are not rendered")
        X = np.concatenate(parts, axis=0)
        params: dict[str, Any] = {**self.params, "renderer": "blender-cycles",
                                  "dataset": self.name}
        note = balance_note(self.spec, self.n)
        params["label_balance"] = note or "every label combination appears equally often"
        # label i of a clustering is the i-th value of its factor (0 = blue, ...): recorded for figures and users
        params["label_names"] = {c: list(values) for c, values in zip(self.spec.clusterings, self.spec.factors)}
        params.update(extra_params or {})
        return Dataset(
            name=self.name,
            X=X,
            labels=self.labels,
            clusterings=self.spec.clusterings,
            params=params,
            extras=extras_from_plan(self.images),
        )

    def cleanup(self) -> None:
        """Delete the work folder (after the data set is saved)."""
        shutil.rmtree(self.workdir, ignore_errors=True)
