"""After training: what a checkpoint needs to know when not to answer.

:func:`fit_post` runs the trained model once over its training and validation splits and fits

- the out-of-distribution gate: class-conditional Mahalanobis statistics of the pooled backbone features
  (``forward_features``) on the training split, with the threshold at a stated in-distribution false-alarm rate
  (default 5%) measured on the validation split;
- per-label operating points of every sigmoid output on the validation split (Youden's J by default, or a
  target sensitivity);
- the measured separation of in-distribution test images from images of another modality (the paper's
  ``ood_probes``), so the card says how well the gate works.

:func:`apply_post` writes them into the checkpoint: the statistics as ``ood.*`` tensors inside the sha256-checked
weights file, the figures in the card. ``python -m hcview models fit-ood`` does this for older checkpoints;
training does it for every new one.
"""
from __future__ import annotations

import glob
import time
from pathlib import Path

import numpy as np
import torch

from hcview.data.dicom import MODEL_INPUT_RULE
from hcview.metrics.ood import (compute_ood_separation, fit_mahalanobis, mahalanobis_score,
                                threshold_at_false_alarm)
from hcview.metrics.operating import choose_threshold
from hcview.models.base import OODStats, to_probs
from hcview.models.registry import get_spec
from hcview.paths import samples_dir

FALSE_ALARM = 0.05
MAX_FIT_CASES = 3000
MAX_PROBE_IMAGES = 300


def ood_head(label_space) -> str | None:
    """The classes of the class-conditional fit: the last softmax head with a choice (HC-Net: disease), or one
    class for multi-label models."""
    heads = [h for h in label_space.heads if h.kind == "softmax" and h.size > 1]
    return heads[-1].name if heads else None


@torch.no_grad()
def collect(model, ds, batch_size: int = 64) -> tuple[np.ndarray, dict, dict]:
    """Pooled features (N, D), probabilities and targets per head, with the model in eval mode."""
    from .forward import eval_loader, model_inputs

    model.eval()
    device = next(model.parameters()).device
    feats, probs, ys = [], {}, {}
    for batch in eval_loader(ds, batch_size):
        x = batch["image"].to(device)
        kw = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in model_inputs(batch, model.spec, model).items()}
        f = model.forward_features(x, **kw)
        feats.append(f.float().cpu().numpy())
        for h, p in to_probs(model.forward_head(f), model.label_space).items():
            probs.setdefault(h, []).append(p.cpu().numpy())
            ys.setdefault(h, []).append(batch["targets"][h].cpu().numpy())
    cat = lambda d: {k: np.concatenate(v) for k, v in d.items()}  # noqa: E731
    return (np.concatenate(feats) if feats else np.zeros((0, 0), np.float32)), cat(probs), cat(ys)


def probe_scores(model, patterns, stats: dict, limit: int = MAX_PROBE_IMAGES) -> tuple[np.ndarray, list[str]]:
    """OOD scores of images of another modality from the sample pack (through the predictor's preprocessing)."""
    from hcview.data.io import load_image, to_model_input

    spec = model.spec
    size = spec.variant(model.variant).input_size
    files = sorted({f for pat in patterns for f in glob.glob(str(samples_dir() / pat), recursive=True)})
    if len(files) > limit:  # a spread-out, deterministic subset
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).round().astype(int)]
    device = next(model.parameters()).device
    scores = []
    with torch.no_grad():
        for i in range(0, len(files), 64):
            x = torch.stack([to_model_input(load_image(f), size, spec.mean, spec.std) for f in files[i:i + 64]])
            f = model.forward_features(x.to(device)).float().cpu().numpy()
            scores.append(mahalanobis_score(f, stats["means"], stats["precision"]))
    return (np.concatenate(scores) if scores else np.zeros(0)), [str(Path(p).relative_to(samples_dir())) for p in files[:3]]


def fit_post(model, data_spec: str, *, false_alarm: float | None = None, rule: str = "youden",
             target_sensitivity: float | None = None, probes: bool = True, max_fit: int | None = None,
             max_eval: int | None = None) -> tuple[OODStats, dict]:
    """Fit the gate and the operating points of ``model`` (a checkpoint's model) on ``data_spec``'s splits.
    ``max_fit`` / ``max_eval`` cap the cases used (smoke runs); capped evaluation skips the probe measurement."""
    from hcview.data.datasets import build_dataset

    from .trainer import subsample

    t0 = time.time()
    spec = get_spec(model.spec.id)
    false_alarm = spec.ood_false_alarm if false_alarm is None else false_alarm
    ls = model.label_space
    size = spec.variant(model.variant).input_size
    mk = lambda split: build_dataset(data_spec, ls, split, size, spec.mean, spec.std)  # noqa: E731
    f_tr, _, y_tr = collect(model, subsample(mk("train"), min(max_fit or MAX_FIT_CASES, MAX_FIT_CASES), 0))
    head = ood_head(ls)
    stats = fit_mahalanobis(f_tr, y_tr[head] if head else None)
    f_va, p_va, y_va = collect(model, subsample(mk("val"), max_eval, 0))
    s_va = mahalanobis_score(f_va, stats["means"], stats["precision"])
    thr = threshold_at_false_alarm(s_va, false_alarm)
    ops = {}
    for h in ls.heads:
        if h.kind == "sigmoid":
            ops[h.name] = {lab: choose_threshold(y_va[h.name][:, j], p_va[h.name][:, j], rule, target_sensitivity)
                           for j, lab in enumerate(h.labels)}
    card = {"ood": {"method": "class-conditional Mahalanobis, shared covariance (Ledoit-Wolf), pooled backbone "
                              "features (Lee et al., NeurIPS 2018)",
                    "classes_from": head or "one class (multi-label)", "n_fit": stats["n_fit"],
                    "shrinkage": round(stats["shrinkage"], 4), "threshold": thr, "false_alarm_rate": false_alarm,
                    "threshold_set_on": f"{data_spec} validation split ({len(s_va)} cases)", "data": data_spec,
                    "note": spec.ood_note or None},
            "operating_points": ops,
            "operating_rule": rule if rule != "sensitivity" else f"sensitivity >= {target_sensitivity:g}"}
    card["preprocessing"] = {"input_size": size, "grey": "single channel repeated to 3, ImageNet mean/std",
                             "mean": list(spec.mean), "std": list(spec.std), "rule": MODEL_INPUT_RULE}
    if probes and spec.ood_probes and not max_eval:
        f_te, _, _ = collect(model, mk("test"))
        s_te = mahalanobis_score(f_te, stats["means"], stats["precision"])
        s_out, examples = probe_scores(model, spec.ood_probes, stats)
        card["ood"]["separation"] = {**compute_ood_separation(s_te, s_out, thr), "in": f"{data_spec} test split",
                                     "out": ", ".join(spec.ood_probes), "out_examples": examples}
    card["ood"]["fit_seconds"] = round(time.time() - t0, 1)
    return OODStats(stats["means"], stats["precision"], thr), card


def apply_post(weights_path, data_spec: str | None = None, **kw) -> dict:
    """Fit and write the gate and operating points into the checkpoint at ``weights_path`` (weights unchanged;
    the file gains ``ood.*`` tensors, so its sha256 changes and the card records the new one)."""
    from hcview.models.checkpoint import load_checkpoint, save_checkpoint

    model, card = load_checkpoint(weights_path)
    data_spec = data_spec or (card.get("data") or {}).get("spec") or get_spec(card["id"]).variant(card["variant"]).data
    stats, extra = fit_post(model, data_spec, **kw)
    model.ood = stats
    keep = {k: v for k, v in card.items() if k not in ("sha256", "bytes", "saved_at", "weights_file", "label_space")}
    save_checkpoint(model, weights_path, {**keep, **extra})
    return extra
