"""The result store: unique key, ok rows never replaced, schema-version refusal (file untouched), frame parsing."""

from __future__ import annotations

import math
import os
import sqlite3

import numpy as np
import pytest

from benchmark.store import SCHEMA_VERSION, IncompatibleStoreError, Store, default_store_path, key_hash, params_hash


def _row(**kw):
    row = dict(suite="s", tier="quick", dataset="d", method="kmeans", label="k-means", params={"n_init": 1},
               ae_seed=0, run_seed=0, status="ok", loss=2.5,
               metrics={"nmi": [0.5, 0.25], "ari": [0.1, 0.2], "ami": [0.3, 0.4], "vi": float("nan"), "n_found": 1,
                        "n_cluster_dims": None},
               clusterings=["a", "b"], runtime_s=1.0, peak_mem_mb=3.0, device="cpu", deviations=["budget: x"])
    row.update(kw)
    return row


def test_unique_key_and_ok_rows_are_never_replaced(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        assert st.put(_row()) is True
        assert st.put(_row(loss=1.0)) is False  # same key: not duplicated, not overwritten
        assert st.count() == 1 and st.frame()["loss"].tolist() == [2.5]
        # a different params dict is a different key
        assert st.put(_row(params={"n_init": 2})) is True
        # an error row is replaced by the retried run
        st.put(_row(run_seed=1, status="error", error="boom", loss=None))
        assert st.count(status="error") == 1
        assert st.put(_row(run_seed=1)) is True
        assert st.count() == 3 and st.count(status="error") == 0
        assert len(st.done_keys("s", "quick")) == 3
        assert st.is_done(("s", "quick", "d", "kmeans", params_hash({"n_init": 1}), 0, 0))
        assert not st.is_done(("s", "quick", "d", "kmeans", params_hash({"n_init": 1}), 5, 0))


def test_key_columns_are_not_null_so_sqlite_cannot_duplicate(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        con = sqlite3.connect(st.path)
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO runs(suite, tier, dataset, method, label, params, params_hash, ae_seed, "
                        "run_seed, status) VALUES ('s','quick','d','m','l','{}','h',NULL,0,'ok')")
        con.close()


def test_frame_parses_json_columns(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        st.put(_row())
        f = st.frame()
    r = f.iloc[0]
    assert r["nmi"] == [0.5, 0.25] and r["ari"] == [0.1, 0.2] and r["clusterings"] == ["a", "b"]
    assert math.isnan(r["vi"]) and r["n_found"] == 1 and r["n_cluster_dims"] is None
    assert r["deviations"] == ["budget: x"] and r["params"] == {"n_init": 1}
    assert r["code_version"].startswith("nrbench ") and r["timestamp"].endswith("+00:00")


def test_schema_version_is_written(tmp_path):
    Store(tmp_path / "r.sqlite").close()
    con = sqlite3.connect(tmp_path / "r.sqlite")
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_incompatible_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    con.execute("CREATE TABLE runs(x)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(IncompatibleStoreError, match=r"schema version '0'.*left untouched"):
        Store(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["old.sqlite"]  # no -wal/-shm, no artefacts folder


def test_a_directory_or_a_file_in_the_path_is_refused_by_name(tmp_path):
    with pytest.raises(IncompatibleStoreError, match=f"{tmp_path} is a directory; the result store is a file"):
        Store(tmp_path)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(IncompatibleStoreError, match=f"cannot create the result store's folder {blocker}"):
        Store(blocker / "r.sqlite")
    assert blocker.read_text() == "x"


def test_foreign_files_are_refused_and_left_untouched(tmp_path):
    txt = tmp_path / "notes.sqlite"
    txt.write_text("hello")
    with pytest.raises(IncompatibleStoreError, match="not an SQLite file"):
        Store(txt)
    assert txt.read_text() == "hello"
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t(x)")
    con.commit()
    con.close()
    before = other.read_bytes()
    with pytest.raises(IncompatibleStoreError, match="without an nrbench 'meta' table"):
        Store(other)
    assert other.read_bytes() == before


def test_bad_rows_name_the_problem(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        with pytest.raises(ValueError, match="status must be one of"):
            st.put(_row(status="done"))
        with pytest.raises(ValueError, match=r"unknown column\(s\) \['colour'\]"):
            st.put(_row(colour="red"))
        bad = _row()
        del bad["ae_seed"]
        with pytest.raises(ValueError, match="missing column"):
            st.put(bad)
        assert st.count() == 0


def test_artefacts_round_trip_atomically(tmp_path):
    with Store(tmp_path / "r.sqlite") as st:
        key = ("s", "quick", "d", "m", "h", 0, 1)
        rel = st.write_artefact(key, {"labels": np.arange(5), "betas": np.eye(2)})
        assert rel == f"artefacts/{key_hash(['r.sqlite', *key])}.npz"
        got = st.load_artefact(rel)
        assert got["labels"].tolist() == [0, 1, 2, 3, 4] and got["betas"].shape == (2, 2)
        assert os.listdir(tmp_path / "artefacts") == [f"{key_hash(['r.sqlite', *key])}.npz"]  # no temporary files left


def test_default_path_is_under_nrbench_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NRBENCH_HOME", str(tmp_path))
    assert default_store_path() == tmp_path.resolve() / "results" / "nrbench.sqlite"


def test_a_damaged_store_is_named_and_left_untouched(tmp_path):
    path = tmp_path / "r.sqlite"
    with Store(path) as st:
        for i in range(200):
            st.put({**_row(), "ae_seed": i})
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\x00" * 4000 + data[4100:])  # header kept, schema page wiped
    before = path.read_bytes()
    with pytest.raises(IncompatibleStoreError, match=rf"{path} is damaged and cannot be read as a result store"):
        Store(path)
    assert path.read_bytes() == before


_OPEN_TOGETHER = """
import sys, time
from pathlib import Path
from benchmark.store import Store
folder, start = Path(sys.argv[1]), float(sys.argv[2])
for i in range(20):  # every process opens the same new store at the same moment, 20 times
    while time.time() < start + 0.1 * i:
        time.sleep(0.0005)
    Store(folder / f"s{i}.sqlite").close()
"""


def test_runs_started_together_on_a_new_store_do_not_fail_with_database_locked(tmp_path):
    """Switching a new store to WAL takes an exclusive lock that SQLite's busy timeout does not wait for."""
    import subprocess
    import sys
    import time

    start = time.time() + 3.0
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN_TOGETHER, str(tmp_path), str(start)],
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errs
    for i in range(20):
        with Store(tmp_path / f"s{i}.sqlite") as st:
            assert st._con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_only_broken_content_is_called_damaged():
    import sqlite3

    from benchmark.store import _is_damage

    assert _is_damage(sqlite3.DatabaseError("database disk image is malformed"))
    assert _is_damage(sqlite3.DatabaseError("file is not a database"))
    # an intact store that cannot be written is not "damaged" (no .recover advice): SQLite's message stands
    assert not _is_damage(sqlite3.OperationalError("attempt to write a readonly database"))
    assert not _is_damage(sqlite3.OperationalError("database is locked"))
