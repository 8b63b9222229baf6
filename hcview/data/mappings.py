"""Source-data vocabularies and the contract by which each paper maps a data source to its label space.

The generic parts live here: the NIH ChestX-ray14 and CheXpert label vocabularies, CheXpert's cell values,
OR-derivation of a ``multilabel_tree`` space's parents and the taxonomy lookup of a ``taxonomy3`` space.
What is paper-specific (NIH -> CIHMLC's 21 labels, NIH metadata for MedFusionNet, JSRT -> Res-MTNet's heads)
is a :class:`DataMapping` that each paper module (``hcview/papers/<id>.py``) puts in its spec; datasets find
it with :func:`mapping_for`. Every dataset reports the mapping it applied in ``dataset.info['mapping']``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from hcview.models.labels import LabelSpace
from hcview.models.registry import spec_for_label_space

NIH14 = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Effusion", "Emphysema", "Fibrosis", "Hernia",
         "Infiltration", "Mass", "Nodule", "Pleural_Thickening", "Pneumonia", "Pneumothorax")

CHEXPERT14 = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
              "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
              "Pneumothorax", "Support Devices")


@dataclass
class Mapped:
    """What a paper's mapping makes of a source table: per-head targets plus optional inputs."""
    targets: dict[str, np.ndarray]
    text: str  # the mapping, in words, for the model card
    meta: np.ndarray | None = None  # (N, F) clinical features
    meta_mask: np.ndarray | None = None  # (N, F) presence
    meta_features: tuple[str, ...] = ()
    reg_mask: np.ndarray | None = None  # (N, R) regression targets present


@dataclass(frozen=True)
class DataMapping:
    """A paper's mappings from data sources to its label space. Each is optional: a source a paper cannot
    use is refused with one line. ``nih(table, ls)``, ``chexpert(rows, ls, policy)``, ``nodules(records, ls)``
    (JSRT rows or nodule phantoms) return :class:`Mapped`; ``record(row) -> dict`` turns one records-CSV row
    into the model's extra inputs; ``texts`` holds mapping texts of bundled samples (``sample:NAME``)."""
    nih: Callable | None = None
    chexpert: Callable | None = None
    nodules: Callable | None = None
    texts: dict[str, str] = field(default_factory=dict)


def mapping_for(label_space: LabelSpace) -> DataMapping:
    """The mapping of the paper that owns ``label_space`` (an empty one for a user's own label space)."""
    spec = spec_for_label_space(label_space)
    return (spec.data if spec is not None and spec.data is not None else None) or DataMapping()


def derive_parents(vec: np.ndarray, label_space: LabelSpace, seeds: Iterable[str] = ()) -> np.ndarray:
    """Apply ``derive_or`` and the two special rules of a multilabel_tree space in place on ``vec``.

    ``seeds`` are parent labels to set directly (e.g. from a source leaf without a CheXpert equivalent);
    they are propagated up the penalty edges whose child and parent are both derived (parent) labels.
    """
    labels = list(label_space.heads[0].labels)
    idx = {n: i for i, n in enumerate(labels)}
    rules = label_space.derive_or
    for parent, children in rules.items():
        if any(vec[idx[c]] > 0 for c in children):
            vec[idx[parent]] = 1
    for s in seeds:
        vec[idx[s]] = 1
    derived = set(rules) | {"Abnormal"}
    changed = True
    while changed:  # parent <- child along edges between derived labels (e.g. Missing Lung Tissue -> Opacity)
        changed = False
        for p, c in label_space.edges:
            if p in rules and c in derived and vec[idx[c]] > 0 and vec[idx[p]] == 0:
                vec[idx[p]] = 1
                changed = True
    special = label_space.extra.get("derive_special", {})
    if "Uncertain" in idx and "Uncertain" in special:
        others = [i for n, i in idx.items() if n not in ("Uncertain", "Abnormal")]
        vec[idx["Uncertain"]] = 0 if any(vec[i] > 0 for i in others) else 1
    if "Abnormal" in idx and "Abnormal" in special:
        nf = vec[idx["No Finding"]] > 0 if "No Finding" in idx else False
        vec[idx["Abnormal"]] = 0 if (nf or vec[idx["Uncertain"]] > 0) else 1
    return vec


def chexpert_value(v, policy: str = "zeros") -> float:
    """CheXpert cell (1, 0, -1, blank) -> 0/1. Uncertain -1 -> 0 (U-zeros) or 1 (U-ones); blank -> 0."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return 0.0
    if f != f:
        return 0.0
    if f == -1:
        return 1.0 if policy == "ones" else 0.0
    return 1.0 if f > 0 else 0.0


def taxonomy3_targets(disease: str, label_space: LabelSpace) -> dict[str, int]:
    """Disease name -> {anatomy, category, disease} class indices from the label space's tree."""
    a, c = label_space.parent_of(disease)
    return {"anatomy": label_space.head("anatomy").labels.index(a),
            "category": label_space.head("category").labels.index(c),
            "disease": label_space.head("disease").labels.index(disease)}
