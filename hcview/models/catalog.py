"""What the Models page and ``python -m hcview models`` show: one row per entry and variant,
with parameter counts (computed on the meta device: no memory, no weights) and checkpoint state."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

from .cards import SNAPSHOT, checkpoint_fields, find_checkpoint, read_card, trained_on_synthetic
from .registry import count_params, create_model, get_spec, list_models


@lru_cache(maxsize=None)
def param_count(model_id: str, variant: str) -> int:
    with torch.device("meta"):
        return count_params(create_model(model_id, variant, pretrained=False))


def static_row(mid: str, vname: str, with_params: bool = True) -> dict:
    """What the registry says of one entry and variant (no checkpoint state)."""
    spec = get_spec(mid)
    v = spec.variant(vname)
    ls = spec.label_space(vname)
    cfg = {**spec.train_defaults, **v.train}
    return {"id": mid, "variant": vname, "name": spec.name, "task": spec.task, "modality": spec.modality,
            "params": param_count(mid, vname) if with_params else None,
            "input_size": v.input_size, "label_space": ls.name, "outputs": dict(ls.head_sizes),
            "cam_layer": spec.cam_layer, "pretrained_requested": v.pretrained, "default_data": v.data,
            "description": v.description, "select": str(cfg.get("select") or "val_loss")}


def catalog(with_params: bool = True) -> list[dict]:
    """One row per entry and variant: the registry's facts and the active checkpoint's state. The app reads the same
    rows without torch through :func:`hcview.models.cards.catalog_rows`."""
    return [{**static_row(mid, vname, with_params), **checkpoint_fields(mid, vname)}
            for mid in list_models() for vname in get_spec(mid).variants]


def snapshot() -> dict:
    """The registry's part of the catalog, as ``catalog_snapshot.json`` stores it (``models --snapshot``)."""
    return {"written_by": "python -m hcview models --snapshot",
            "rows": [static_row(mid, vname) for mid in list_models() for vname in get_spec(mid).variants]}


def write_snapshot() -> Path:
    from hcview.io_utils import atomic_write_json

    atomic_write_json(SNAPSHOT, snapshot())
    return SNAPSHOT


README_START, README_END = "<!-- demo-models:start -->", "<!-- demo-models:end -->"


def _metric_text(test: dict) -> str:
    """The informative test figures of a card: accuracy / AUROC per head (a head with one class is skipped),
    regression MSE."""
    parts = []
    for k, v in test.items():
        if not k.startswith("test_") or not isinstance(v, (int, float)) or k == "test_mean_acc":
            continue
        name = k[5:]
        if name.endswith("_acc"):
            if v == 1.0 and name == "anatomy_acc":  # a one-class head (the brain-MRI taxonomy has one anatomy)
                continue
            parts.append(f"{name[:-4].replace('_', ' ')} accuracy {v:.3f}")
        elif name.endswith("auroc"):
            parts.append(f"{name.replace('_', ' ').replace('auroc', 'AUROC')} {v:.3f}")
        elif name.endswith("_mse"):
            parts.append(f"{name[:-4]} MSE {v:.4f}")
    return "; ".join(parts)


def _ops_text(card: dict) -> str:
    ops = [v for head in (card.get("operating_points") or {}).values() for v in head.values()]
    if not ops:
        return "argmax (single-label heads)" if card.get("ood") else "-"
    t = [v["threshold"] for v in ops]
    fixed = sum(1 for v in ops if v.get("rule", "").startswith("0.5"))
    return (f"{len(ops)} labels, {card.get('operating_rule', 'youden')} on the validation split: thresholds "
            f"{min(t):.3f}-{max(t):.3f}" + (f" ({fixed} kept at 0.5: no positive in validation)" if fixed else ""))


def demo_models_markdown() -> str:
    """The README's table of the shipped demo models, from their cards (so the README never disagrees with them):
    ``python -m hcview models --readme`` prints it; ``tests/test_readme.py`` checks the README holds it."""
    lines = ["| model | version | trained on (held-out test cases) | test figures | OOD gate: AUROC; flagged in / out of distribution | operating points |",
             "|---|---|---|---|---|---|"]
    for mid in list_models():
        ckpt = find_checkpoint(mid, "demo")
        if ckpt is None:
            lines.append(f"| {get_spec(mid).name} demo | - | not trained | - | - | - |")
            continue
        card = read_card(ckpt)
        data = card.get("data") or {}
        synth = " (synthetic phantoms)" if trained_on_synthetic(card) else ""
        sep = ((card.get("ood") or {}).get("separation")) or {}
        kind = "real chest X-rays" if "nih-cxr" in sep.get("out", "") else \
            "brain MRI slices" if "brain-mri" in sep.get("out", "") else "images of another kind"
        ood = (f"{sep['auroc']:.3f}; {sep['in_flagged']:.1%} of the test split, {sep['out_flagged']:.1%} of "
               f"{sep['n_out']} {kind}" if sep else "not fitted")
        lines.append(f"| {get_spec(mid).name} demo | {card.get('version', 1)} (`{card.get('sha256', '')[:8]}`) | "
                     f"{data.get('spec')}{synth}, {data.get('n_train')} train ({data.get('n_test')} test) | "
                     f"{_metric_text((card.get('metrics') or {}).get('test') or {})} | {ood} | {_ops_text(card)} |")
    for mid in list_models():
        ckpt = find_checkpoint(mid, "demo")
        ab = read_card(ckpt).get("ablation") if ckpt else None
        if ab:
            lines += ["", ablation_text(get_spec(mid).name, ab)]
    return "\n".join(lines)


def ablation_text(name: str, ab: dict) -> str:
    """The paper's hierarchical-vs-flat ablation of a card, in one paragraph."""
    h, f, mc = ab["hierarchical"], ab["flat"], ab["mcnemar_disease"]
    per = ", ".join(f"{c['class']} {c['accuracy']:.2f}" for c in h.get("per_class", []))
    r = h.get("pearson_train_support_vs_accuracy") or {}
    return (f"**{name} ablation** ({ab['n_cases']} {ab['split']} cases, {ab['data']}): disease accuracy hierarchical "
            f"{h['disease_accuracy']:.3f} (95% CI {h['disease_accuracy_ci'][0]:.3f}-{h['disease_accuracy_ci'][1]:.3f}, "
            f"macro F1 {h['disease_f1_macro']:.3f}) vs flat {f['disease_accuracy']:.3f} (95% CI "
            f"{f['disease_accuracy_ci'][0]:.3f}-{f['disease_accuracy_ci'][1]:.3f}); McNemar b = {mc['b']} (only "
            f"hierarchical right) vs c = {mc['c']} (only flat right), p = {mc['p_value']:.3g}. Per class (hierarchical): "
            f"{per}. Pearson r(training support, accuracy) = {r.get('r', float('nan')):.2f} (n = {r.get('n')}).")
