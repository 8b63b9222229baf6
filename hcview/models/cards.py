"""Model cards and the model catalog without torch.

The app's first page lists the four models, their demo checkpoints and their test figures. None of that needs torch:
the cards are JSON beside the weights, the active version is a JSON pointer (:mod:`hcview.models.versions`), and what
the registry knows about each entry and variant (names, sizes, label spaces, parameter counts) is stored in
``catalog_snapshot.json``, written by ``python -m hcview models --snapshot`` from the registry itself
(:func:`hcview.models.catalog.snapshot`; ``tests/test_models.py`` fails when the file and the registry disagree).
So the first page renders before torch is imported (``python -m hcview bench`` measures the cold start; it was 9 s
with the import, 2.6 s without, on a 2-core CPU); pages that run a model pay for it.
"""
from __future__ import annotations

import json
from pathlib import Path

from hcview.errors import CheckpointError

SNAPSHOT = Path(__file__).with_name("catalog_snapshot.json")
SYNTHETIC_SPECS = ("sample:nodules", "sample:phantoms")
STATIC_KEYS = ("id", "variant", "name", "task", "modality", "params", "input_size", "label_space", "outputs",
               "cam_layer", "pretrained_requested", "default_data", "description", "select")


def card_path(weights_path: str | Path) -> Path:
    return Path(weights_path).with_suffix(".json")


def read_card(weights_path: str | Path) -> dict:
    cp = card_path(weights_path)
    if not cp.exists():
        raise CheckpointError(f"model card missing for {Path(weights_path).name}")
    try:
        card = json.loads(cp.read_text())
    except ValueError:
        raise CheckpointError(f"model card {cp.name} is not valid JSON") from None
    if not isinstance(card, dict):
        raise CheckpointError(f"model card {cp.name} is not a JSON object")
    return card


def trained_on_synthetic(card: dict | None) -> bool:
    """True when the card's training data were synthetic phantoms."""
    data = (card or {}).get("data") or {}
    return bool((data.get("info") or {}).get("synthetic") or data.get("synthetic") or data.get("spec") in SYNTHETIC_SPECS)


def find_checkpoint(model_id: str, variant: str) -> Path | None:
    """The active version's weights (see :mod:`hcview.models.versions`): what every page and command loads."""
    from .versions import active_checkpoint

    return active_checkpoint(model_id, variant)


def checkpoint_fields(model_id: str, variant: str) -> dict:
    """The catalog's per-checkpoint fields of one entry and variant: trained, checkpoint path, test metrics, version,
    synthetic, OOD gate, operating points (a broken card is reported, not fatal for the listing)."""
    ckpt = find_checkpoint(model_id, variant)
    card = None
    if ckpt is not None:
        try:
            card = read_card(ckpt)
        except Exception:
            card = {"error": "unreadable model card"}
    return {
        "trained": ckpt is not None and not (card or {}).get("error"),
        "checkpoint": str(ckpt) if ckpt else None,
        "test_metrics": (card or {}).get("metrics", {}).get("test") if card else None,
        "version": (card or {}).get("version", 1) if card else None,
        "synthetic": trained_on_synthetic(card),
        "ood": (card or {}).get("ood"), "operating_points": (card or {}).get("operating_points"),
    }


def catalog_rows() -> list[dict]:
    """The catalog (one row per entry and variant, as :func:`hcview.models.catalog.catalog` returns it) from the
    snapshot and the cards: no torch."""
    static = _snapshot_rows()
    return [{**{k: r[k] for k in STATIC_KEYS}, **checkpoint_fields(r["id"], r["variant"])} for r in static]


def _snapshot_rows() -> list[dict]:
    """The snapshot's rows, checked for shape: a missing, unreadable or stale file is one ``CheckpointError``."""
    fix = "run python -m hcview models --snapshot"
    try:
        rows = json.loads(SNAPSHOT.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CheckpointError(f"the model catalog snapshot {SNAPSHOT.name} is missing or unreadable: {fix}") from None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) and set(STATIC_KEYS) <= set(r)
                                                         for r in rows):
        raise CheckpointError(f"the model catalog snapshot {SNAPSHOT.name} is empty or out of date: {fix}")
    return rows


def model_ids() -> list[str]:
    """The registry's entry ids in its order, from the snapshot (no torch); the registry itself without one."""
    try:
        return list(dict.fromkeys(r["id"] for r in _snapshot_rows()))
    except CheckpointError:
        from .registry import list_models

        return list_models()
