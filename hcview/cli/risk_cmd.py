"""``python -m hcview risk --records CSV [--outcome Biopsy|all] [--top-n N] [--max-depth N]
[--min-samples-split N] [--seed N] [--score CSV] [--out DIR] [--json]``

Two-stage risk stratification (MedFusionNet paper) with held-out evaluation; see hcview.risk.stratify.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub):
    from hcview.cli import argtypes as A

    p = sub.add_parser("risk", help="two-stage risk stratification of tabular records (held-out evaluation)")
    p.add_argument("--records", required=True, metavar="CSV",
                   help="records CSV ('?' or blank = missing); 'bundled' = the project's UCI cervical table")
    p.add_argument("--outcome", default="all", help="Hinselmann, Schiller, Cytology (Citology), Biopsy, any 0/1 "
                                                   "column, or 'all' (default: all four UCI outcomes present)")
    p.add_argument("--top-n", type=A.positive_int, default=5)
    p.add_argument("--max-depth", type=A.int_range(1, 64), default=3)
    p.add_argument("--min-samples-split", type=A.int_range(2), default=20)
    p.add_argument("--seed", type=A.non_negative_int, default=0)
    p.add_argument("--test-size", type=A.fraction_open, default=0.25)
    p.add_argument("--tmin", type=A.finite_float, default=None, help="grid start for every feature (default: its minimum)")
    p.add_argument("--tmax", type=A.finite_float, default=None, help="grid end for every feature (default: its maximum)")
    p.add_argument("--dt", type=A.positive_float, default=None, help="grid step (default: span/50, whole for integer features)")
    p.add_argument("--bins", type=A.zero_or_at_least(2), default=10, help="quantile bins for continuous features; 0 = off")
    p.add_argument("--temporal", action="append", default=[], metavar="COLUMN",
                   help="a temporal column (forward-filled before median imputation); repeatable")
    p.add_argument("--cuts", default="prevalence",
                   help="risk cut points: 'prevalence' (default), 'tertiles', or 'C1,C2' e.g. 0.2,0.5")
    p.add_argument("--allow-outcome-features", action="store_true",
                   help="let the OTHER outcome columns be features (off: leakage guard)")
    p.add_argument("--score", metavar="CSV", help="assign risk levels to the records in this CSV")
    p.add_argument("--out", metavar="DIR", type=A.output_dir, help="write risk_<outcome>.json, stage1_<outcome>.csv (and scores.csv)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _parse_cuts(text: str):
    from hcview.errors import InputError

    t = text.strip().lower()
    if t in ("prevalence", "tertiles"):
        return t
    try:
        a, b = (float(x) for x in t.split(","))
    except ValueError:
        raise InputError(f"--cuts: expected 'prevalence', 'tertiles' or 'C1,C2', got {text!r}") from None
    return (a, b)


def _records_path(text: str) -> Path:
    from hcview.risk import bundled_records_path

    return bundled_records_path() if text == "bundled" else Path(text)


def run(args) -> int:
    import pandas as pd

    from hcview.errors import CsvError
    from hcview.io_utils import atomic_write, atomic_write_json
    from hcview.risk import OUTCOMES, assign_risk, read_records, stratify

    path = _records_path(args.records)
    df = read_records(path, name=path.name)
    kw = dict(top_n=args.top_n, tmin=args.tmin, tmax=args.tmax, dt=args.dt, max_depth=args.max_depth,
              min_samples_split=args.min_samples_split, seed=args.seed, test_size=args.test_size,
              bins=args.bins or None, temporal=args.temporal, allow_outcome_features=args.allow_outcome_features,
              cuts=_parse_cuts(args.cuts))
    if args.outcome.lower() == "all":
        outcomes = [o for o in OUTCOMES if o in df.columns]
        if not outcomes:
            raise CsvError(f"{path.name}: no outcome column found (expected any of {', '.join(OUTCOMES)}; "
                           "Citology also accepted)")
    else:
        outcomes = [args.outcome]
    results = {}
    for o in outcomes:
        r = stratify(df, o, **kw)
        results[r.outcome] = r

    scored = None
    if args.score:
        spath = _records_path(args.score)
        sdf = read_records(spath, name=spath.name)
        parts = []
        for name, r in results.items():
            s = assign_risk(r, sdf)
            parts.append(s.drop(columns=["leaf"]).add_prefix(f"{name}_"))
        scored = pd.concat(parts, axis=1)
        scored.index.name = "row"

    if args.out:
        out = Path(args.out)
        for name, r in results.items():
            atomic_write_json(out / f"risk_{name}.json", r.to_json())
            table = pd.DataFrame(r.stage1)
            atomic_write(out / f"stage1_{name}.csv", lambda f, t=table: t.to_csv(f, index=False), "w")
        if scored is not None:
            atomic_write(out / "scores.csv", lambda f: scored.to_csv(f), "w")

    if args.json:
        obj = {"records": str(path), "outcomes": {n: _summary(r) for n, r in results.items()}}
        if scored is not None:
            obj["score"] = {"records": args.score, "n": int(len(scored)),
                            "counts": {n: scored[f"{n}_risk_level"].value_counts().reindex(
                                ["low", "medium", "high"], fill_value=0).astype(int).to_dict() for n in results},
                            "rows": json.loads(scored.reset_index().to_json(orient="records"))}
        if args.out:
            obj["out"] = str(Path(args.out))
        print(json.dumps(obj, indent=2, default=_default))
        return 0

    _print_text(path, results, scored, args)
    return 0


def _default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(type(o).__name__)


def _summary(r) -> dict:
    """The per-outcome JSON block: selection, test metrics, risk counts, tree rules (full detail in --out)."""
    d = r.to_json(indices=False)
    keep = ("outcome", "outcome_column", "params", "n_rows", "n_dropped_missing_outcome", "prevalence_train",
            "selected", "test_metrics", "train_metrics", "risk_counts", "cuts", "tree_rules", "leaves", "split",
            "excluded", "notes")
    out = {k: d[k] for k in keep}
    out["selected"] = [{k: s[k] for k in ("feature", "threshold", "direction", "rule", "auc", "f1", "sensitivity",
                                          "specificity", "tmin", "tmax", "dt", "stump_threshold")}
                       for s in d["selected"]]
    return out


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _print_text(path, results, scored, args) -> None:
    w = sys.stdout.write
    w(f"records: {path}\n")
    for name, r in results.items():
        m, t = r.test_metrics, r.train_metrics
        w(f"\n== {name}" + (f" (column {r.outcome_column!r})" if r.outcome_column != name else "") +
          f": {r.n_rows} rows, train {len(r.train_index)} / test {len(r.test_index)}, "
          f"training prevalence {r.prevalence_train:.3f}\n")
        guard = "OFF (other outcomes allowed)" if r.params["allow_outcome_features"] else "on"
        w(f"leakage guard: {guard}; {len(r.features_considered)} features considered\n")
        w("stage 1 (training split): top features\n")
        w(f"  {'feature':<36}{'rule':<44}{'AUC':>7}{'F1':>7}\n")
        for s in r.stage1[: max(len(r.selected), 1)]:
            w(f"  {s['feature'][:35]:<36}{s['rule'][:43]:<44}{s['auc']:>7.3f}{s['f1']:>7.3f}\n")
        w("stage 2 tree:\n")
        for line in r.tree_rules.rstrip().splitlines():
            w(f"  {line}\n")
        w(f"held-out TEST ({m['n']} rows, {m['positives']} positive): AUROC {_fmt(m['auroc'])}  F1 {_fmt(m['f1'])}  "
          f"acc {_fmt(m['accuracy'])}  G-mean {_fmt(m['gmean'])}  sens {_fmt(m['sensitivity'])}  "
          f"spec {_fmt(m['specificity'])}\n")
        w(f"  (training split, optimistic: AUROC {_fmt(t['auroc'])}  F1 {_fmt(t['f1'])})\n")
        c = r.cuts
        w(f"risk levels ({c['mode']} cuts {c['c1']:.3f} / {c['c2']:.3f}), test: " +
          ", ".join(f"{k} {v}" for k, v in r.risk_counts["test"].items()) + "\n")
    if scored is not None:
        w(f"\nscored {len(scored)} record(s) from {args.score}\n")
        for name in results:
            vc = scored[f"{name}_risk_level"].value_counts()
            w(f"  {name}: " + ", ".join(f"{k} {int(vc.get(k, 0))}" for k in ("low", "medium", "high")) + "\n")
        if not args.out:
            w("  (use --out DIR to save every row to scores.csv)\n")
    if args.out:
        w(f"\nwrote {args.out}\n")
