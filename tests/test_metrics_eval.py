"""The metrics behind the Evaluation page: one AUROC, one bootstrap loop, cell and failure selection."""
import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from hcview import metrics as M
from hcview.models.labels import load_label_space


def test_auroc_and_ap_equal_sklearn_with_ties():
    rng = np.random.default_rng(0)
    y = (rng.random((150, 4)) < 0.3).astype(float)
    s = np.round(np.clip(0.4 * y + 0.6 * rng.random((150, 4)), 0, 1), 1)  # many ties
    r = M.compute_multilabel_auc(y, s, list("abcd"))
    for j, lab in enumerate("abcd"):
        assert r["per_label"][lab]["auroc"] == pytest.approx(roc_auc_score(y[:, j], s[:, j]), abs=1e-12)
        assert r["per_label"][lab]["auprc"] == pytest.approx(average_precision_score(y[:, j], s[:, j]), abs=1e-12)
    roc = M.compute_roc_curves(y, s, list("abcd"))
    assert roc["a"]["auc"] == pytest.approx(roc_auc_score(y[:, 0], s[:, 0]))


def test_classification_summary_counts_missing_predictions_as_misses():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([0, -1, 1, 0, 2, 2, 1])
    r = M.compute_classification_summary(y, p, ["a", "b", "c"])
    assert r["accuracy"] == pytest.approx(4 / 7)
    assert r["f1_macro"] == pytest.approx(f1_score(y, p, labels=[0, 1, 2], average="macro", zero_division=0))
    assert r["f1_weighted"] == pytest.approx(f1_score(y, p, labels=[0, 1, 2], average="weighted", zero_division=0))
    assert np.isnan(M.compute_classification_summary([], [], ["a"])["accuracy"])


def test_bootstrap_cis_one_loop_equals_bootstrap_ci_per_value():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 90)
    p = np.where(rng.random(90) < 0.6, y, rng.integers(0, 3, 90))
    both = M.bootstrap_cis(lambda a, b: {"acc": M.compute_accuracy(a, b), "bal": M.compute_balanced_accuracy(a, b)},
                           y, p, n_boot=60, seed=3)
    assert both["acc"] == M.bootstrap_ci(M.compute_accuracy, y, p, n_boot=60, seed=3)
    assert both["bal"] == M.bootstrap_ci(M.compute_balanced_accuracy, y, p, n_boot=60, seed=3)


def test_head_cis_estimates_are_the_report_numbers():
    ls = load_label_space("hcnet_brain_mri")
    rng = np.random.default_rng(2)
    y = rng.integers(0, 4, 80)
    y[:3] = -1  # unknown truths are skipped
    prob = rng.dirichlet(np.ones(4), 80)
    rep = M.compute_report(None, {"disease": y}, {"disease": prob}, ls)["heads"]["disease"]
    cis = M.compute_head_cis("softmax", y, prob, ls.head("disease").labels, n_boot=40)
    for k in ("accuracy", "balanced_accuracy", "f1_macro", "f1_weighted", "g_mean"):
        assert cis[k]["estimate"] == pytest.approx(rep[k])
        assert cis[k]["n_boot"] == 40
    assert M.compute_head_cis("regression", y, prob, ["x"]) == {}


def test_cell_cases_at_collapsed_levels_add_up_to_the_matrix():
    ls = load_label_space("hcnet_brain_mri")
    labels = list(ls.head("disease").labels)
    rng = np.random.default_rng(4)
    y = rng.integers(-1, 4, 120)
    prob = rng.dirichlet(np.ones(4), 120)
    rep = M.compute_report(None, {"disease": y}, {"disease": prob}, ls)["heads"]["disease"]
    for level in ("category", "anatomy"):
        c = rep["confusion_matrix_collapsed"][level]
        for i, t in enumerate(c["labels"]):
            for j, p in enumerate(c["labels"]):
                cases = M.cell_cases(y, prob, labels, t, p, ls, level)
                assert len(cases) == c["matrix"][i][j]
                assert cases["prob"].is_monotonic_decreasing
    cm = rep["confusion_matrix"]
    assert sum(len(M.cell_cases(y, prob, labels, t, p)) for t in labels for p in labels) == np.sum(cm["matrix"])


def test_multilabel_failure_frames_rank_by_distance_from_threshold():
    y = np.array([[1, 0], [0, 0], [1, np.nan], [0, 1]], float)
    s = np.array([[0.2, 0.45], [0.9, 0.1], [0.58, 0.99], [0.4, 0.51]], float)
    err, unc = M.failure_frames("sigmoid", y, s, ["A", "B"], k=3)
    assert list(zip(err["row"], err["label"])) == [(1, "A"), (0, "A")]
    assert list(zip(unc["row"], unc["label"])) == [(3, "B"), (0, "B"), (2, "A")]
    assert set(err.columns) >= {"row", "label", "true", "pred", "prob"}


def test_default_label_cell_is_never_empty():
    y = np.array([[1, 0], [0, 0], [1, 1], [0, 1], [0, np.nan]], float)
    s = np.array([[0.9, 0.2], [0.7, 0.1], [0.3, 0.8], [0.95, 0.4], [0.1, 0.9]], float)
    assert M.default_label_cell(y, s, ["A", "B"]) == ("A", "false positives")  # A: 2 FP + 1 FN, B: 1 FN
    assert M.default_label_cell(y, s, ["A", "B"], "B") == ("B", "false negatives")
    right = np.array([[1.0], [0.0]])
    assert M.default_label_cell(right, np.array([[0.9], [0.1]]), ["C"]) == ("C", "true positives")
