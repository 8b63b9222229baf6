"""``python -m hcview risk --records CSV [--outcome Biopsy|all] [--folds 5] [--repeats 5] [--top-n N]
[--score CSV] [--out DIR] [--json]``

Two-stage risk stratification (MedFusionNet paper) evaluated by repeated stratified k-fold CV, beside logistic
regression, random forest and a plain tree in the same folds; see hcview.risk.stratify.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def register(sub):
    from hcview.cli import argtypes as A

    p = sub.add_parser("risk", help="two-stage risk stratification of tabular records (cross-validated, "
                                    "with baselines)")
    p.add_argument("--records", required=True, metavar="CSV",
                   help="records CSV ('?' or blank = missing); 'bundled' = the project's UCI cervical table")
    p.add_argument("--outcome", default="all", help="Hinselmann, Schiller, Cytology (Citology), Biopsy, any 0/1 "
                                                   "column, or 'all' (default: all four UCI outcomes present)")
    p.add_argument("--folds", type=A.int_range(2, 20), default=5, help="CV folds, stratified on the outcome (default 5)")
    p.add_argument("--repeats", type=A.int_range(1, 100), default=5,
                   help="CV repeats with different fold splits (default 5)")
    p.add_argument("--seed", type=A.non_negative_int, default=0)
    p.add_argument("--top-n", type=A.positive_int, default=8, help="features kept by the univariate stage (default 8)")
    p.add_argument("--max-depth", type=A.int_range(1, 64), default=None, help="fix the tree depth (default: tuned by inner CV)")
    p.add_argument("--min-samples-split", type=A.int_range(2), default=None,
                   help="fix the tree's min samples per split (default: tuned by inner CV)")
    p.add_argument("--depth-grid", default="2,3,4,5", metavar="LIST", help="depths tried by the inner CV")
    p.add_argument("--min-split-grid", default="20,40,80,160", metavar="LIST",
                   help="min samples per split tried by the inner CV")
    p.add_argument("--inner-folds", type=A.int_range(2, 20), default=3, help="inner CV folds for tuning and calibration")
    p.add_argument("--cuts", default="tertiles",
                   help="risk level cut points: 'tertiles' (default, of the training rows' risk, per fold) or "
                        "'C1,C2' fixed probabilities e.g. 0.05,0.15")
    p.add_argument("--calibration", default="sigmoid", choices=["sigmoid", "isotonic"],
                   help="probability calibration inside each training fold (default sigmoid = Platt)")
    p.add_argument("--test-size", type=A.float_range(0, 1, hi_open=True, what="a fraction in [0, 1)"), default=0.25,
                   help="secondary single hold-out split fraction (0 = none)")
    p.add_argument("--tmin", type=A.finite_float, default=None, help="grid start for every feature (default: its minimum)")
    p.add_argument("--tmax", type=A.finite_float, default=None, help="grid end for every feature (default: its maximum)")
    p.add_argument("--dt", type=A.positive_float, default=None, help="grid step (default: span/50, whole for integer features)")
    p.add_argument("--bins", type=A.zero_or_at_least(2), default=0,
                   help="quantile bins for continuous features (default 0 = off)")
    p.add_argument("--temporal", action="append", default=[], metavar="COLUMN",
                   help="a temporal column (forward-filled before median imputation); repeatable")
    p.add_argument("--exclude", action="append", default=[], metavar="COLUMN",
                   help="a column never to use as a feature; repeatable")
    p.add_argument("--allow-outcome-features", action="store_true",
                   help="let the OTHER outcome columns (screening tests) be features (off: leakage guard)")
    p.add_argument("--no-baselines", action="store_true", help="skip the baseline models")
    p.add_argument("--score", metavar="CSV", help="assign risk levels to the records in this CSV (model in use)")
    p.add_argument("--out", metavar="DIR", type=A.output_dir,
                   help="write risk_<outcome>.json, cv_<outcome>.csv, rows_<outcome>.csv, stage1_<outcome>.csv "
                        "(and scores.csv)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def _parse_cuts(text: str):
    from hcview.errors import InputError

    t = text.strip().lower()
    if t == "tertiles":
        return t
    try:
        a, b = (float(x) for x in t.split(","))
    except ValueError:
        raise InputError(f"--cuts: expected 'tertiles' or 'C1,C2', got {text!r}") from None
    return (a, b)


def _parse_ints(text: str, flag: str) -> tuple[int, ...]:
    from hcview.errors import InputError

    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise InputError(f"{flag}: expected whole numbers separated by commas, got {text!r}") from None
    if not vals:
        raise InputError(f"{flag}: give at least one value")
    return vals


def _records_path(text: str) -> Path:
    from hcview.risk import bundled_records_path

    return bundled_records_path() if text == "bundled" else Path(text)


def run(args) -> int:
    import pandas as pd

    from hcview.errors import CsvError
    from hcview.io_utils import atomic_write_json, atomic_write_safe_csv
    from hcview.risk import OUTCOMES, assign_risk, read_records, stratify
    from hcview.risk.records import column_key

    path = _records_path(args.records)
    df = read_records(path, name=path.name)
    kw = dict(top_n=args.top_n, folds=args.folds, repeats=args.repeats, seed=args.seed, test_size=args.test_size,
              tmin=args.tmin, tmax=args.tmax, dt=args.dt, bins=args.bins or None, temporal=args.temporal,
              exclude=args.exclude, allow_outcome_features=args.allow_outcome_features, cuts=_parse_cuts(args.cuts),
              calibration=args.calibration, max_depth=args.max_depth, min_samples_split=args.min_samples_split,
              depth_grid=_parse_ints(args.depth_grid, "--depth-grid"),
              min_split_grid=_parse_ints(args.min_split_grid, "--min-split-grid"), inner_folds=args.inner_folds,
              baselines=not args.no_baselines)
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
            safe = column_key(name).replace(" ", "_").replace("/", "_")
            atomic_write_json(out / f"risk_{safe}.json", r.to_json(rows=True, folds=True))
            atomic_write_safe_csv(out / f"stage1_{safe}.csv", pd.DataFrame(r.stage1), index=False)
            atomic_write_safe_csv(out / f"rows_{safe}.csv", r.rows())
            atomic_write_safe_csv(out / f"cv_{safe}.csv", _fold_table(r), index=False)
        if scored is not None:
            atomic_write_safe_csv(out / "scores.csv", scored)

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


def _fold_table(r):
    """One row per (model, repeat, fold) with every metric: what the CIs are computed from."""
    import pandas as pd

    from hcview.risk.evaluation import METRICS

    rows = []
    for model, folds in r.cv.per_fold.items():
        for f in folds:
            rows.append({"model": model, "repeat": f["repeat"], "fold": f["fold"], "n": f["n"],
                         "positives": f["positives"], **{m: f.get(m) for m in METRICS}})
    return pd.DataFrame(rows)


def _summary(r) -> dict:
    """The per-outcome JSON block (full detail, with per-fold values and the stage-1 table, in --out)."""
    d = r.to_json(rows=True, folds=False)
    keep = ("outcome", "outcome_column", "n_rows", "n_used", "n_dropped_missing_outcome", "positives", "prevalence",
            "params", "evaluation", "cv_metrics", "baselines", "baseline_descriptions", "selected", "levels",
            "warnings",
            "tuning", "calibration", "tree_rules", "leaves", "excluded", "holdout", "notes", "rows")
    out = {k: d[k] for k in keep}
    out["tuning"] = {k: v for k, v in d["tuning"].items() if k != "grid"}
    return out


def _print_text(path, results, scored, args) -> None:
    from hcview.risk.evaluation import METRIC_LABELS, METRICS
    from hcview.text import mean_ci_text

    w = sys.stdout.write
    w(f"records: {path}\n")
    for name, r in results.items():
        cv = r.cv
        w(f"\n== {name}" + (f" (column {r.outcome_column!r})" if r.outcome_column != name else "") +
          f": {r.n_rows} rows, {r.positives} positive (prevalence {r.prevalence:.3f})" +
          (f", {r.n_dropped} without an outcome value dropped" if r.n_dropped else "") + "\n")
        by_reason: dict[str, list[str]] = {}
        for c, why in r.excluded.items():
            if "outcome" in why:
                by_reason.setdefault(why, []).append(c)
        other = [c for c, why in r.excluded.items() if "outcome" not in why]
        w("leakage guard: on; excluded: " + ("; ".join(f"{', '.join(cs)} ({why})" for why, cs in by_reason.items())
                                             or "none") + "\n")
        if r.params["allow_outcome_features"]:
            w("  (other outcome columns allowed as features: circular for screening tests)\n")
        if other:
            w(f"  also not used: {', '.join(f'{c} ({r.excluded[c]})' for c in other)}\n")
        w(f"{len(r.features_considered)} features considered\n")
        w(f"{cv.repeats} repeats x {cv.folds} folds stratified CV (folds stratified on {name}; every step refitted in "
          f"each training fold), mean [95% CI] over {cv.repeats * cv.folds} folds, {cv.seconds:.1f} s:\n")
        models = ["two_stage"] + cv.baselines
        labels = {"two_stage": "two-stage", "logistic": "logistic", "random_forest": "random forest",
                  "tree": "tree (depth 3)"}
        w(f"  {'':<18}" + "".join(f"{labels[m]:<22}" for m in models) + "\n")
        for met in METRICS:
            w(f"  {METRIC_LABELS[met]:<18}" + "".join(f"{mean_ci_text(cv.summary[m][met]):<22}" for m in models) + "\n")
        lv = r.levels()
        w(f"risk levels ({lv['mode']}; cut points of the model in use: low if p <= {lv['c1']:.3f}, high if p >= "
          f"{lv['c2']:.3f}, calibrated p):\n")
        w("  out-of-fold counts (repeat 1): " + ", ".join(f"{k} {v}" for k, v in lv["counts"].items()) + "\n")
        w("  observed positive rate (all test folds): " +
          ", ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in lv["positive_rate"].items()) + "\n")
        for line in r.warnings():
            w(f"  warning: {line}\n")
        t = r.model.tuning_
        w(f"model in use (fitted on all {r.n_rows - r.n_dropped} rows; tree tuned by inner {t['inner_folds']}-fold "
          f"CV, {t['rule']} rule: max depth {t['max_depth']}, min samples per split {t['min_samples_split']}; "
          f"{r.model.calibrator_.describe()}):\n")
        w(f"  {'selected feature':<36}{'rule':<44}{'AUC':>7}{'F1':>7}  in folds\n")
        for s in r.selected_table():
            w(f"  {s['feature'][:35]:<36}{s['rule'][:43]:<44}{s['auc']:>7.3f}{s['f1']:>7.3f}  "
              f"{s['selected_in_folds']}\n")
        for line in r.tree_rules.rstrip().splitlines():
            w(f"  {line}\n")
        if r.holdout:
            h = r.holdout
            auc = "n/a" if h["auroc"] is None else f"{h['auroc']:.3f}"
            w(f"secondary, single hold-out split ({h['n']} rows, {h['positives']} positive; noisy): AUROC {auc}\n")
    if scored is not None:
        w(f"\nscored {len(scored)} record(s) from {args.score} with the model in use\n")
        for name in results:
            vc = scored[f"{name}_risk_level"].value_counts()
            w(f"  {name}: " + ", ".join(f"{k} {int(vc.get(k, 0))}" for k in ("low", "medium", "high")) + "\n")
        if not args.out:
            w("  (use --out DIR to save every row to scores.csv)\n")
    if args.out:
        w(f"\nwrote {args.out}\n")
