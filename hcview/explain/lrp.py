"""Layer-wise relevance propagation.

Models that are a plain chain of layers (DenseNet blocks allowed: CIHMLC) use :mod:`hcview.explain.lrp_chain`: the
model is canonized by its traced structure (BN -> ReLU as threshold ReLUs, transitions as one layer, head BN folded
into the dense layer), one forward pass is replayed and kept, and one relevance pass explains every target, with
rules that conserve relevance (flat first conv, z+ convs, epsilon dense layers, biases excluded). A map whose
conservation falls outside [0.8, 1.2] is still marked ``approximate``.

Every other model uses zennit. Rule sets (``spec.lrp``):

- ``resnet-canonizer`` (HC-Net, ResNet): zennit's ``ResNetCanonizer`` (BatchNorm merged into the
  preceding conv, residual additions made explicit ``Sum`` modules) + ``EpsilonPlusFlat`` (flat rule
  on the first conv, z+ on convolutions, epsilon on linear layers). Exact rules: ``approximate=False``.
- anything else (Res-MTNet/DenseNet + EfficientNet, MedFusionNet/attention; CIHMLC only if its chain trace fails):
  a sibling-only variant of ``SequentialMergeBatchNorm`` (merges only conv -> BatchNorm pairs inside one
  ``nn.Sequential``; DenseNet's pre-activation
  BatchNorms, EfficientNet's SiLU and squeeze-excitation gates, attention and LayerNorm have no
  zennit rule and pass plain gradient) + ``EpsilonPlusFlat``. Marked ``approximate=True``.

zennit's canonizers and hooks rewrite the model while active, so every call works on a
``copy.deepcopy`` of the shared model (taken under its lock): the cached model never sees them.
Each map reports relevance conservation: sum of input relevance / the explained logit.
The output relevance is initialised to the explained logit (one-hot times its value).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .gradcam import ConcatOutputs, output_columns
from .guard import model_lock

RULES_EXACT = "ResNetCanonizer + EpsilonPlusFlat (flat first layer, z+ conv, epsilon linear)"
RULES_APPROX = ("conv->BatchNorm merge (siblings) + EpsilonPlusFlat; layers without an LRP rule (pre-activation "
                "BatchNorm, SiLU/SE gates, attention, LayerNorm) pass gradient")


@dataclass
class LRPMap:
    label: str
    head: str
    index: int
    relevance: np.ndarray     # (H, W) signed relevance summed over channels
    heatmap: np.ndarray       # (H, W) in [0, 1]: positive relevance, max-normalised
    logit: float
    relevance_sum: float
    conservation: float      # relevance_sum / logit
    approximate: bool
    rules: str

    def to_json(self) -> dict:
        return {"label": self.label, "head": self.head, "index": self.index, "logit": self.logit,
                "relevance_sum": self.relevance_sum, "conservation": self.conservation,
                "approximate": self.approximate, "rules": self.rules}


def is_exact(model: nn.Module) -> bool:
    return getattr(getattr(model, "spec", None), "lrp", "") == "resnet-canonizer"


def _sibling_merge_bn():
    """zennit's SequentialMergeBatchNorm pairs leaves by traversal order, which on DenseNets pairs a
    dense layer's last conv with the NEXT layer's (pre-activation) BatchNorm and fails. This variant
    merges only a conv/linear and the BatchNorm that directly follows it inside the same
    ``nn.Sequential`` with matching widths (torchvision's conv0/norm0, EfficientNet's Conv-BN-SiLU)."""
    from zennit.canonizers import MergeBatchNorm

    class SiblingMergeBatchNorm(MergeBatchNorm):
        def apply(self, root_module):
            instances = []
            for parent in root_module.modules():
                if not isinstance(parent, nn.Sequential):
                    continue
                kids = list(parent.children())
                for a, b in zip(kids, kids[1:]):
                    width = getattr(a, "out_channels", getattr(a, "out_features", None))
                    if isinstance(a, self.linear_type) and isinstance(b, self.batch_norm_type) \
                            and width == b.num_features:
                        inst = self.copy()
                        inst.register((a,), b)
                        instances.append(inst)
            return instances

    return SiblingMergeBatchNorm()


def _reused_modules(wrapper: nn.Module, image: torch.Tensor) -> set:
    """Modules called more than once per forward (e.g. one AdaptiveAvgPool2d pooling two branches):
    zennit's rule hooks keep one input per module, so these get no rule (plain gradient)."""
    counts: dict = {}
    handles = [m.register_forward_hook(lambda mod, i, o: counts.__setitem__(mod, counts.get(mod, 0) + 1))
               for m in wrapper.modules()]
    try:
        with torch.no_grad():
            wrapper(image)
    finally:
        for h in handles:
            h.remove()
    from zennit.types import Activation

    # activations (Pass rule) keep no state and are reused by design (torchvision's BasicBlock.relu)
    return {m for m, c in counts.items() if c > 1 and not isinstance(m, Activation)}


def _composite(model: nn.Module, skip: set = frozenset()):
    from zennit.composites import EpsilonPlusFlat
    from zennit.torchvision import ResNetCanonizer

    if is_exact(model):
        comp, approximate, rules = EpsilonPlusFlat(canonizers=[ResNetCanonizer()]), False, RULES_EXACT
    else:
        comp, approximate, rules = EpsilonPlusFlat(canonizers=[_sibling_merge_bn()]), True, RULES_APPROX
    base_map = comp.module_map

    def module_map(ctx, name, module):
        # zennit types nn.MultiheadAttention as an activation (Pass rule) but it has 3 inputs: no rule,
        # plain gradient through the attention (its weights act as fixed for the epsilon rules around it)
        if isinstance(module, nn.MultiheadAttention) or module in skip:
            return None
        return base_map(ctx, name, module)

    comp.module_map = module_map
    if skip and not approximate:
        approximate, rules = True, rules + "; modules reused within a forward pass get no rule"
    return comp, approximate, rules


CONSERVED = (0.8, 1.2)  # a map whose relevance sum / logit falls outside stays marked approximate


def chain_plan(model: nn.Module, image: torch.Tensor, meta=None, meta_mask=None, text=None):
    """The chain plan of ``model`` (see :mod:`hcview.explain.lrp_chain`), or None (then zennit is used). Takes the
    model's lock; the model is traced in eval mode the first time."""
    if meta is not None or meta_mask is not None or text is not None:
        return None
    from .lrp_chain import plan_for

    with model_lock(model):
        was_training = model.training
        model.eval()
        try:
            return plan_for(model, image)
        finally:
            model.train(was_training)


def chain_forward(model: nn.Module, plan, image: torch.Tensor) -> dict:
    """The model's forward pass replayed through ``plan``, every activation kept (under the model's lock, eval)."""
    from .lrp_chain import run_forward

    with model_lock(model):
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return run_forward(plan, image)
        finally:
            model.train(was_training)


def chain_maps(model: nn.Module, plan, stored: dict, resolved) -> list[LRPMap]:
    """LRP maps for resolved targets (head, index, label) from a stored chain forward pass: one relevance pass per
    head, every target of that head in one batch."""
    from .lrp_chain import RULES, relevance

    by_head: dict = {}
    for k, (head, idx, _) in enumerate(resolved):
        by_head.setdefault(head, []).append((k, idx))
    rel = [None] * len(resolved)
    for head, items in by_head.items():
        r = relevance(plan, stored, head, [i for _, i in items])
        for (k, _), rr in zip(items, r):
            rel[k] = rr
    res = []
    for (head, idx, label), r3 in zip(resolved, rel):
        logit = float(stored["out"][head][0, idx])
        r = r3.sum(0).detach().cpu().double().numpy()
        total = float(r.sum())
        pos = np.maximum(r, 0)
        heat = (pos / pos.max()) if pos.max() > 0 else pos
        cons = total / logit if abs(logit) > 1e-12 else float("nan")
        ok = CONSERVED[0] <= cons <= CONSERVED[1]
        res.append(LRPMap(label, head, idx, r.astype(np.float32), heat.astype(np.float32), logit, total, cons,
                          not ok, RULES if ok else RULES + f"; relevance conservation {cons:.2f} is outside "
                          f"[{CONSERVED[0]}, {CONSERVED[1]}]"))
    return res


def lrp(model: nn.Module, image: torch.Tensor, targets, meta=None, meta_mask=None, text=None) -> list[LRPMap]:
    """LRP maps for one case (``image`` (1,3,H,W)) and each target (see ``LabelSpace.resolve``)."""
    ls = model.label_space
    resolved = [ls.resolve(t) for t in targets]
    plan = chain_plan(model, image, meta, meta_mask, text)
    if plan is not None:
        return chain_maps(model, plan, chain_forward(model, plan, image), resolved)
    return zennit_lrp(model, image, resolved, meta, meta_mask, text)


def zennit_lrp(model: nn.Module, image: torch.Tensor, resolved, meta=None, meta_mask=None, text=None) -> list[LRPMap]:
    """zennit's rules on a per-call copy of the model (see the module docstring)."""
    from zennit.attribution import Gradient

    cols = output_columns(model.label_space)
    with model_lock(model):
        work = copy.deepcopy(model)
    work.eval()
    for p in work.parameters():
        p.requires_grad_(False)
    wrapper = ConcatOutputs(work, meta, meta_mask, text).eval()
    composite, approximate, rules = _composite(model, _reused_modules(wrapper, image))
    res = []
    with Gradient(model=wrapper, composite=composite) as attributor:
        for head, idx, label in resolved:
            col = cols[(head, idx)]

            def attr_fn(out, col=col):
                onehot = torch.zeros_like(out)
                onehot[:, col] = 1.0
                return onehot * out.detach()

            out, rel = attributor(image.detach().clone().requires_grad_(True), attr_fn)
            logit = float(out[0, col].detach())
            r = rel[0].sum(0).detach().cpu().double().numpy()
            total = float(r.sum())
            pos = np.maximum(r, 0)
            heat = (pos / pos.max()) if pos.max() > 0 else pos
            res.append(LRPMap(label, head, idx, r.astype(np.float32), heat.astype(np.float32), logit, total,
                              total / logit if abs(logit) > 1e-12 else float("nan"), approximate, rules))
    return res
