"""HC-Net's ablation, computed: hierarchical (three heads) vs flat (one disease head), same backbone,
data, schedule and test cases.

    hierarchical_vs_flat(hier_weights, flat_weights, data_spec, split) -> dict   (the card's ``ablation``)

Per model: disease accuracy and macro F1 with percentile-bootstrap 95% CIs over test cases, per-class
accuracy (recall) with a bootstrap CI over that class's cases, category accuracy, taxonomy consistency,
and Pearson r between each class's training support and its test accuracy (as the paper reports; with
few classes it says little, hence the n and p value). The pair: McNemar's test on disease correctness
of the same cases (b = hierarchical right & flat wrong, c = the reverse). Per-case predictions go to a
CSV beside the card so the test can be recomputed.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

FLAT_OVERRIDES = {"loss": "hcnet_flat", "model_kwargs": {"flat": True}}  # train the flat baseline with these
FLAT_NAME = "hcnet-flat-demo"  # models/<FLAT_NAME>.pt
CASES_SUFFIX = "-ablation-cases.csv"


@torch.no_grad()
def predict_heads(model, ds, batch_size: int = 64) -> tuple[list[str], dict, dict]:
    """-> (ids, truth {head: (N,)}, probabilities {head: (N, C)})."""
    from torch.utils.data import DataLoader

    from hcview.train.trainer import collate

    model.eval()
    ids, truth, probs = [], {}, {}
    for b in DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate):
        out = model(b["image"])
        for h, v in out.items():
            probs.setdefault(h, []).append(torch.softmax(v.float(), 1).numpy())
            truth.setdefault(h, []).append(b["targets"][h].numpy())
        ids.extend(b["id"])
    return ids, {h: np.concatenate(v) for h, v in truth.items()}, {h: np.concatenate(v) for h, v in probs.items()}


def _model_block(ls, truth, probs, train_support: dict, n_boot: int, seed: int) -> dict:
    from hcview.metrics.classification import compute_classification
    from hcview.metrics.hierarchy import compute_taxonomy_consistency
    from hcview.metrics.stats import bootstrap_ci, support_accuracy_correlation

    labels = list(ls.head("disease").labels)
    y, p = truth["disease"], probs["disease"].argmax(1)
    cls = compute_classification(y, p, labels)
    acc = lambda t, q: float(np.mean(t == q))  # noqa: E731
    f1 = lambda t, q: compute_classification(t, q, labels)["f1_macro"]  # noqa: E731
    per_class = []
    for k, lab in enumerate(labels):
        m = y == k
        ci = bootstrap_ci(acc, y[m], p[m], n_boot=n_boot, seed=seed)
        per_class.append({"class": lab, "test_support": int(m.sum()), "train_support": int(train_support.get(lab, 0)),
                          "accuracy": ci["estimate"], "ci_low": ci["low"], "ci_high": ci["high"]})
    a_ci = bootstrap_ci(acc, y, p, n_boot=n_boot, seed=seed)
    f_ci = bootstrap_ci(f1, y, p, n_boot=n_boot, seed=seed)
    preds = {h: probs[h].argmax(1) for h in ("anatomy", "category", "disease")}
    cons = compute_taxonomy_consistency(preds["anatomy"], preds["category"], preds["disease"], ls)
    return {
        "disease_accuracy": cls["accuracy"], "disease_accuracy_ci": [a_ci["low"], a_ci["high"]],
        "disease_f1_macro": cls["f1_macro"], "disease_f1_macro_ci": [f_ci["low"], f_ci["high"]],
        "disease_balanced_accuracy": cls["balanced_accuracy"],
        "category_accuracy": float(np.mean(preds["category"] == truth["category"])),
        "consistency_rate": cons.get("consistency_rate", cons.get("rate")),
        "per_class": per_class,
        "pearson_train_support_vs_accuracy": support_accuracy_correlation(
            [r["train_support"] for r in per_class], [r["accuracy"] for r in per_class]),
    }


def hierarchical_vs_flat(hier_weights, flat_weights, data_spec: str = "sample:brain-mri", split: str = "test",
                         n_boot: int = 1000, seed: int = 0, cases_csv: str | Path | None = None,
                         limit: int | None = None) -> dict:
    """``limit``: a random subset of that many cases (tests only)."""
    from hcview.data.datasets import build_dataset
    from hcview.metrics._util import nan_to_none
    from hcview.metrics.stats import mcnemar
    from hcview.models import get_spec
    from hcview.models.checkpoint import load_checkpoint
    from hcview.paths import portable

    t0 = time.time()
    hier, hcard = load_checkpoint(hier_weights)
    flat, fcard = load_checkpoint(flat_weights)
    if not getattr(flat, "flat", False) or getattr(hier, "flat", False):
        raise ValueError("hierarchical_vs_flat needs a hierarchical HC-Net and a flat (flat=True) one")
    spec = get_spec(hcard["id"])
    size = spec.variant(hcard["variant"]).input_size
    ls = hier.label_space
    ds = build_dataset(data_spec, ls, split, size, spec.mean, spec.std, model_id=spec.id)
    if limit:
        from hcview.train.trainer import subsample

        ds = subsample(ds, limit, seed)
    ids, truth, ph = predict_heads(hier, ds)
    _, _, pf = predict_heads(flat, ds)
    support = ((hcard.get("data") or {}).get("info") or {}).get("label_counts", {}).get("disease", {})
    blocks = {name: _model_block(ls, truth, pr, support, n_boot, seed) for name, pr in (("hierarchical", ph), ("flat", pf))}
    y = truth["disease"]
    ch, cf = ph["disease"].argmax(1) == y, pf["disease"].argmax(1) == y
    mc = mcnemar(ch, cf)
    labels = ls.head("disease").labels
    if cases_csv:
        import pandas as pd

        from hcview.io_utils import atomic_write

        df = pd.DataFrame({"id": ids, "true": [labels[k] for k in y],
                           "pred_hierarchical": [labels[k] for k in ph["disease"].argmax(1)],
                           "pred_flat": [labels[k] for k in pf["disease"].argmax(1)]})
        atomic_write(Path(cases_csv), lambda f: df.to_csv(f, index=False), "w")
    return nan_to_none({
        "what": "hierarchical (3 heads, CE(anatomy)+CE(category)+weighted CE(disease)) vs flat (1 disease head, "
                "weighted CE); same backbone, data, augmentation, optimiser, schedule and seed",
        "data": data_spec, "split": split, "n_cases": int(len(y)), "n_boot": int(n_boot),
        "checkpoints": {"hierarchical": Path(hier_weights).name, "flat": Path(flat_weights).name},
        "flat_sha256": fcard.get("sha256"),
        "budget": {name: budget(c) for name, c in (("hierarchical", hcard), ("flat", fcard))},
        **blocks,
        "mcnemar_disease": {**mc, "both_right": int((ch & cf).sum()), "both_wrong": int((~ch & ~cf).sum()),
                            "b_means": "hierarchical right, flat wrong", "c_means": "hierarchical wrong, flat right"},
        "difference_disease_accuracy": float(ch.mean() - cf.mean()),
        "cases_csv": portable(Path(cases_csv)) if cases_csv else None,
        "pearson_note": "support = training images per class; with 4 classes r has 2 degrees of freedom",
        "seconds": round(time.time() - t0, 1),
    })


def budget(card: dict) -> dict:
    """What a checkpoint's training cost, from its card."""
    t = card.get("training") or {}
    return {k: v for k, v in {"epochs": t.get("epochs"), "steps": card.get("step"), "best_epoch": card.get("epoch"),
                              "batch_size": t.get("batch_size"), "lr": t.get("lr"), "scheduler": t.get("scheduler"),
                              "loss": t.get("loss"), "train_seconds": card.get("train_seconds")}.items()}


def write_ablation(card_json: str | Path, block: dict, notes: str | None = None) -> None:
    """Store ``block`` as the card's ``ablation`` (and ``notes`` if given); the weights and their sha256 are untouched."""
    import json

    from hcview.io_utils import atomic_write_json

    p = Path(card_json)
    card = json.loads(p.read_text())
    card["ablation"] = block
    if notes:
        card["notes"] = notes
    atomic_write_json(p, card)
