"""``python -m hcview predict``: one case through a model, with MC dropout and heat maps."""
from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

from hcview.cli.argtypes import int_range, non_negative_int, output_dir, probability, float_range, top_spec
from hcview.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("predict", help="predict one image (DICOM/PNG/JPEG) with MC dropout and heat maps, or many "
                                       "images/folders into one CSV (--csv)")
    p.add_argument("--model", required=True, help="model id (hcnet, cihmlc, medfusionnet, resmtnet)")
    p.add_argument("--variant", default="demo", choices=["demo", "paper"])
    p.add_argument("--input", required=True, action="append",
                   help="image file (DICOM, PNG, JPEG) or, with --csv, a folder (read recursively); repeatable")
    p.add_argument("--csv", metavar="OUT.csv", help="batch mode: one row per image (path, ood, ood_score, uncertain, "
                   "p:<level>:<label>, sd:<level>:<label> with --mc, error)")
    p.add_argument("--window", default=None, help="DICOM display window for the rendered images (header, lung, "
                   "mediastinum, bone, brain or C,W); the model input never depends on it")
    p.add_argument("--batch-size", type=int, default=16, help="batch mode: images per forward pass")
    p.add_argument("--records", help="records CSV (MedFusionNet: age/sex/view columns; missing ones are masked)")
    p.add_argument("--row", type=non_negative_int, default=0, help="row of --records to use (0-based)")
    p.add_argument("--mc", type=int_range(0, 1000), default=10, help="MC-dropout passes (0 = off)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--explain", default="", help="comma list of gradcam, gradcam++, eigencam, lrp")
    p.add_argument("--target", type=top_spec, default="top3", help="LABEL, head:LABEL, topN, default (top of the "
                   "most specific level) or all")
    p.add_argument("--threshold", type=float_range(0, 1, hi_open=True), default=0.5, help="heat-map clip threshold")
    p.add_argument("--alpha", type=probability, default=0.7, help="heat-map overlay alpha")
    p.add_argument("--out", type=output_dir, help="folder for heat-map PNGs (default: a new temp folder)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


EXPLAIN_METHODS = ("gradcam", "gradcam++", "eigencam", "lrp")  # = hcview.infer.predictor.METHODS (no torch import)


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_")[:60] or "label"


def run(args) -> int:
    from hcview.data.io import load_image

    methods = [m.strip().lower() for m in args.explain.split(",") if m.strip()]
    for m in methods:
        if m not in EXPLAIN_METHODS:
            raise InputError(f"--explain: unknown method {m!r}; use {', '.join(EXPLAIN_METHODS)}")
    if args.mc < 0:
        raise InputError("--mc must be >= 0")
    if not 0 <= args.threshold < 1 or not 0 <= args.alpha <= 1:
        raise InputError("--threshold must be in [0, 1) and --alpha in [0, 1]")
    if args.csv:
        return run_batch(args)
    if len(args.input) > 1 or Path(args.input[0]).is_dir():
        raise InputError("several inputs or a folder need --csv OUT.csv (batch mode)")
    window = None if args.window in (None, "header") else args.window
    loaded = load_image(args.input[0], window=window)  # a bad input is refused before torch and the model are loaded

    from hcview.explain.render import panel_title, render_panel
    from hcview.infer.predictor import get_predictor, read_record
    from hcview.io_utils import atomic_write_bytes

    record = read_record(args.records, args.row) if args.records else None
    pred = get_predictor(args.model, args.variant, args.device)
    loaded = pred.load(loaded)
    if record is not None and "meta" not in pred.spec.inputs:
        raise InputError(f"--records is only used by models with clinical inputs; {args.model} takes images only")
    res = pred.predict(loaded, record=record, mc=args.mc, seed=args.seed)
    out = res.to_json()
    heatmaps = []
    if methods:
        out_dir = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="hcview-predict-"))
        out_dir.mkdir(parents=True, exist_ok=True)
        for m in pred.explain(res, methods, args.target):
            sd = res.sd_of(m["head"], m["index"])
            title = panel_title(m["label"], res.mean_of(m["head"], m["index"]), sd)
            note = "approximate LRP" if m["approximate"] else None
            png = render_panel(loaded.array, m["map"], title, args.threshold, args.alpha, note)
            path = out_dir / f"{args.model}_{m['method']}_{_slug(m['head'])}_{_slug(m['label'])}.png"
            atomic_write_bytes(path, png)
            h = {"label": m["label"], "level": m["head"], "method": m["method"], "path": str(path),
                 "approximate": bool(m["approximate"])}
            if "conservation" in m:
                h["conservation"] = m["conservation"]
            heatmaps.append(h)
    out["heatmaps"] = heatmaps
    out["input"] = {"name": loaded.name, "kind": loaded.kind, "shape": list(loaded.array.shape)}
    if args.json:
        print(json.dumps(out, default=float))
        return 0
    f = out["flags"]
    print(f"{out['model']}/{out['variant']}  input {loaded.name} ({loaded.kind}, {loaded.array.shape[1]}x{loaded.array.shape[0]})")
    if f["untrained"]:
        print("  UNTRAINED model: outputs are meaningless")
    for o in sorted(out["outputs"], key=lambda o: -o["prob"])[:10]:
        band = f"  mc {o['mc_mean']:.3f} ± {o['mc_std']:.3f} [{o['ci_low']:.3f}, {o['ci_high']:.3f}]" if o["mc_mean"] is not None else ""
        print(f"  {o['level']:>10} {o['label']:<28} p={o['prob']:.3f}{band}{'  uncertain - review' if o['uncertain'] else ''}")
    if "regression" in out:
        r = out["regression"]
        print(f"  nodule x={r['x_px']:.0f}px y={r['y_px']:.0f}px size={r['size_mm']:.1f} mm ({r['size_px']:.0f}px)")
    for msg in out.get("inconsistencies", []):
        print(f"  inconsistent: {msg}")
    print("  flags: " + ", ".join(k for k, v in f.items() if v) if any(f.values()) else "  flags: none")
    for h in heatmaps:
        print(f"  heat map {h['method']} {h['label']}: {h['path']}" + (" (approximate)" if h["approximate"] else ""))
    sys.stdout.flush()
    return 0


def run_batch(args) -> int:
    from hcview.infer.batch import collect_files, predict_files
    from hcview.infer.predictor import get_predictor
    from hcview.io_utils import atomic_write_safe_csv

    if args.explain or args.records:
        raise InputError("--csv (batch mode) takes neither --explain nor --records")
    if args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    out = Path(args.csv)
    if out.is_dir():
        raise InputError(f"--csv {out} is a folder; give a file name")
    files = collect_files(args.input)
    pred = get_predictor(args.model, args.variant, args.device)
    df = predict_files(pred, files, mc=args.mc, seed=args.seed, batch_size=args.batch_size)
    atomic_write_safe_csv(out, df, index=False)
    bad = int((df["error"] != "").sum())
    flagged = int(df["ood"].fillna(0).sum())
    summary = {"csv": str(out), "images": len(df), "errors": bad, "ood": flagged,
               "uncertain": int(df["uncertain"].fillna(0).sum())}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{len(df)} images -> {out}: {flagged} flagged out of distribution, {summary['uncertain']} uncertain, "
              f"{bad} unreadable")
    return 0
