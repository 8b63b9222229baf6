"""MedFusionNet (hybrid CNN + transformer with multimodal fusion), built from the paper's text
(the authors' repository is a stub, see NOTES.md):

- a CNN branch of DenseNet dense blocks (3 stages, H/4 -> H/16);
- a transformer branch of self-attention over image patches (3 stages, H/8 -> H/32, patch merging);
- cross-branch interaction at every stage: C2T (CNN -> transformer) and T2C (transformer -> CNN);
- an FPN on each branch (top-down, lateral 1x1, 3x3 smoothing), each level globally pooled to a token;
- fusion by self-attention over [CLS, 6 image tokens, one token per clinical feature, text tokens];
  a missing modality or missing feature is *masked* in attention (key padding), never zero-filled;
- class-aware feature reweighting (a learned gate on the fused vector), Dropout, sigmoid outputs.

Grad-CAM target: ``cnn_out``, the final CNN-branch map after the last T2C interaction (the paper
computes Grad-CAM on the DenseNet branch).

Everything paper-specific lives in this module: the architecture, its variants, the focal loss set-up, the
predictor's record handling (age/sex/view columns, report text), the NIH data mapping and the Case-review
panel (``hcview/ui/panels/medfusionnet.py``). The two-stage risk stratification of tabular records is
:mod:`hcview.risk`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

import numpy as np

from hcview.data.mappings import NIH14, DataMapping, Mapped
from hcview.infer import results as R
from hcview.infer.predictor import Predictor
from hcview.models.backbones import WeightsResult
from hcview.models.base import HCModel
from hcview.models.labels import LabelSpace
from hcview.models.registry import ModelSpec, Variant, register
from hcview.models.text import tokenize
from hcview.train.losses import focal_loss, multilabel_pos_weights


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(), nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


def dense_block(cin: int, n: int, growth: int) -> tuple[nn.Sequential, int]:
    layers = [DenseLayer(cin + i * growth, growth) for i in range(n)]
    return nn.Sequential(*layers), cin + n * growth


def transition(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False), nn.AvgPool2d(2, ceil_mode=True))


class TokenStage(nn.Module):
    """Self-attention over a (B, D, h, w) grid of patch tokens, with a learned positional map."""

    def __init__(self, dim: int, depth: int, heads: int, grid: int = 8):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, dim, grid, grid))
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    def forward(self, x):
        b, d, h, w = x.shape
        pos = F.interpolate(self.pos, size=(h, w), mode="bilinear", align_corners=False)
        t = self.encoder((x + pos).flatten(2).transpose(1, 2))
        return t.transpose(1, 2).reshape(b, d, h, w)


class PatchMerge(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h, w = x.shape[-2:]
        return self.proj(F.adaptive_avg_pool2d(x, (math.ceil(h / 2), math.ceil(w / 2))))


class Bridge(nn.Module):
    """C2T or T2C: 1x1 projection to the other branch's width, resampled to its grid."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1)
        nn.init.zeros_(self.proj.weight)  # start as identity of the receiving branch
        nn.init.zeros_(self.proj.bias)

    def forward(self, x, size):
        y = self.proj(x)
        if y.shape[-2:] != size:
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False) if y.shape[-1] < size[-1] \
                else F.adaptive_avg_pool2d(y, size)
        return y


class FPN(nn.Module):
    def __init__(self, widths: list[int], dim: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(w, dim, 1) for w in widths)
        self.smooth = nn.ModuleList(nn.Conv2d(dim, dim, 3, padding=1) for _ in widths)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        out, top = [], None
        for i in reversed(range(len(feats))):
            p = self.lateral[i](feats[i])
            if top is not None:
                p = p + F.interpolate(top, size=p.shape[-2:], mode="nearest")
            top = p
            out.insert(0, self.smooth[i](p))
        return out


class MedFusionNet(HCModel):
    def __init__(self, label_space: LabelSpace, growth: int = 32, blocks=(6, 12, 24), stem: int = 64,
                 token_dims=(128, 256, 384), token_depth=(2, 2, 2), heads: int = 8, patch: int = 8,
                 fpn_dim: int = 256, fusion_depth: int = 2, n_meta: int = 3, vocab_size: int = 4096,
                 max_text: int = 64, dropout: float = 0.3, pretrained: bool = False):
        super().__init__(label_space)
        self.weights = WeightsResult(False, "MedFusionNet has no ImageNet weights; random initialisation." if pretrained else None)
        self.n_meta, self.vocab_size, self.max_text = n_meta, vocab_size, max_text
        # CNN branch
        self.cnn_stem = nn.Sequential(nn.Conv2d(3, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        stages, widths, c = [], [], stem
        for i, n in enumerate(blocks):
            pre = nn.Identity() if i == 0 else transition(c, c // 2)
            c = c if i == 0 else c // 2
            blk, c = dense_block(c, n, growth)
            stages.append(nn.Sequential(pre, blk))
            widths.append(c)
        self.cnn_stages = nn.ModuleList(stages)
        self.cnn_out = nn.Identity()  # named hook point for Grad-CAM / LRP
        # Transformer branch
        self.patch_embed = nn.Conv2d(3, token_dims[0], patch, patch)
        self.merges = nn.ModuleList([nn.Identity()] + [PatchMerge(token_dims[i - 1], token_dims[i]) for i in range(1, 3)])
        self.token_stages = nn.ModuleList(TokenStage(d, k, heads if d % heads == 0 else 1) for d, k in zip(token_dims, token_depth))
        # cross-branch interaction
        self.c2t = nn.ModuleList(Bridge(widths[i], token_dims[i]) for i in range(3))
        self.t2c = nn.ModuleList(Bridge(token_dims[i], widths[i]) for i in range(3))
        # FPNs
        self.fpn_cnn = FPN(widths, fpn_dim)
        self.fpn_tok = FPN(list(token_dims), fpn_dim)
        # modality encoders and fusion
        self.meta_weight = nn.Parameter(torch.randn(max(n_meta, 1), fpn_dim) * 0.02)
        self.meta_bias = nn.Parameter(torch.zeros(max(n_meta, 1), fpn_dim))
        self.text_embed = nn.Embedding(vocab_size, fpn_dim, padding_idx=0)
        self.text_pos = nn.Parameter(torch.zeros(1, max_text, fpn_dim))
        self.type_embed = nn.Embedding(3, fpn_dim)  # 0 image, 1 metadata, 2 text
        self.level_embed = nn.Parameter(torch.zeros(1, 6, fpn_dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, fpn_dim))
        layer = nn.TransformerEncoderLayer(fpn_dim, heads if fpn_dim % heads == 0 else 1, fpn_dim * 2, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.fusion = nn.TransformerEncoder(layer, fusion_depth, enable_nested_tensor=False)
        self.fusion_norm = nn.LayerNorm(fpn_dim)
        self.reweight = nn.Sequential(nn.Linear(fpn_dim, fpn_dim), nn.Sigmoid())  # class-aware feature reweighting
        self.dropout = nn.Dropout(dropout)
        self.heads = self._heads_from_space(fpn_dim)

    # ---- image encoders ------------------------------------------------------------------
    def _encode(self, image):
        c = self.cnn_stem(image)
        t = self.patch_embed(image)
        cs, ts = [], []
        for i in range(3):
            c = self.cnn_stages[i](c)
            t = self.merges[i](t)
            t = self.token_stages[i](t + self.c2t[i](c, t.shape[-2:]))
            c = c + self.t2c[i](t, c.shape[-2:])
            cs.append(c)
            ts.append(t)
        cs[-1] = self.cnn_out(cs[-1])
        return cs, ts

    @staticmethod
    def _pool_levels(levels):
        return torch.stack([lv.mean(dim=(2, 3)) for lv in levels], 1)  # (B, 3, D)

    # ---- fusion ----------------------------------------------------------------------------
    def _fuse(self, img_tokens, meta, meta_mask, text):
        b, dev = img_tokens.shape[0], img_tokens.device
        parts = [self.cls.expand(b, -1, -1), img_tokens + self.level_embed + self.type_embed.weight[0]]
        masks = [torch.zeros(b, 1 + img_tokens.shape[1], dtype=torch.bool, device=dev)]
        if meta is not None and self.n_meta > 0:
            meta = meta.to(img_tokens.dtype)
            if meta.shape[1] != self.n_meta:
                raise ValueError(f"expected {self.n_meta} clinical features, got {meta.shape[1]}")
            present = torch.ones_like(meta, dtype=torch.bool) if meta_mask is None else meta_mask.bool()
            meta = torch.where(present, meta, torch.zeros_like(meta))  # value ignored where masked
            parts.append(meta.unsqueeze(-1) * self.meta_weight + self.meta_bias + self.type_embed.weight[1])
            masks.append(~present)
        if text is not None:
            text = text[:, : self.max_text]
            parts.append(self.text_embed(text) + self.text_pos[:, : text.shape[1]] + self.type_embed.weight[2])
            masks.append(text == 0)
        z = self.fusion(torch.cat(parts, 1), src_key_padding_mask=torch.cat(masks, 1))
        z = self.fusion_norm(z[:, 0])
        return z * self.reweight(z)

    def _image_tokens(self, cs, ts):
        return torch.cat([self._pool_levels(self.fpn_cnn(cs)), self._pool_levels(self.fpn_tok(ts))], 1)

    def forward_features(self, image, meta=None, meta_mask=None, text=None):
        cs, ts = self._encode(image)
        return self._fuse(self._image_tokens(cs, ts), meta, meta_mask, text)

    def forward_head(self, feats):
        return self._apply_heads(self.dropout(feats))

    def cam_split(self, image, meta=None, meta_mask=None, text=None):
        cs, ts = self._encode(image)
        c1, c2 = cs[0].detach(), cs[1].detach()
        ts = [t.detach() for t in ts]
        act = cs[2]
        return act, lambda a: self.forward_head(self._fuse(self._image_tokens([c1, c2, a], ts), meta, meta_mask, text))


# ---- data: NIH ChestX-ray14 findings + age/sex/view ---------------------------------------------
NIH_META_FEATURES = ("age/100", "sex (M=1, F=0)", "view (PA=1, AP=0)")
NIH14_MAPPING_TEXT = ("NIH ChestX-ray14 14 findings -> nih14 (identity); metadata features [age/100, sex M=1/F=0, "
                      "view PA=1/AP=0], missing values masked; no report text in NIH (text = '').")


def nih_meta(age, sex, view) -> tuple[np.ndarray, np.ndarray]:
    vals = np.zeros(3, dtype=np.float32)
    mask = np.zeros(3, dtype=bool)
    try:
        a = float(age)
        if a == a and 0 <= a < 130:
            vals[0], mask[0] = a / 100.0, True
    except (TypeError, ValueError):
        pass
    s = str(sex).strip().upper()[:1]
    if s in ("M", "F"):
        vals[1], mask[1] = float(s == "M"), True
    v = str(view).strip().upper()
    if v in ("PA", "AP"):
        vals[2], mask[2] = float(v == "PA"), True
    return vals, mask



# column names accepted for each feature in a records CSV (NIH's own names included)
RECORD_COLUMNS = {"age": ("age", "patient age", "patient_age"), "sex": ("sex", "patient gender", "gender", "patient_sex"),
                  "view": ("view", "view position", "viewposition", "view_position")}
TEXT_COLUMNS = ("text", "report", "findings", "note")


def nih_targets(table, ls: LabelSpace) -> Mapped:
    """NIH table -> the 14 findings (identity) plus the three metadata features with a presence mask."""
    n = len(table)
    mm = [nih_meta(a, s, v) for a, s, v in zip(table["age"], table["sex"], table["view"])]
    return Mapped({"labels": table[list(NIH14)].to_numpy(np.float32)}, NIH14_MAPPING_TEXT,
                  meta=np.stack([m[0] for m in mm]) if n else np.zeros((0, 3), np.float32),
                  meta_mask=np.stack([m[1] for m in mm]) if n else np.zeros((0, 3), bool),
                  meta_features=NIH_META_FEATURES)


class MedFusionPredictor(Predictor):
    """Image plus an optional record (age / sex / view columns, free text from a report/text column)."""

    def record_inputs(self, record):
        if not record:
            return {}
        low = {str(k).strip().lower(): v for k, v in record.items()}
        got = {f: next((low[c] for c in cands if c in low), None) for f, cands in RECORD_COLUMNS.items()}
        vals, mask = nih_meta(got["age"], got["sex"], got["view"])
        kw = {"meta": torch.as_tensor(vals)[None].to(self.device), "meta_mask": torch.as_tensor(mask)[None].to(self.device)}
        text = next((low[c] for c in TEXT_COLUMNS if c in low and isinstance(low[c], str)), None)
        if text:
            kw["text"] = tokenize(text, self.model.vocab_size, self.model.max_text).to(self.device)
        return kw

    def structure(self, res):
        res.outputs = R.rows_from(self.label_space, res.probs, res.uncertainty, thresholds=res.thresholds)
        kw = res.inputs
        used = ["image"] + (["record"] if "meta" in kw else []) + (["text"] if "text" in kw else [])
        detail = {"modalities": used}
        if "meta_mask" in kw:
            detail["record_features"] = {f: bool(m) for f, m in zip(NIH_META_FEATURES, kw["meta_mask"][0].tolist())}
        res.detail = detail


def build_loss(cfg: dict, train_dataset, ls: LabelSpace):
    """Class-weighted multi-label focal loss (weights from the training split's positives)."""
    head = ls.heads[0]
    alpha = multilabel_pos_weights(train_dataset.targets_array(head.name)) if cfg.get("focal_class_weights", True) else None
    gamma = float(cfg.get("focal_gamma", 2.0))
    info = {"loss": "focal", "focal_gamma": gamma,
            "focal_alpha": dict(zip(head.labels, [round(float(x), 4) for x in alpha])) if alpha is not None else None}

    def criterion(outputs, batch):
        loss = focal_loss(outputs[head.name], batch["targets"][head.name], gamma, alpha)
        return loss, {"focal": loss.detach()}
    return criterion, info


def card_extras(card: dict) -> dict:
    loss = card.get("loss") or {}
    out = {}
    if loss.get("focal_gamma") is not None:
        out["Focal loss"] = f"gamma = {loss['focal_gamma']}, positive-class weights from the training split"
    feats = ((card.get("data") or {}).get("info") or {}).get("meta_features")
    if feats:
        out["Record features"] = ", ".join(feats)
    ab = card.get("input_ablation")
    if ab:
        out["Fusion, measured"] = (f"{ab['metric']} on {ab['data']} ({ab['split']}, {ab['n_cases']} cases): "
                                   f"{ab['with_all_inputs']:.3f} image + record vs {ab['without']:.3f} image only; "
                                   f"difference {ab['difference']:+.3f} (paired bootstrap 95% CI "
                                   f"{ab['ci_low']:+.3f} to {ab['ci_high']:+.3f})")
    return out


SPEC = register(ModelSpec(
    id="medfusionnet", name="MedFusionNet", modality="Chest X-ray + clinical record + text", order=2,
    task="multimodal_multilabel",
    paper="MedFusionNet: hybrid CNN-transformer multimodal fusion for multilabel classification and cancer risk stratification",
    doi="10.1038/s43856-025-01334-3",
    builder=MedFusionNet,
    variants={
        "paper": Variant("paper", 224, "nih14", {"growth": 32, "blocks": (6, 12, 24), "stem": 64, "token_dims": (128, 256, 384),
                                                 "token_depth": (2, 2, 2), "heads": 8, "patch": 8, "fpn_dim": 256, "n_meta": 3},
                         data="nih:PATH", description="Dense blocks 6-12-24 + 3-stage transformer, 224x224, NIH 14 labels + age/sex/view."),
        "demo": Variant("demo", 64, "nih14", {"growth": 12, "blocks": (2, 4, 4), "stem": 32, "token_dims": (48, 64, 96),
                                              "token_depth": (1, 1, 1), "heads": 4, "patch": 8, "fpn_dim": 64, "n_meta": 3},
                        data="sample:nih", train={"epochs": 12, "batch_size": 32, "lr": 1e-3},
                        description="Dense blocks 2-4-4 + 3-stage transformer (dims 48-64-96), 64x64, NIH 14 labels + age/sex/view."),
    },
    dicom_modalities=("CR", "DX"),
    cam_layer="cnn_out", dropout="dropout (after the fused, reweighted vector, p=0.3)",
    inputs=("image", "meta", "text"),
    lrp="approximate: attention treated as fixed weights (zennit has no attention rule); epsilon rule",
    train_defaults={"optimizer": "adam", "lr": 1e-4, "scheduler": "plateau", "plateau_factor": 0.5, "batch_size": 32,
                    "epochs": 20, "early_stopping": 5, "loss": "focal", "focal_gamma": 2.0, "balanced_sampling": True,
                    "curriculum": False, "augment": ["hflip"], "select": "val_mean_auroc"},
    notes="Built from the paper's text; the public repository is a stub. Missing modalities are masked in attention.",
    ood_probes=("brain-mri/**/*.jpg",),
    loss=build_loss, predictor=MedFusionPredictor, data=DataMapping(nih=nih_targets),
    panel="hcview.ui.panels.medfusionnet:render", card_extras=card_extras,
))
