"""Loss building blocks shared by the papers, each small enough to check by hand (see tests/test_losses.py).
The papers' own losses (HC-Net's three-head CE, CIHMLC's HBCE, Res-MTNet's multi-task sum) and their
builders live in each paper's module (``hcview/papers/<id>.py``).

- :func:`class_weights` ``w_i = N / (C * n_i)`` from training-split counts (HC-Net). A class with
  zero training examples gets weight 0: it cannot be learnt from this split, and a finite
  clipped weight would be an arbitrary choice. ``N`` counts only known labels (>= 0).
- :func:`weighted_ce`, :func:`masked_bce`, :func:`masked_mse` ignore unknown targets.
- :func:`focal_loss` class-weighted multi-label focal loss (MedFusionNet).
- :func:`build_criterion` asks the model's spec for its loss.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hcview.errors import InputError

# ---------------------------------------------------------------------------------------------
# class weights
def class_weights(targets, num_classes: int) -> torch.Tensor:
    """``w_i = N / (C * n_i)`` over known labels (``-100``/negative = unknown, ignored).
    Zero-count classes get weight 0 (documented choice: nothing to learn from, no arbitrary clip)."""
    t = np.asarray(targets).reshape(-1)
    t = t[t >= 0].astype(int)
    counts = np.bincount(t, minlength=num_classes)[:num_classes].astype(float)
    n = counts.sum()
    w = np.zeros(num_classes, dtype=float)
    nz = counts > 0
    w[nz] = n / (num_classes * counts[nz])
    return torch.tensor(w, dtype=torch.float32)


def multilabel_pos_weights(targets) -> torch.Tensor:
    """Per-label weight for multi-label data: ``N / (2 * n_pos)`` (the two-class form of ``N/(C n_i)``),
    clipped to [0.1, 50]; labels with no positive get 1 (unknown entries, NaN or < 0, ignored)."""
    y = np.asarray(targets, dtype=float)
    known = np.isfinite(y) & (y >= 0)
    n = known.sum(0).astype(float)
    pos = ((y == 1) & known).sum(0).astype(float)
    w = np.ones(y.shape[1])
    m = pos > 0
    w[m] = np.clip(n[m] / (2 * pos[m]), 0.1, 50.0)
    return torch.tensor(w, dtype=torch.float32)


# ---------------------------------------------------------------------------------------------
# softmax losses
def weighted_ce(logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
                label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy ignoring ``-100``; a batch with no known label gives 0 (keeps the graph)."""
    if not (target != -100).any():
        return logits.sum() * 0.0
    w = weight.to(logits.device, logits.dtype) if weight is not None else None
    return F.cross_entropy(logits, target, weight=w, ignore_index=-100, label_smoothing=label_smoothing)


def masked_bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean BCE over known entries (NaN or < 0 = unknown)."""
    known = torch.isfinite(y) & (y >= 0)
    if not known.any():
        return logits.sum() * 0.0
    yy = torch.where(known, y, torch.zeros_like(y))
    loss = F.binary_cross_entropy_with_logits(logits, yy, reduction="none")
    return (loss * known).sum() / known.sum()


# ---------------------------------------------------------------------------------------------
# focal (MedFusionNet)
def focal_loss(logits: torch.Tensor, y: torch.Tensor, gamma: float = 2.0, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """Multi-label focal loss ``-alpha_c (1 - p_t)^gamma log p_t``, mean over known entries.
    ``alpha`` is a per-class weight (e.g. :func:`multilabel_pos_weights`) applied to positives; negatives weight 1."""
    known = torch.isfinite(y) & (y >= 0)
    if not known.any():
        return logits.sum() * 0.0
    yy = torch.where(known, y, torch.zeros_like(y))
    logits = logits.float()
    ce = F.binary_cross_entropy_with_logits(logits, yy, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * yy + (1 - p) * (1 - yy)
    loss = (1 - p_t) ** gamma * ce
    if alpha is not None:
        a = alpha.to(logits.device, logits.dtype)
        loss = loss * (yy * a + (1 - yy))
    return (loss * known).sum() / known.sum()


# ---------------------------------------------------------------------------------------------
# regression (Res-MTNet)
def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE over entries with ``mask == 1`` (non-nodule cases have no x, y, size); 0 if none."""
    m = mask.to(pred.dtype)
    if m.sum() == 0:
        return pred.sum() * 0.0
    t = torch.nan_to_num(target.to(pred.dtype))
    return (((pred - t) ** 2) * m).sum() / m.sum()


# ---------------------------------------------------------------------------------------------
def build_criterion(spec, variant, cfg: dict, train_dataset, label_space=None) -> tuple[Callable, dict]:
    """The paper's loss (its module's ``build_loss``): ``(fn(outputs, batch) -> (loss, parts), info)``; ``info``
    (class weights, HBCE weights...) goes into the model card. Weights come from the training split's targets."""
    ls = label_space or getattr(train_dataset, "label_space", None) or spec.label_space(getattr(variant, "name", variant))
    if spec.loss is None:
        raise InputError(f"model {spec.id!r} has no loss builder")
    return spec.loss(cfg, train_dataset, ls)
