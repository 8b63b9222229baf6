"""Optional experiment tracking: when ``MLFLOW_TRACKING_URI`` is set and mlflow is installed, a finished training
run logs its parameters, its metrics per epoch, its test metrics and its checkpoint (weights + card) to MLflow.
Off by default and never a hard dependency: without the variable nothing happens; with it but without mlflow, one
warning line says the run was not logged."""
from __future__ import annotations

import os
import sys


def log_training(cfg: dict, result: dict, checkpoint: str | None = None) -> str | None:
    """Log one training run; returns the MLflow run id (None when tracking is off)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return None
    try:
        import mlflow
    except ImportError:
        print("warning: MLFLOW_TRACKING_URI is set but mlflow is not installed: this run is not logged", file=sys.stderr)
        return None
    from hcview.models.checkpoint import card_path

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(f"hcview-{cfg['model']}-{cfg['variant']}")
    with mlflow.start_run(run_name=os.path.basename(str(result.get("out_dir", ""))) or None) as run:
        mlflow.log_params({k: str(v)[:250] for k, v in cfg.items() if not k.startswith("_")})
        for rec in result.get("history") or []:
            step = int(rec.get("epoch", 0))
            mlflow.log_metrics({k: float(v) for k, v in rec.items()
                                if k != "epoch" and isinstance(v, (int, float)) and v == v}, step=step)
        test = {k: float(v) for k, v in (result.get("test") or {}).items() if isinstance(v, (int, float)) and v == v}
        if test:
            mlflow.log_metrics(test)
        if result.get("version") is not None:
            mlflow.set_tags({"hcview.version": result["version"], "hcview.promoted": result.get("promoted")})
        if checkpoint and os.path.exists(checkpoint):
            mlflow.log_artifact(checkpoint, artifact_path="checkpoint")
            if card_path(checkpoint).exists():
                mlflow.log_artifact(str(card_path(checkpoint)), artifact_path="checkpoint")
        return run.info.run_id
