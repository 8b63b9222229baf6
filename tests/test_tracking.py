"""Optional MLflow tracking: off without MLFLOW_TRACKING_URI, one warning without mlflow, and with a local store
(a local file store) a run holds the params, the per-epoch metrics and the checkpoint."""
import sys

import pytest

from hcview.jobs.tracking import log_training

CFG = {"model": "cihmlc", "variant": "demo", "lr": 0.001, "epochs": 2, "_private": 1}
RESULT = {"out_dir": "/tmp/run-x", "history": [{"epoch": 0, "val_loss": 0.5, "val_mean_auroc": 0.6},
                                               {"epoch": 1, "val_loss": 0.4, "val_mean_auroc": 0.65}],
          "test": {"test_mean_auroc": 0.62}, "version": 3, "promoted": False}


def test_off_without_the_variable(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert log_training(CFG, RESULT) is None


def test_one_warning_without_mlflow(monkeypatch, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "file:///nonexistent")
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert log_training(CFG, RESULT) is None
    assert "mlflow is not installed" in capsys.readouterr().err


def test_local_store(monkeypatch, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"weights")
    (tmp_path / "best.json").write_text("{}")
    uri = (tmp_path / "mlruns").as_uri()  # a local file store (mlflow-skinny has no SQL backend)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    run_id = log_training(CFG, RESULT, str(ckpt))
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    assert run.data.params["lr"] == "0.001" and "_private" not in run.data.params
    hist = client.get_metric_history(run_id, "val_mean_auroc")
    assert [(m.step, m.value) for m in sorted(hist, key=lambda m: m.step)] == [(0, 0.6), (1, 0.65)]
    assert run.data.metrics["test_mean_auroc"] == 0.62 and run.data.tags["hcview.version"] == "3"
    assert {a.path for a in client.list_artifacts(run_id, "checkpoint")} == {"checkpoint/best.pt", "checkpoint/best.json"}
