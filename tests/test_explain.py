"""Grad-CAM (pytorch-grad-cam), all-labels one-pass CAMs, LRP (zennit), rendering. 64x64, untrained."""
import io

import numpy as np
import pytest
import torch

from hcview.models import list_models
from hcview.explain.all_labels import all_label_cams
from hcview.explain.gradcam import gradcam
from hcview.explain.guard import hook_count, state_fingerprint
from hcview.explain.lrp import lrp
from hcview.explain.render import BINS, normalise, overlay_rgb, panel_title, render_panel
from hcview.models.registry import create_model

MODELS = list_models()


@pytest.fixture(scope="module")
def dmodels():
    torch.manual_seed(1)
    return {m: create_model(m, "demo").eval().double() for m in MODELS}


def _x(seed=0, size=64):
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("mid", MODELS)
def test_all_labels_equals_pytorch_grad_cam_per_label(dmodels, mid):
    m, x = dmodels[mid], _x()
    outs = m.label_space.all_outputs()
    pick = outs if len(outs) <= 7 else outs[:2] + outs[-2:]
    targets = [(h, i) for h, i, _ in pick]
    before = state_fingerprint(m)
    fast = all_label_cams(m, x, targets, scale="minmax")
    ref = gradcam(m, x, targets, "gradcam")
    assert fast.shape == ref.shape == (len(targets), 64, 64)
    np.testing.assert_allclose(fast, ref, atol=1e-4)
    # different labels give different maps (the target selection matters)
    assert any(not np.allclose(fast[i], fast[j]) for i in range(len(fast)) for j in range(i))
    assert (fast.reshape(len(fast), -1).max(1) > 0.99).sum() >= 2  # non-trivial maps were compared
    assert state_fingerprint(m) == before and hook_count(m) == 0
    assert all(p.grad is None for p in m.parameters())


def test_all_labels_default_covers_every_output(dmodels):
    m = dmodels["cihmlc"]
    cams = all_label_cams(m, _x())
    assert cams.shape[0] == 21 and cams.min() >= 0 and cams.max() <= 1 + 1e-6


@pytest.mark.parametrize("method", ["gradcam++", "eigencam"])
def test_other_cam_methods(dmodels, method):
    m = dmodels["hcnet"]
    cams = gradcam(m, _x(), [("disease", 0), ("disease", 1)], method)
    assert cams.shape == (2, 64, 64) and np.isfinite(cams).all() and cams.max() <= 1 + 1e-6
    assert hook_count(m) == 0


def test_label_space_resolve_and_errors(dmodels):
    ls = dmodels["cihmlc"].label_space
    assert ls.resolve("pneumonia") == ("labels", ls.heads[0].labels.index("Pneumonia"), "Pneumonia")
    assert ls.resolve("labels:Edema")[2] == "Edema"
    from hcview.errors import InputError

    with pytest.raises(InputError):
        ls.resolve("Broken leg")


@pytest.mark.parametrize("mid", MODELS)
def test_lrp_conservation_and_isolation(mid):
    torch.manual_seed(2)
    m = create_model(mid, "demo").eval()
    x = _x(3).float()
    before = state_fingerprint(m)
    with torch.no_grad():
        ref_out = m(x)
    maps = lrp(m, x, [0])
    r = maps[0]
    # HC-Net: zennit's exact ResNet rules; CIHMLC (a DenseNet chain): the conserving chain rules
    assert r.approximate == (mid not in ("hcnet", "cihmlc"))
    if mid == "cihmlc":
        assert 0.8 <= r.conservation <= 1.2
    assert r.relevance.shape == (64, 64) and np.isfinite(r.relevance).all()
    assert r.relevance_sum == pytest.approx(float(r.relevance.astype(np.float64).sum()), rel=1e-4, abs=1e-6)
    assert r.conservation == pytest.approx(r.relevance_sum / r.logit)
    head, idx = m.label_space.all_outputs()[0][:2]
    assert r.logit == pytest.approx(float(ref_out[head][0, idx]), rel=1e-4, abs=1e-5)
    # canonizers / hooks never reach the shared model (deepcopy per call)
    assert state_fingerprint(m) == before and hook_count(m) == 0
    with torch.no_grad():
        after = m(x)
    for k in ref_out:
        assert torch.equal(ref_out[k], after[k])


def test_lrp_resnet_rules_conserve_better_than_plain_gradient_input():
    """On HC-Net (exact ResNet rules) the relevance of the explained logit is roughly conserved."""
    torch.manual_seed(0)
    m = create_model("hcnet", "demo").eval()
    ratios = [lrp(m, _x(s).float(), [("disease", 0)])[0].conservation for s in range(3)]
    assert all(0.2 < abs(r) < 5 for r in ratios), ratios


def test_render_threshold_colour_bar_and_png():
    cam = np.zeros((16, 16), np.float32)
    cam[4:8, 4:8] = 1.0
    cam[10:12, 10:12] = 0.4  # <= 0.5 of max -> clipped to 0
    n = normalise(cam, 0.5)
    assert n.max() == 1 and n[10, 10] == 0 and n[5, 5] == 1
    img = np.full((16, 16), 0.5, np.float32)
    rgb = overlay_rgb(img, cam, 0.5, 0.7)
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.uint8
    assert (rgb[10, 10] == 128).all()        # clipped region shows the image only
    assert not (rgb[5, 5] == 128).all()     # hot region coloured
    assert (overlay_rgb(img, cam, 0.5, 0.0)[5, 5] == 128).all()  # alpha 0 -> image only
    import matplotlib

    assert matplotlib.colormaps["hot_r"].resampled(BINS).N == 5
    png = render_panel(img, cam, panel_title("Edema", 0.62, 0.05))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(io.BytesIO(png)).size[0] > 100
    assert panel_title("Edema", 0.62, 0.05) == "Edema: 0.62 ± 0.05"


def test_cihmlc_render_matches_the_reference_procedure(dmodels):
    """The authors' Keras procedure, by hand: Grad-CAM on the added conv's ReLU output, ReLU, divide by the map's max
    (no min-max), resize to the input, zero everything <= 0.5."""
    import cv2

    m, x = dmodels["cihmlc"], _x(3)
    head, idx = "labels", m.label_space.heads[0].labels.index("Cardiomegaly")
    assert m.spec.cam_layer == "head_act"
    # hand implementation: a hook on the CAM layer, one full backward
    acts = {}
    hook = m.get_submodule("head_act").register_forward_hook(lambda mod, i, o: acts.setdefault("a", o))
    xx = x.clone().requires_grad_(True)
    out = m(xx)
    hook.remove()
    a = acts["a"]
    g = torch.autograd.grad(out[head][0, idx], a)[0][0]
    cam = torch.relu((g.mean(dim=(1, 2))[:, None, None] * a[0]).sum(0)).detach().numpy()
    cam = cam / cam.max()
    ref = cv2.resize(cam.astype(np.float32), (64, 64), interpolation=cv2.INTER_LINEAR)
    ref[ref <= 0.5] = 0
    ours = normalise(all_label_cams(m, x, [(head, idx)])[0], 0.5)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert ((ours > 0) == (ref > 0)).mean() > 0.999
    # a min-max before the clip (the old rendering) would keep a different set of pixels
    mm = all_label_cams(m, x, [(head, idx)], scale="minmax")[0]
    assert ((normalise(mm, 0.5) > 0) != (ref > 0)).any() or cam.min() == 0
