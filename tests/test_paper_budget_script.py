"""benchmark/scripts/paper_budget.py: the suite's paper tier as the configuration, overrides stated as deviations,
the cached network reused, the same numbers under a seed, and a clear error for a data set the suite lacks."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmark" / "scripts" / "paper_budget.py"
TINY = ["--iters", "8", "--init-rounds", "2", "--budget", '{"iterations": 8, "finetune_iterations": 4}', "--device", "cpu"]


def _main():
    spec = importlib.util.spec_from_file_location("paper_budget", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_stickfigures_run_states_its_overrides_and_reuses_the_cached_network(tmp_path, capsys) -> None:
    main = _main()
    assert main(["stickfigures", *TINY, "--json", str(tmp_path / "a.json")]) == 0
    a = json.loads((tmp_path / "a.json").read_text())
    assert a["n"] == 900 and a["device"] == "cpu" and a["pretrain_cached"] is False
    # the suite's paper tier is the base: Stickfigures' batch 32 and ENRC's 2,000 iterations, overridden here
    assert a["budget"]["batch_size"] == 32 and a["budget"]["iterations"] == 8
    assert a["method"] == "enrc" and a["method_params"]["max_iter"] == 8 and a["method_params"]["init_rounds"] == 2
    assert any(d.startswith("pretraining budget:") for d in a["deviations"])
    assert "ENRC max_iter 8 (paper tier 2000)" in a["deviations"]
    assert set(a["nmi"]) == set(a["nmi_init"]) == {"upper", "lower"}
    assert all(0.0 <= v <= 1.0 for v in a["nmi"].values())
    assert a["fit_samples_per_s"] == pytest.approx(8 * 128 / a["fit_seconds"])
    out = capsys.readouterr().out
    assert "deviation: ENRC max_iter 8 (paper tier 2000)" in out

    assert main(["stickfigures", *TINY, "--json", str(tmp_path / "b.json")]) == 0
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["pretrain_cached"] is True and b["pretrain_samples_per_s"] is None
    assert b["nmi"] == a["nmi"] and b["loss"] == a["loss"]  # same seed, same network: same result


def test_acedec_suite_runs_acedec_with_its_overrides_stated(tmp_path) -> None:
    """--suite acedec-table1: ACe/DeC+DCN on the paper tier's linear AE for SYNTH-25, here on 600 points."""
    out = tmp_path / "s.json"
    assert _main()(["synth", "--suite", "acedec-table1", "--params", '{"n": 600}', "--iters", "30",
                    "--set", '{"init": "kmeans", "lr_step": 15}', "--budget", '{"iterations": 20, "finetune_iterations": 5}',
                    "--device", "cpu", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["method"] == "acedec" and r["n"] == 600
    # the paper tier's SYNTH-25 setting (20,000 iterations, lr_step 20,000), overridden and stated
    assert r["method_params"]["max_iter"] == 30 and r["method_params"]["lr_step"] == 15
    assert r["method_params"]["init"] == "kmeans"
    assert "ACe/DeC+DCN max_iter 30 (paper tier 20000)" in r["deviations"]
    assert "ACe/DeC+DCN parameters {'init': 'kmeans', 'lr_step': 15}" in r["deviations"]
    assert "data: {'n': 600} (paper tier {'k': 25})" in r["deviations"]
    assert list(r["nmi"]) == list(r["nmi_init"]) == ["cluster"]
    assert 1 <= r["n_cluster_dims"] <= 27


def test_n_jobs_is_refused_for_acedec(capsys) -> None:
    with pytest.raises(SystemExit):
        _main()(["mnist", "--suite", "acedec-table1", "--n-jobs", "2"])
    assert "--n-jobs sets the processes of ENRC's NrKmeans init" in capsys.readouterr().err


def test_unknown_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="nosuch"):
        _main()(["nosuch", *TINY])
