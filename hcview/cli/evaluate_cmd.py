"""``python -m hcview evaluate``: metrics for a model on a dataset, or for prediction CSVs.

Two modes, exactly one of which is chosen:

- ``--predictions FILE.csv [--predictions FILE2.csv ...]``: multi-label AUROC/AUPRC for
  predictions made elsewhere (columns ``{label}_GT`` / ``{label}_Pred`` by default); several
  files are compared side by side with a Friedman test (labels as blocks) on per-label AUROC.
  With ``--truth T.csv --id-column NAME`` the truths come from a separate file, joined to each
  predictions file by ID; rows without a match are counted and reported (``join`` in the JSON).
- ``--model ID --data SPEC [--variant V] [--split test]``: run a hcview model on a dataset split
  (implemented by ``hcview.infer.evaluate.evaluate_model``).

``--out DIR`` writes ``metrics.json`` atomically; ``--json`` prints one JSON object.
"""
from __future__ import annotations

import json
import math


def register(sub):
    from hcview.cli import argtypes as A

    p = sub.add_parser("evaluate", help="evaluate a model on a dataset, or score prediction CSVs",
                       description=__doc__.split("\n\n")[0])
    src = p.add_argument_group("prediction files")
    src.add_argument("--predictions", action="append", metavar="FILE.csv", default=None,
                     help="predictions CSV made elsewhere; repeat to compare several files")
    src.add_argument("--truth-pattern", default="{label}_GT", metavar="PATTERN",
                     help="truth column name pattern (default '{label}_GT')")
    src.add_argument("--score-pattern", default="{label}_Pred", metavar="PATTERN",
                     help="score column name pattern (default '{label}_Pred')")
    src.add_argument("--truth", metavar="T.csv",
                     help="truth CSV joined to every predictions file by --id-column (truth columns there)")
    src.add_argument("--id-column", metavar="NAME", help="the ID column both --predictions and --truth hold")
    src.add_argument("--published", metavar="AUCS.csv",
                     help="a peer's published per-label AUROCs (columns label, auc): shown next to the reproduced "
                          "ones, with the difference (one predictions file)")
    src.add_argument("--labels", metavar="A,B,...",
                     help="comma-separated labels (default: every label with both columns)")
    src.add_argument("--bootstrap", type=A.int_range(0, 100_000), default=0, metavar="N",
                     help="bootstrap resamples for a 95%% CI of the mean AUROC, or with --model of each softmax "
                          "head's accuracy (default 0: none)")
    mod = p.add_argument_group("model evaluation")
    mod.add_argument("--model", metavar="ID", help="registry model id to evaluate")
    mod.add_argument("--variant", default="demo", help="model variant (default demo)")
    mod.add_argument("--data", metavar="SPEC", help="dataset spec for --model")
    mod.add_argument("--split", default="test", help="dataset split (default test)")
    mod.add_argument("--ablate", metavar="INPUT[,INPUT]", default=None,
                     help="score the model with and without these optional inputs (meta, text): mean AUROC of each "
                          "and a paired bootstrap 95%% CI of the difference")
    mod.add_argument("--store", action="store_true", help="with --ablate: record the result in the active model card")
    p.add_argument("--out", metavar="DIR", type=A.output_dir, help="also write DIR/metrics.json")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    from hcview.errors import InputError

    has_model = bool(args.model)
    has_pred = bool(args.predictions)
    if has_model == has_pred:
        raise InputError("give exactly one of --model ID (with --data) or --predictions FILE.csv")
    if args.bootstrap < 0:
        raise InputError("--bootstrap must be 0 or a positive number of resamples")
    if bool(args.truth) != bool(args.id_column):
        raise InputError("--truth T.csv and --id-column NAME go together (the truth file joined by ID)")
    if has_model:
        if args.truth or args.published:
            raise InputError("--truth and --published are for --predictions files, not for --model")
        if args.ablate:
            return run_ablation(args)
        if not args.data:
            raise InputError("--model needs --data SPEC (the dataset to evaluate on)")
        from hcview.infer.evaluate import evaluate_model

        result = evaluate_model(args.model, args.variant, args.data, args.split, args.out,
                                **({"n_boot": args.bootstrap} if args.bootstrap else {}))
        _emit(result, args, written_by_evaluator=True)
        return 0

    from hcview.metrics.external import evaluate_files

    labels = [x.strip() for x in args.labels.split(",") if x.strip()] if args.labels else None
    if args.labels is not None and not labels:
        raise InputError("--labels is empty")
    result = evaluate_files(args.predictions, args.truth_pattern, args.score_pattern, labels,
                            n_boot=args.bootstrap, truth=args.truth, id_column=args.id_column)
    if len(result["model_order"]) == 1:  # one file: its own record ({file, labels, summary})
        result = result["models"][result["model_order"][0]]
    if args.published is not None:
        from hcview.metrics.external import compare_to_published, load_published

        if not args.published.strip():
            raise InputError("--published is empty: give the CSV of a peer's per-label AUROCs")
        if "models" in result:
            raise InputError("--published compares one predictions file with a peer's figures; give one file")
        pub = result["published"] = compare_to_published(result["labels"], load_published(args.published))
        if not pub["labels_compared"]:
            why = (f"; {', '.join(pub['undefined_here'][:6])} have no AUROC on these files (one class only)"
                   if pub["undefined_here"] else "")
            raise InputError(f"no label of {args.published} has a reproduced AUROC to compare with "
                             f"(scored: {', '.join(list(result['labels'])[:6])}){why}")
    _emit(result, args)
    return 0


def _emit(result: dict, args, written_by_evaluator: bool = False) -> None:
    from pathlib import Path

    from hcview.io_utils import atomic_write_json
    from hcview.metrics._util import nan_to_none

    result = nan_to_none(result)
    if args.out and not (written_by_evaluator and (Path(args.out) / "metrics.json").exists()):
        atomic_write_json(Path(args.out) / "metrics.json", result)
    if args.json:
        print(json.dumps(result, indent=2, allow_nan=False))
        return
    if "models" in result and "friedman" in result:
        _print_comparison(result)
    elif isinstance(result.get("labels"), dict):
        _print_single(result)
    else:
        print(json.dumps(result.get("summary", result), indent=2))
    if result.get("published"):
        _print_published(result["published"])
    for name, rec in (result.get("models") or {"": result}).items():
        if rec.get("join"):
            print(_join_text(rec["join"], name))
    if args.out:
        print(f"wrote {Path(args.out) / 'metrics.json'}")


def _print_published(pub: dict) -> None:
    per = pub["per_label"]
    w = max([len("label")] + [len(k) for k in per]) + 2
    print(f"\n{'label':<{w}}{'published':>10}{'reproduced':>11}{'difference':>11}")
    for lab, r in per.items():
        print(f"{lab:<{w}}{r['published']:>10.4f}{r['reproduced']:>11.4f}{round(r['difference'], 4) + 0.0:>+11.4f}")
    print(f"{pub['labels_compared']} labels compared: largest |difference| {pub['max_abs_difference']:.4f}, "
          f"median {pub['median_abs_difference']:.4f}")
    for what, labs in (("published only (not scored)", pub["published_only"]),
                       ("scored only (no published figure)", pub["reproduced_only"]),
                       ("published, but no AUROC on these files (one class only)", pub.get("undefined_here", []))):
        if labs:
            print(f"{what}: {', '.join(labs)}")


def _join_text(j: dict, name: str = "") -> str:
    return (f"{name + ': ' if name else ''}joined on {j['id_column']!r}: {j['matched']} rows matched; "
            f"{j['predictions_without_truth']} prediction rows without truth, "
            f"{j['truth_without_predictions']} truth rows without predictions (not scored)")


def _f(v, nd=3) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{nd}f}"


def _print_single(res: dict) -> None:
    labels = res["labels"]
    w = max([len("label")] + [len(k) for k in labels]) + 2
    print(f"{'label':<{w}}{'AUROC':>8}{'AUPRC':>8}{'pos':>7}{'n':>7}  note")
    for lab, r in labels.items():
        print(f"{lab:<{w}}{_f(r.get('auroc')):>8}{_f(r.get('auprc')):>8}{r.get('support', 0):>7}"
              f"{r.get('n', 0):>7}  {r.get('reason') or ''}")
    s = res.get("summary", {})
    print(f"mean AUROC {_f(s.get('mean_auroc'))}  weighted AUROC {_f(s.get('weighted_auroc'))}  "
          f"mean AUPRC {_f(s.get('mean_auprc'))}  cases {s.get('n_cases')}")
    ci = s.get("mean_auroc_ci")
    if ci:
        print(f"mean AUROC 95% CI [{_f(ci.get('low'))}, {_f(ci.get('high'))}] ({ci.get('n_valid')} resamples)")


def _print_comparison(res: dict) -> None:
    names = res["model_order"]
    w = max([len("label")] + [len(k) for k in res["labels"]]) + 2
    cw = max(10, *(len(n) + 2 for n in names))
    print(f"AUROC per label{'':<{max(0, w - 15)}}" + "".join(f"{n:>{cw}}" for n in names))
    for lab, per in res["labels"].items():
        print(f"{lab:<{w}}" + "".join(f"{_f(per[n]['auroc']):>{cw}}" for n in names))
    print(f"{'mean AUROC':<{w}}" + "".join(f"{_f(res['summary'][n]['mean_auroc']):>{cw}}" for n in names))
    fr = res["friedman"]
    mr = fr.get("mean_ranks") or {}
    print(f"{'mean rank':<{w}}" + "".join(f"{_f(mr.get(n), 2):>{cw}}" for n in names))
    if fr.get("statistic") is None:
        print(f"Friedman test: not computed ({fr.get('reason')})")
    else:
        print(f"Friedman test over {fr['n_blocks']} labels: chi2 = {_f(fr['statistic'])}, "
              f"p = {fr['p_value']:.4g} (rank 1 = best)")


def run_ablation(args) -> int:
    import json

    from hcview.infer.input_ablation import input_ablation

    drop = tuple(x.strip() for x in args.ablate.split(",") if x.strip())
    r = input_ablation(args.model, args.variant, args.data, args.split, drop, n_boot=max(args.bootstrap, 1000))
    if args.store:
        from hcview.io_utils import atomic_write_json
        from hcview.models.checkpoint import card_path, find_checkpoint, read_card

        path = find_checkpoint(args.model, args.variant)
        card = read_card(path)
        if card.get("sha256") != r["checkpoint_sha256"]:
            from hcview.errors import InputError

            raise InputError("the active version changed while the ablation ran: not stored")
        card["input_ablation"] = r
        atomic_write_json(card_path(path), card)
    if args.json:
        print(json.dumps(r, default=float))
    else:
        print(f"{r['model']}/{r['variant']} on {r['data']} ({r['split']}, {r['n_cases']} cases): {r['metric']} "
              f"{r['with_all_inputs']:.3f} with all inputs, {r['without']:.3f} without {'+'.join(r['dropped'])}; "
              f"difference {r['difference']:+.3f} [95% CI {r['ci_low']:+.3f}, {r['ci_high']:+.3f}]")
    return 0
