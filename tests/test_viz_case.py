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
