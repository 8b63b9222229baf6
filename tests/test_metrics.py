"""hcview.metrics checked against scikit-learn / scipy / hand computations."""
import json
import math

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import (accuracy_score, average_precision_score, balanced_accuracy_score, brier_score_loss,
                             confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score)

from hcview import metrics as M
from hcview.models.labels import load_label_space


@pytest.fixture(scope="module")
def clf_data():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, 300)
    p = np.where(rng.random(300) < 0.7, y, rng.integers(0, 5, 300))
    return y, p


def test_classification_matches_sklearn(clf_data):
    y, p = clf_data
    r = M.compute_classification(y, p, list("abcde"))
    assert r["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert r["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, p))
    for avg in ("macro", "weighted"):
        assert r[f"precision_{avg}"] == pytest.approx(precision_score(y, p, average=avg, zero_division=0))
        assert r[f"recall_{avg}"] == pytest.approx(recall_score(y, p, average=avg, zero_division=0))
        assert r[f"f1_{avg}"] == pytest.approx(f1_score(y, p, average=avg, zero_division=0))
    rows = r["per_class"]
    assert [row["class"] for row in rows] == list("abcde")
    rec = recall_score(y, p, average=None)
    assert [row["accuracy"] for row in rows] == pytest.approx(rec)
    assert sum(row["support"] for row in rows) == 300


def test_classification_names_and_missing():
    r = M.compute_classification(["a", "b", "a"], ["a", "a", "a"], ["a", "b"])
    assert r["accuracy"] == pytest.approx(2 / 3)
    r2 = M.compute_classification(np.array([0, -1, 1]), np.array([0, 1, 1]), ["a", "b"])
    assert r2["n"] == 2 and r2["accuracy"] == 1.0


def test_gmean_by_hand():
    # recalls: class0 2/3, class1 1/2, class2 1/1 -> (2/3 * 1/2 * 1)^(1/3)
    y = [0, 0, 0, 1, 1, 2]
    p = [0, 0, 1, 1, 0, 2]
    assert M.compute_gmean(y, p) == pytest.approx((2 / 3 * 1 / 2) ** (1 / 3))
    # binary: sqrt(sens * spec)
    yb = [1, 1, 1, 1, 0, 0, 0, 0, 0]
    pb = [1, 1, 1, 0, 0, 0, 0, 1, 1]
    assert M.compute_gmean(yb, pb) == pytest.approx(math.sqrt(3 / 4 * 3 / 5))
    assert M.compute_gmean([0, 1], [1, 1]) == 0.0


def test_multilabel_auc_matches_sklearn_and_single_class():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, (100, 3)).astype(float)
    s = np.clip(y * 0.4 + rng.random((100, 3)) * 0.6, 0, 1)
    y[:, 2] = 0  # single class
    y[5, 0] = np.nan  # unknown
    r = M.compute_multilabel_auc(y, s, ["A", "B", "C"])
    ok = ~np.isnan(y[:, 0])
    assert r["per_label"]["A"]["auroc"] == pytest.approx(roc_auc_score(y[ok, 0], s[ok, 0]))
    assert r["per_label"]["B"]["auprc"] == pytest.approx(average_precision_score(y[:, 1], s[:, 1]))
    assert math.isnan(r["per_label"]["C"]["auroc"]) and r["per_label"]["C"]["reason"] == "only negative cases"
    a, b = r["per_label"]["A"], r["per_label"]["B"]
    assert r["mean_auroc"] == pytest.approx((a["auroc"] + b["auroc"]) / 2)
    w = (a["auroc"] * a["support"] + b["auroc"] * b["support"]) / (a["support"] + b["support"])
    assert r["weighted_auroc"] == pytest.approx(w)
    assert r["n_labels_defined"] == 2


def test_confusion_matrix_taxonomy_order_and_collapse():
    ls = load_label_space("hcnet_brain_mri")
    heads = list(ls.head("disease").labels)
    y = np.array([0, 1, 1, 2, 3, 3, 2])
    p = np.array([0, 2, 1, 1, 3, 0, 2])
    cm, order = M.compute_confusion_matrix(y, p, heads, order=ls.disease_order())
    assert order == ls.disease_order()
    perm = [heads.index(o) for o in order]
    ref = confusion_matrix(y, p, labels=range(4))
    assert np.array_equal(cm, ref[np.ix_(perm, perm)])
    c, g = M.collapse_confusion(cm, order, ls, "category")
    assert g == ["Brain / normal", "Brain / tumour"]
    # by hand: normal->normal 1; tumour->normal 1 (pituitary->notumor); tumour->tumour 5
    assert c.tolist() == [[1, 0], [1, 5]]
    a, ga = M.collapse_confusion(cm, order, ls, "anatomy")
    assert ga == ["Brain"] and a.tolist() == [[7]]


def test_collapse_paper_taxonomy_by_hand():
    ls = load_label_space("hcnet_paper")
    order = ls.disease_order()
    assert len(order) == 40
    cm = np.zeros((40, 40), dtype=int)
    cm[0, 0] = 3      # Brain/Common -> Brain/Common
    cm[0, 5] = 2      # Brain/Common -> Brain/Rare
    cm[0, 12] = 1     # Brain/Common -> Spine/Common
    c, g = M.collapse_confusion(cm, order, ls, "category")
    assert len(g) == 8 and g[0] == "Brain / Common" and g[1] == "Brain / Rare" and g[2] == "Spine / Common"
    assert c[0, 0] == 3 and c[0, 1] == 2 and c[0, 2] == 1 and c.sum() == 6
    a, ga = M.collapse_confusion(cm, order, ls, "anatomy")
    assert ga == list(ls.head("anatomy").labels)
    assert a[0, 0] == 5 and a[0, 1] == 1


def test_ece_hand_example():
    # binary mode, 2 bins: probs .2,.4 in bin0 (mean .3, frac pos .5); .6,.8 in bin1 (mean .7, frac pos 1)
    y = np.array([0, 1, 1, 1])
    p = np.array([0.2, 0.4, 0.6, 0.8])
    rel = M.compute_reliability(y, p, n_bins=2)
    assert rel["count"].tolist() == [2, 2]
    assert rel["confidence"].tolist() == pytest.approx([0.3, 0.7])
    assert rel["accuracy"].tolist() == pytest.approx([0.5, 1.0])
    assert M.compute_ece(y, p, n_bins=2) == pytest.approx(0.5 * 0.2 + 0.5 * 0.3)
    # top-label mode: conf .9 right, .8 wrong, .6 right, .55 right; 10 bins
    prob = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.45, 0.55]])
    yt = np.array([0, 0, 0, 1])
    # bins: .9 -> bin 8 (acc 1), .8 -> bin 7 (acc 0), .6 -> bin 5, .55 -> bin 5 (acc 1, conf .575)
    ece = (abs(1 - 0.9) + abs(0 - 0.8) + 2 * abs(1 - 0.575)) / 4
    assert M.compute_ece(yt, prob, n_bins=10) == pytest.approx(ece)


def test_brier():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 50)
    p = rng.random(50)
    assert M.compute_brier(y, p) == pytest.approx(brier_score_loss(y, p))
    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    # (0.09+0.04+0.01 + 0.01+0.81+0.64) / 2
    assert M.compute_brier([0, 1], prob) == pytest.approx((0.14 + 1.46) / 2)


def test_taxonomy_consistency():
    ls = load_label_space("hcnet_brain_mri")
    d = list(ls.head("disease").labels)  # notumor, glioma, meningioma, pituitary
    pred_d = [d.index("notumor"), d.index("glioma"), d.index("glioma"), d.index("pituitary")]
    pred_c = [0, 1, 0, 1]  # normal, tumour, normal (wrong for glioma), tumour
    pred_a = [0, 0, 0, 0]
    r = M.compute_taxonomy_consistency(pred_a, pred_c, pred_d, ls)
    assert r["rate"] == pytest.approx(0.75) and r["n_inconsistent"] == 1 and r["anatomy_rate"] == 1.0


def test_edge_consistency():
    labels = ["P", "C1", "C2"]
    edges = [("P", "C1"), ("P", "C2")]
    prob = np.array([[0.9, 0.8, 0.1],   # ok
                     [0.2, 0.7, 0.1],   # violates P->C1
                     [0.1, 0.6, 0.9],   # violates both
                     [0.1, 0.2, 0.3]])  # ok
    r = M.compute_edge_consistency(prob, edges, labels)
    assert r["rate"] == pytest.approx(0.5) and r["n_cases_violating"] == 2
    assert [e["violations"] for e in r["per_edge"]] == [2, 1]
    ls = load_label_space("cihmlc")
    r2 = M.compute_edge_consistency(np.full((3, 21), 0.9), ls.edges, ls.heads[0].labels)
    assert r2["rate"] == 1.0 and len(r2["per_edge"]) == 20


def test_regression_masked_and_size_bins():
    t = np.array([[1.0, 5.0], [2.0, 15.0], [np.nan, np.nan], [4.0, 35.0]])
    p = np.array([[2.0, 6.0], [2.0, 13.0], [9.0, 9.0], [1.0, 35.0]])
    r = M.compute_regression(t, p, ["x", "size"], size_mm=t[:, 1])
    assert r["per_target"]["x"]["mse"] == pytest.approx((1 + 0 + 9) / 3)
    assert r["per_target"]["size"]["mae"] == pytest.approx((1 + 2 + 0) / 3)
    assert r["overall"]["n"] == 6
    bins = r["size_bins"]
    assert list(bins) == ["<10", "10-20", "20-30", ">30"]
    assert bins["<10"]["n_cases"] == 1 and bins["20-30"]["n_cases"] == 0 and bins[">30"]["n_cases"] == 1
    assert bins["10-20"]["per_target"]["size"]["mse"] == pytest.approx(4.0)
    assert math.isnan(bins["20-30"]["overall"]["mse"])
    r2 = M.compute_regression(t, p, ["x", "size"], mask=np.array([1, 0, 1, 1], bool))
    assert r2["overall"]["n"] == 4


def test_bootstrap_ci_seeded():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 200)
    s = y * 0.3 + rng.random(200)
    a = M.bootstrap_ci(roc_auc_score, y, s, n_boot=200, seed=7)
    b = M.bootstrap_ci(roc_auc_score, y, s, n_boot=200, seed=7)
    assert a == b
    assert a["low"] < a["estimate"] < a["high"] and a["n_valid"] == 200
    assert a["estimate"] == pytest.approx(roc_auc_score(y, s))


def test_mcnemar_exact_and_chi2():
    # b = 1 (A right, B wrong), c = 6
    a = np.array([1] * 1 + [0] * 6 + [1] * 10, bool)
    bb = np.array([0] * 1 + [1] * 6 + [1] * 10, bool)
    r = M.mcnemar(a, bb)
    hand = 2 * sum(math.comb(7, k) for k in range(0, 2)) / 2 ** 7
    assert r["method"] == "exact" and (r["b"], r["c"]) == (1, 6)
    assert r["p_value"] == pytest.approx(hand)
    assert r["p_value"] == pytest.approx(stats.binomtest(1, 7, 0.5).pvalue)
    a2 = np.array([1] * 30 + [0] * 10, bool)
    b2 = np.array([0] * 30 + [1] * 10, bool)
    r2 = M.mcnemar(a2, b2)
    chi2 = (abs(30 - 10) - 1) ** 2 / 40
    assert r2["method"] == "chi2-cc" and r2["statistic"] == pytest.approx(chi2)
    assert r2["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1))


def test_friedman_matches_scipy_and_k2():
    rng = np.random.default_rng(5)
    x = rng.random((8, 3))
    r = M.friedman(x, ["a", "b", "c"])
    ref = stats.friedmanchisquare(*x.T)
    assert r["statistic"] == pytest.approx(ref.statistic) and r["p_value"] == pytest.approx(ref.pvalue)
    ranks = np.apply_along_axis(stats.rankdata, 1, -x)
    assert list(r["mean_ranks"].values()) == pytest.approx(ranks.mean(axis=0))
    # k = 2: A better on 6 of 8 blocks. chi2 = 12/(n k (k+1)) * sum R^2 - 3 n (k+1)
    x2 = np.array([[0.9, 0.8]] * 6 + [[0.7, 0.75]] * 2)
    r2 = M.friedman(x2, ["A", "B"])
    ra, rb = 6 + 2 * 2, 6 * 2 + 2
    stat = 12 / (8 * 2 * 3) * (ra ** 2 + rb ** 2) - 3 * 8 * 3
    assert r2["statistic"] == pytest.approx(stat) and r2["mean_ranks"]["A"] < r2["mean_ranks"]["B"]


def test_pearson_support_accuracy():
    s = np.array([10, 20, 30, 40, 50])
    a = np.array([0.5, 0.6, 0.55, 0.8, 0.9])
    r = M.support_accuracy_correlation(s, a)
    ref = stats.pearsonr(s, a)
    assert r["r"] == pytest.approx(ref[0]) and r["p_value"] == pytest.approx(ref[1])
    assert math.isnan(M.pearson([1, 2], [3, 4])["r"])


def test_failure_modes():
    prob = np.array([[0.9, 0.1], [0.3, 0.7], [0.55, 0.45], [0.05, 0.95], [0.6, 0.4]])
    y = np.array([1, 1, 0, 0, 0])
    err = M.most_confident_errors(y, prob, ["a", "b"], k=5)
    assert err["index"].tolist() == [3, 0]
    assert err.iloc[0]["true"] == "a" and err.iloc[0]["pred"] == "b"
    unc = M.most_uncertain_correct(y, prob, ["a", "b"], k=2)
    assert unc["index"].tolist() == [2, 4]
    unc_m = M.most_uncertain_correct(y, prob, ["a", "b"], by="margin")
    assert unc_m["index"].tolist()[0] == 2
    yt = ["glioma"] * 5 + ["meningioma"] * 3
    yp = ["meningioma"] * 4 + ["glioma"] + ["glioma"] * 1 + ["meningioma"] * 2
    cm, labs = M.compute_confusion_matrix(yt, yp, ["glioma", "meningioma"])
    rc = M.ranked_confusions(cm, labs)
    assert rc.iloc[0]["text"] == "glioma -> meningioma: 4" and rc.iloc[1]["count"] == 1
    assert M.cell_indices(yt, yp, "glioma", "meningioma", ["glioma", "meningioma"]).tolist() == [0, 1, 2, 3]


def _fake_probs(rng, y, k, sharp=3.0):
    logits = rng.normal(size=(len(y), k))
    logits[np.arange(len(y)), y] += sharp
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def test_compute_report_taxonomy3_json():
    ls = load_label_space("hcnet_paper")
    rng = np.random.default_rng(6)
    n = 400
    d = rng.integers(0, 40, n)
    parents = [ls.parent_of(x) for x in ls.head("disease").labels]
    an, ca = list(ls.head("anatomy").labels), list(ls.head("category").labels)
    a = np.array([an.index(parents[i][0]) for i in d])
    c = np.array([ca.index(parents[i][1]) for i in d])
    yt = {"anatomy": a, "category": c, "disease": d}
    ys = {"anatomy": _fake_probs(rng, a, 4), "category": _fake_probs(rng, c, 2), "disease": _fake_probs(rng, d, 40)}
    r = M.compute_report(None, yt, ys, ls)
    json.dumps(r, allow_nan=False)
    dh = r["heads"]["disease"]
    assert dh["confusion_matrix"]["labels"] == ls.disease_order()
    assert len(dh["confusion_matrix_collapsed"]["category"]["labels"]) == 8
    assert dh["accuracy"] == pytest.approx(np.mean(ys["disease"].argmax(1) == d))
    assert 0 <= r["consistency"]["rate"] <= 1 and "disease_accuracy" in r["summary"]


def test_compute_report_multilabel_tree_and_multitask():
    ls = load_label_space("cihmlc")
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, (60, 21)).astype(float)
    y[:, 5] = 0
    p = np.clip(y * 0.5 + rng.random((60, 21)) * 0.5, 0, 1)
    r = M.compute_report("multilabel_tree", y, p, ls)
    json.dumps(r, allow_nan=False)
    h = r["heads"]["labels"]
    assert h["per_label"]["Fracture"]["auroc"] is None and h["per_label"]["Fracture"]["reason"]
    assert len(r["consistency"]["per_edge"]) == 20 and r["summary"]["mean_auroc"] > 0.5

    ls2 = load_label_space("resmtnet_jsrt")
    n = 30
    yt, ys = {}, {}
    for head in ls2.heads:
        if head.kind == "softmax":
            yt[head.name] = rng.integers(0, head.size, n)
            ys[head.name] = _fake_probs(rng, yt[head.name], head.size)
    reg = rng.random((n, 3))
    reg[:5] = np.nan
    yt["regression"], ys["regression"] = reg, np.nan_to_num(reg) + 0.01
    r2 = M.compute_report(None, yt, ys, ls2)
    json.dumps(r2, allow_nan=False)
    assert r2["heads"]["regression"]["overall"]["n"] == 75
    assert r2["heads"]["regression"]["overall"]["mse"] == pytest.approx(1e-4)
    assert set(r2["heads"]["regression"]["size_bins"]) == {"<10", "10-20", "20-30", ">30"}
