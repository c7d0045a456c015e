"""The result store: one SQLite file, one row per task, artefacts as ``.npz`` files beside it.

Contract (DESIGN.md "Result store"; shared with the reports package):

- ``meta(key, value)`` holds ``schema_version`` (:data:`SCHEMA_VERSION`).  A store
  written by another schema version is refused with :class:`IncompatibleStoreError`
  and left byte-for-byte untouched: it is first inspected through a read-only
  connection, before anything (WAL mode, tables) is written.
- ``suites(name, tier, config)`` holds the JSON of each resolved suite that ran.
- ``runs`` holds one row per task under the unique key
  ``(suite, tier, dataset, method, params_hash, ae_seed, run_seed)``, where the harness's
  ``params_hash`` hashes the fit's whole configuration
  (:attr:`benchmark.protocol.FitTask.config`: hyperparameters, data, autoencoder).  Every key
  column is ``NOT NULL`` (SQLite treats NULLs as distinct in a UNIQUE constraint,
  which would let duplicates in); methods without an autoencoder use their
  repetition index as ``ae_seed``.

Why it survives ``kill -9``: the database runs in WAL mode and every row is its
own transaction, so a row is either committed or absent.  ``synchronous=NORMAL``
(WAL) keeps every committed transaction across a killed process; only a power
loss can drop the last few commits, which a rerun simply redoes (it is cheaper
than ``FULL``: one fsync per checkpoint instead of per row).  Artefacts are
written atomically (temporary file, fsync, rename) *before* their row, so a
committed row never points at a missing file; an artefact without a row
(killed in between) is simply rewritten on resume.  Writing uses an upsert
that never replaces an ``ok`` row, so re-running a task cannot duplicate or
overwrite a result; ``error`` and ``skipped`` rows are retried by the next run
and replaced.

Only the client process of an executor writes to the store.

``claims`` (one row per fit being computed: key, owner host/pid/token, lease) lets concurrent
runs of one suite on one store share the fits instead of each computing all of them
(:mod:`benchmark.claims`).  It is an additive table, created on open like the others, so a
store written before it existed opens unchanged and keeps :data:`SCHEMA_VERSION`; an older
nrbench ignores the table.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.claims import Claim, ClaimResult, Owner
from benchmark.fileio import atomic_write, write_error, write_npz

SCHEMA_VERSION = "1"
STATUSES = ("ok", "error", "skipped")
KEY_COLUMNS = ("suite", "tier", "dataset", "method", "params_hash", "ae_seed", "run_seed")
METRIC_COLUMNS = ("nmi", "ari", "ami", "vi", "n_found", "n_cluster_dims")
STORE_FILENAME = "nrbench.sqlite"
ARTEFACT_DIR = "artefacts"

_RUN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("suite", "TEXT NOT NULL"),
    ("tier", "TEXT NOT NULL"),
    ("dataset", "TEXT NOT NULL"),
    ("method", "TEXT NOT NULL"),
    ("label", "TEXT NOT NULL"),
    ("params", "TEXT NOT NULL"),
    ("params_hash", "TEXT NOT NULL"),
    ("ae_seed", "INTEGER NOT NULL"),
    ("run_seed", "INTEGER NOT NULL"),
    ("status", "TEXT NOT NULL"),
    ("error", "TEXT"),
    ("loss", "REAL"),
    ("metrics", "TEXT"),
    ("clusterings", "TEXT"),
    ("runtime_s", "REAL"),
    ("peak_mem_mb", "REAL"),
    ("device", "TEXT"),
    ("deviations", "TEXT"),
    ("artefact", "TEXT"),
    ("code_version", "TEXT"),
    ("timestamp", "TEXT"),
)
RUN_COLUMNS = tuple(c for c, _ in _RUN_COLUMNS)
_KEY_WHERE = " AND ".join(f"{c}=?" for c in KEY_COLUMNS)  # one row of runs or claims, by key

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS suites (name TEXT, tier TEXT, config TEXT, PRIMARY KEY (name, tier));
CREATE TABLE IF NOT EXISTS runs (
    {", ".join(f"{c} {t}" for c, t in _RUN_COLUMNS)},
    UNIQUE ({", ".join(KEY_COLUMNS)})
);
CREATE TABLE IF NOT EXISTS claims (
    {", ".join(f"{c} {t}" for c, t in _RUN_COLUMNS if c in KEY_COLUMNS)},
    owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    claimed_at REAL NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY ({", ".join(KEY_COLUMNS)})
);
"""


#: How long a store call waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 60.0


def _retry_locked(call: Any, timeout: float = BUSY_TIMEOUT_S) -> Any:
    """Run ``call``, retrying while SQLite says the database is locked, up to ``timeout`` seconds.

    Switching a new store to WAL needs an exclusive lock, and SQLite's busy handler does not
    wait for it: two runs started together on a new store would otherwise see one fail with
    "database is locked".
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file's content is broken (not: locked, read-only, I/O)."""
    msg = str(exc).lower()
    return "malformed" in msg or "not a database" in msg


class IncompatibleStoreError(ValueError):
    """The file is not an nrbench store, or was written by another schema version."""


class StoreUnavailableError(ValueError):
    """SQLite cannot open or create the store's file at its path (e.g. its folder takes no files)."""


def default_store_path() -> Path:
    """``<NRBENCH_HOME>/results/nrbench.sqlite``."""
    from benchmark.paths import results_dir

    return results_dir() / STORE_FILENAME


def canonical_json(obj: Any) -> str:
    """Sorted, compact JSON; numpy scalars/arrays become Python numbers/lists, NaN becomes null."""
    return json.dumps(_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _jsonable(o: Any) -> Any:
    if isinstance(o, Mapping):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, np.generic):
        return _jsonable(o.item())
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, Path):
        return str(o)
    return o


def params_hash(params: Mapping[str, Any]) -> str:
    """Short SHA-256 of the canonical JSON of a task's hyperparameters."""
    return hashlib.sha256(canonical_json(params).encode()).hexdigest()[:16]


def row_key(row: Mapping[str, Any]) -> tuple:
    """The unique key tuple of a row (see :data:`KEY_COLUMNS`)."""
    return tuple(row[c] if c not in ("ae_seed", "run_seed") else int(row[c]) for c in KEY_COLUMNS)


def key_hash(key: Iterable[Any]) -> str:
    """Hex digest naming a row's artefact file."""
    return hashlib.sha256(canonical_json(list(key)).encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``nrbench <version>`` plus the git commit (``.dirty`` when tracked files had changes), if known.

    The commit is git's for a checkout (a clone, an editable install), else the one the build step recorded
    in an installed copy (:mod:`benchmark.buildinfo`).
    """
    from benchmark import __version__
    from benchmark.buildinfo import installed_commit

    commit = installed_commit(Path(__file__).resolve().parents[1])
    return f"nrbench {__version__}+{commit}" if commit else f"nrbench {__version__}"


def _check_existing(path: Path) -> None:
    """Refuse a foreign or incompatible file without writing to it (read-only connection)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb") as fh:
        if fh.read(16) != b"SQLite format 3\x00":
            raise IncompatibleStoreError(f"{path} is not an SQLite file, so not an nrbench result store; "
                                         "it was left untouched (choose another --store PATH)")
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return
        if "meta" not in tables:
            raise IncompatibleStoreError(f"{path} is an SQLite file without an nrbench 'meta' table, so not "
                                         "an nrbench result store; it was left untouched")
        row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        if not _is_damage(exc):
            raise
        raise IncompatibleStoreError(f"{path} is damaged and cannot be read as a result store ({exc}); it was "
                                     "left untouched. Use another --store PATH, or recover it with the sqlite3 "
                                     "tool's .recover command") from None
    finally:
        con.close()
    found = row[0] if row else None
    if found != SCHEMA_VERSION:
        raise IncompatibleStoreError(
            f"{path} was written with result-store schema version {found!r}, but this nrbench reads and writes "
            f"version {SCHEMA_VERSION!r}; the store was left untouched. Use another --store PATH, or the nrbench "
            "version that wrote it."
        )


class Store:
    """A result store at ``path`` (created on first use).

    ``seconds_in_store`` accumulates the wall time spent inside store calls, so the
    runner can report the store's overhead relative to the whole suite.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.path = self.path.expanduser().resolve()
        self.seconds_in_store = 0.0
        t0 = time.perf_counter()
        if self.path.is_dir():
            raise IncompatibleStoreError(f"{self.path} is a directory; the result store is a file "
                                         f"(e.g. --store {self.path / 'nrbench.sqlite'})")
        _check_existing(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise IncompatibleStoreError(f"cannot create the result store's folder {self.path.parent}: "
                                         f"{exc.strerror or exc}") from None
        self.artefact_dir = self.path.parent / ARTEFACT_DIR
        self._con = None  # type: ignore[assignment]  # until connected (close() may run first)
        try:
            self._con = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            _retry_locked(lambda: self._con.execute("PRAGMA journal_mode=WAL"))
            self._con.execute("PRAGMA synchronous=NORMAL")  # WAL+NORMAL: a commit survives kill -9
            with self._tx():
                for stmt in _SCHEMA.strip().split(";"):
                    if stmt.strip():
                        self._con.execute(stmt)
                self._con.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                                  (SCHEMA_VERSION,))
        except sqlite3.DatabaseError as exc:
            self.close()
            if "unable to open" in str(exc).lower():  # SQLITE_CANTOPEN: e.g. a folder that takes no files
                reason = write_error(self.path.parent, create=False)
                why = f" (its folder {self.path.parent} is not writable: {reason})" if reason else ""
                raise StoreUnavailableError(f"cannot open or create the result store {self.path}: {exc}{why}; "
                                            "choose another --store PATH") from None
            if not _is_damage(exc):  # e.g. locked, or a read-only file: SQLite's own message says it
                raise
            raise IncompatibleStoreError(f"{self.path} is damaged and cannot be read as a result store "
                                         f"({exc}); it was left as it is. Use another --store PATH, or "
                                         "recover it with the sqlite3 tool's .recover command") from None
        self.seconds_in_store += time.perf_counter() - t0

    # ------------------------------------------------------------ plumbing
    def _tx(self) -> _Transaction:
        return _Transaction(self._con)

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        if self._con is not None:
            self._con.close()
            self._con = None  # type: ignore[assignment]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -------------------------------------------------------------- suites
    def register_suite(self, name: str, tier: str, config: Mapping[str, Any]) -> None:
        """Record (or update) the resolved configuration of a suite at a tier."""
        t0 = time.perf_counter()
        with self._tx():
            self._con.execute("INSERT OR REPLACE INTO suites(name, tier, config) VALUES (?, ?, ?)",
                              (name, tier, canonical_json(config)))
        self.seconds_in_store += time.perf_counter() - t0

    def suites(self) -> list[dict[str, Any]]:
        """All recorded suites: ``[{name, tier, config}]``."""
        rows = self._con.execute("SELECT name, tier, config FROM suites ORDER BY name, tier").fetchall()
        return [{"name": n, "tier": t, "config": json.loads(c)} for n, t, c in rows]

    # ---------------------------------------------------------------- runs
    def done_keys(self, suite: str | None = None, tier: str | None = None) -> set[tuple]:
        """Keys of rows with status ``ok``: the tasks a resumed run skips."""
        t0 = time.perf_counter()
        sql = f"SELECT {', '.join(KEY_COLUMNS)} FROM runs WHERE status='ok'"
        args: list[Any] = []
        if suite is not None:
            sql += " AND suite=?"
            args.append(suite)
        if tier is not None:
            sql += " AND tier=?"
            args.append(tier)
        out = {tuple(r) for r in self._con.execute(sql, args)}
        self.seconds_in_store += time.perf_counter() - t0
        return out

    def is_done(self, key: tuple) -> bool:
        """Whether an ``ok`` row exists under this key."""
        t0 = time.perf_counter()
        r = self._con.execute(f"SELECT 1 FROM runs WHERE {_KEY_WHERE} AND status='ok'", tuple(key)).fetchone()
        self.seconds_in_store += time.perf_counter() - t0
        return r is not None

    def write_artefact(self, key: tuple, arrays: Mapping[str, Any]) -> str:
        """Atomically write ``arrays`` to ``artefacts/<hash>.npz``; return the path relative to the store dir.

        The hash covers the store's file name and the row's key, so stores that share a folder
        (and so ``artefacts/``) never overwrite each other's files.
        """
        t0 = time.perf_counter()
        self.artefact_dir.mkdir(parents=True, exist_ok=True)
        # the store's file name is hashed too: two stores in one folder share artefacts/, not files
        name = f"{key_hash([self.path.name, *key])}.npz"
        final = self.artefact_dir / name
        atomic_write(final, lambda fh: write_npz(fh, {k: np.asarray(v) for k, v in arrays.items()}))
        self.seconds_in_store += time.perf_counter() - t0
        return f"{ARTEFACT_DIR}/{name}"

    def load_artefact(self, relpath: str) -> dict[str, np.ndarray]:
        """Read an artefact written by :meth:`write_artefact` (path as stored in the row)."""
        with np.load(self.path.parent / relpath, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def put(self, row: Mapping[str, Any], owner: Owner | None = None) -> bool:
        """Write one task's row in its own transaction; return True when it was written.

        Required: the key columns, ``label``, ``params`` (a dict) and ``status``.
        An existing ``ok`` row under the same key is never replaced (the call
        returns False); an ``error`` or ``skipped`` row is replaced.  With ``owner``,
        that run's claim on the key is released in the same transaction, so a fit is
        never both unclaimed and without its row.
        """
        t0 = time.perf_counter()
        rec = self._encode(row)
        cols = ", ".join(RUN_COLUMNS)
        marks = ", ".join("?" for _ in RUN_COLUMNS)
        updates = ", ".join(f"{c}=excluded.{c}" for c in RUN_COLUMNS if c not in KEY_COLUMNS)
        sql = (f"INSERT INTO runs({cols}) VALUES ({marks}) "
               f"ON CONFLICT({', '.join(KEY_COLUMNS)}) DO UPDATE SET {updates} WHERE runs.status != 'ok'")
        with self._tx():
            cur = self._con.execute(sql, [rec[c] for c in RUN_COLUMNS])
            written = cur.rowcount > 0
            if owner is not None:
                self._con.execute(f"DELETE FROM claims WHERE {_KEY_WHERE} AND owner=?",
                                  (*row_key(rec), owner.token))
        self.seconds_in_store += time.perf_counter() - t0
        return written

    # -------------------------------------------------------------- claims
    def claim(self, key: tuple, owner: Owner, lease_s: float, since: float | None = None) -> ClaimResult:
        """Claim fit ``key`` for ``owner`` for ``lease_s`` seconds, atomically (``BEGIN IMMEDIATE``).

        ``done`` when the fit has an ``ok`` row, or an ``error`` row written at or after ``since``
        (epoch seconds: a concurrent run tried it during this one; retrying it now would double a
        failure's cost); ``held`` when another owner's claim is live; else ``claimed`` (a stale
        claim is taken over; ``owner``'s own claim is renewed).  See :mod:`benchmark.claims`.
        """
        t0 = time.perf_counter()
        key = tuple(key)
        now = time.time()
        with self._tx():
            row = self._con.execute(f"SELECT status, error, timestamp FROM runs WHERE {_KEY_WHERE}", key).fetchone()
            if row is not None and (row[0] == "ok" or (row[0] == "error" and _written_since(row[2], since))):
                result = ClaimResult("done", status=row[0], error=row[1])
            else:
                held = self._con.execute(f"SELECT owner, host, pid, claimed_at, expires_at FROM claims "
                                         f"WHERE {_KEY_WHERE}", key).fetchone()
                other = _claim_of(key, held) if held is not None and held[0] != owner.token else None
                if other is not None and not other.stale(now):
                    result = ClaimResult("held", holder=other.owner)
                else:
                    self._con.execute(
                        f"INSERT OR REPLACE INTO claims({', '.join(KEY_COLUMNS)}, owner, host, pid, claimed_at, "
                        f"expires_at) VALUES ({', '.join('?' for _ in KEY_COLUMNS)}, ?, ?, ?, ?, ?)",
                        (*key, owner.token, owner.host, owner.pid, now, now + lease_s))
                    result = ClaimResult("claimed")
        self.seconds_in_store += time.perf_counter() - t0
        return result

    def release_claims(self, owner: Owner, key: tuple | None = None) -> int:
        """Drop ``owner``'s claim on ``key``, or all its claims (its run ends); returns how many there were."""
        sql, args = "DELETE FROM claims WHERE owner=?", [owner.token]
        if key is not None:
            sql += f" AND {_KEY_WHERE}"
            args.extend(key)
        with self._tx():
            return self._con.execute(sql, args).rowcount

    def live_claims(self, suite: str | None = None, tier: str | None = None) -> list[Claim]:
        """The claims that are not stale (their run still computes those fits); reads only."""
        sql = f"SELECT {', '.join(KEY_COLUMNS)}, owner, host, pid, claimed_at, expires_at FROM claims WHERE 1=1"
        args: list[Any] = []
        for col, val in (("suite", suite), ("tier", tier)):
            if val is not None:
                sql += f" AND {col}=?"
                args.append(val)
        now = time.time()
        n = len(KEY_COLUMNS)
        claims = [_claim_of(tuple(r[:n]), r[n:]) for r in self._con.execute(sql, args)]
        return [c for c in claims if not c.stale(now)]

    @staticmethod
    def _encode(row: Mapping[str, Any]) -> dict[str, Any]:
        missing = [c for c in (*KEY_COLUMNS, "label", "params", "status") if c not in row and c != "params_hash"]
        if missing:
            raise ValueError(f"row: missing column(s) {missing}")
        unknown = sorted(set(row) - set(RUN_COLUMNS))
        if unknown:
            raise ValueError(f"row: unknown column(s) {unknown}; valid: {', '.join(RUN_COLUMNS)}")
        if row["status"] not in STATUSES:
            raise ValueError(f"row: status must be one of {STATUSES}; got {row['status']!r}")
        params = row["params"]
        if isinstance(params, str):
            params = json.loads(params)
        rec: dict[str, Any] = {c: None for c in RUN_COLUMNS}
        rec.update({k: v for k, v in row.items()})
        rec["params"] = canonical_json(params)
        # the harness passes the hash of the fit's whole configuration (FitTask.config: params,
        # data, autoencoder, max_n); a row without one is identified by its params alone
        rec["params_hash"] = row.get("params_hash") or params_hash(params)
        rec["ae_seed"] = int(row["ae_seed"])
        rec["run_seed"] = int(row["run_seed"])
        for c in ("metrics", "clusterings", "deviations"):
            if rec[c] is not None and not isinstance(rec[c], str):
                rec[c] = canonical_json(rec[c])
        if rec["deviations"] is None:
            rec["deviations"] = "[]"
        for c in ("loss", "runtime_s", "peak_mem_mb"):
            if rec[c] is not None:
                v = float(rec[c])
                rec[c] = v if math.isfinite(v) else None
        rec["code_version"] = rec["code_version"] or code_version()
        rec["timestamp"] = rec["timestamp"] or datetime.now(timezone.utc).isoformat(timespec="seconds")
        return rec

    # ------------------------------------------------------------- reading
    def rows(self, suite: str | None = None, tier: str | None = None) -> list[dict[str, Any]]:
        """Raw rows (JSON columns still as text), ordered by key."""
        sql = f"SELECT {', '.join(RUN_COLUMNS)} FROM runs"
        where, args = [], []
        if suite is not None:
            where.append("suite=?")
            args.append(suite)
        if tier is not None:
            where.append("tier=?")
            args.append(tier)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY {', '.join(KEY_COLUMNS)}"
        return [dict(zip(RUN_COLUMNS, r)) for r in self._con.execute(sql, args)]

    def count(self, suite: str | None = None, tier: str | None = None, status: str | None = None) -> int:
        """Number of rows, optionally filtered."""
        sql, args = "SELECT COUNT(*) FROM runs WHERE 1=1", []
        for col, val in (("suite", suite), ("tier", tier), ("status", status)):
            if val is not None:
                sql += f" AND {col}=?"
                args.append(val)
        return int(self._con.execute(sql, args).fetchone()[0])

    def frame(self, suite: str | None = None, tier: str | None = None) -> Any:
        """The rows as a ``pandas.DataFrame`` with JSON parsed.

        Columns: every ``runs`` column; ``params`` as dict, ``clusterings`` and
        ``deviations`` as lists; ``metrics`` expanded into ``nmi``, ``ari``, ``ami``
        (lists, one entry per ground-truth clustering, ordered as ``clusterings``),
        ``vi`` (float, NaN when undefined), ``n_found`` and ``n_cluster_dims``
        (None when not applicable).  The raw ``metrics`` dict is kept too.
        """
        import pandas as pd

        recs = []
        for r in self.rows(suite, tier):
            r = dict(r)
            r["params"] = json.loads(r["params"]) if r["params"] else {}
            r["clusterings"] = json.loads(r["clusterings"]) if r["clusterings"] else []
            r["deviations"] = json.loads(r["deviations"]) if r["deviations"] else []
            m = json.loads(r["metrics"]) if r["metrics"] else {}
            r["metrics"] = m
            for c in METRIC_COLUMNS:
                r[c] = m.get(c)
            r["vi"] = float("nan") if r["vi"] is None else float(r["vi"])
            recs.append(r)
        cols = [*RUN_COLUMNS, *METRIC_COLUMNS]
        return pd.DataFrame.from_records(recs, columns=cols)

    def failures(self, suite: str | None = None, tier: str | None = None) -> list[dict[str, Any]]:
        """Rows with status ``error``."""
        return [r for r in self.rows(suite, tier) if r["status"] == "error"]


def _claim_of(key: tuple, rec: tuple) -> Claim:
    """A :class:`~benchmark.claims.Claim` from ``(owner, host, pid, claimed_at, expires_at)``."""
    token, host, pid, claimed_at, expires_at = rec
    return Claim(key, Owner(host, int(pid), token), float(claimed_at), float(expires_at))


def _written_since(timestamp: str | None, since: float | None) -> bool:
    """Whether a row's ISO ``timestamp`` is at or after ``since`` (epoch seconds; the row has 1 s resolution)."""
    if since is None or not timestamp:
        return False
    try:
        written = datetime.fromisoformat(timestamp)
    except ValueError:
        return False
    if written.tzinfo is None:
        written = written.replace(tzinfo=timezone.utc)
    return written.timestamp() >= math.floor(since)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> None:
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.con.execute("COMMIT" if exc_type is None else "ROLLBACK")
