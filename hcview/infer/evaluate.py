"""Run a model over a dataset split; store predictions (CSV) and metrics (JSON) for the app to reuse.

``evaluate_model(model_id, variant, data_spec, split, out_dir)`` writes, atomically, under
``out_dir`` (default ``var/eval/<id>-<variant>-<split>/``):

- ``predictions.csv``: one row per case: ``id``, ``path``, then per output ``true_<head>[_<label>]``
  and ``score_<head>_<label>`` (probabilities; regression values in [0, 1]);
- ``metrics.json``: ``hcview.metrics.report.compute_report`` plus ``model``/``variant``/``data``/
  ``split``/``untrained``/``checkpoint``/``synthetic`` and timing.

The readers of both files sit next to their writers: ``load_evaluation`` (both files of a folder) and
``head_arrays`` (one head's truths and scores from the predictions table). The forward pass is the
trainer's (``hcview.train.forward``), so validation during training and this evaluation agree.
"""
from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hcview import paths
from hcview.errors import DatasetError, InputError
from hcview.io_utils import atomic_write, atomic_write_json

PREDICTIONS_CSV = "predictions.csv"
METRICS_JSON = "metrics.json"


def col_name(s: str) -> str:
    """Column-name form of a head or label: runs of other characters than letters and digits -> '_'."""
    return re.sub(r"[^A-Za-z0-9]+", "_", str(s)).strip("_")


def default_out_dir(model_id: str, variant: str, split: str) -> Path:
    return paths.var_dir() / "eval" / f"{model_id}-{variant}-{split}"


# ---------------------------------------------------------------------------------------------------
# predictions.csv: writer and reader
# ---------------------------------------------------------------------------------------------------
def predictions_frame(ls, ids, pths, truth, scores) -> pd.DataFrame:
    """The predictions table: truth per head (softmax: class name, '' = unknown) and a score per label."""
    cols = {"id": ids, "path": pths}
    for h in ls.heads:
        t, s = truth[h.name], scores[h.name]
        if h.kind == "softmax":
            cols[f"true_{col_name(h.name)}"] = [h.labels[int(v)] if 0 <= int(v) < h.size else "" for v in t]
        for i, lab in enumerate(h.labels):
            if h.kind != "softmax":
                cols[f"true_{col_name(h.name)}_{col_name(lab)}"] = t[:, i] if t.ndim == 2 else t
            cols[f"score_{col_name(h.name)}_{col_name(lab)}"] = s[:, i]
    return pd.DataFrame(cols)


def read_predictions(path) -> pd.DataFrame:
    """Read a ``predictions.csv``: id, path and softmax truths as text ('' stays ''), the rest numeric."""
    path = Path(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
        as_text = {c: str for c in header if c in ("id", "path") or c.startswith("true_")}
        return pd.read_csv(path, dtype=as_text, keep_default_na=False,
                           na_values={c: [""] for c in header if c not in as_text})
    except Exception as e:  # noqa: BLE001 (pandas raises several types; the user sees one line)
        raise InputError(f"stored predictions {path.name} cannot be read: {type(e).__name__}") from None


def head_arrays(preds: pd.DataFrame, head) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, scores) of one head from a predictions table (see :func:`predictions_frame`).

    softmax -> y_true (N,) class index (-1 unknown), scores (N, K); sigmoid -> (N, K) 0/1 (NaN unknown)
    and (N, K) probabilities; regression -> (N, T) truth and predictions. Missing columns -> ``InputError``.
    """
    h, labels = col_name(head.name), list(head.labels)

    def column(c: str) -> pd.Series:
        if c not in preds.columns:
            raise InputError(f"stored predictions lack column {c!r} (head {head.name}); re-run the evaluation")
        return preds[c]

    def numeric(kind: str) -> np.ndarray:
        cols = [pd.to_numeric(column(f"{kind}_{h}_{col_name(lab)}"), errors="coerce").to_numpy(float)
                for lab in labels]
        return np.column_stack(cols) if len(preds) else np.zeros((0, len(labels)))

    s = numeric("score")
    if head.kind == "softmax":
        pos = {lab: i for i, lab in enumerate(labels)}
        y = np.array([pos.get(str(v).strip(), -1) if isinstance(v, str) else -1 for v in column(f"true_{h}")],
                     dtype=np.int64)
        return y, s
    y = numeric("true")
    if head.kind == "sigmoid":
        y[y < 0] = np.nan
    return y, s


# ---------------------------------------------------------------------------------------------------
# a stored evaluation folder: metrics.json + predictions.csv
# ---------------------------------------------------------------------------------------------------
def stored_signature(out_dir) -> tuple | None:
    """A cache key that changes when the stored outputs are rewritten (None: no stored metrics)."""
    m, p = Path(out_dir) / METRICS_JSON, Path(out_dir) / PREDICTIONS_CSV
    if not m.is_file():
        return None
    return (str(m), m.stat().st_mtime_ns, str(p) if p.is_file() else "", p.stat().st_mtime_ns if p.is_file() else 0)


def load_evaluation(out_dir) -> dict:
    """``{metrics, predictions (DataFrame or None), metrics_path, predictions_path}`` of a stored evaluation.

    ``metrics`` is the ``compute_report`` output (``heads``, ``summary``, ...) plus the run's fields.
    Every problem is a one-line ``InputError``.
    """
    d = Path(out_dir)
    m, p = d / METRICS_JSON, d / PREDICTIONS_CSV
    if not m.is_file():
        raise InputError(f"no stored evaluation in {d}")
    try:
        metrics = json.loads(m.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"stored metrics {m.name} cannot be read: {type(e).__name__}") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("heads"), dict):
        raise InputError(f"stored metrics {m.name} have no per-head results; re-run the evaluation")
    preds = read_predictions(p) if p.is_file() else None
    return {"metrics": metrics, "predictions": preds, "metrics_path": str(m),
            "predictions_path": str(p) if preds is not None else None}


# ---------------------------------------------------------------------------------------------------
# running a model
# ---------------------------------------------------------------------------------------------------
def evaluate_model(model_id: str, variant: str = "demo", data_spec: str | None = None, split: str = "test",
                   out_dir=None, batch_size: int = 32, progress=None, n_boot: int = 0) -> dict:
    """Predict every case of the split with the model's predictor, store predictions + metrics, return the
    metrics (``compute_report`` plus the run's fields). ``progress(cases_done, cases_total)`` follows the run;
    ``n_boot`` > 0 adds bootstrap CIs."""
    from hcview.data.datasets import build_dataset
    from hcview.metrics import compute_report
    from hcview.metrics._util import nan_to_none
    from hcview.train.forward import collect, eval_loader, probabilities, report_inputs

    from .predictor import get_predictor

    pred = get_predictor(model_id, variant)
    data_spec = data_spec or pred.spec.variant(variant).data
    ls = pred.label_space
    t0 = time.perf_counter()
    ds = build_dataset(data_spec, ls, split, pred.input_size, pred.spec.mean, pred.spec.std, model_id=model_id)
    if len(ds) == 0:
        raise DatasetError(f"{data_spec}: the {split} split is empty")
    out = collect(pred.model, eval_loader(ds, batch_size), pred.spec, pred.device, lock=pred.lock, progress=progress)
    scores = probabilities(out.logits, ls)
    report = compute_report(None, *report_inputs(ls, out.targets, scores, out.reg_mask), ls, n_boot=n_boot)
    report.update({"model": model_id, "variant": variant, "data": data_spec, "split": split,
                   "untrained": pred.untrained, "checkpoint": str(pred.checkpoint) if pred.checkpoint else None,
                   "checkpoint_sha256": pred.card.get("sha256"), "version": pred.version,
                   "synthetic_model": pred.synthetic_training,
                   "synthetic": bool(getattr(ds, "synthetic", False)), "n_cases": len(out.ids),
                   "seconds": round(time.perf_counter() - t0, 2),
                   "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    d = Path(out_dir) if out_dir else default_out_dir(model_id, variant, split)
    buf = io.StringIO()
    predictions_frame(ls, out.ids, out.paths, out.targets, scores).to_csv(buf, index=False)
    atomic_write(d / PREDICTIONS_CSV, lambda f: f.write(buf.getvalue()), "w")
    report = nan_to_none(report)
    report["predictions_csv"] = str(d / PREDICTIONS_CSV)
    atomic_write_json(d / METRICS_JSON, report)
    return report
