from hcview.models import get_spec
from hcview.viz.case import label_tree_table


def _detail(probs, violated=()):
    ls = get_spec("cihmlc").label_space("demo")
    edges = [{"parent": p, "child": c, "p_parent": probs.get(p, 0.1), "p_child": probs.get(c, 0.1),
              "inconsistent": (p, c) in violated} for p, c in ls.edges]
    outputs = [{"label": lab, "prob": probs.get(lab, 0.1), "mc_mean": 0.1, "mc_std": 0.01, "ci_low": 0.05,
                "ci_high": 0.2, "uncertain": False} for lab in ls.heads[0].labels]
    return {"edges": edges, "roots": ["Abnormal"]}, outputs


def test_cihmlc_tree_is_depth_first_with_violations_marked():
    detail, outputs = _detail({"Abnormal": 0.3, "Opacity": 0.2, "Fluid Accumulation": 0.4, "Edema": 0.9},
                              violated={("Fluid Accumulation", "Edema")})
    df = label_tree_table(detail, outputs)
    names = [s.replace("\u2003", "").replace("└ ", "") for s in df["label"]]
    depth = {n: s.count("\u2003") for n, s in zip(names, df["label"])}
    assert names[0] == "Abnormal" and depth["Abnormal"] == 0
    assert names.index("Opacity") < names.index("Fluid Accumulation") < names.index("Edema")
    assert depth["Opacity"] == 1 and depth["Fluid Accumulation"] == 2 and depth["Edema"] == 3
    # a child with two parents appears under both (Pneumonia: Fluid Accumulation and Consolidation)
    assert names.count("Pneumonia") == 2 and names.count("Cardiomegaly") == 2
    # labels outside the tree follow it
    assert set(names[-2:]) == {"No Finding", "Uncertain"}
    marked = df[df["inconsistent"] != ""]
    assert [s.strip("\u2003└ ") for s in marked["label"]] == ["Edema"]
    assert float(df.loc[names.index("Edema"), "p"]) == 0.9


# ---- heat-map overlays -------------------------------------------------------------------------------------------
import numpy as np  # noqa: E402

from hcview.viz import case as vc  # noqa: E402


def _lum(rgb) -> float:
    r, g, b = (np.asarray(rgb, dtype=float) / 255)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_default_colour_map_keeps_the_highest_values_bright():
    assert vc.DEFAULT_CMAP in ("viridis", "inferno")
    for name in ("viridis", "inferno"):
        lut = vc.colormap_lut(name)
        assert _lum(lut[255]) > 0.7 and _lum(lut[128]) > 0.15  # visible on dark anatomy
    paper = vc.colormap_lut("paper")
    assert _lum(paper[255]) < 0.05 and len({tuple(c) for c in paper}) == 5  # hot_r in 5 steps: top is black


def test_overlay_draws_only_above_threshold_and_is_the_same_for_uint8_and_float():
    img = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    cam = np.zeros((8, 8), np.float32)
    cam[:, 4:] = 1.0
    out = vc.overlay(img, cam, threshold=0.5, alpha=0.6)
    grey = (img * 255).round().astype(np.uint8)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert (out[:, :24] == grey[:, :24, None]).all()  # below the threshold: the image untouched
    assert (np.abs(out[:, 40:].astype(int) - grey[:, 40:, None]) > 3).any()  # above: coloured
    assert np.abs(vc.overlay(grey, cam, 0.5, 0.6).astype(int) - out.astype(int)).max() <= 1
    assert (vc.overlay(img, cam, 0.5, 0.0) == grey[..., None]).all()  # alpha 0: the scan alone
    assert vc.overlay(np.zeros((1000, 500), np.float32), cam, max_side=200).shape == (200, 100, 3)
    bar = vc.colorbar_strip("viridis", 0.5, width=100)
    assert (bar[:, :40, 0] == bar[:, :40, 1]).all()  # the hidden part is grey hatching


def test_findings_rows_hcnet_path_and_heads_grouped():
    hc = {"tree": {"Brain": {"normal": ["notumor"], "tumour": ["glioma", "meningioma"]}},
          "prediction": {"anatomy": "Brain", "category": "tumour", "disease": "glioma"},
          "outputs": [{"label": "Brain", "level": "anatomy", "prob": 1.0},
                      {"label": "normal", "level": "category", "prob": 0.2},
                      {"label": "tumour", "level": "category", "prob": 0.8},
                      {"label": "notumor", "level": "disease", "prob": 0.2},
                      {"label": "glioma", "level": "disease", "prob": 0.5},
                      {"label": "meningioma", "level": "disease", "prob": 0.3}]}
    rows = vc.findings_rows(hc)
    assert [(r["label"], r["depth"]) for r in rows] == [("Brain", 0), ("tumour", 1), ("glioma", 2), ("meningioma", 2),
                                                         ("normal", 1), ("notumor", 2)]
    assert [r["label"] for r in rows if r["on_path"]] == ["Brain", "tumour", "glioma"]
    mt = {"prediction": {"state": "benign"},
          "outputs": [{"label": "benign", "level": "state", "prob": 0.6, "mc_mean": 0.4},
                      {"label": "malignant", "level": "state", "prob": 0.4, "mc_mean": 0.6},
                      {"label": "left", "level": "position", "prob": 0.9}]}
    rows = vc.findings_rows(mt)
    assert [r["label"] for r in rows] == ["state", "benign", "malignant", "position", "left"]
    assert next(r for r in rows if r["label"] == "benign")["on_path"]  # the prediction, not the MC argmax
    df = vc.findings_table(mt)
    assert list(df["finding"])[:2] == ["STATE", "\u2003└ benign"]


def test_mc_bands_draw_each_rows_own_threshold():
    rows = [{"label": "a", "prob": 0.3, "mc_mean": 0.3, "ci_low": 0.2, "ci_high": 0.4, "threshold": 0.25},
            {"label": "b", "prob": 0.6, "mc_mean": 0.6, "ci_low": 0.5, "ci_high": 0.7, "threshold": 0.7}]
    fig = vc.mc_bands(rows, threshold=None)
    assert len(fig.data) == 2 and sorted(fig.data[1].x) == [0.25, 0.7]


def test_a_value_just_under_its_threshold_never_prints_equal_to_it():
    from hcview.infer.results import tree_detail
    from hcview.models.labels import load_label_space
    from hcview.text import decimals_apart

    assert decimals_apart(0.55, 0.53) == 2 and decimals_apart(0.5251, 0.5254) == 4 and decimals_apart(0.5, 0.5) == 4
    ls = load_label_space(get_spec("cihmlc").variant("demo").label_space)
    labels = ls.heads[0].labels
    p = np.full(len(labels), 0.1)
    p[labels.index("Opacity")] = 0.5251       # negative at 0.5254 ...
    p[labels.index("Lung Opacity")] = 0.9     # ... under a positive child
    t = np.full(len(labels), 0.5)
    t[labels.index("Opacity")] = 0.5254
    d = tree_detail(ls, {ls.heads[0].name: p}, t)
    text = next(x for x in d["inconsistencies"] if x.startswith("Lung Opacity"))
    assert "Opacity (0.5251) is negative at 0.5254" in text
