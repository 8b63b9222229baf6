"""The training configuration: paper defaults (``spec.train_defaults``) <- variant overrides
(``Variant.train``) <- command-line overrides (anything not ``None``). One flat dict, JSON-safe,
stored verbatim in the model card."""
from __future__ import annotations

import time
from pathlib import Path

from hcview import paths
from hcview.errors import InputError

# keys every config has, with the value used when neither the paper nor the variant says otherwise
BASE = {
    "optimizer": "adam", "lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
    "scheduler": "constant", "plateau_factor": 0.5, "plateau_patience": 1, "warmup": 0.0,
    "batch_size": 32, "epochs": 10, "max_steps": None, "early_stopping": None,
    "augment": [], "select": "val_loss", "seed": 0, "device": None, "num_workers": 0,
    "balanced_sampling": False, "curriculum": False, "curriculum_epochs": None,
    "hbce_mode": "data", "hbce_indicator": "faithful", "hbce_lambda": 0.5, "hbce_beta": 1.0,
    "amp": True, "threads": "auto", "channels_last": True, "max_train_samples": None, "max_eval_samples": None,
}

# metrics where lower is better; everything else is maximised
LOWER_IS_BETTER = ("val_loss",)


def resolve_config(model_id: str, variant: str = "demo", **overrides) -> dict:
    from hcview.models import get_spec

    spec = get_spec(model_id)
    v = spec.variant(variant)
    cfg = dict(BASE)
    cfg.update(spec.train_defaults)
    cfg.update(v.train)
    cfg.update({k: val for k, val in overrides.items() if val is not None})
    cfg["model"], cfg["variant"] = model_id, variant
    cfg.setdefault("data", None)
    if not cfg.get("data"):
        cfg["data"] = v.data
    cfg["betas"] = list(cfg["betas"])
    cfg["augment"] = list(cfg.get("augment") or [])
    for k in ("epochs", "batch_size"):
        if int(cfg[k]) < 1:
            raise InputError(f"--{k.replace('_', '-')} must be at least 1 (got {cfg[k]})")
        cfg[k] = int(cfg[k])
    if cfg.get("max_steps") is not None and int(cfg["max_steps"]) < 1:
        raise InputError(f"--max-steps must be at least 1 (got {cfg['max_steps']})")
    if float(cfg["lr"]) <= 0:
        raise InputError(f"--lr must be positive (got {cfg['lr']})")
    if cfg.get("scheduler", "constant") not in ("constant", "plateau", "cosine"):
        raise InputError(f"scheduler must be constant, plateau or cosine (got {cfg['scheduler']})")
    if not 0 <= float(cfg.get("warmup") or 0.0):
        raise InputError(f"warmup must be >= 0 (got {cfg['warmup']})")
    if cfg["hbce_mode"] not in ("fixed", "data"):
        raise InputError(f"--hbce-mode must be fixed or data (got {cfg['hbce_mode']})")
    if cfg["hbce_indicator"] not in ("faithful", "surrogate"):
        raise InputError(f"--hbce-indicator must be faithful or surrogate (got {cfg['hbce_indicator']})")
    if "PATH" in str(cfg["data"]).split(":", 1)[-1] and str(cfg["data"]).endswith("PATH"):
        raise InputError(f"the {variant} variant of {model_id} needs a dataset: pass --data {cfg['data'].split(':')[0]}:/path/to/data")
    return cfg


def default_out_dir(model_id: str, variant: str, job_id: str | None = None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{model_id}-{variant}-{job_id}" if job_id else f"{model_id}-{variant}-{stamp}"
    return paths.var_dir() / "runs" / name
