"""Batch inference: the contract of ``python -m hcview predict --input PATH [--input PATH ...] --csv OUT.csv``.

One row per image: ``path``, ``ood`` (0/1), ``ood_score``, ``uncertain`` (0/1), ``p:<level>:<label>`` for every
output and, when MC dropout runs, ``sd:<level>:<label>``; an unreadable file becomes a row whose ``error`` column
says why, and the run goes on. Images are decoded by DataLoader workers while the model runs batches; the
probabilities equal one-by-one :meth:`~hcview.infer.predictor.Predictor.predict` (tested).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from hcview.errors import HcviewError, InputError
from hcview.metrics.ood import mahalanobis_score

from .mc_dropout import mc_samples, summarize, to_probs

IMAGE_SUFFIXES = {".dcm", ".dicom", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ""}


def collect_files(inputs) -> list[Path]:
    """Files named, and image files under folders named (recursively, hidden ones skipped), in a stable order."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                          and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.exists():
            out.append(p)
        else:
            raise InputError(f"--input {item}: no such file or folder")
    if not out:
        raise InputError("no image files found in the --input paths")
    return out


class _Decoded(torch.utils.data.Dataset):
    """Decodes one file to the model's input tensor; a bad file gives its error text instead."""

    def __init__(self, files, size: int, mean, std):
        self.files, self.size, self.mean, self.std = list(files), size, mean, std

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        from hcview.data.io import load_image, to_model_input

        try:
            x = to_model_input(load_image(self.files[i]), self.size, self.mean, self.std)
            return i, x, ""
        except HcviewError as e:
            return i, torch.zeros(3, self.size, self.size), str(e)
        except Exception as e:  # a crafted file must not stop the batch
            return i, torch.zeros(3, self.size, self.size), f"cannot read {Path(self.files[i]).name}: {type(e).__name__}"


def _collate(items):
    idx, xs, errs = zip(*items)
    return list(idx), torch.stack(xs), list(errs)


def output_columns(label_space) -> list[tuple[str, str, int]]:
    """(column suffix 'level:label', head, index) of every output, regression included."""
    return [(f"{h.name}:{lab}", h.name, i) for h in label_space.heads for i, lab in enumerate(h.labels)]


CPU_CHUNK_PIXELS = 2 ** 18  # input pixels per forward on CPU (2 images at 320 px, 16 at 128 px)


def forward_chunk(x: torch.Tensor) -> int:
    """Images per forward pass: the whole batch on a GPU; on CPU at most ``CPU_CHUNK_PIXELS`` input pixels (measured
    with ``python -m hcview bench`` on CIHMLC's paper variant, 1 thread: batches of 8 at 320 px ran 20% slower per image
    than batches of 2, whose activations stay in cache)."""
    if x.device.type != "cpu":
        return len(x)
    return max(1, min(len(x), CPU_CHUNK_PIXELS // max(1, x.shape[-1] * x.shape[-2])))


def predict_files(pred, files, mc: int = 0, seed: int = 0, batch_size: int = 16, workers: int | None = None,
                  progress: bool = True):
    """Run ``pred`` (a Predictor) over ``files``; returns a DataFrame in the batch contract's columns."""
    import pandas as pd
    from torch.utils.data import DataLoader

    if workers is None:
        workers = min(2, os.cpu_count() or 1) if len(files) > batch_size else 0
    ds = _Decoded(files, pred.input_size, pred.spec.mean, pred.spec.std)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=workers, collate_fn=_collate)
    cols = output_columns(pred.label_space)
    rows: list[dict] = [{} for _ in files]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(files), unit="img", desc=f"{pred.model_id}", file=__import__("sys").stderr)
    model = pred.model
    for idx, x, errs in loader:
        good = [j for j, e in enumerate(errs) if not e]
        for j, e in enumerate(errs):
            if e:
                rows[idx[j]] = {"path": str(files[idx[j]]), "error": e}
        if good:
            xb = x[good].to(pred.device)
            with pred.lock, torch.inference_mode():
                was_training = model.training
                model.eval()
                feats = torch.cat([model.forward_features(c) for c in xb.split(forward_chunk(xb))])
                probs = {k: v.cpu().numpy() for k, v in to_probs(model.forward_head(feats), pred.label_space).items()}
                model.train(was_training)
            scores = (mahalanobis_score(feats.float().cpu().numpy(), pred.ood.means.cpu().numpy(),
                                        pred.ood.precision.cpu().numpy()) if pred.ood is not None else None)
            samples = mc_samples(model, xb, n=mc, seed=seed, feats=feats) if mc and mc > 0 else None
            for k, j in enumerate(good):
                r = {"path": str(files[idx[j]]), "error": ""}
                if scores is not None:
                    r["ood_score"] = float(scores[k])
                    r["ood"] = int(scores[k] > float(pred.ood.threshold))
                else:
                    r["ood_score"], r["ood"] = float("nan"), 0
                unc = summarize(samples, pred.label_space, index=k, thresholds=pred.thresholds) if samples else None
                r["uncertain"] = int(bool(unc) and any(bool(np.any(u.uncertain)) for u in unc.values()))
                for name, h, i in cols:
                    r[f"p:{name}"] = float(probs[h][k][i])
                if unc:
                    for name, h, i in cols:
                        r[f"sd:{name}"] = float(unc[h].std[i])
                rows[idx[j]] = r
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    order = ["path", "ood", "ood_score", "uncertain"] + [f"p:{c[0]}" for c in cols] + \
        ([f"sd:{c[0]}" for c in cols] if mc and mc > 0 else []) + ["error"]
    df = pd.DataFrame(rows)
    for c in order:
        if c not in df.columns:
            df[c] = "" if c == "error" else np.nan
    return df[order]
