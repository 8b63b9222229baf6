"""Seeded phantoms: deterministic, fast, classes distinct, nodule metadata consistent with the image."""
from __future__ import annotations


import numpy as np

from hcview.data import phantoms as P
from hcview.models.labels import load_label_space

LS = load_label_space("hcnet_paper")


def test_mri_phantoms_deterministic_and_marked():
    a = P.generate_mri_phantoms(40, 64, seed=1)
    b = P.generate_mri_phantoms(40, 64, seed=1)
    c = P.generate_mri_phantoms(40, 64, seed=2)
    assert all(np.array_equal(x["image"], y["image"]) for x, y in zip(a, b))
    assert not all(np.array_equal(x["image"], y["image"]) for x, y in zip(a, c))
    assert all(r["synthetic"] is True for r in a)
    assert {r["disease"] for r in a} == set(LS.head("disease").labels)
    for r in a:
        assert r["mask"].dtype == np.uint8 and r["mask"].sum() > 0
        assert r["image"][r["mask"] > 0].mean() != r["image"][r["mask"] == 0].mean()


def _nearest_centroid_acc(train, test, key):
    def feat(r):
        return r["image"].reshape(16, 4, 16, 4).mean(axis=(1, 3)).ravel()
    classes = sorted({r[key] for r in train})
    cents = np.stack([np.mean([feat(r) for r in train if r[key] == c], axis=0) for c in classes])
    pred = [classes[int(np.argmin(((cents - feat(r)) ** 2).sum(1)))] for r in test]
    return np.mean([p == r[key] for p, r in zip(pred, test)])


def test_mri_classes_are_learnably_distinct():
    train = P.generate_mri_phantoms(40 * 8, 64, seed=0, split="train")
    test = P.generate_mri_phantoms(40 * 2, 64, seed=0, split="test")
    assert _nearest_centroid_acc(train, test, "anatomy") > 0.9
    # even a nearest-centroid classifier on 16x16 averages is far above chance (1/40) on diseases
    assert _nearest_centroid_acc(train, test, "disease") > 0.3


def test_nodule_records_follow_heads_and_are_consistent():
    ls = load_label_space("resmtnet_jsrt")
    recs = P.generate_nodule_phantoms(200, 128, seed=0)
    states = {r["state"] for r in recs}
    assert states == {"benign", "malignant", "non-nodule"}
    for r in recs:
        t, m = P.nodule_targets(r, ls)
        if r["state"] == "non-nodule":
            assert r["x"] is None and r["size_mm"] is None and r["position"] == "none"
            assert m.sum() == 0 and t["subtlety"] == -100 and r["mask"].sum() == 0
            assert ls.head("diagnosis").labels[t["diagnosis"]] == "non-nodule"
        else:
            assert m.tolist() == [1, 1, 1] and 0 <= t["regression"].min() and t["regression"].max() <= 1
            assert P.lobe_of(r["x"] / P.GRID, r["y"] / P.GRID) == r["position"]
            assert r["diagnosis"] in P.STATE_DIAGNOSES[r["state"]]
            # the mask sits where x, y say the nodule is
            cy, cx = np.argwhere(r["mask"] > 0).mean(0) / 128 * P.GRID
            if r["diagnosis"] != "metastasis":
                assert abs(cx - r["x"]) < 120 and abs(cy - r["y"]) < 120
            # right lung on the image's left (radiological convention)
            assert (r["x"] < P.GRID / 2) == r["position"].startswith("right")


def test_nodule_size_and_subtlety_are_visible():
    import pytest

    recs = [P.nodule_phantom(128, np.random.default_rng(i), state="benign") for i in range(80)]
    sizes = np.array([r["size_mm"] for r in recs])
    area = np.array([r["mask"].sum() for r in recs])
    assert np.corrcoef(sizes, area)[0, 1] > 0.8
    px = P.PIXEL_SPACING_MM * P.GRID / 128  # mm per pixel at 128
    r0 = [r for r in recs if r["diagnosis"] == "other benign"][0]
    assert r0["mask"].sum() * px * px == pytest.approx(np.pi * (r0["size_mm"] / 2) ** 2, rel=0.35)
    plain = [r for r in recs if r["diagnosis"] in ("other benign", "inflammatory mass")]
    contrast = {}
    for r in plain:
        m = r["mask"] > 0
        ring = np.zeros_like(m)
        ys, xs = np.nonzero(m)
        ring[max(ys.min() - 4, 0):ys.max() + 5, max(xs.min() - 4, 0):xs.max() + 5] = True
        ring &= ~m
        contrast.setdefault(r["subtlety"], []).append(r["image"][m].mean() - r["image"][ring].mean())
    means = [np.mean(contrast[k]) for k in sorted(contrast)]
    assert len(means) >= 3 and means[-1] > means[0]
