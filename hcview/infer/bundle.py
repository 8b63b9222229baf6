"""The review bundle: everything the Case-review page shows for one case, from ONE backbone pass.

``review(pred, image)`` returns what ``pred.predict(image, mc=...)`` and ``pred.explain(res, ("gradcam", "lrp"), ...)``
return (the same :class:`~hcview.infer.results.CaseResult` and the same list of map dicts), but shares the work:

- one forward pass up to the Grad-CAM layer, kept: for chain models (CIHMLC, see :mod:`hcview.explain.lrp_chain`)
  the replayed forward with every activation, else ``model.cam_split``;
- the prediction and the features under the dropout come from the part above the CAM layer (cheap), whose graph also
  gives every Grad-CAM target its gradient (:func:`hcview.explain.all_labels.cams_from_activation`);
- MC dropout resamples only the head on those features;
- LRP reuses the kept forward pass (chain models: one relevance pass for all LRP targets); other models run zennit's
  LRP on their own copy, which needs its own forward pass (its canonizers rewrite the model).
"""
from __future__ import annotations

import torch

from hcview.explain.all_labels import cams_from_activation
from hcview.explain.lrp import chain_maps, chain_plan, lrp
from hcview.models.base import dropout_modules

from . import results as R
from .mc_dropout import DEFAULT_PASSES


def _shared_pass(pred, x, kw: dict):
    """(act, top_fn, feats, out, plan, stored): one backbone pass, the CAM-layer activation and what lies above it.
    Holds the model's lock; the model is in eval mode while it runs."""
    from hcview.explain.lrp_chain import cam_top_fn, run_forward

    model = pred.model
    plan = chain_plan(model, x, **kw)
    if plan is not None and (plan.cam_index is None or plan.feats_index is None):
        plan = None
    with pred.lock:
        was_training = model.training
        model.eval()
        try:
            if plan is not None:
                with torch.no_grad():
                    stored = run_forward(plan, x)
                act, top_fn = stored["acts"][plan.cam_index + 1], cam_top_fn(plan)
                return act, top_fn, stored["acts"][plan.feats_index], stored["out"], plan, stored
            with torch.no_grad():
                act, top_fn = model.cam_split(x, **kw)
            # the features are the input of the first dropout module above the CAM layer
            seen: list = []
            drops = dropout_modules(model)
            handles = [m.register_forward_pre_hook(lambda mod, args: seen.append(args[0]) if not seen else None)
                       for m in drops]
            try:
                with torch.no_grad():  # as the predictor runs it (attention takes its fused path without a graph)
                    out = top_fn(act)
            finally:
                for h in handles:
                    h.remove()
            if seen:
                feats = seen[0].detach()
            else:
                with torch.no_grad():
                    feats = model.forward_features(x, **kw)
            return act, top_fn, feats, out, None, None
        finally:
            model.train(was_training)


def review(pred, image, record: dict | None = None, mc: int = DEFAULT_PASSES, seed: int = 0, name=None,
           synthetic: bool = False, cam_targets="top3", lrp_targets="top1", methods=("gradcam", "lrp")):
    """(CaseResult, maps): ``pred.predict(image, record, mc, seed)`` and ``pred.explain(res, methods, targets)`` for
    Grad-CAM (``cam_targets``) and LRP (``lrp_targets``) in one shared pass. ``methods``: a subset of
    ("gradcam", "lrp")."""
    loaded = pred.load(image, name)
    x = pred.preprocess(loaded)
    kw = pred.record_inputs(record)
    act, top_fn, feats, out, plan, stored = _shared_pass(pred, x, kw)
    res: R.CaseResult = pred.predict(loaded, record, mc=mc, seed=seed, name=name, synthetic=synthetic,
                                     shared={"x": x, "feats": feats, "out": out})
    maps: list[dict] = []
    ls = pred.label_space
    for method in methods:
        if method == "gradcam":
            tg = pred.targets_for(res, cam_targets) if isinstance(cam_targets, str) else list(cam_targets)
            resolved = [ls.resolve(t) for t in tg]
            with pred.lock:
                was_training = pred.model.training
                pred.model.eval()
                try:
                    cams, _ = cams_from_activation(act, top_fn, resolved, x.shape[-2:])
                finally:
                    pred.model.train(was_training)
            for (h, i), c in zip(tg, cams):
                maps.append({"label": ls.head(h).labels[i], "head": h, "index": i, "method": "gradcam", "map": c,
                             "approximate": False})
        elif method == "lrp":
            tg = pred.targets_for(res, lrp_targets) if isinstance(lrp_targets, str) else list(lrp_targets)
            if plan is not None:
                lmaps = chain_maps(pred.model, plan, stored, [ls.resolve(t) for t in tg])
            else:
                lmaps = lrp(pred.model, x, tg, **kw)
            for m in lmaps:
                maps.append({"label": m.label, "head": m.head, "index": m.index, "method": "lrp", "map": m.heatmap,
                             "approximate": m.approximate, "conservation": m.conservation, "rules": m.rules,
                             "relevance": m.relevance})
        else:
            raise ValueError(f"the review bundle computes gradcam and lrp, not {method!r}")
    return res, maps
