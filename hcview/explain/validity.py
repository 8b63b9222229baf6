"""Do the explanations point at the lesion, and do they depend on the model? Measured on phantoms
with ground-truth lesion masks (``sample:nodules`` for Res-MTNet, ``sample:phantoms`` for HC-Net).

- Pointing game (Zhang et al. 2018): a hit when the maximum of the map lies inside the lesion mask
  (optionally dilated by ``tolerance`` pixels). Accuracy over cases with a lesion.
- Model-parameter randomisation test (Adebayo et al. 2018): Spearman rank correlation between each
  map and the map of the same case after the weights are re-initialised, cascading from the top
  (heads first, then deeper blocks, cumulatively) and fully. A faithful method gives LOW correlation
  once the weights are random; a high correlation means the map mostly reflects the input, not the model.

Uses the registered trained checkpoint when present; otherwise reports on an untrained model and says so.
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .all_labels import all_label_cams
from .lrp import lrp

def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    a, b = np.ravel(a), np.ravel(b)
    if np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)


def pointing_hit(saliency: np.ndarray, mask: np.ndarray, tolerance: int = 0) -> bool:
    m = np.asarray(mask) > 0
    if tolerance > 0:
        from scipy.ndimage import binary_dilation

        m = binary_dilation(m, iterations=int(tolerance))
    s = np.asarray(saliency, dtype=np.float64)
    if s.shape != m.shape:
        import cv2

        s = cv2.resize(s, (m.shape[1], m.shape[0]), interpolation=cv2.INTER_LINEAR)
    if not np.isfinite(s).all() or s.max() <= s.min():
        return False
    return bool(m.flat[int(np.argmax(s))])


def _maps(model, x, target, method):
    if method == "gradcam":
        return all_label_cams(model, x, [target])[0]
    return lrp(model, x, [target])[0].relevance


def cascade_stages(model: nn.Module) -> list[str]:
    """Top-level children holding parameters, from the output side down (heads first)."""
    names = [n for n, m in model.named_children() if any(True for _ in m.parameters())]
    return list(reversed(names))


def _reinit(module: nn.Module, gen_seed: int) -> None:
    torch.manual_seed(gen_seed)
    for m in module.modules():
        if hasattr(m, "reset_parameters") and m is not module or (m is module and hasattr(m, "reset_parameters")):
            try:
                m.reset_parameters()
            except Exception:  # pragma: no cover
                pass


def explanation_validity(model: nn.Module, items: list[dict], head: str, methods=("gradcam", "lrp"),
                         tolerance: int = 2, seed: int = 0) -> dict:
    """``items``: dataset items (``image`` (3,S,S), ``mask`` (S,S), ``targets``). Target: the true class of ``head``."""
    model = model.eval()
    cases = [it for it in items if "mask" in it and int(np.asarray(it["mask"]).sum()) > 0]
    res = {"n_cases": len(cases), "head": head, "tolerance_px": tolerance, "methods": {}}
    stages = cascade_stages(model)
    # chance level of the pointing game: the fraction of the image covered by the (dilated) lesion masks
    if cases:
        from scipy.ndimage import binary_dilation

        fr = [float(binary_dilation(np.asarray(it["mask"]) > 0, iterations=tolerance).mean() if tolerance > 0
                    else (np.asarray(it["mask"]) > 0).mean()) for it in cases]
        res["pointing_chance"] = float(np.mean(fr))
    for method in methods:
        hits, base_maps = [], []
        for it in cases:
            x = it["image"][None]
            t = (head, int(it["targets"][head]))
            mp = _maps(model, x, t, method)
            base_maps.append(mp)
            sal = np.maximum(mp, 0) if method == "lrp" else mp
            hits.append(pointing_hit(sal, np.asarray(it["mask"]), tolerance))
        # randomisation: cascading from the top, cumulative
        casc = {}
        work = copy.deepcopy(model)
        for k, name in enumerate(stages):
            _reinit(work.get_submodule(name), seed + k)
            work.eval()
            rs = [spearman(b, _maps(work, it["image"][None], (head, int(it["targets"][head])), method))
                  for b, it in zip(base_maps, cases)]
            casc[name] = float(np.nanmean(rs)) if np.isfinite(rs).any() else float("nan")
        res["methods"][method] = {
            "pointing_game": float(np.mean(hits)) if hits else float("nan"),
            "pointing_hits": int(np.sum(hits)),
            "randomisation_cascading": casc,
            "randomisation_full": casc[stages[-1]] if stages else float("nan"),
        }
    res["cascade_order"] = stages
    return res


def nan_to_none(o):
    if isinstance(o, dict):
        return {k: nan_to_none(v) for k, v in o.items()}
    if isinstance(o, list):
        return [nan_to_none(v) for v in o]
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o
