"""Model versions: jobs add versions, only promotion moves the active pointer, rollback, one-line refusals, and
crash/concurrency safety under real SIGKILLs and two concurrent writers."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hcview.errors import CheckpointError, InputError
from hcview.io_utils import sha256_file
from hcview.models import versions
from hcview.models.checkpoint import load_checkpoint, load_state, save_checkpoint
from hcview.models.registry import create_model

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def dirs(tmp_models_dir, tmp_var_dir):
    return tmp_models_dir, tmp_var_dir


def _ckpt(tmp_path, name: str, seed: int, model_id="cihmlc", **card) -> Path:
    torch.manual_seed(seed)
    p = tmp_path / "runs" / name / "best_metric.pt"
    p.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(create_model(model_id, "demo"), p, {"id": model_id, "variant": "demo",
                                                        "metrics": {"val": {"val_mean_auroc": 0.5 + seed / 100}}, **card})
    return p


def test_jobs_add_versions_promotion_and_rollback(dirs, tmp_path):
    models_dir, _ = dirs
    shipped = _ckpt(tmp_path, "shipped", 0)
    versions.write_shipped(shipped, versions.shipped_path("cihmlc", "demo"))
    assert versions.active_version("cihmlc", "demo") == 1
    sha1 = json.loads(versions.shipped_path("cihmlc", "demo").with_suffix(".json").read_text())["sha256"]

    n2 = versions.add_version("cihmlc", "demo", _ckpt(tmp_path, "a", 1), {"job_id": "job-a"})
    n3 = versions.add_version("cihmlc", "demo", _ckpt(tmp_path, "b", 2), {"job_id": "job-b"})
    assert (n2, n3) == (2, 3)
    assert versions.active_version("cihmlc", "demo") == 1  # adding never changes what is served
    rows = versions.list_versions("cihmlc", "demo")
    assert [r["version"] for r in rows] == [1, 2, 3] and [r["active"] for r in rows] == [True, False, False]
    assert rows[1]["job_id"] == "job-a" and rows[1]["val_metrics"] == {"val_mean_auroc": 0.51}

    versions.promote("cihmlc", "demo", 3)
    versions.promote("cihmlc", "demo", 2)
    assert versions.active_version("cihmlc", "demo") == 2
    assert versions.rollback("cihmlc", "demo")["version"] == 3
    assert versions.rollback("cihmlc", "demo")["version"] == 1
    with pytest.raises(InputError, match="nothing to roll back to"):
        versions.rollback("cihmlc", "demo")
    _, card = load_checkpoint(versions.active_checkpoint("cihmlc", "demo"))
    assert card["sha256"] == sha1
    # the shipped version is restorable after any promotions
    versions.promote("cihmlc", "demo", 3)
    assert versions.restore_shipped("cihmlc", "demo")["version"] == 1


def test_refusals_are_one_line(dirs, tmp_path):
    versions.add_version("cihmlc", "demo", _ckpt(tmp_path, "a", 1))
    versions.promote("cihmlc", "demo", 2)
    # a version of another label space
    other = _ckpt(tmp_path, "hc", 3, model_id="hcnet")
    card_p = other.with_suffix(".json")
    card = json.loads(card_p.read_text())
    card.update({"id": "cihmlc"})
    card_p.write_text(json.dumps(card))
    n = versions.add_version("cihmlc", "demo", other)
    with pytest.raises(InputError, match="label space"):
        versions.promote("cihmlc", "demo", n)
    # weights that fail their sha256
    n = versions.add_version("cihmlc", "demo", _ckpt(tmp_path, "b", 4))
    w = versions.version_path("cihmlc", "demo", n)
    w.write_bytes(w.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CheckpointError, match="sha256"):
        versions.promote("cihmlc", "demo", n)
    assert versions.active_version("cihmlc", "demo") == 2
    with pytest.raises(InputError, match="no version 99"):
        versions.promote("cihmlc", "demo", 99)


def test_cli_versions_promote_rollback(dirs, tmp_path, capsys):
    from hcview.cli import main

    versions.write_shipped(_ckpt(tmp_path, "s", 0), versions.shipped_path("cihmlc", "demo"))
    versions.add_version("cihmlc", "demo", _ckpt(tmp_path, "a", 1), {"job_id": "j1"})
    assert main(["models", "versions", "cihmlc", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["active"], r["job_id"]) for r in rows] == [(1, True, None), (2, False, "j1")]
    assert all(len(r["sha256"]) == 64 and r["created_at"] for r in rows)
    assert main(["models", "promote", "cihmlc", "--version", "2"]) == 0
    assert main(["models", "rollback", "cihmlc"]) == 0
    assert main(["models", "rollback", "cihmlc"]) == 2
    assert "nothing to roll back to" in capsys.readouterr().err


def test_predictor_follows_the_active_version(dirs, tmp_path):
    from hcview.infer.predictor import get_predictor

    versions.write_shipped(_ckpt(tmp_path, "s", 0), versions.shipped_path("cihmlc", "demo"))
    n = versions.add_version("cihmlc", "demo", _ckpt(tmp_path, "a", 1))
    p1 = get_predictor("cihmlc", "demo", "cpu")
    assert p1.version == 1 and get_predictor("cihmlc", "demo", "cpu") is p1
    versions.promote("cihmlc", "demo", n)
    p2 = get_predictor("cihmlc", "demo", "cpu")
    assert p2 is not p1 and p2.version == n and p2.card["sha256"] != p1.card["sha256"]
    versions.rollback("cihmlc", "demo")
    assert get_predictor("cihmlc", "demo", "cpu").version == 1


# ---- crash and concurrency safety ------------------------------------------------------------------
WRITER = r"""
import sys, time
from hcview.models import versions
src, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
for i in range(n):
    if mode == "shipped":
        versions.write_shipped(src, versions.shipped_path("cihmlc", "demo"))
    else:
        v = versions.add_version("cihmlc", "demo", src, {"job_id": f"w{i}"})
        if mode == "promote":
            versions.promote("cihmlc", "demo", v)
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _loadable_active():
    w = versions.active_checkpoint("cihmlc", "demo")
    assert w is not None
    load_state(w)  # sha256 check + weights_only load: raises if the active version is broken


def test_sigkill_at_random_instants_leaves_the_active_version_loadable(dirs, tmp_path):
    versions.write_shipped(_ckpt(tmp_path, "s", 0), versions.shipped_path("cihmlc", "demo"))
    srcs = [_ckpt(tmp_path, f"k{i}", i + 1) for i in range(2)]
    rng = random.Random(0)
    kills = 0
    for i in range(30):
        mode = ("promote", "shipped", "add")[i % 3]
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(srcs[i % 2]), mode, "1000"], env=_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
        _loadable_active()
        for r in versions.list_versions("cihmlc", "demo"):  # every listed version is whole
            assert sha256_file(versions.version_path("cihmlc", "demo", r["version"])) == r["sha256"]
    assert kills >= 25


def test_two_concurrent_registrations(dirs, tmp_path):
    versions.write_shipped(_ckpt(tmp_path, "s", 0), versions.shipped_path("cihmlc", "demo"))
    srcs = [_ckpt(tmp_path, f"c{i}", i + 1) for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(s), "promote", "5"], env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for s in srcs]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()[-500:]
    rows = versions.list_versions("cihmlc", "demo")
    assert [r["version"] for r in rows] == list(range(1, 12))  # 10 new, unique, none lost
    for r in rows:
        load_state(versions.version_path("cihmlc", "demo", r["version"]))
    _loadable_active()


def test_a_training_job_leaves_the_active_version_unchanged(dirs, tmp_path):
    from hcview.cli import main

    versions.write_shipped(_ckpt(tmp_path, "s", 0), versions.shipped_path("cihmlc", "demo"))
    before = versions.list_versions("cihmlc", "demo")[0]
    rc = main(["train", "--model", "cihmlc", "--variant", "demo", "--max-steps", "2", "--epochs", "1", "--batch-size", "8",
               "--max-train-samples", "32", "--max-eval-samples", "16", "--out", str(tmp_path / "run"), "--register"])
    assert rc == 0
    rows = versions.list_versions("cihmlc", "demo")
    assert [r["version"] for r in rows] == [1, 2]
    assert rows[0]["active"] and rows[0]["sha256"] == before["sha256"] and rows[0]["test_metrics"] == before["test_metrics"]
    assert rows[1]["val_metrics"] and rows[1]["data"] == "sample:nih"
    # --promote-if-better records the comparison on the same validation split and promotes only a winner
    rc = main(["train", "--model", "cihmlc", "--variant", "demo", "--max-steps", "2", "--epochs", "1", "--batch-size", "8",
               "--max-train-samples", "32", "--max-eval-samples", "16", "--out", str(tmp_path / "run2"), "--register",
               "--promote-if-better", "val_mean_auroc"])
    assert rc == 0
    cmp = versions.list_versions("cihmlc", "demo")[2]["comparison"]
    assert cmp["metric"] == "val_mean_auroc" and cmp["n_val"] == 16 and cmp["active_version"] == 1
    assert versions.active_version("cihmlc", "demo") == (3 if cmp["better"] else 1)
