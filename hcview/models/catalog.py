"""What the Models page and ``python -m hcview models`` show: one row per entry and variant,
with parameter counts (computed on the meta device: no memory, no weights) and checkpoint state."""
from __future__ import annotations

from functools import lru_cache

import torch

from .checkpoint import find_checkpoint, read_card, trained_on_synthetic
from .registry import count_params, create_model, get_spec, list_models


@lru_cache(maxsize=None)
def param_count(model_id: str, variant: str) -> int:
    with torch.device("meta"):
        return count_params(create_model(model_id, variant, pretrained=False))


def catalog(with_params: bool = True) -> list[dict]:
    rows = []
    for mid in list_models():
        spec = get_spec(mid)
        for vname, v in spec.variants.items():
            ckpt = find_checkpoint(mid, vname)
            card = None
            if ckpt is not None:
                try:
                    card = read_card(ckpt)
                except Exception:  # a broken card is reported, not fatal for the listing
                    card = {"error": "unreadable model card"}
            ls = spec.label_space(vname)
            rows.append({
                "id": mid, "variant": vname, "name": spec.name, "task": spec.task, "modality": spec.modality,
                "params": param_count(mid, vname) if with_params else None,
                "input_size": v.input_size, "label_space": ls.name, "outputs": ls.head_sizes,
                "cam_layer": spec.cam_layer, "pretrained_requested": v.pretrained, "default_data": v.data,
                "trained": ckpt is not None and not (card or {}).get("error"),
                "checkpoint": str(ckpt) if ckpt else None,
                "test_metrics": (card or {}).get("metrics", {}).get("test") if card else None,
                "version": (card or {}).get("version", 1) if card else None,
                "synthetic": trained_on_synthetic(card),
                "ood": (card or {}).get("ood"), "operating_points": (card or {}).get("operating_points"),
                "description": v.description,
            })
    return rows
