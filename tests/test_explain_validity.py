"""Pointing game and model-parameter randomisation test (validity of explanations)."""
import numpy as np
import pytest
import torch

from hcview.explain.guard import state_fingerprint
from hcview.explain.validity import explanation_validity, pointing_hit, spearman
from hcview.models.registry import create_model


def test_pointing_hit_inside_outside_and_tolerance():
    mask = np.zeros((32, 32), np.uint8)
    mask[10:14, 10:14] = 1
    s = np.zeros((32, 32))
    s[12, 12] = 1
    assert pointing_hit(s, mask)
    s2 = np.zeros((32, 32))
    s2[15, 12] = 1  # one pixel below the lesion
    assert not pointing_hit(s2, mask) and pointing_hit(s2, mask, tolerance=2)
    assert not pointing_hit(np.zeros((32, 32)), mask)  # a flat map never scores
    # maps at a lower resolution are resized to the mask
    small = np.zeros((8, 8))
    small[3, 3] = 1
    assert pointing_hit(small, mask, tolerance=1)


def test_spearman():
    a = np.arange(20.0)
    assert spearman(a, a ** 3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, np.ones(20)))


def test_explanation_validity_on_phantom_like_items():
    torch.manual_seed(0)
    model = create_model("hcnet", "demo").eval()
    before = state_fingerprint(model)
    g = torch.Generator().manual_seed(0)
    items = []
    for k in range(2):
        mask = torch.zeros(64, 64, dtype=torch.uint8)
        mask[10 + 20 * k:20 + 20 * k, 30:40] = 1
        items.append({"image": torch.randn(3, 64, 64, generator=g), "mask": mask,
                      "targets": {"disease": torch.tensor(k)}})
    items.append({"image": torch.randn(3, 64, 64, generator=g), "mask": torch.zeros(64, 64, dtype=torch.uint8),
                  "targets": {"disease": torch.tensor(0)}})  # no lesion: excluded
    r = explanation_validity(model, items, "disease", methods=("gradcam",))
    assert r["n_cases"] == 2
    g_ = r["methods"]["gradcam"]
    assert 0 <= g_["pointing_game"] <= 1 and g_["pointing_hits"] in (0, 1, 2)
    assert r["cascade_order"][0] == "heads" and r["cascade_order"][-1] == "stem"
    assert set(g_["randomisation_cascading"]) == set(r["cascade_order"])
    full = g_["randomisation_full"]
    assert np.isnan(full) or full < 0.99  # the fully randomised model gives a different map
    assert state_fingerprint(model) == before  # randomisation worked on a copy
