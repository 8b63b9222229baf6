"""hcview.viz builds plotly/altair figures with the right traces and category order."""
import altair as alt
import numpy as np
import plotly.graph_objects as go
import pytest

from hcview import metrics as M
from hcview import viz as V
from hcview.models.labels import load_label_space


@pytest.fixture(scope="module")
def paper_cm():
    ls = load_label_space("hcnet_paper")
    rng = np.random.default_rng(0)
    heads = list(ls.head("disease").labels)
    y = rng.integers(0, 40, 800)
    p = np.where(rng.random(800) < 0.8, y, rng.integers(0, 40, 800))
    cm, order = M.compute_confusion_matrix(y, p, heads, order=ls.disease_order())
    return ls, cm, order, y, p


def test_no_streamlit_import():
    import hcview.metrics as mpkg
    import hcview.viz as pkg
    from pathlib import Path
    for d in (pkg, mpkg):
        for f in Path(d.__file__).parent.glob("*.py"):
            text = f.read_text()
            assert "import streamlit" not in text and "from streamlit" not in text, f


def test_confusion_heatmap_40x40_taxonomy_order(paper_cm):
    ls, cm, order, _, _ = paper_cm
    fig = V.confusion_heatmap(cm, order, ls)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    hm = fig.data[0]
    assert list(hm.x) == ls.disease_order() and list(hm.y) == ls.disease_order()
    assert list(fig.layout.xaxis.categoryarray) == ls.disease_order()
    assert np.asarray(hm.z).shape == (40, 40)
    assert "count" in hm.hovertemplate and "row" in hm.hovertemplate
    # 3 anatomy boundaries (solid) + 4 extra category boundaries, each drawn on both axes
    solid = [s for s in fig.layout.shapes if s.line.dash == "solid"]
    dotted = [s for s in fig.layout.shapes if s.line.dash == "dot"]
    assert len(solid) == 6 and len(dotted) == 14
    texts = [a.text for a in fig.layout.annotations]
    assert all(a in texts for a in ls.head("anatomy").labels)
    fig.to_json()


def test_confusion_heatmap_normalised_rows(paper_cm):
    ls, cm, order, _, _ = paper_cm
    fig = V.confusion_heatmap(cm, order, ls, normalize=True)
    z = np.asarray(fig.data[0].z, dtype=float)
    nz = cm.sum(axis=1) > 0
    assert np.allclose(z[nz].sum(axis=1), 100.0)


def test_hierarchical_figures(paper_cm):
    ls, cm, order, _, _ = paper_cm
    figs = V.hierarchical_confusion_figures(cm, order, ls)
    assert len(figs["category"].data[0].x) == 8
    assert list(figs["anatomy"].data[0].x) == list(ls.head("anatomy").labels)
    assert np.asarray(figs["anatomy"].data[0].z).sum() == cm.sum()


def test_per_class_table_and_figures(paper_cm):
    ls, cm, order, y, p = paper_cm
    heads = list(ls.head("disease").labels)
    df = V.per_class_table(y, p, heads, ls)
    assert list(df["class"]) == ls.disease_order()
    assert {"anatomy", "category", "precision", "recall", "f1", "support", "accuracy"} <= set(df.columns)
    srt = df.sort_values("accuracy")
    assert srt["accuracy"].is_monotonic_increasing
    fig = V.per_class_table_figure(df, sort_by="support", ascending=False)
    assert isinstance(fig.data[0], go.Table) and len(fig.data[0].cells.values[0]) == 40
    rows = M.compute_classification(y, p, heads)["per_class"]
    df2 = V.per_class_table(rows=rows, label_space=ls)
    assert list(df2["class"]) == ls.disease_order()
    chart = V.per_class_bar_chart(df)
    assert isinstance(chart, alt.Chart)
    chart.to_dict()


def test_roc_pr_curves():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, (100, 4)).astype(float)
    y[:, 3] = 1
    s = y * 0.3 + rng.random((100, 4))
    fig = V.roc_curves(y, s, ["a", "b", "c", "d"])
    assert len(fig.data) == 4  # 3 defined labels + chance line
    from sklearn.metrics import roc_auc_score
    assert fig.data[0].name == f"a (AUC {roc_auc_score(y[:, 0], s[:, 0]):.3f})"
    pr = V.pr_curves(y, s, ["a", "b", "c", "d"])
    assert len(pr.data) == 3 and "AP" in pr.data[1].name


def test_reliability_diagram():
    y = np.array([0, 1, 1, 1])
    p = np.array([0.2, 0.4, 0.6, 0.8])
    fig = V.reliability_diagram(y, p, n_bins=2)
    assert "ECE 0.250" in fig.layout.title.text
    assert len(fig.data) == 4
    rel = M.compute_reliability(y, p, 5)
    fig2 = V.reliability_diagram(reliability=rel)
    assert len(fig2.data[0].x) == 5


def test_support_accuracy_scatter():
    s = [10, 20, 30, 40, 50]
    a = [0.5, 0.6, 0.55, 0.8, 0.9]
    fig = V.support_accuracy_scatter(s, a, list("abcde"), groups=["x", "x", "y", "y", "y"])
    r = M.pearson(s, a)["r"]
    assert f"r = {r:.2f}" in fig.layout.title.text
    assert len(fig.data) == 3  # two groups + fit line


def test_fourteen_roc_curves_get_fourteen_colours_and_a_legend_that_fits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, (200, 14))
    s = rng.random((200, 14)) + 0.3 * y
    fig = V.roc_curves(y, s, [f"L{i}" for i in range(14)])
    colours = [tr.line.color for tr in fig.data if tr.name != "chance"]
    assert len(colours) == 14 and len(set(colours)) == 14
    assert fig.layout.legend.font.size >= 12 and fig.layout.height >= 24 * 15 + 140
