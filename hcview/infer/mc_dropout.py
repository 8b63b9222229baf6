"""Monte-Carlo dropout (Gal & Ghahramani 2016) with the paper models' split forward pass.

Dropout sits only above the backbone (``spec.dropout_above_features``), so the fast path computes
``forward_features`` once and resamples ``forward_head`` N times; the full path (reference) runs N
complete forward passes. Both draw the dropout masks from the same seeded private generator (see
:func:`hcview.explain.guard.sampled_dropout`), so for a given seed they produce the same samples.

Per output: mean, std, 95% interval (2.5 / 97.5 percentiles over the passes), predictive entropy
and mutual information (BALD: H[E p] - E H[p]). A head is flagged "uncertain - review" when an
interval straddles its decision (sigmoid: 0.5 inside [lo, hi]; softmax: top-1's interval overlaps
top-2's) or when its normalised predictive entropy exceeds ``entropy_level``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from hcview.explain.guard import model_lock, sampled_dropout
from hcview.models.base import to_probs  # noqa: F401  (re-exported: the predictor's import path)
from hcview.models.labels import LabelSpace

DEFAULT_PASSES = 10
ENTROPY_LEVEL = 0.9  # normalised predictive entropy (0..1) above which an output is "uncertain - review"
EPS = 1e-12


def _seeds(seed: int, n: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


@torch.no_grad()
def mc_samples(model: nn.Module, image: torch.Tensor, meta=None, meta_mask=None, text=None, *, n: int = DEFAULT_PASSES,
               seed: int = 0, fast: bool = True, feats: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Probabilities of N dropout passes: ``{head: Tensor(N, B, C)}``.

    ``fast``: backbone once, head N times. ``fast=False``: N full passes (reference). ``feats``: the case's
    ``forward_features`` when the caller already has them (the fast path then runs no backbone at all). The model is
    left exactly as found (no mode change, no hooks) and is locked for the duration."""
    if n < 1:
        raise ValueError("MC dropout needs at least one pass")
    ls = model.label_space
    gen = _seeds(seed, n)
    spec = getattr(model, "spec", None)
    if fast and spec is not None and not spec.dropout_above_features:
        fast = False
    with model_lock(model):
        with sampled_dropout(model, gen):
            if fast:
                if feats is None:
                    feats = model.forward_features(image, meta, meta_mask, text)
                outs = [to_probs(model.forward_head(feats), ls) for _ in range(n)]
            else:
                outs = [to_probs(model(image, meta, meta_mask, text), ls) for _ in range(n)]
    return {h.name: torch.stack([o[h.name] for o in outs]).cpu() for h in ls.heads}


def _entropy(p: np.ndarray, axis=-1) -> np.ndarray:
    return -(p * np.log(np.clip(p, EPS, 1.0))).sum(axis)


def _bin_entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


@dataclass
class HeadUncertainty:
    head: str
    kind: str
    labels: tuple
    mean: np.ndarray        # (C,)
    std: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    entropy: np.ndarray     # softmax: scalar (1,), sigmoid: per label (C,) binary entropy
    mutual_info: np.ndarray
    uncertain: np.ndarray   # bool: softmax (1,), sigmoid per label
    n: int

    def to_json(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items()}


def summarize(samples: dict[str, torch.Tensor], label_space: LabelSpace, *, index: int = 0,
              threshold: float = 0.5, entropy_level: float = ENTROPY_LEVEL,
              thresholds: dict[str, np.ndarray] | None = None) -> dict[str, HeadUncertainty]:
    """Per-head statistics for case ``index`` of a batch of MC samples. ``thresholds`` (head -> per-label
    operating points, chosen on the validation split) replace 0.5 for sigmoid heads: an output is uncertain when
    its interval straddles its own threshold."""
    res = {}
    for h in label_space.heads:
        s = samples[h.name][:, index].double().numpy()  # (N, C)
        n = s.shape[0]
        mean, std = s.mean(0), s.std(0, ddof=1) if n > 1 else np.zeros(s.shape[1])
        lo, hi = np.percentile(s, 2.5, axis=0), np.percentile(s, 97.5, axis=0)
        if h.kind == "softmax":
            ent = _entropy(mean)
            mi = ent - _entropy(s).mean()
            norm = ent / np.log(len(mean)) if len(mean) > 1 else 0.0
            order = np.argsort(-mean)
            overlap = len(mean) > 1 and lo[order[0]] <= hi[order[1]]
            unc = np.array([bool(overlap or norm > entropy_level)])
            ent, mi = np.array([ent]), np.array([mi])
        elif h.kind == "sigmoid":
            ent = _bin_entropy(mean)
            mi = ent - _bin_entropy(s).mean(0)
            if thresholds is not None and h.name in thresholds:
                t = np.asarray(thresholds[h.name], dtype=float)
                unc = (lo < t) & (hi > t)
            else:
                unc = (lo < threshold) & (hi > threshold) | (ent / np.log(2) > entropy_level)
        else:  # regression: spread only
            ent = mi = np.zeros_like(mean)
            unc = np.zeros(len(mean), dtype=bool)
        res[h.name] = HeadUncertainty(h.name, h.kind, h.labels, mean, std, lo, hi, ent, np.maximum(mi, 0.0), unc, n)
    return res
