"""One training loop for all four models, driven by the registry (read it top to bottom).

    train(cfg, out_dir) -> result dict

``cfg`` comes from :func:`hcview.train.config.resolve_config` (paper defaults <- variant <- CLI).
The loop: data -> model -> loss -> sampler -> optimiser/scheduler -> epochs of steps (AMP and
channels_last on CUDA, cancel check and a progress JSON line after each step) -> validation ->
two checkpoints (best validation loss, best validation metric) -> early stopping -> test metrics on
the held-out split with the best-metric weights -> final cards (and registration if asked).
Under torchrun the model is wrapped in DDP, the sampler is a DistributedSampler and only rank 0 writes.
"""
from __future__ import annotations

import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset, WeightedRandomSampler

from hcview.paths import portable
from hcview.errors import DatasetError, InputError
from hcview.io_utils import atomic_write_json
from hcview.train import ddp
from hcview.train.config import LOWER_IS_BETTER
from hcview.train.forward import collate, collect, eval_loader, model_inputs, probabilities, report_inputs, to_device
from hcview.train.losses import build_criterion


class Cancelled(Exception):
    """Raised inside :func:`train` when the cancel check fires; checkpoints written so far stay valid."""


# ----------------------------------------------------------------------------------------------
# small helpers (data plumbing)
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def targets_of(ds, head: str) -> np.ndarray:
    """Targets without loading images (works through a Subset)."""
    if isinstance(ds, Subset):
        return np.asarray(targets_of(ds.dataset, head))[np.asarray(ds.indices)]
    return np.asarray(ds.targets_array(head))


def subsample(ds, n: int | None, seed: int):
    if not n or len(ds) <= n:
        return ds
    idx = np.random.default_rng(seed).permutation(len(ds))[: int(n)]
    return Subset(ds, sorted(idx.tolist()))


class TrainTargets:
    """What ``build_criterion`` reads from the training split: its targets, without loading images."""

    def __init__(self, ds):
        self.ds = ds

    def targets_array(self, head: str) -> np.ndarray:
        return targets_of(self.ds, head)


def build_split(cfg: dict, spec, variant, label_space, split: str, augment=None):
    from hcview.data.datasets import build_dataset

    return build_dataset(cfg["data"], label_space, split, variant.input_size, spec.mean, spec.std, augment=augment,
                         model_id=spec.id)


def print_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-sample weights for balanced mini-batches. Softmax targets: 1/n(class). Multi-label: the
    rarest positive label's 1/n (cases with no positive count as one more 'class')."""
    y = np.asarray(y)
    if y.ndim == 1:
        known = y >= 0
        counts = np.bincount(y[known].astype(int)) if known.any() else np.ones(1)
        w = np.zeros(len(y))
        w[known] = 1.0 / np.maximum(counts[y[known].astype(int)], 1)
        return w
    pos = np.nan_to_num(y, nan=0.0) == 1
    n_pos = np.maximum(pos.sum(0), 1)
    none = ~pos.any(1)
    w = np.where(pos, 1.0 / n_pos, 0.0).max(1)
    w[none] = 1.0 / max(int(none.sum()), 1)
    return w


def cpu_threads(setting=None, world_size: int = 1) -> int:
    """Intra-op threads on CPU. ``auto`` (default): the cores not already busy (1-minute load average,
    per process under DDP), at least 1. On a shared machine OpenMP threads that wait for each other
    while descheduled make 2 threads 2-3x slower than 1 (measured on the 2-core dev box at load ~5)."""
    import os

    from hcview.device import available_cores

    cores = available_cores()
    per_proc = max(1, cores // max(1, world_size))
    if setting not in (None, "", "auto"):
        return max(1, int(setting))
    try:
        free = cores - int(round(os.getloadavg()[0]))
    except OSError:
        free = cores
    return max(1, min(per_proc, free))


def cosine_warmup(total_steps: int, warmup: float = 0.0) -> Callable[[int], float]:
    """LR multiplier for ``LambdaLR``: linear warmup over ``warmup`` (a fraction of ``total_steps``, or a
    step count when >= 1), then cosine decay from 1 to 0 at ``total_steps``. Decaying to 0 also lets
    BatchNorm running statistics catch up with the weights by the last epochs (no train/eval gap)."""
    total = max(1, int(total_steps))
    w = int(warmup) if warmup >= 1 else int(round(warmup * total))
    w = min(max(w, 0), total - 1)

    def f(s: int) -> float:
        if s < w:
            return (s + 1) / (w + 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (s - w) / max(1, total - w))))
    return f


# ----------------------------------------------------------------------------------------------
# validation / test metrics (hcview.metrics on the outputs of hcview.train.forward.collect)
def simple_metrics(label_space, ys: dict, ps: dict, reg_mask, prefix: str = "val") -> dict:
    """Accuracy per softmax head, mean AUROC per sigmoid head (labels with both classes), masked MSE per
    regression target. ``ps`` may be logits: argmax and AUROC do not change under softmax / sigmoid."""
    from hcview.metrics import compute_accuracy, compute_mean_auroc, compute_regression

    m, accs = {}, []
    for h in label_space.heads:
        if h.name not in ps:
            continue
        y, p = ys[h.name], ps[h.name]
        if h.kind == "softmax":
            acc = compute_accuracy(y, p.argmax(1), list(h.labels))
            m[f"{prefix}_{h.name}_acc"] = acc
            accs.append(acc)
        elif h.kind == "sigmoid":
            key = f"{prefix}_mean_auroc" if len(label_space.heads) == 1 else f"{prefix}_{h.name}_mean_auroc"
            m[key] = compute_mean_auroc(y, p)
        elif h.kind == "regression":
            mask = reg_mask if reg_mask is not None else np.isfinite(y)
            per = compute_regression(y, p, list(h.labels), mask=np.asarray(mask) > 0)["per_target"]
            for lab in h.labels:
                m[f"{prefix}_{lab}_mse"] = per[lab]["mse"]
    if accs:
        finite = [a for a in accs if not math.isnan(a)]
        m[f"{prefix}_mean_acc"] = float(np.mean(finite)) if finite else float("nan")
    return m


def final_report(label_space, ys: dict, ps: dict, reg_mask) -> dict:
    """Test metrics: the simple metrics plus ``hcview.metrics.compute_report``'s summary on the probabilities
    (a report that fails is recorded as ``report_error``: the simple metrics stand on their own)."""
    from hcview.metrics import compute_report

    out = simple_metrics(label_space, ys, ps, reg_mask, prefix="test")
    y_true, y_score = report_inputs(label_space, ys, probabilities(ps, label_space), reg_mask)
    try:
        rep = compute_report(label_space.kind, y_true, y_score, label_space)
        out.update({k: v for k, v in rep.get("summary", {}).items() if isinstance(v, (int, float)) or v is None})
    except Exception as e:  # noqa: BLE001 (the run's checkpoints and cards must still be written)
        out["report_error"] = f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
    return out


def _finite(d: dict) -> dict:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


# ----------------------------------------------------------------------------------------------
def train(cfg: dict, out_dir: str | Path, *, progress_path: str | Path | None = None,
          should_stop: Callable[[], bool] | None = None, register: bool = False, show_bar: bool = True,
          log: Callable[[str], None] | None = None) -> dict:
    from hcview.device import pick_device
    from hcview.models import create_model, get_spec
    from hcview.models.checkpoint import card_path, default_checkpoint_path, save_checkpoint

    log = log or print_stderr
    t_start = time.time()
    out_dir = Path(out_dir)
    spec = get_spec(cfg["model"])
    variant = spec.variant(cfg["variant"])
    label_space = spec.label_space(variant.name)

    # -- device, distributed, seed ---------------------------------------------------------
    device = pick_device(cfg.get("device"))
    dctx = ddp.setup(device)
    device = ddp.device_for(dctx, device)
    main = dctx.is_main
    seed_everything(int(cfg["seed"]) + dctx.rank)
    use_amp = bool(cfg.get("amp")) and device.type == "cuda"
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(cfg.get("threads"), dctx.world_size))
    out_dir.mkdir(parents=True, exist_ok=True)  # every rank (non-zero ranks write only their state hash)
    progress_path = Path(progress_path) if progress_path else out_dir / "progress.jsonl"

    def emit(rec: dict) -> None:
        if main:
            with open(progress_path, "a") as f:
                f.write(json.dumps(_finite(rec), default=float) + "\n")

    # -- data --------------------------------------------------------------------------------
    train_ds = build_split(cfg, spec, variant, label_space, "train", cfg.get("augment") or None)
    if len(train_ds) == 0:
        raise DatasetError(f"{cfg['data']}: the training split is empty")
    val_ds = build_split(cfg, spec, variant, label_space, "val")
    test_ds = build_split(cfg, spec, variant, label_space, "test")
    info = dict(getattr(train_ds, "info", {}) or {})
    train_ds = subsample(train_ds, cfg.get("max_train_samples"), int(cfg["seed"]))
    val_ds = subsample(val_ds, cfg.get("max_eval_samples"), int(cfg["seed"]))
    test_ds = subsample(test_ds, cfg.get("max_eval_samples"), int(cfg["seed"]))
    bs = int(cfg["batch_size"])

    # -- model ---------------------------------------------------------------------------------
    model = create_model(spec.id, variant.name, **(cfg.get("model_kwargs") or {})).to(device)
    if device.type == "cuda" and cfg.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    core = model
    if dctx.enabled:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[dctx.local_rank] if device.type == "cuda" else None)
        ddp_sync = True
    else:
        ddp_sync = False

    # -- loss (class weights etc. from the training split) -------------------------------------
    criterion, loss_info = build_criterion(spec, variant, cfg, TrainTargets(train_ds), label_space)

    # -- samplers: DistributedSampler | balanced (WeightedRandomSampler) | curriculum --------
    first_head = label_space.heads[-1 if label_space.kind == "taxonomy3" else 0].name
    balanced_w = None
    if cfg.get("balanced_sampling") or cfg.get("curriculum"):
        balanced_w = torch.as_tensor(balanced_weights(targets_of(train_ds, first_head)), dtype=torch.double)
    curriculum_until = int(cfg.get("curriculum_epochs") or max(1, cfg["epochs"] // 2)) if cfg.get("curriculum") else 0

    def train_loader(epoch: int) -> DataLoader:
        g = torch.Generator().manual_seed(int(cfg["seed"]) * 1000 + epoch)
        if dctx.enabled:
            sampler = torch.utils.data.DistributedSampler(train_ds, dctx.world_size, dctx.rank, shuffle=True,
                                                          seed=int(cfg["seed"]), drop_last=True)
            sampler.set_epoch(epoch)
        elif balanced_w is not None and (not cfg.get("curriculum") or epoch < curriculum_until):
            sampler = WeightedRandomSampler(balanced_w, num_samples=len(train_ds), replacement=True, generator=g)
        else:
            sampler = torch.utils.data.RandomSampler(train_ds, generator=g)
        return DataLoader(train_ds, batch_size=bs, sampler=sampler, collate_fn=collate,
                          num_workers=int(cfg.get("num_workers") or 0), drop_last=len(train_ds) > bs,
                          pin_memory=device.type == "cuda")

    workers = int(cfg.get("num_workers") or 0)

    # -- optimiser + scheduler ----------------------------------------------------------------
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]), betas=tuple(cfg["betas"]), eps=float(cfg["eps"]),
                           weight_decay=float(cfg.get("weight_decay") or 0.0))
    sched = None
    if cfg.get("scheduler") == "plateau":
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=float(cfg["plateau_factor"]),
                                                           patience=int(cfg.get("plateau_patience") or 1))

    # -- bookkeeping --------------------------------------------------------------------------
    steps_per_epoch = len(train_loader(0))
    if dctx.enabled:
        steps_per_epoch = max(1, len(train_ds) // (bs * dctx.world_size))
    max_steps = int(cfg["max_steps"]) if cfg.get("max_steps") else None
    total_steps = steps_per_epoch * int(cfg["epochs"])
    if max_steps:
        total_steps = min(total_steps, max_steps)
    step_sched = None  # per-step schedule: linear warmup then cosine decay to 0 over the whole run
    if cfg.get("scheduler") == "cosine":
        step_sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_warmup(total_steps, float(cfg.get("warmup") or 0.0)))
    select = cfg.get("select") or "val_loss"
    lower_better = select in LOWER_IS_BETTER
    best = {"val_loss": math.inf, "metric": None, "epoch_loss": None, "epoch_metric": None}
    history, bad_epochs, step, stopped = [], 0, 0, None
    paths = {"best_loss": out_dir / "best_loss.pt", "best_metric": out_dir / "best_metric.pt"}
    card_base = {
        "id": spec.id, "variant": variant.name, "training": {k: v for k, v in cfg.items() if not k.startswith("_")},
        "data": {"spec": cfg["data"], "info": info, "n_train": len(train_ds), "n_val": len(val_ds), "n_test": len(test_ds)},
        "loss": loss_info, "select": select, "world_size": dctx.world_size,
        **({"model_kwargs": dict(cfg["model_kwargs"])} if cfg.get("model_kwargs") else {}),
    }
    if main:
        log(f"train {spec.id}/{variant.name} on {cfg['data']}: {len(train_ds)} train / {len(val_ds)} val / "
            f"{len(test_ds)} test, {steps_per_epoch} steps/epoch, {total_steps} steps, device {device}"
            + (f", {dctx.world_size} processes" if dctx.enabled else ""))
    emit({"event": "start", "time": time.time(), "total_steps": total_steps, "epochs": cfg["epochs"],
          "n_train": len(train_ds), "n_val": len(val_ds)})

    bar = None
    if main and show_bar:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, file=sys.stderr, desc=f"{spec.id}", dynamic_ncols=True, disable=None)

    t_loop = time.time()
    try:
        for epoch in range(int(cfg["epochs"])):
            # ---- one epoch of steps ----
            model.train()
            loader = train_loader(epoch)
            ep_loss, ep_n = 0.0, 0
            for batch in loader:
                if ddp.any_true(bool(should_stop and should_stop()), dctx, device):
                    raise Cancelled()
                batch = to_device(batch, device)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                    out = model(batch["image"], **model_inputs(batch, spec, model))
                out = {k: v.float() for k, v in out.items()}
                loss, parts = criterion(out, batch)
                loss_v = float(loss.detach())
                if not math.isfinite(loss_v):
                    raise InputError(f"training diverged at step {step} (loss {loss_v}); lower --lr")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                lr_used = opt.param_groups[0]["lr"]
                opt.step()
                if step_sched is not None:
                    step_sched.step()
                step += 1
                ep_loss += loss_v
                ep_n += 1
                elapsed = time.time() - t_loop
                eta = elapsed / step * (total_steps - step)
                emit({"event": "step", "epoch": epoch, "step": step, "total_steps": total_steps, "loss": loss_v,
                      "parts": {k: float(v) for k, v in parts.items()}, "lr": lr_used, "eta_s": eta})
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_v:.4f}", epoch=epoch)
                if max_steps and step >= max_steps:
                    break
            # ---- validation (every rank runs it on the full val set: same numbers, same decisions) ----
            ddp.sync_buffers(core, dctx)
            val = collect(core if dctx.enabled else model, eval_loader(val_ds, bs, workers), spec, device, criterion,
                          use_amp)
            val_loss = val.loss
            metrics = {"val_loss": val_loss, "train_loss": ep_loss / max(ep_n, 1),
                       **simple_metrics(label_space, val.targets, val.logits, val.reg_mask)}
            score = metrics.get(select, float("nan"))
            history.append({"epoch": epoch, **_finite(metrics)})
            if sched is not None and math.isfinite(val_loss):
                sched.step(val_loss)
            improved_loss = math.isfinite(val_loss) and val_loss < best["val_loss"]
            s = score if math.isfinite(score) else None
            improved_metric = best["metric"] is None if s is None else (
                best["metric"] is None or (s < best["metric"] if lower_better else s > best["metric"]))
            if main:
                if improved_loss or best["epoch_loss"] is None:
                    best["val_loss"], best["epoch_loss"] = val_loss, epoch
                    save_checkpoint(core, paths["best_loss"], {**card_base, "checkpoint_kind": "best_val_loss",
                                                               "epoch": epoch, "step": step,
                                                               "metrics": {"val": _finite(metrics)}})
                if improved_metric:
                    best["metric"], best["epoch_metric"] = s, epoch
                    save_checkpoint(core, paths["best_metric"], {**card_base, "checkpoint_kind": f"best_{select}",
                                                                 "epoch": epoch, "step": step,
                                                                 "metrics": {"val": _finite(metrics)}})
            else:
                best["val_loss"] = min(best["val_loss"], val_loss) if improved_loss else best["val_loss"]
                if improved_metric:
                    best["metric"] = s
            bad_epochs = 0 if improved_loss else bad_epochs + 1  # patience on validation loss only (Keras monitor)
            elapsed = time.time() - t_loop
            eta = elapsed / max(step, 1) * (total_steps - step)
            emit({"event": "epoch", "epoch": epoch, "step": step, "total_steps": total_steps, "lr": opt.param_groups[0]["lr"],
                  "eta_s": eta, **metrics})
            if main:
                shown = " ".join(f"{k}={v:.4f}" for k, v in metrics.items() if isinstance(v, float) and
                                 (k in ("val_loss", "train_loss", select)))
                log(f"epoch {epoch + 1}/{cfg['epochs']} step {step}: {shown}")
            if max_steps and step >= max_steps:
                stopped = "max_steps"
                break
            if cfg.get("early_stopping") and bad_epochs >= int(cfg["early_stopping"]):
                stopped = f"early stopping (no improvement for {bad_epochs} epochs)"
                break
    except Cancelled:
        stopped = "cancelled"
    finally:
        if bar is not None:
            bar.close()

    result = {"out_dir": str(out_dir), "steps": step, "epochs_run": len(history), "stopped": stopped or "epochs",
              "history": history, "best": {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in best.items()},
              "checkpoint": str(paths["best_metric"]), "registered": None}
    if stopped == "cancelled":
        emit({"event": "cancelled", "step": step})
        ddp.sync_buffers(core, dctx)
        if dctx.enabled:
            (out_dir / f"state_hash_rank{dctx.rank}.txt").write_text(ddp.state_hash(core))
        ddp.cleanup()
        raise Cancelled()

    # -- test metrics with the best-metric weights (every rank loads the same file) ------------
    ddp.barrier(dctx)
    if dctx.enabled:
        (out_dir / f"state_hash_rank{dctx.rank}.txt").write_text(ddp.state_hash(core))
    test_metrics = {}
    if main:
        from hcview.models.checkpoint import load_state

        if paths["best_metric"].exists():
            core.load_state_dict(load_state(paths["best_metric"]))
        if len(test_ds):
            test = collect(core, eval_loader(test_ds, bs, workers), spec, device, criterion, use_amp)
            test_metrics = final_report(label_space, test.targets, test.logits, test.reg_mask)
        # rewrite both cards with the final metrics (weights unchanged, so write the card only)
        for kind, p in paths.items():
            if not p.exists():
                continue
            cp = card_path(p)
            card = json.loads(cp.read_text())
            card["metrics"] = {**card.get("metrics", {}), "test": _finite(test_metrics) if kind == "best_metric" else None}
            card["history"] = history
            card["stopped"] = result["stopped"]
            card["train_seconds"] = round(time.time() - t_start, 1)
            atomic_write_json(cp, card)
        result["test"] = _finite(test_metrics)
        if register and paths["best_metric"].exists():
            result["registered"] = str(register_checkpoint(paths["best_metric"], default_checkpoint_path(spec.id, variant.name)))
        emit({"event": "done", "step": step, "total_steps": total_steps, "eta_s": 0.0, "test": test_metrics,
              "checkpoint": result["registered"] or str(paths["best_metric"]), "elapsed_s": time.time() - t_start})
        atomic_write_json(out_dir / "result.json", result)
        log(f"done in {time.time() - t_start:.0f}s; test: " +
            " ".join(f"{k}={v:.4f}" for k, v in test_metrics.items() if isinstance(v, float) and k.startswith("test_"))
            + (f"; registered {result['registered']}" if result["registered"] else ""))
    ddp.cleanup()
    return result


def register_checkpoint(src: str | Path, dst: str | Path) -> Path:
    """Write the shipped checkpoint (``python -m hcview demo``): see :func:`hcview.models.versions.write_shipped`."""
    from hcview.models.versions import write_shipped

    return write_shipped(src, dst, trained_run=portable(Path(src).parent))


__all__ = ["train", "Cancelled", "register_checkpoint", "simple_metrics", "balanced_weights", "collate"]
