"""Background jobs: SIGKILL -> interrupted (checkpoint intact), cancel (+ queue), failing job.

Each job is a real ``python -m hcview train`` subprocess on a demo variant with a tiny data subset."""
import json
import os
import signal
import time
from pathlib import Path

import pytest

from hcview.jobs import runner
from hcview.jobs.store import JobStore

SMALL = ["--model", "cihmlc", "--variant", "demo", "--batch-size", "8", "--max-eval-samples", "16"]


def _wait_for(pred, timeout=60, poll=0.05):
    t = time.time()
    while time.time() - t < timeout:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError("timed out waiting")


def _events(job):
    return runner.read_progress(job)


@pytest.fixture
def store(tmp_var_dir, tmp_models_dir, monkeypatch):
    monkeypatch.setenv("HCVIEW_MAX_JOBS", "1")
    return JobStore()


def test_sigkill_mid_epoch_is_interrupted_and_checkpoint_still_loads(store, tmp_models_dir):
    from hcview.models.checkpoint import load_checkpoint

    job = runner.submit_train(SMALL + ["--epochs", "50", "--max-train-samples", "96"], "cihmlc", "demo", store=store)
    assert job["status"] == "running" and job["pid"]

    # wait until epoch 0 is validated + checkpointed and epoch 1 has taken a step: we are mid-epoch
    def mid_epoch():
        ev = _events(store.get(job["id"]))
        return any(e.get("event") == "epoch" for e in ev) and ev[-1].get("event") == "step" and ev[-1]["epoch"] >= 1
    _wait_for(mid_epoch, timeout=90)
    os.kill(job["pid"], signal.SIGKILL)
    _wait_for(lambda: not runner.pid_alive(job["pid"]), timeout=10)

    changed = runner.reconcile(store)
    assert (job["id"], "interrupted") in changed
    j = store.get(job["id"])
    assert j["status"] == "interrupted" and "ended without reporting" in j["error"]
    out = Path(j["out_dir"])
    assert not list(out.glob(".*.tmp")), "a half-written file was left behind"
    model, card = load_checkpoint(out / "best_metric.pt")  # the previous best still loads (sha256 verified)
    assert card["epoch"] >= 0 and card["metrics"]["val"]
    load_checkpoint(out / "best_loss.pt")
    assert not (tmp_models_dir / "cihmlc-demo.pt").exists()  # an interrupted job registers nothing
    # the same recovery is what the CLI runs: a second reconcile changes nothing
    assert runner.reconcile(store) == []


def test_cancel_running_job_and_queue_starts_next(store):
    a = runner.submit_train(SMALL + ["--epochs", "100", "--max-train-samples", "64"], "cihmlc", "demo", store=store)
    b = runner.submit_train(["--model", "hcnet", "--variant", "demo", "--data", "folder:/no/such/dir"], "hcnet", "demo",
                            store=store)
    assert store.get(a["id"])["status"] == "running"
    assert store.get(b["id"])["status"] == "queued"  # concurrency limit 1
    _wait_for(lambda: any(e.get("event") == "step" for e in _events(store.get(a["id"]))), timeout=60)

    j = runner.cancel(a["id"], store, wait_s=30)
    assert j["status"] == "cancelled", j
    _wait_for(lambda: not runner.pid_alive(j["pid"]), timeout=15)  # the process exits after recording it
    ev = _events(j)
    assert ev[-1]["event"] == "cancelled"
    assert ev[-1]["step"] < 100 * 8  # stopped early, at a step boundary
    # the freed slot started the queued job (it then fails on its bad path)
    jb = runner.wait(b["id"], timeout_s=60, store=store)
    assert jb["status"] == "failed"
    with pytest.raises(Exception):
        runner.cancel(a["id"], store)  # already ended


def test_failing_job_has_one_line_reason(store, tmp_path):
    missing = tmp_path / "nope"
    job = runner.submit_train(["--model", "hcnet", "--variant", "demo", "--data", f"folder:{missing}"], "hcnet", "demo",
                              store=store)
    j = runner.wait(job["id"], timeout_s=60, store=store)
    assert j["status"] == "failed"
    assert j["error"] and "\n" not in j["error"] and str(missing) in j["error"], j["error"]
    assert "Traceback" not in runner.log_tail(j)


def test_cancel_queued_job_and_cli_show(store, capsys):
    from hcview.cli import main

    store.create(["train", "--model", "hcnet"], model="hcnet", variant="demo", job_id="q1")
    store.create(["train", "--model", "hcnet"], model="hcnet", variant="demo", job_id="q2")
    # pretend q1 holds the only slot with a live process (this test's own pid)
    store.update("q1", status="running", pid=os.getpid(), pid_start=runner.proc_start_time(os.getpid()))
    assert main(["jobs", "cancel", "q2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "cancelled"
    assert main(["jobs", "show", "q1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "running" and shown["pid"] == os.getpid()
    for k in ("id", "status", "pid", "progress", "log", "checkpoint"):
        assert k in shown
    # pid reuse: same pid, different start time -> not ours -> interrupted
    store.update("q1", pid_start="1")
    assert runner.reconcile(store) == [("q1", "interrupted")]
    assert main(["jobs", "show", "nope"]) == 2


def test_training_page_renders_jobs_and_rejects_bad_launch(store, tmp_path):
    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parent.parent
    job = store.create(["train", "--model", "cihmlc"], model="cihmlc", variant="demo", job_id="j1")
    pp = Path(job["progress_path"])
    pp.parent.mkdir(parents=True, exist_ok=True)
    pp.write_text("\n".join(json.dumps(e) for e in [
        {"event": "step", "epoch": 0, "step": 1, "total_steps": 4, "loss": 1.0, "lr": 1e-3, "eta_s": 30},
        {"event": "epoch", "epoch": 0, "step": 2, "total_steps": 4, "val_loss": 0.9, "train_loss": 1.0, "val_mean_auroc": 0.6},
        {"event": "step", "epoch": 1, "step": 3, "total_steps": 4, "loss": 0.8, "lr": 1e-3, "eta_s": 10}]) + "\n")
    store.finish("j1", "failed", error="boom: one line")
    at = AppTest.from_file(str(root / "views/3_Training.py"), default_timeout=60)
    at.run()
    assert not at.exception
    assert any(":red-badge[" in str(m.value) and "failed]" in str(m.value) for m in at.markdown)  # status badge
    assert any(m.value == "3/4" for m in at.metric)
    assert any("boom: one line" in e.value for e in at.error)
    # launching the paper variant without a dataset path is refused with one line, no job created
    at.radio[0].set_value("paper")
    form_btn = [b for b in at.button if "Start training job" in (b.label or "")]
    form_btn[0].click().run()
    assert not at.exception
    assert any("needs a dataset" in e.value for e in at.error)
    assert [j["id"] for j in store.list()] == ["j1"]


def test_submit_cli_and_demo_bootstrap_without_spawning(store, tmp_models_dir, monkeypatch, capsys):
    from hcview.cli import main
    from hcview.jobs import bootstrap

    spawned = []

    def fake_spawn(st, job, conn):
        spawned.append(job)
        st.update(job["id"], conn, status="running", pid=os.getpid(), pid_start=runner.proc_start_time(os.getpid()))
    monkeypatch.setattr(runner, "_spawn", fake_spawn)
    monkeypatch.setenv("HCVIEW_MAX_JOBS", "2")

    assert main(["jobs", "submit", "--model", "hcnet", "--max-steps", "2", "--nproc", "2", "--json"]) == 0
    jid = json.loads(capsys.readouterr().out)["id"]
    assert spawned[0]["id"] == jid
    assert spawned[0]["argv"][:3] == ["train", "--model", "hcnet"] and "--register" in spawned[0]["argv"]
    a = spawned[0]["argv"]
    assert a[a.index("--max-steps") + 1] == "2" and a[a.index("--nproc") + 1] == "2"
    assert main(["jobs", "submit", "--model", "hcnet", "--variant", "paper", "--json"]) == 2  # bad config: no job
    assert len(store.list()) == 1

    # bootstrap: hcnet already has an active demo job, cihmlc is registered -> only the other two are new
    (tmp_models_dir / "cihmlc-demo.pt").write_bytes(b"x")
    (tmp_models_dir / "cihmlc-demo.json").write_text("{}")
    jobs = bootstrap.submit_demo_jobs()
    assert sorted(j["model"] for j in jobs) == ["hcnet", "medfusionnet", "resmtnet"]
    assert next(j for j in jobs if j["model"] == "hcnet")["id"] == jid
    statuses = {j["model"]: j["status"] for j in store.list()}
    assert statuses == {"hcnet": "running", "medfusionnet": "running", "resmtnet": "queued"}  # limit 2
    assert len(bootstrap.submit_demo_jobs()) == 3  # idempotent: nothing new queued
    assert len(store.list()) == 3
