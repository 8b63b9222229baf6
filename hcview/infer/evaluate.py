"""Run a model over a dataset split; store predictions (CSV) and metrics (JSON) for the app to reuse.

``evaluate_model(model_id, variant, data_spec, split, out_dir)`` writes, atomically, under
``out_dir`` (default ``var/eval/<id>-<variant>-<split>/``):

- ``predictions.csv``: one row per case: ``id``, ``path``, then per output ``true_<head>[_<label>]``
  and ``score_<head>_<label>`` (probabilities; regression values in [0, 1]);
- ``metrics.json``: ``hcview.metrics.report.compute_report`` plus ``model``/``variant``/``data``/
  ``split``/``untrained``/``checkpoint`` and timing.
"""
from __future__ import annotations

import io
import re
import time
from pathlib import Path

import numpy as np
import torch

from hcview import paths
from hcview.io_utils import atomic_write, atomic_write_json

from .mc_dropout import to_probs


def _col(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")


def default_out_dir(model_id: str, variant: str, split: str) -> Path:
    return paths.var_dir() / "eval" / f"{model_id}-{variant}-{split}"


def predict_dataset(pred, ds, batch_size: int = 32):
    """-> (ids, paths, truth {head: array}, scores {head: (N, C)}, reg_mask or None)."""
    from torch.utils.data import DataLoader

    ls = pred.label_space
    kinds = {h.name: h.kind for h in ls.heads}
    ids, pths, truth, scores, regm = [], [], {h: [] for h in kinds}, {h: [] for h in kinds}, []

    def collate(items):
        return items

    for items in DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate, num_workers=0):
        x = torch.stack([it["image"] for it in items]).to(pred.device)
        kw = {}
        if "meta" in pred.spec.inputs and items[0]["meta"].numel():
            kw["meta"] = torch.stack([it["meta"] for it in items]).to(pred.device)
            kw["meta_mask"] = torch.stack([it["meta_mask"] for it in items]).to(pred.device)
        with pred.lock, torch.no_grad():
            probs = to_probs(pred.model(x, **kw), ls)
        for h in kinds:
            scores[h].append(probs[h].cpu().numpy())
            truth[h].extend(np.asarray(it["targets"][h]) for it in items)
        ids.extend(str(it["id"]) for it in items)
        pths.extend(str(it.get("path") or "") for it in items)
        if "reg_mask" in items[0]:
            regm.extend(np.asarray(it["reg_mask"]) for it in items)
    truth = {h: np.stack(v) if v else np.zeros((0,)) for h, v in truth.items()}
    scores = {h: np.concatenate(v) if v else np.zeros((0, ls.head(h).size)) for h, v in scores.items()}
    return ids, pths, truth, scores, (np.stack(regm) if regm else None)


def predictions_frame(ls, ids, pths, truth, scores):
    import pandas as pd

    cols = {"id": ids, "path": pths}
    for h in ls.heads:
        t, s = truth[h.name], scores[h.name]
        if h.kind == "softmax":
            cols[f"true_{_col(h.name)}"] = [h.labels[int(v)] if 0 <= int(v) < h.size else "" for v in t]
        for i, lab in enumerate(h.labels):
            if h.kind != "softmax":
                cols[f"true_{_col(h.name)}_{_col(lab)}"] = t[:, i] if t.ndim == 2 else t
            cols[f"score_{_col(h.name)}_{_col(lab)}"] = s[:, i]
    return pd.DataFrame(cols)


def evaluate_model(model_id: str, variant: str = "demo", data_spec: str | None = None, split: str = "test",
                   out_dir=None, batch_size: int = 32, n_boot: int = 0) -> dict:
    from hcview.data.datasets import build_dataset
    from hcview.metrics.report import compute_report

    from .predictor import get_predictor

    pred = get_predictor(model_id, variant)
    data_spec = data_spec or pred.spec.variant(variant).data
    ls = pred.label_space
    t0 = time.perf_counter()
    ds = build_dataset(data_spec, ls, split, pred.input_size, pred.spec.mean, pred.spec.std, model_id=model_id)
    ids, pths, truth, scores, regm = predict_dataset(pred, ds, batch_size)
    y_true, y_score = dict(truth), dict(scores)
    if regm is not None and "regression" in y_true:
        keep = regm.min(1) > 0
        y_true["regression"], y_score["regression"] = truth["regression"][keep], scores["regression"][keep]
    report = compute_report(None, y_true, y_score, ls, n_boot=n_boot)
    report.update({"model": model_id, "variant": variant, "data": data_spec, "split": split,
                   "untrained": pred.untrained, "checkpoint": str(pred.checkpoint) if pred.checkpoint else None,
                   "synthetic": bool(getattr(ds, "synthetic", False)), "n_cases": len(ids),
                   "seconds": round(time.perf_counter() - t0, 2),
                   "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    out = Path(out_dir) if out_dir else default_out_dir(model_id, variant, split)
    df = predictions_frame(ls, ids, pths, truth, scores)
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    atomic_write(out / "predictions.csv", lambda f: f.write(buf.getvalue()), "w")
    from hcview.metrics._util import nan_to_none

    report = nan_to_none(report)
    report["predictions_csv"] = str(out / "predictions.csv")
    atomic_write_json(out / "metrics.json", report)
    return report
