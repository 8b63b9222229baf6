"""Each loss against a hand computation on a tiny example."""
import math

import numpy as np
import pytest
import torch

from hcview.papers import cihmlc, hcnet, resmtnet
from hcview.train import losses as L


def test_class_weights_hand():
    # 6 known labels over 3 classes: counts 3, 2, 1 ; class 3 absent ; -100 ignored
    t = [0, 0, 0, 1, 1, 2, -100]
    w = L.class_weights(t, 4)
    # N = 6, C = 4 -> 6/(4*3)=0.5, 6/(4*2)=0.75, 6/(4*1)=1.5, zero count -> 0
    assert torch.allclose(w, torch.tensor([0.5, 0.75, 1.5, 0.0]))


def test_weighted_ce_hand():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    w = torch.tensor([1.0, 3.0])
    l0 = -math.log(math.exp(2) / (math.exp(2) + 1))
    l1 = -math.log(math.exp(1) / (math.exp(1) + 1))
    expected = (1 * l0 + 3 * l1) / (1 + 3)  # PyTorch weighted mean
    assert L.weighted_ce(logits, y, w).item() == pytest.approx(expected, rel=1e-5)
    # unknown labels are ignored; all unknown -> 0 with a graph
    assert L.weighted_ce(logits, torch.tensor([0, -100]), w).item() == pytest.approx(l0, rel=1e-5)
    z = L.weighted_ce(logits.requires_grad_(), torch.tensor([-100, -100]))
    assert z.item() == 0.0 and z.requires_grad


def test_hcnet_three_terms():
    out = {"anatomy": torch.tensor([[0.0, 0.0]]), "category": torch.tensor([[0.0, 0.0, 0.0]]),
           "disease": torch.tensor([[1.0, 0.0]])}
    tg = {"anatomy": torch.tensor([0]), "category": torch.tensor([2]), "disease": torch.tensor([1])}
    total, parts = hcnet.hcnet_loss(out, tg, torch.tensor([1.0, 5.0]))
    ld = -math.log(1 / (math.e + 1))  # weight cancels for a single example
    assert parts["anatomy"].item() == pytest.approx(math.log(2), rel=1e-5)
    assert parts["category"].item() == pytest.approx(math.log(3), rel=1e-5)
    assert parts["disease"].item() == pytest.approx(ld, rel=1e-5)
    assert total.item() == pytest.approx(math.log(2) + math.log(3) + ld, rel=1e-5)


def test_hbce_edge_weights_modes():
    # labels: 0 = parent, 1 = child ; rows (p, c)
    y = np.array([[0, 0], [0, 1], [0, 0], [0, 0], [1, 1], [1, 0]], dtype=float)
    edges = [(0, 1)]
    assert cihmlc.hbce_edge_weights(y, edges, "fixed", beta=2.5).tolist() == [2.5]
    # n(p=0)=4, n(p=0,c=1)=1 -> 1 - (1+eps)/(4+2eps)
    eps = 1e-6
    w = cihmlc.hbce_edge_weights(y, edges, "data")
    assert w.item() == pytest.approx(1 - (1 + eps) / (4 + 2 * eps), rel=1e-6)
    # OR-derived parents: n(p=0, c=1) = 0 -> w ~ 1 (the note's "1 -" matters)
    y2 = np.array([[0, 0], [1, 1], [1, 0]], dtype=float)
    assert cihmlc.hbce_edge_weights(y2, edges, "data").item() == pytest.approx(1 - eps / (1 + 2 * eps), abs=1e-7)
    with pytest.raises(Exception):
        cihmlc.hbce_edge_weights(y, edges, "bogus")


def test_hbce_loss_hand_and_gradients():
    # two samples, labels (parent, child); sample 0 violates (p_parent<.5, p_child>.5), sample 1 does not
    logits = torch.tensor([[-1.0, 2.0], [1.0, -1.0]], requires_grad=True)
    y = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    edges, w, lam = [(0, 1)], torch.tensor([0.8]), 0.5
    p = torch.sigmoid(logits.detach())
    bce = -(torch.log(1 - p[0, 0]) + torch.log(1 - p[0, 1]) + torch.log(p[1, 0]) + torch.log(1 - p[1, 1])) / 4
    faithful_pen = 0.8 * (1 + 0) / 2  # mean over the batch
    total, parts = cihmlc.hbce_loss(logits, y, edges, w, lam, "faithful")
    assert parts["penalty"].item() == pytest.approx(faithful_pen)
    assert total.item() == pytest.approx(bce.item() + lam * faithful_pen, rel=1e-5)

    # faithful: penalty passes no gradient -> grads equal plain BCE's
    total.backward()
    g_faithful = logits.grad.clone()
    logits.grad = None
    L.masked_bce(logits, y).backward()
    assert torch.allclose(g_faithful, logits.grad)
    logits.grad = None
    pen = cihmlc.hbce_penalty(torch.sigmoid(logits), edges, w, "faithful")
    assert not pen.requires_grad or torch.autograd.grad(pen, logits, allow_unused=True)[0] is None or \
        torch.count_nonzero(torch.autograd.grad(pen, logits, allow_unused=True)[0]) == 0

    # surrogate: w * relu(p_c - p_p), differentiable
    surr = cihmlc.hbce_penalty(torch.sigmoid(logits), edges, w, "surrogate")
    exp_s = 0.8 * (max(0, (p[0, 1] - p[0, 0]).item()) + max(0, (p[1, 1] - p[1, 0]).item())) / 2
    assert surr.item() == pytest.approx(exp_s, rel=1e-5)
    g = torch.autograd.grad(surr, logits)[0]
    assert g[0].abs().sum() > 0 and g[1].abs().sum() == 0  # only the violating sample gets a push
    assert g[0, 0] < 0 and g[0, 1] > 0  # raise the parent, lower the child


def test_masked_bce_ignores_unknown():
    logits = torch.tensor([[0.0, 3.0]])
    y = torch.tensor([[1.0, float("nan")]])
    assert L.masked_bce(logits, y).item() == pytest.approx(math.log(2), rel=1e-6)


def test_focal_hand():
    logits = torch.tensor([[0.0, math.log(3.0)]])  # p = 0.5, 0.75
    y = torch.tensor([[1.0, 0.0]])
    # entry0: p_t=.5 -> (.5)^2 * log2 ; entry1: p_t=.25 -> (.75)^2 * -log(.25)
    e0, e1 = 0.25 * math.log(2), 0.5625 * math.log(4)
    assert L.focal_loss(logits, y, 2.0).item() == pytest.approx((e0 + e1) / 2, rel=1e-5)
    alpha = torch.tensor([3.0, 10.0])  # weights positives only
    assert L.focal_loss(logits, y, 2.0, alpha).item() == pytest.approx((3 * e0 + e1) / 2, rel=1e-5)
    # gamma = 0 is BCE
    assert L.focal_loss(logits, y, 0.0).item() == pytest.approx(L.masked_bce(logits, y).item(), rel=1e-6)


def test_label_smoothing_ce_hand():
    logits = torch.tensor([[1.0, 0.0, 0.0]])
    y = torch.tensor([0])
    logp = torch.log_softmax(logits, 1)[0]
    eps = 0.1
    expected = -((1 - eps + eps / 3) * logp[0] + eps / 3 * logp[1] + eps / 3 * logp[2])
    assert L.weighted_ce(logits, y, label_smoothing=eps).item() == pytest.approx(expected.item(), rel=1e-5)


def test_masked_mse_and_resmtnet_sum():
    pred = torch.tensor([[0.5, 0.5, 0.1], [0.2, 0.2, 0.2]])
    tgt = torch.tensor([[0.7, 0.1, 0.3], [float("nan")] * 3])
    mask = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])  # second case: non-nodule
    assert L.masked_mse(pred[:, 0], tgt[:, 0], mask[:, 0]).item() == pytest.approx(0.04, rel=1e-5)
    assert L.masked_mse(pred[1:, 0], tgt[1:, 0], mask[1:, 0]).item() == 0.0
    out = {"state": torch.tensor([[0.0, 0.0], [0.0, 0.0]]), "regression": pred}
    tg = {"state": torch.tensor([0, 1]), "regression": tgt}
    w = {"state": 2.0, "x": 1.0, "y": 10.0, "size": 0.0}
    total, parts = resmtnet.resmtnet_loss(out, tg, mask, w, ["state"], ["x", "y", "size"], label_smoothing=0.0)
    expected = 2.0 * math.log(2) + 1.0 * 0.04 + 10.0 * 0.16 + 0.0 * 0.04
    assert total.item() == pytest.approx(expected, rel=1e-5)
    assert parts["size"].item() == pytest.approx(0.04, rel=1e-5)


def test_resmtnet_smooths_subtlety_state_diagnosis_not_position():
    torch.manual_seed(0)
    out = {h: torch.randn(6, n) for h, n in (("subtlety", 5), ("state", 3), ("position", 6), ("diagnosis", 7))}
    tg = {h: torch.randint(0, v.shape[1], (6,)) for h, v in out.items()}
    _, parts = resmtnet.resmtnet_loss(out, tg, None, {}, list(out), [], label_smoothing=0.2)
    for h in out:
        plain = L.weighted_ce(out[h], tg[h]).item()
        smooth = L.weighted_ce(out[h], tg[h], label_smoothing=0.2).item()
        assert parts[h].item() == pytest.approx(plain if h == "position" else smooth, rel=1e-6)
