"""``--promote-if-better``: the candidate and the active version, scored on the same validation split.

Both checkpoints run through the trainer's own validation path (:func:`hcview.train.forward.collect` and
:func:`hcview.train.trainer.simple_metrics`) on the candidate's validation split (its data spec, its
``max_eval_samples`` subset), so the comparison never mixes numbers computed on different data.
"""
from __future__ import annotations

import math

from hcview.models.checkpoint import load_checkpoint
from hcview.models.registry import get_spec

from .config import LOWER_IS_BETTER


def validation_metrics(model, cfg: dict, device: str = "cpu") -> dict:
    """``val_*`` metrics (and ``val_loss``) of ``model`` on the validation split of ``cfg['data']``."""
    import torch

    from hcview.data.datasets import build_dataset

    from .forward import collect, eval_loader
    from .losses import build_criterion
    from .trainer import simple_metrics, subsample

    spec = get_spec(cfg["model"])
    ls = model.label_space
    size = spec.variant(cfg["variant"]).input_size
    ds = build_dataset(cfg["data"], ls, "val", size, spec.mean, spec.std)
    criterion, _ = build_criterion(spec, cfg["variant"], cfg, ds, ls)  # val_loss: the same weights for both models
    ds = subsample(ds, cfg.get("max_eval_samples"), int(cfg.get("seed") or 0))
    out = collect(model, eval_loader(ds, int(cfg.get("batch_size") or 32)), spec, torch.device(device), criterion)
    return {**simple_metrics(ls, out.targets, out.logits, out.reg_mask, "val"), "val_loss": out.loss, "n_val": len(ds)}


def compare(candidate_weights, active_weights, cfg: dict, metric: str) -> dict:
    """Score both on the candidate's validation split; ``better`` is True when the candidate wins on ``metric``
    (or when there is no active version)."""
    cand_model, _ = load_checkpoint(candidate_weights)
    cand = validation_metrics(cand_model, cfg)
    if metric not in cand:
        from hcview.errors import InputError

        raise InputError(f"--promote-if-better: unknown metric {metric!r}; choose from "
                         f"{', '.join(k for k in cand if k != 'n_val')}")
    out = {"metric": metric, "candidate": cand[metric], "data": cfg["data"], "split": "val", "n_val": cand["n_val"],
           "lower_is_better": lower_is_better(metric), "candidate_metrics": cand}
    if active_weights is None:
        return {**out, "active": None, "better": True, "reason": "no active version", "active_metrics": None}
    act_model, _ = load_checkpoint(active_weights)
    act = validation_metrics(act_model, cfg)
    out["active_metrics"] = act
    c, a = cand[metric], act.get(metric, float("nan"))
    if not math.isfinite(c):
        better = False
    elif not math.isfinite(a):
        better = True
    else:
        better = c < a if out["lower_is_better"] else c > a
    return {**out, "active": a, "better": bool(better)}


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER or metric.endswith("_mse")


def compare_versions(model_id: str, variant: str, candidate: int) -> dict:
    """The active version and ``candidate`` scored on the candidate's validation split (its data spec), on the
    candidate's own selection metric: what the promote buttons show before they ask for confirmation."""
    from hcview.models import versions

    from .config import resolve_config

    card = versions.read_version_card(model_id, variant, candidate)
    training = card.get("training") or {}
    cfg = resolve_config(model_id, variant, data=(card.get("data") or {}).get("spec"),
                         max_eval_samples=training.get("max_eval_samples"))
    metric = card.get("select") or cfg.get("select") or "val_loss"
    active = versions.active_version(model_id, variant)
    out = compare(versions.version_path(model_id, variant, candidate),
                  None if active is None else versions.version_path(model_id, variant, active), cfg, metric)
    return {**out, "active_version": active, "candidate_version": candidate}
