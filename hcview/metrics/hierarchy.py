"""Hierarchy consistency of predictions."""
from __future__ import annotations

import numpy as np

from hcview.metrics._util import encode_labels


def compute_taxonomy_consistency(pred_anatomy, pred_category, pred_disease, label_space) -> dict:
    """taxonomy3: fraction of cases whose predicted disease lies under the predicted anatomy AND
    the predicted category. Predictions are head indices or names.

    Returns ``rate`` plus ``anatomy_rate`` / ``category_rate`` (each condition alone) and ``n``.
    """
    an = list(label_space.head("anatomy").labels)
    ca = list(label_space.head("category").labels)
    di = list(label_space.head("disease").labels)
    a, _ = encode_labels(pred_anatomy, an)
    c, _ = encode_labels(pred_category, ca)
    d, _ = encode_labels(pred_disease, di)
    parent = {dis: (an.index(pa), ca.index(pc)) for dis, pa, pc in label_space.tree}
    pa = np.array([parent[di[i]][0] for i in d], dtype=int)
    pc = np.array([parent[di[i]][1] for i in d], dtype=int)
    ok_a, ok_c = pa == a, pc == c
    n = int(d.size)
    f = (lambda m: float(m.mean()) if n else float("nan"))
    return {"rate": f(ok_a & ok_c), "anatomy_rate": f(ok_a), "category_rate": f(ok_c),
            "n": n, "n_inconsistent": int(np.sum(~(ok_a & ok_c)))}


def compute_edge_consistency(prob, edges, labels=None, threshold: float = 0.5) -> dict:
    """multilabel_tree: a case violates edge parent -> child when the child is positive
    (``p >= threshold``) and the parent negative (``p < threshold``).

    ``edges`` are (parent, child) pairs of label names (with ``labels``) or column indices.
    Returns ``rate`` (fraction of cases with no violated edge), ``n_cases_violating``,
    ``per_edge`` [{parent, child, violations, rate}] and ``n``.
    """
    p = np.asarray(prob, dtype=float)
    pos = p >= threshold
    names = list(labels) if labels is not None else [str(i) for i in range(p.shape[1])]
    idx = [((names.index(a) if isinstance(a, str) else int(a)),
            (names.index(b) if isinstance(b, str) else int(b))) for a, b in edges]
    n = p.shape[0]
    any_v = np.zeros(n, dtype=bool)
    per_edge = []
    for pi, ci in idx:
        v = pos[:, ci] & ~pos[:, pi]
        any_v |= v
        per_edge.append({"parent": names[pi], "child": names[ci], "violations": int(v.sum()),
                         "rate": float(v.mean()) if n else float("nan")})
    return {"rate": float(1.0 - any_v.mean()) if n else float("nan"),
            "n_cases_violating": int(any_v.sum()), "n": int(n), "threshold": threshold,
            "per_edge": per_edge}
