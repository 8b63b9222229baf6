"""Checkpoints: a ``state_dict`` (``<name>.pt``) plus a JSON model card (``<name>.json``).

The card records id, variant, label space, training config, data (and its label mappings),
metrics, the sha256 of the weights file, whether ImageNet weights were used, and the HBCE mode.
Loading uses ``torch.load(weights_only=True)`` after checking the sha256, so a tampered,
truncated or mismatched file gives a one-line :class:`CheckpointError`, never a traceback.
Both files are written atomically (temp file + fsync + rename), weights first, card last. Until the new
card is in place the previous weights stay reachable as ``<name>.pt.prev`` (a hard link), so a process
killed between the two renames leaves the previous checkpoint loadable: the loader falls back to the
``.prev`` file whose sha256 matches the card.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import torch
from torch import nn

from hcview import paths
from hcview.errors import CheckpointError, HcviewError
from hcview.io_utils import atomic_write_bytes, atomic_write_json, sha256_file  # noqa: F401 (sha256_file re-exported)

from .base import OODStats
from .cards import (SYNTHETIC_SPECS, card_path, find_checkpoint, read_card,  # noqa: F401 (re-exported)
                    trained_on_synthetic)
from .labels import from_dict
from .registry import create_model, get_spec

CARD_VERSION = 1


def default_checkpoint_path(model_id: str, variant: str) -> Path:
    return paths.models_dir() / f"{model_id}-{variant}.pt"


def save_checkpoint(model: nn.Module, path: str | Path, card: dict) -> Path:
    """Write weights then card, atomically. ``card`` gets id/variant/label_space/sha256 filled in."""
    path = Path(path)
    buf = io.BytesIO()
    half = card.get("weights_dtype") == "float16"  # a card that says so keeps its weights in fp16 (OOD stats fp32)
    state = {k: (v.detach().cpu().half() if half and v.is_floating_point() and not k.startswith("ood.") else v.detach().cpu())
             for k, v in model.state_dict().items()}
    torch.save(state, buf)
    data = buf.getvalue()
    prev = _prev_path(path)
    if path.exists() and card_path(path).exists():
        link_tmp = prev.with_name(prev.name + ".tmp")
        link_tmp.unlink(missing_ok=True)
        os.link(path, link_tmp)
        os.replace(link_tmp, prev)
    atomic_write_bytes(path, data)
    spec = getattr(model, "spec", None)
    full = {
        "card_version": CARD_VERSION,
        "id": card.get("id") or (spec.id if spec else None),
        "variant": card.get("variant") or getattr(model, "variant", None),
        "weights_file": path.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "label_space": model.label_space.to_json(),
        "pretrained": bool(getattr(getattr(model, "weights", None), "used_pretrained", False)),
        "pretrained_notice": getattr(getattr(model, "weights", None), "notice", None),
        "arch_version": spec.arch_version if spec else 1,
        **{k: v for k, v in card.items() if k not in ("id", "variant")},
    }
    atomic_write_json(card_path(path), full)
    prev.unlink(missing_ok=True)
    return path


def _prev_path(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def load_state(weights_path: str | Path, card: dict | None = None) -> dict:
    """Verify the sha256 against the card, then ``torch.load(weights_only=True)``."""
    p = Path(weights_path)
    if not p.exists():
        raise CheckpointError(f"checkpoint not found: {p}")
    card = card or read_card(p)
    digest = sha256_file(p)
    prev = _prev_path(p)
    if digest != card.get("sha256") and prev.exists() and sha256_file(prev) == card.get("sha256"):
        p = prev  # interrupted save: the card still describes the previous weights
    elif digest != card.get("sha256"):
        raise CheckpointError(f"checkpoint {p.name} failed its sha256 check (tampered or truncated); retrain or restore it")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused / corrupt zip
        raise CheckpointError(f"checkpoint {p.name} cannot be read: {type(e).__name__}") from None


def load_checkpoint(weights_path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Build the model the card describes, load verified weights, return ``(model.eval(), card)``."""
    card = read_card(weights_path)
    state = load_state(weights_path, card)
    try:
        spec = get_spec(card["id"])
        spec.variant(card["variant"])
        if int(card.get("arch_version", 1)) != spec.arch_version:
            raise CheckpointError(f"checkpoint {Path(weights_path).name} was trained with {card['id']} architecture "
                                  f"version {card.get('arch_version', 1)}; this build has version {spec.arch_version} "
                                  "(see the model card): retrain it")
        ls = from_dict(_label_space_dict(card["label_space"]))
        model = create_model(card["id"], card["variant"], pretrained=False, label_space=ls, **card.get("model_kwargs", {}))
    except KeyError as e:
        raise CheckpointError(f"model card for {Path(weights_path).name} lacks {e}") from None
    except HcviewError:
        raise
    except Exception as e:  # bogus model_kwargs / label space in a hand-edited card: one line, not a traceback
        raise CheckpointError(f"model card for {Path(weights_path).name} is invalid ({type(e).__name__}: "
                              f"{' '.join(str(e).split())[:100]})") from None
    ood = {k: state.pop(k) for k in list(state) if k.startswith("ood.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {Path(weights_path).name} does not match {card['id']}/{card['variant']} "
                              f"({len(missing)} missing, {len(unexpected)} unexpected tensors)")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError:
        raise CheckpointError(f"checkpoint {Path(weights_path).name} has tensors of the wrong shape for "
                              f"{card['id']}/{card['variant']}") from None
    if ood:
        try:
            model.ood = OODStats.from_state(ood)
        except KeyError as e:
            raise CheckpointError(f"checkpoint {Path(weights_path).name} has incomplete OOD statistics ({e})") from None
    return model.to(device).eval(), card


def _label_space_dict(d: dict) -> dict:
    """Model cards store the label space as heads; turn it back into the loader's JSON shape."""
    kind = d["kind"]
    if kind == "taxonomy3":
        heads = {h["name"]: h["labels"] for h in d["heads"]}
        return {"name": d["name"], "kind": kind, "description": d.get("description", ""), "anatomy": heads["anatomy"],
                "category": heads["category"], "tree": [{"disease": t[0], "anatomy": t[1], "category": t[2]} for t in d["tree"]]}
    if kind in ("multilabel", "multilabel_tree"):
        return {"name": d["name"], "kind": kind, "description": d.get("description", ""),
                "labels": d["heads"][0]["labels"], "edges": d.get("edges", [])}
    return {"name": d["name"], "kind": kind, "description": d.get("description", ""), "heads": d["heads"]}


