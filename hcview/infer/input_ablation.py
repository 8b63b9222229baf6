"""What an optional input is worth: a model scored with and without it on the same cases.

MedFusionNet fuses the image with clinical metadata (age, sex, view) and text. :func:`input_ablation` scores it
on a split twice — all inputs, then with ``meta`` (and/or ``text``) removed (masked, as the model treats a missing
modality) — and gives the mean AUROC of each, their difference and a paired bootstrap 95% CI of the difference
(the same resampled cases for both). ``python -m hcview evaluate --model ID --data SPEC --ablate meta [--store]``.
"""
from __future__ import annotations

import numpy as np
import torch

from hcview.errors import InputError
from hcview.metrics.multilabel import compute_label_auc


class _Without(torch.utils.data.Dataset):
    """The dataset with some inputs removed: ``meta`` masked out, ``text`` emptied."""

    def __init__(self, ds, drop: tuple[str, ...]):
        self.ds, self.drop = ds, drop

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        item = dict(self.ds[i])
        if "meta" in self.drop and "meta" in item:
            item["meta"] = torch.zeros_like(torch.as_tensor(item["meta"]))
            item["meta_mask"] = torch.zeros_like(torch.as_tensor(item["meta_mask"]), dtype=torch.bool)
        if "text" in self.drop:
            item["text"] = ""
        return item


def _mean_auroc(y: np.ndarray, s: np.ndarray, idx: np.ndarray | None = None) -> float:
    if idx is not None:
        y, s = y[idx], s[idx]
    vals = [compute_label_auc(y[:, j], s[:, j])["auroc"] for j in range(y.shape[1])]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def input_ablation(model_id: str, variant: str = "demo", data_spec: str | None = None, split: str = "test",
                   drop: tuple[str, ...] = ("meta",), n_boot: int = 1000, seed: int = 0) -> dict:
    from hcview.data.datasets import build_dataset
    from hcview.train.forward import collect, eval_loader, probabilities

    from .predictor import get_predictor

    pred = get_predictor(model_id, variant)
    bad = [d for d in drop if d not in pred.spec.inputs or d == "image"]
    if bad or not drop:
        raise InputError(f"--ablate: {model_id} has no optional input {', '.join(bad) or '(none given)'} "
                         f"(its inputs: {', '.join(pred.spec.inputs)})")
    ls = pred.label_space
    head = next((h for h in ls.heads if h.kind == "sigmoid"), None)
    if head is None:
        raise InputError(f"--ablate scores multi-label (sigmoid) heads; {model_id} has none")
    data_spec = data_spec or pred.spec.variant(variant).data
    ds = build_dataset(data_spec, ls, split, pred.input_size, pred.spec.mean, pred.spec.std, model_id=model_id)
    scores = {}
    for name, d in (("all inputs", ds), ("without " + "+".join(drop), _Without(ds, drop))):
        out = collect(pred.model, eval_loader(d, 32), pred.spec, pred.device, lock=pred.lock)
        scores[name] = probabilities(out.logits, ls)[head.name]
        y = np.asarray(out.targets[head.name], dtype=float)
    full, less = scores.values()
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, len(y), len(y))
        diffs.append(_mean_auroc(y, full, idx) - _mean_auroc(y, less, idx))
    diffs = np.asarray([d for d in diffs if np.isfinite(d)])
    a, b = _mean_auroc(y, full), _mean_auroc(y, less)
    return {"model": model_id, "variant": variant, "data": data_spec, "split": split, "n_cases": int(len(y)),
            "dropped": list(drop), "metric": "mean AUROC over labels with both classes",
            "with_all_inputs": a, "without": b, "difference": a - b,
            "ci_low": float(np.percentile(diffs, 2.5)) if len(diffs) else float("nan"),
            "ci_high": float(np.percentile(diffs, 97.5)) if len(diffs) else float("nan"),
            "n_boot": int(len(diffs)), "checkpoint_sha256": pred.card.get("sha256"), "version": pred.version}
