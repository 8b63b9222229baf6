"""Label spaces as data: a model's heads are derived from these, never from constants.

Three shapes are supported, each loaded from a JSON file in ``taxonomies/`` (or a user's own file):

- ``taxonomy3`` (HC-Net): a 3-level tree anatomy -> category -> disease, three softmax heads.
- ``multilabel_tree`` (CIHMLC): one sigmoid head over labels, with OR-derived parents and
  parent -> child penalty edges.
- ``multilabel`` (MedFusionNet): one sigmoid head.
- ``multitask`` (Res-MTNet): several softmax heads plus one regression head.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hcview.errors import InputError, ModelError

TAXONOMY_DIR = Path(__file__).resolve().parent / "taxonomies"


@dataclass(frozen=True)
class Head:
    """One output head. ``kind`` is 'softmax' (one class of ``labels``), 'sigmoid' (each label
    independently) or 'regression' (one value per label)."""

    name: str
    kind: str
    labels: tuple[str, ...]

    @property
    def size(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class LabelSpace:
    name: str
    kind: str
    heads: tuple[Head, ...]
    description: str = ""
    # taxonomy3: disease -> (anatomy, category)
    tree: tuple[tuple[str, str, str], ...] = ()
    # multilabel_tree: parent -> child penalty edges and OR derivation rules
    edges: tuple[tuple[str, str], ...] = ()
    derive_or: dict = field(default_factory=dict, hash=False, compare=False)
    extra: dict = field(default_factory=dict, hash=False, compare=False)
    source: str = ""

    # ---- generic helpers -------------------------------------------------
    def head(self, name: str) -> Head:
        for h in self.heads:
            if h.name == name:
                return h
        raise ModelError(f"label space {self.name!r} has no head {name!r}")

    @property
    def head_sizes(self) -> dict[str, int]:
        return {h.name: h.size for h in self.heads}

    def all_outputs(self) -> list[tuple[str, int, str]]:
        """Every scalar output as (head, index, label): what Grad-CAM 'all labels' iterates over."""
        return [(h.name, i, lab) for h in self.heads if h.kind != "regression" for i, lab in enumerate(h.labels)]

    def resolve(self, target) -> tuple[str, int, str]:
        """One output as (head, index, label). ``target``: (head, index), 'head:label', 'label' (case-insensitive)
        or an index into :meth:`all_outputs`."""
        outs = self.all_outputs()
        if isinstance(target, tuple):
            head, idx = target
            return head, int(idx), self.head(head).labels[int(idx)]
        if isinstance(target, int):
            return outs[target]
        t = str(target)
        if ":" in t:
            head, lab = t.split(":", 1)
            for h, i, name in outs:
                if h == head and name == lab:
                    return h, i, name
        matches = [o for o in outs if o[2].lower() == t.lower()]
        if matches:
            return matches[0]
        raise InputError(f"unknown target label {target!r}; choose from {', '.join(o[2] for o in outs)[:300]}")

    # ---- taxonomy3 ----------------------------------------------------------
    def parent_of(self, disease: str) -> tuple[str, str]:
        for d, a, c in self.tree:
            if d == disease:
                return a, c
        raise KeyError(disease)

    def disease_order(self) -> list[str]:
        """Diseases ordered by (anatomy, category) as listed: the taxonomy order for confusion matrices."""
        if self.kind != "taxonomy3":
            return []
        an = self.head("anatomy").labels
        ca = self.head("category").labels
        return [d for d, a, c in sorted(self.tree, key=lambda t: (an.index(t[1]), ca.index(t[2])))]

    # ---- multilabel_tree ----------------------------------------------------
    def edge_index(self) -> list[tuple[int, int]]:
        labels = self.heads[0].labels
        return [(labels.index(p), labels.index(c)) for p, c in self.edges]

    def to_json(self) -> dict:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "heads": [{"name": h.name, "kind": h.kind, "labels": list(h.labels)} for h in self.heads],
                "tree": [list(t) for t in self.tree], "edges": [list(e) for e in self.edges]}


def from_dict(d: dict, source: str = "") -> LabelSpace:
    kind = d.get("kind")
    name = d.get("name", Path(source).stem if source else "labels")
    desc = d.get("description", "")
    if kind == "taxonomy3":
        tree = tuple((t["disease"], t["anatomy"], t["category"]) for t in d["tree"])
        anat = tuple(d.get("anatomy") or dict.fromkeys(t[1] for t in tree))
        cat = tuple(d.get("category") or dict.fromkeys(t[2] for t in tree))
        for dis, a, c in tree:
            if a not in anat or c not in cat:
                raise ModelError(f"taxonomy {name}: disease {dis!r} points at unknown anatomy/category {a!r}/{c!r}")
        heads = (Head("anatomy", "softmax", anat), Head("category", "softmax", cat),
                 Head("disease", "softmax", tuple(t[0] for t in tree)))
        return LabelSpace(name, kind, heads, desc, tree=tree, source=source)
    if kind in ("multilabel", "multilabel_tree"):
        labels = tuple(d["labels"])
        edges = tuple((p, c) for p, c in d.get("edges", []))
        for p, c in edges:
            if p not in labels or c not in labels:
                raise ModelError(f"label space {name}: edge {p}->{c} names an unknown label")
        extra = {k: v for k, v in d.items() if k in ("leaves", "derive_special")}
        return LabelSpace(name, kind, (Head("labels", "sigmoid", labels),), desc, edges=edges,
                          derive_or=dict(d.get("derive_or", {})), extra=extra, source=source)
    if kind == "multitask":
        heads = tuple(Head(h["name"], h["kind"], tuple(h["labels"])) for h in d["heads"])
        extra = {k: v for k, v in d.items() if k not in ("name", "kind", "description", "heads")}
        return LabelSpace(name, kind, heads, desc, extra=extra, source=source)
    raise ModelError(f"unknown label-space kind {kind!r} in {source or name}")


@lru_cache(maxsize=None)
def load_label_space(name_or_path: str) -> LabelSpace:
    """Load a bundled label space by stem (e.g. 'cihmlc') or any JSON path."""
    p = Path(name_or_path)
    if not p.suffix:
        p = TAXONOMY_DIR / f"{name_or_path}.json"
    if not p.exists():
        raise ModelError(f"label space not found: {name_or_path}")
    try:
        d = json.loads(p.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"label space {p.name} is not valid JSON: {e}") from None
    return from_dict(d, source=str(p))
