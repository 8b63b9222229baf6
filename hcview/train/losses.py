"""Loss functions of the four papers, each small enough to check by hand (see tests/test_losses.py).

- :func:`class_weights` ``w_i = N / (C * n_i)`` from training-split counts (HC-Net). A class with
  zero training examples gets weight 0: it cannot be learnt from this split, and a finite
  clipped weight would be an arbitrary choice. ``N`` counts only known labels (>= 0).
- :func:`hcnet_loss` CE(anatomy) + CE(category) + class-weighted CE(disease); ``hcnet_flat``: the flat
  baseline of the paper's ablation, class-weighted CE(disease) only.
- :func:`hbce_loss` mean BCE + lambda * mean over batch of sum over edges w(p, c) * penalty(p, c), with
  ``faithful`` (constant 0/1 indicator, no gradient: trains exactly like BCE, as the authors' code) or
  ``surrogate`` (w * relu(p_child - p_parent), differentiable) indicators, and :func:`hbce_edge_weights`
  for the fixed (beta) and data-driven modes.
- :func:`focal_loss` class-weighted multi-label focal loss (MedFusionNet).
- :func:`resmtnet_loss` label-smoothed CE on the softmax heads + masked MSE on x, y, size, weighted sum.
- :func:`build_criterion` picks one from ``train_defaults['loss']``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from hcview.errors import InputError

HBCE_EPS = 1e-6


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


def hcnet_loss(outputs: dict, targets: dict, disease_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    la = weighted_ce(outputs["anatomy"], targets["anatomy"])
    lc = weighted_ce(outputs["category"], targets["category"])
    ld = weighted_ce(outputs["disease"], targets["disease"], disease_weight)
    return la + lc + ld, {"anatomy": la.detach(), "category": lc.detach(), "disease": ld.detach()}


# ---------------------------------------------------------------------------------------------
# HBCE (CIHMLC)
def hbce_edge_weights(targets, edges: list[tuple[int, int]], mode: str = "data", beta: float = 1.0,
                      eps: float = HBCE_EPS) -> torch.Tensor:
    """One weight per (parent, child) edge. ``fixed``: beta. ``data`` (authors' code):
    ``1 - (n(parent=0, child=1) + eps) / (n(parent=0) + 2 eps)`` over the training targets."""
    if mode == "fixed":
        return torch.full((len(edges),), float(beta))
    if mode != "data":
        raise InputError(f"unknown HBCE mode {mode!r}; use fixed or data")
    y = np.asarray(targets, dtype=float)
    w = []
    for p, c in edges:
        known = np.isfinite(y[:, p]) & np.isfinite(y[:, c]) & (y[:, p] >= 0) & (y[:, c] >= 0)
        p0 = known & (y[:, p] == 0)
        p0c1 = p0 & (y[:, c] == 1)
        w.append(1.0 - (p0c1.sum() + eps) / (p0.sum() + 2 * eps))
    return torch.tensor(w, dtype=torch.float32)


def masked_bce(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean BCE over known entries (NaN or < 0 = unknown)."""
    known = torch.isfinite(y) & (y >= 0)
    if not known.any():
        return logits.sum() * 0.0
    yy = torch.where(known, y, torch.zeros_like(y))
    loss = F.binary_cross_entropy_with_logits(logits, yy, reduction="none")
    return (loss * known).sum() / known.sum()


def hbce_penalty(prob: torch.Tensor, edges: list[tuple[int, int]], weights: torch.Tensor,
                 indicator: str = "faithful") -> torch.Tensor:
    """Mean over the batch of ``sum_edges w * penalty``. ``faithful``: 1[p_parent < .5 and p_child > .5]
    as a constant (no gradient). ``surrogate``: ``relu(p_child - p_parent)``."""
    if not edges:
        return prob.sum() * 0.0
    pi = torch.tensor([p for p, _ in edges], device=prob.device)
    ci = torch.tensor([c for _, c in edges], device=prob.device)
    pp, pc = prob[:, pi], prob[:, ci]
    w = weights.to(prob.device, prob.dtype)
    if indicator == "faithful":
        ind = ((pp.detach() < 0.5) & (pc.detach() > 0.5)).to(prob.dtype)
        return (ind * w).sum(1).mean()
    if indicator == "surrogate":
        return (torch.relu(pc - pp) * w).sum(1).mean()
    raise InputError(f"unknown HBCE indicator {indicator!r}; use faithful or surrogate")


def hbce_loss(logits: torch.Tensor, y: torch.Tensor, edges, weights, lam: float = 0.5,
              indicator: str = "faithful") -> tuple[torch.Tensor, dict]:
    bce = masked_bce(logits, y)
    pen = hbce_penalty(torch.sigmoid(logits.float()), edges, weights, indicator)
    return bce + lam * pen, {"bce": bce.detach(), "penalty": pen.detach()}


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
# Res-MTNet
def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE over entries with ``mask == 1`` (non-nodule cases have no x, y, size); 0 if none."""
    m = mask.to(pred.dtype)
    if m.sum() == 0:
        return pred.sum() * 0.0
    t = torch.nan_to_num(target.to(pred.dtype))
    return (((pred - t) ** 2) * m).sum() / m.sum()


def resmtnet_loss(outputs: dict, targets: dict, reg_mask: torch.Tensor, weights: dict, softmax_heads: list[str],
                  reg_labels: list[str], label_smoothing: float = 0.1) -> tuple[torch.Tensor, dict]:
    parts = {}
    total = 0.0
    for h in softmax_heads:
        l = weighted_ce(outputs[h], targets[h], label_smoothing=label_smoothing)
        parts[h] = l
        total = total + float(weights.get(h, 1.0)) * l
    if "regression" in outputs:
        pred, tgt = outputs["regression"].float(), targets["regression"].float()
        for i, name in enumerate(reg_labels):
            l = masked_mse(pred[:, i], tgt[:, i], reg_mask[:, i])
            parts[name] = l
            total = total + float(weights.get(name, 1.0)) * l
    return total, {k: v.detach() for k, v in parts.items()}


# ---------------------------------------------------------------------------------------------
def build_criterion(spec, variant, cfg: dict, train_dataset, label_space=None) -> tuple[Callable, dict]:
    """Return ``(fn(outputs, batch) -> (loss, parts), info)``; ``info`` (class weights, HBCE weights...)
    goes into the model card. Weights are computed from the training split's targets."""
    loss = cfg.get("loss")
    ls = label_space or getattr(train_dataset, "label_space", None) or spec.label_space(getattr(variant, "name", variant))
    info: dict = {"loss": loss}
    if loss in ("hcnet", "hcnet_flat"):
        dis = ls.head("disease")
        w = class_weights(train_dataset.targets_array("disease"), dis.size)
        info["disease_class_weights"] = dict(zip(dis.labels, [round(float(x), 4) for x in w]))

        def fn(outputs, batch):
            if loss == "hcnet_flat":
                ld = weighted_ce(outputs["disease"], batch["targets"]["disease"], w)
                return ld, {"disease": ld.detach()}
            return hcnet_loss(outputs, batch["targets"], w)
        return fn, info
    if loss == "hbce":
        head = ls.heads[0]
        edges = ls.edge_index()
        mode, ind, lam = cfg.get("hbce_mode", "data"), cfg.get("hbce_indicator", "faithful"), float(cfg.get("hbce_lambda", 0.5))
        ew = hbce_edge_weights(train_dataset.targets_array(head.name), edges, mode, float(cfg.get("hbce_beta", 1.0)))
        info.update({"hbce_mode": mode, "hbce_indicator": ind, "hbce_lambda": lam,
                     "hbce_beta": float(cfg.get("hbce_beta", 1.0)) if mode == "fixed" else None,
                     "hbce_edge_weights": {f"{head.labels[p]}->{head.labels[c]}": round(float(x), 6)
                                           for (p, c), x in zip(edges, ew)}})

        def fn(outputs, batch):
            return hbce_loss(outputs[head.name], batch["targets"][head.name], edges, ew, lam, ind)
        return fn, info
    if loss == "focal":
        head = ls.heads[0]
        alpha = multilabel_pos_weights(train_dataset.targets_array(head.name)) if cfg.get("focal_class_weights", True) else None
        gamma = float(cfg.get("focal_gamma", 2.0))
        info.update({"focal_gamma": gamma,
                     "focal_alpha": dict(zip(head.labels, [round(float(x), 4) for x in alpha])) if alpha is not None else None})

        def fn(outputs, batch):
            l = focal_loss(outputs[head.name], batch["targets"][head.name], gamma, alpha)
            return l, {"focal": l.detach()}
        return fn, info
    if loss == "resmtnet":
        sm = [h.name for h in ls.heads if h.kind == "softmax"]
        reg = next((h for h in ls.heads if h.kind == "regression"), None)
        reg_labels = list(reg.labels) if reg else []
        tw = dict(cfg.get("task_weights") or {})
        eps = float(cfg.get("label_smoothing", 0.1))
        info.update({"task_weights": tw, "label_smoothing": eps})

        def fn(outputs, batch):
            mask = batch.get("reg_mask")
            if mask is None:
                mask = torch.ones_like(outputs["regression"]) if "regression" in outputs else None
            return resmtnet_loss(outputs, batch["targets"], mask, tw, sm, reg_labels, eps)
        return fn, info
    raise InputError(f"unknown loss {loss!r} in the training config")
