"""Predictors: the shared prediction and explanation path; each paper's module subclasses :class:`Predictor`
to give its results their own structure (``structure``) and extra inputs (``record_inputs``), and names the
subclass in its spec. Loaded once, shared by every session (see ``hcview.ui.loaders``).

``get_predictor(model_id, variant)`` loads the registered checkpoint (``models/<id>-<variant>.pt``,
sha256-verified) or, when there is none, builds an untrained randomly initialised model that is
flagged ``untrained`` in every result. CUDA when present, else CPU. Preprocessing is
``hcview.data.io.to_model_input`` (the same path training uses).
"""
from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch

from hcview.device import pick_device
from hcview.errors import CsvError, InputError
from hcview.explain.guard import model_lock
from hcview.metrics.ood import mahalanobis_score
from hcview.models.checkpoint import find_checkpoint, load_checkpoint, trained_on_synthetic
from hcview.models.registry import create_model, get_spec

from . import results as R
from .mc_dropout import DEFAULT_PASSES, mc_samples, summarize, to_probs

METHODS = ("gradcam", "gradcam++", "eigencam", "lrp")  # the one vocabulary of explanation methods
def operating_thresholds(card: dict, label_space) -> dict[str, np.ndarray]:
    """Per-label decision thresholds of every sigmoid head: the card's operating points (chosen on the validation
    split) or 0.5 where none were chosen."""
    ops = card.get("operating_points") or {}
    out = {}
    for h in label_space.heads:
        if h.kind == "sigmoid":
            out[h.name] = np.array([float((ops.get(h.name) or {}).get(lab, {}).get("threshold", 0.5)) for lab in h.labels])
    return out

class Predictor:
    task = "generic"

    def __init__(self, model_id: str, variant: str = "demo", device=None, checkpoint: str | Path | None = None,
                 model=None):
        self.spec = get_spec(model_id)
        self.model_id, self.variant = model_id, variant
        self.device = pick_device(device) if not isinstance(device, torch.device) else device
        self.card: dict = {}
        self.notices: list[str] = []
        self.version: int | None = None
        if model is not None:
            self.model, self.untrained = model.to(self.device).eval(), True
        else:
            path = Path(checkpoint) if checkpoint else find_checkpoint(model_id, variant)
            if path is not None:
                self.model, self.card = load_checkpoint(path, self.device)
                self.untrained = False
                self.checkpoint = path
                self.version = self.card.get("version", 1)
            else:
                self.model = create_model(model_id, variant, pretrained=False).to(self.device).eval()
                self.untrained = True
                self.checkpoint = None
        if self.untrained:
            self.notices.append(f"{model_id}/{variant} has no trained checkpoint: an UNTRAINED random model "
                                "(outputs are meaningless).")
        self.label_space = self.model.label_space
        self.ood = getattr(self.model, "ood", None)
        if self.ood is None and not self.untrained:
            self.notices.append("This checkpoint has no out-of-distribution statistics: nothing here can tell whether "
                                "an image resembles its training data.")
        self.synthetic_training = trained_on_synthetic(self.card)
        self.thresholds = operating_thresholds(self.card, self.label_space)
        self.input_size = self.spec.variant(variant).input_size
        self.lock = model_lock(self.model)

    # ---- inputs ------------------------------------------------------------------------------
    def load(self, image, name: str | None = None, window=None):
        """Path / bytes / LoadedImage / array -> LoadedImage (typed one-line errors)."""
        from hcview.data.io import LoadedImage, load_image

        if isinstance(image, LoadedImage):
            return image
        return load_image(image, name=name, window=window)

    def preprocess(self, loaded) -> torch.Tensor:
        from hcview.data.io import to_model_input

        return to_model_input(loaded, self.input_size, self.spec.mean, self.spec.std)[None].to(self.device)

    def record_inputs(self, record: dict | None) -> dict:
        """Optional non-image inputs (MedFusionNet). Default: none."""
        return {}

    # ---- prediction ------------------------------------------------------------------------------
    def predict(self, image, record: dict | None = None, mc: int = DEFAULT_PASSES, seed: int = 0, name=None,
                synthetic: bool = False, shared: dict | None = None) -> R.CaseResult:
        """``shared``: ``{x, feats, out}`` of a forward pass the caller already ran on this case
        (``hcview.infer.bundle``); MC dropout always reuses the features of this call's forward pass."""
        loaded = self.load(image, name)
        x = self.preprocess(loaded) if shared is None else shared["x"]
        kw = self.record_inputs(record)
        if shared is None:
            with self.lock, torch.no_grad():
                was_training = self.model.training
                self.model.eval()
                feats = self.model.forward_features(x, **kw)  # = model(x) split in two: the gate reads the features
                out = self.model.forward_head(feats)
                self.model.train(was_training)
        else:
            feats, out = shared["feats"], shared["out"]
        probs = {k: v[0].cpu().numpy() for k, v in to_probs(out, self.label_space).items()}
        unc = summarize(mc_samples(self.model, x, n=mc, seed=seed, feats=feats, **kw), self.label_space,
                        thresholds=self.thresholds) if mc and mc > 0 else None
        res = R.CaseResult(self.model_id, self.variant, self.spec.task, [], probs, unc, self.untrained,
                           synthetic_input=bool(synthetic or loaded.meta.get("synthetic")),
                           image_shape=tuple(loaded.array.shape), notices=list(self.notices),
                           modality_mismatch=self.modality_check(loaded),
                           synthetic_model=self.synthetic_training, thresholds=self.thresholds,
                           version=self.version, sha256=self.card.get("sha256"))
        if self.ood is not None:
            score = float(mahalanobis_score(feats.float().cpu().numpy(), self.ood.means.cpu().numpy(),
                                            self.ood.precision.cpu().numpy())[0])
            res.ood_score, res.ood_threshold = score, float(self.ood.threshold)
            res.ood = score > res.ood_threshold
        if res.modality_mismatch:
            res.notices.append(res.modality_mismatch)
        res.inputs = {"x": x, **kw}  # type: ignore[attr-defined]  (reused by explain; not serialised)
        res.loaded = loaded  # type: ignore[attr-defined]
        self.structure(res)
        return res

    def modality_check(self, loaded) -> str | None:
        """A DICOM whose Modality the model never saw is out of distribution: say so, loudly."""
        modality = (loaded.meta or {}).get("modality")
        allowed = self.spec.dicom_modalities
        if modality and allowed and str(modality).upper() not in allowed:
            return (f"Input modality {modality} does not match what {self.spec.name} was trained on "
                    f"({'/'.join(allowed)}): the output is out of distribution.")
        return None

    def structure(self, res: R.CaseResult) -> None:
        res.outputs = R.rows_from(self.label_space, res.probs, res.uncertainty, thresholds=res.thresholds)

    # ---- explanations ------------------------------------------------------------------------------
    def targets_for(self, res: R.CaseResult, spec: str = "top3") -> list[tuple[str, int]]:
        """The one rule for what to explain (page, CLI and report): 'all'; 'topN', the highest probabilities
        across classification outputs, skipping single-class heads; 'default', the top output of the most specific
        head; or labels / 'head:label', comma-separated."""
        outs = self.label_space.all_outputs()
        if spec in (None, "", "all"):
            return [(h, i) for h, i, _ in outs]
        if spec.startswith("top") and spec[3:].isdigit():
            k = int(spec[3:])
            # single-class heads (e.g. a taxonomy with one anatomy) are trivially certain: nothing to explain
            ranked = sorted([o for o in outs if self.label_space.head(o[0]).size > 1] or outs,
                            key=lambda o: -res.probs[o[0]][o[1]])
            return [(h, i) for h, i, _ in ranked[:k]]
        if spec == "default":
            return self.targets_for(res, "ranked")[:1]
        if spec == "ranked":
            # every classification output, most specific head first (a one-class head, e.g. the single anatomy
            # of the brain-MRI taxonomy, is trivially certain and has a blank map), then by probability
            heads = [h for h in self.label_space.heads if h.kind != "regression" and h.size > 1] or \
                [h for h in self.label_space.heads if h.kind != "regression"]
            order = {h.name: -i for i, h in enumerate(heads)}
            ranked = sorted((o for o in outs if o[0] in order), key=lambda o: (order[o[0]], -res.probs[o[0]][o[1]]))
            return [(h, i) for h, i, _ in ranked]
        return [self.label_space.resolve(t.strip())[:2] for t in str(spec).split(",") if t.strip()]

    def explain(self, res: R.CaseResult, methods=("gradcam",), targets="top3") -> list[dict]:
        """Heat maps for ``targets`` (see :meth:`targets_for`) by each of ``methods`` (:data:`METHODS`): dicts
        ``{label, head, index, method, map (H,W in [0,1]), approximate, ...}``."""
        from hcview.explain.all_labels import all_label_cams
        from hcview.explain.gradcam import gradcam
        from hcview.explain.lrp import lrp

        bad = [m for m in methods if m not in METHODS]
        if bad:
            raise InputError(f"unknown explanation method {bad[0]!r}; use one of {', '.join(METHODS)}")
        tg = self.targets_for(res, targets) if isinstance(targets, str) else list(targets)
        x, kw = res.inputs["x"], {k: v for k, v in res.inputs.items() if k != "x"}
        maps = []
        for method in methods:
            if method == "lrp":
                for m in lrp(self.model, x, tg, **kw):
                    maps.append({"label": m.label, "head": m.head, "index": m.index, "method": "lrp", "map": m.heatmap,
                                 "approximate": m.approximate, "conservation": m.conservation, "rules": m.rules,
                                 "relevance": m.relevance})
                continue
            if method == "gradcam":
                cams = all_label_cams(self.model, x, tg, **kw)  # one backbone pass for every target
            else:
                cams = gradcam(self.model, x, tg, method, **kw)
            for (h, i), c in zip(tg, cams):
                maps.append({"label": self.label_space.head(h).labels[i], "head": h, "index": i,
                             "method": method, "map": c, "approximate": False})
        return maps


_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()


def get_predictor(model_id: str, variant: str = "demo", device=None, fresh: bool = False) -> Predictor:
    """Process-wide cache: one predictor per (model, variant, device), for the active version (keyed by its sha256)."""
    spec = get_spec(model_id)
    key = (model_id, variant, str(device))
    sha = active_sha256(model_id, variant)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if fresh or cached is None or cached.card.get("sha256") != sha:
            # a promotion or rollback changed the active version: the next call anywhere loads it (and the old
            # copy is dropped, so a model is never in memory twice)
            _CACHE[key] = (spec.predictor or Predictor)(model_id, variant, device)
        return _CACHE[key]


def active_sha256(model_id: str, variant: str) -> str | None:
    """The sha256 of the active version, from its card (cheap: one small JSON read)."""
    from hcview.models.checkpoint import read_card

    path = find_checkpoint(model_id, variant)
    if path is None:
        return None
    try:
        return read_card(path).get("sha256")
    except Exception:  # an unreadable card is reported by the loader, with one line
        return "unreadable"


def read_record(csv_path, row: int = 0) -> dict:
    """One row of a records CSV as a dict (one-line errors for bad files / rows)."""
    from hcview.data.tabular import read_csv_text

    df, name = read_csv_text(csv_path) if not isinstance(csv_path, tuple) else read_csv_text(*csv_path)
    if not 0 <= row < len(df):
        raise CsvError(f"{name}: row {row} does not exist (the file has {len(df)} rows)")
    return {k: (None if (isinstance(v, float) and np.isnan(v)) else v) for k, v in df.iloc[row].to_dict().items()}
