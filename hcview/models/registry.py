"""timm-style registry: one :class:`ModelSpec` per paper, two variants each, ``create_model(id, variant)``.

``paper`` is the paper's exact configuration; ``demo`` is the same architecture family sized to
train on a 2-core CPU (smaller input, smaller member of the same backbone family).

Each paper lives in one module of :mod:`hcview.papers`, which builds its :class:`ModelSpec` (architecture,
variants, label spaces, loss builder, predictor class, data mapping, Case-review panel, card extras) and calls
:func:`register`. The registry discovers that package by name the first time a spec is asked for, so lower
layers reach paper-specific code only through the spec, never by importing a paper.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from hcview.errors import ModelError

from .labels import LabelSpace, load_label_space

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Variant:
    name: str
    input_size: int
    label_space: str  # stem of a taxonomies/*.json file, or a path
    kwargs: dict = field(default_factory=dict, hash=False)
    pretrained: bool = False  # ask torchvision for ImageNet weights
    data: str = ""  # default --data spec for training/evaluation
    train: dict = field(default_factory=dict, hash=False)  # overrides of the paper training defaults
    description: str = ""


@dataclass(frozen=True)
class ModelSpec:
    id: str
    name: str
    paper: str
    doi: str
    task: str  # 'hierarchical' | 'multilabel_tree' | 'multimodal_multilabel' | 'multitask'
    modality: str
    builder: Callable[..., nn.Module] = field(hash=False)
    variants: dict[str, Variant] = field(hash=False)
    cam_layer: str = ""  # module name resolved with get_submodule
    dropout: str = ""  # where the MC-dropout module sits
    dropout_above_features: bool = True  # dropout only in forward_head
    in_chans: int = 3
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    inputs: tuple[str, ...] = ("image",)  # image, meta, text
    dicom_modalities: tuple[str, ...] = ()  # DICOM Modality values the model was trained on (others are flagged)
    lrp: str = ""  # 'resnet-canonizer' (exact rules) or an 'approximate' rule-set description
    train_defaults: dict = field(default_factory=dict, hash=False)
    notes: str = ""
    # ---- paper-specific behaviour, provided by the paper's module (hcview/papers/<id>.py) ----
    loss: Callable | None = field(default=None, hash=False)  # (cfg, train_dataset, label_space) -> (fn, info)
    predictor: type | None = field(default=None, hash=False)  # hcview.infer.predictor.Predictor subclass
    data: Any = field(default=None, hash=False)  # hcview.data.mappings.DataMapping
    panel: str = ""  # "module:function" of the Case-review panel (hcview/ui/panels), resolved by the UI
    card_extras: Callable[[dict], dict] | None = field(default=None, hash=False)  # card -> {title: text}
    validity_data: tuple[str, str] | None = None  # (data spec with lesion masks, head) for explanation validity
    order: int = 100  # position in listings
    ood_probes: tuple[str, ...] = ()
    ood_false_alarm: float = 0.05  # in-distribution false-alarm rate of the OOD threshold on the validation split
    ood_note: str = ""  # sample-pack globs of another modality: measures the OOD gate's separation
    arch_version: int = 1  # bumped when a change makes old checkpoints compute something else; cards record it

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            raise ModelError(f"model {self.id!r} has no variant {name!r} (choose from {', '.join(self.variants)})") from None

    def label_space(self, variant: str = "demo") -> LabelSpace:
        return load_label_space(self.variant(variant).label_space)

    def to_json(self, variant: str | None = None) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("id", "name", "paper", "doi", "task", "modality", "cam_layer", "dropout",
                                           "in_chans", "inputs", "dicom_modalities", "lrp", "notes")}
        d["mean"], d["std"] = list(self.mean), list(self.std)
        d["train_defaults"] = dict(self.train_defaults)
        d["variants"] = {n: {"input_size": v.input_size, "label_space": v.label_space, "pretrained": v.pretrained,
                             "data": v.data, "kwargs": dict(v.kwargs), "train": dict(v.train), "description": v.description}
                         for n, v in self.variants.items() if variant in (None, n)}
        return d


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.id in _REGISTRY:
        raise ModelError(f"duplicate model id {spec.id}")
    _REGISTRY[spec.id] = spec
    return spec


_DISCOVERED = False
PAPERS_PACKAGE = "hcview.papers"


def _ensure_loaded():
    """Import every paper module once (plugin discovery by package name; see the module docstring)."""
    global _DISCOVERED
    if not _DISCOVERED:
        _DISCOVERED = True
        importlib.import_module(PAPERS_PACKAGE)


def list_models() -> list[str]:
    _ensure_loaded()
    return sorted(_REGISTRY, key=lambda m: (_REGISTRY[m].order, m))


def spec_for_label_space(label_space) -> ModelSpec | None:
    """The paper whose variants use ``label_space`` (a LabelSpace or its name), or None for a user's own space."""
    _ensure_loaded()
    name = getattr(label_space, "name", label_space)
    for mid in list_models():
        spec = _REGISTRY[mid]
        if any(load_label_space(v.label_space).name == name for v in spec.variants.values()):
            return spec
    return None


def get_spec(model_id: str) -> ModelSpec:
    _ensure_loaded()
    try:
        return _REGISTRY[model_id]
    except KeyError:
        raise ModelError(f"unknown model {model_id!r} (choose from {', '.join(_REGISTRY)})") from None


def create_model(model_id: str, variant: str = "demo", *, pretrained: bool | None = None,
                 label_space: LabelSpace | str | None = None, **overrides) -> nn.Module:
    """Build a model. ``pretrained=None`` follows the variant (paper variants ask torchvision for
    ImageNet weights, falling back to random init with a notice in ``model.weights.notice``)."""
    spec = get_spec(model_id)
    v = spec.variant(variant)
    ls = label_space if isinstance(label_space, LabelSpace) else load_label_space(label_space or v.label_space)
    kwargs = {**v.kwargs, **overrides}
    model = spec.builder(ls, pretrained=v.pretrained if pretrained is None else pretrained, **kwargs)
    model.spec, model.variant = spec, variant
    return model


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
