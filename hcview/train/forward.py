"""One forward pass over a dataset, shared by the trainer (validation, test) and ``hcview.infer.evaluate``.

    out = collect(model, eval_loader(ds, batch_size), spec, device)   # eval mode, no gradients
    probs = probabilities(out.logits, label_space)                     # softmax / sigmoid / as is
    y_true, y_score = report_inputs(label_space, out.targets, probs, out.reg_mask)  # compute_report's input
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit, softmax
from torch.utils.data import DataLoader


def collate(items: list[dict]) -> dict:
    """Stack what the loop uses; strings stay lists. Optional keys are kept only if every item has them."""
    b = {"image": torch.stack([torch.as_tensor(it["image"], dtype=torch.float32) for it in items])}
    b["targets"] = {h: torch.stack([torch.as_tensor(it["targets"][h]) for it in items]) for h in items[0]["targets"]}
    for k, dt in (("reg_mask", torch.float32), ("meta", torch.float32), ("meta_mask", torch.bool)):
        if all(it.get(k) is not None for it in items):
            b[k] = torch.stack([torch.as_tensor(it[k]).to(dt) for it in items])
    b["text"] = [it.get("text") or "" for it in items]
    b["id"] = [str(it.get("id", "")) for it in items]
    b["path"] = [str(it.get("path") or "") for it in items]
    return b


def to_device(batch: dict, device: torch.device) -> dict:
    out = dict(batch)
    out["image"] = batch["image"].to(device, non_blocking=True)
    if device.type == "cuda":
        out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
    out["targets"] = {k: v.to(device) for k, v in batch["targets"].items()}
    for k in ("reg_mask", "meta", "meta_mask"):
        if k in batch:
            out[k] = batch[k].to(device)
    return out


def model_inputs(batch: dict, spec, model) -> dict:
    """The optional inputs a model declares in ``spec.inputs`` (MedFusionNet: meta + tokenised text)."""
    kw = {}
    if "meta" in spec.inputs and "meta" in batch:
        kw["meta"], kw["meta_mask"] = batch["meta"], batch.get("meta_mask")
    if "text" in spec.inputs and any(batch.get("text") or []):
        from hcview.models.text import tokenize

        core = getattr(model, "module", model)
        kw["text"] = tokenize(batch["text"], getattr(core, "vocab_size", 4096),
                              getattr(core, "max_text", 64)).to(batch["image"].device)
    return kw


def eval_loader(ds, batch_size: int, num_workers: int = 0) -> DataLoader:
    """Every case once, in dataset order."""
    return DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=num_workers)


@dataclass
class Outputs:
    loss: float                      # mean criterion loss per case (NaN without a criterion or cases)
    ids: list[str]
    paths: list[str]
    targets: dict[str, np.ndarray]   # per output head, as the dataset gives them
    logits: dict[str, np.ndarray]    # per output head, raw model outputs (float32)
    reg_mask: np.ndarray | None


@torch.no_grad()
def collect(model, loader, spec, device, criterion=None, amp: bool = False, lock=None, progress=None) -> Outputs:
    """Run ``model`` (eval mode) over ``loader``; ``lock`` (a context manager) is held per batch;
    ``progress(cases_done, cases_total)`` is called after each batch."""
    model.eval()
    n_total = len(loader.dataset)
    lock = lock or contextlib.nullcontext()
    ids, paths, targets, logits, masks, total, n = [], [], {}, {}, [], 0.0, 0
    for batch in loader:
        batch = to_device(batch, device)
        with lock, torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model(batch["image"], **model_inputs(batch, spec, model))
        out = {k: v.float() for k, v in out.items()}
        bs = batch["image"].shape[0]
        if criterion is not None:
            loss, _ = criterion(out, batch)
            total += float(loss.detach()) * bs
        n += bs
        for h, v in out.items():
            targets.setdefault(h, []).append(batch["targets"][h].cpu().numpy())
            logits.setdefault(h, []).append(v.cpu().numpy())
        if "reg_mask" in batch:
            masks.append(batch["reg_mask"].cpu().numpy())
        ids += batch["id"]
        paths += batch["path"]
        if progress is not None:
            progress(n, n_total)
    return Outputs(loss=total / n if n and criterion is not None else float("nan"), ids=ids, paths=paths,
                   targets={h: np.concatenate(v) for h, v in targets.items()},
                   logits={h: np.concatenate(v) for h, v in logits.items()},
                   reg_mask=np.concatenate(masks) if masks else None)


def probabilities(logits: dict, label_space) -> dict:
    """Head outputs -> probabilities: softmax / sigmoid; regression heads (already in [0, 1]) as they are."""
    out = {}
    for h in label_space.heads:
        if h.name in logits:
            x = np.asarray(logits[h.name], dtype=np.float64)
            out[h.name] = softmax(x, axis=1) if h.kind == "softmax" else expit(x) if h.kind == "sigmoid" else x
    return out


def report_inputs(label_space, targets: dict, probs: dict, reg_mask) -> tuple[dict, dict]:
    """``compute_report``'s (y_true, y_score): unknown truths become -1 (softmax) or NaN (sigmoid, and
    regression targets outside ``reg_mask``)."""
    y_true, y_score = {}, {}
    for h in label_space.heads:
        if h.name not in probs:
            continue
        y = np.asarray(targets[h.name])
        if h.kind == "softmax":
            y_true[h.name] = np.where(y >= 0, y, -1)
        elif h.kind == "sigmoid":
            y = y.astype(float)
            y_true[h.name] = np.where(np.isfinite(y) & (y >= 0), y, np.nan)
        else:
            mask = reg_mask if reg_mask is not None else np.ones_like(y)
            y_true[h.name] = np.where(mask > 0, y, np.nan)
        y_score[h.name] = probs[h.name]
    return y_true, y_score
