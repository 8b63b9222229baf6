"""``python -m hcview report``: one case as an HTML, a PDF and a JSON report (de-identified, strings escaped)."""
from __future__ import annotations

import json
from pathlib import Path

from hcview.cli.argtypes import float_range, int_range, non_negative_int, output_dir, probability, top_spec
from hcview.errors import InputError

EXPLAIN_METHODS = ("gradcam", "gradcam++", "eigencam", "lrp")  # = hcview.infer.predictor.METHODS (no torch import)
CMAPS = ("viridis", "inferno", "paper")  # = hcview.viz.case.CMAPS


def register(sub) -> None:
    p = sub.add_parser("report", help="write a case report (HTML, PDF, JSON): findings tree, MC bands, flags, heat "
                                      "maps, model version and card, reader feedback")
    p.add_argument("--model", required=True, help="model id (hcnet, cihmlc, medfusionnet, resmtnet)")
    p.add_argument("--variant", default="demo", choices=["demo", "paper"])
    p.add_argument("--input", required=True, help="image file (DICOM, PNG, JPEG)")
    p.add_argument("--frame", type=non_negative_int, default=0, help="frame of a multi-frame DICOM (0-based)")
    p.add_argument("--window", default=None, help="DICOM display window for the report's images (header, lung, "
                   "mediastinum, bone, brain or C,W); the model input never depends on it")
    p.add_argument("--records", help="records CSV (MedFusionNet: age/sex/view columns, free text in a report/text "
                   "column; missing ones are masked)")
    p.add_argument("--row", type=non_negative_int, default=0, help="row of --records to use (0-based)")
    p.add_argument("--mc", type=int_range(0, 1000), default=10, help="MC-dropout passes (0 = off)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--explain", default="gradcam,lrp", help="comma list of gradcam, gradcam++, eigencam, lrp "
                   "('' = no heat maps)")
    p.add_argument("--target", type=top_spec, default="default", help="what to explain: default (top of the most "
                   "specific level), topN, LABEL or head:LABEL (comma list)")
    p.add_argument("--threshold", type=float_range(0, 1, hi_open=True), default=0.5, help="heat-map threshold")
    p.add_argument("--alpha", type=probability, default=0.5, help="heat-map overlay opacity")
    p.add_argument("--cmap", default="viridis", choices=CMAPS, help="heat-map colour map (paper = CIHMLC's hot_r)")
    p.add_argument("--format", default="html,pdf,json", help="comma list of html, pdf, json")
    p.add_argument("--out", type=output_dir, default=None, help="folder for <case>.html/.pdf/.json (default: "
                   "reports/ in the current folder)")
    p.add_argument("--device", default=None)
    p.add_argument("--json", action="store_true", help="print one JSON object with the written paths")
    p.set_defaults(func=run)


def run(args) -> int:
    from hcview.data.io import load_image

    methods = [m.strip().lower() for m in args.explain.split(",") if m.strip()]
    for m in methods:
        if m not in EXPLAIN_METHODS:
            raise InputError(f"--explain: unknown method {m!r}; use {', '.join(EXPLAIN_METHODS)}")
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("html", "pdf", "json")]
    if bad or not formats:
        raise InputError(f"--format: use a comma list of html, pdf, json (got {args.format!r})")
    if Path(args.input).is_dir():
        raise InputError(f"--input {args.input}: is a folder; give one image file")
    window = None if args.window in (None, "header") else args.window
    load_image(args.input, frame=args.frame, window=window)  # a bad input is refused before torch and the model load

    from hcview.infer.predictor import get_predictor, read_record
    from hcview.report import make_case_report, write_reports

    record = read_record(args.records, args.row) if args.records else None
    pred = get_predictor(args.model, args.variant, args.device)
    if record is not None and "meta" not in pred.spec.inputs:
        raise InputError(f"--records is only used by models with clinical inputs; {args.model} takes images only")
    report = make_case_report(pred, args.input, frame=args.frame, window=window, mc=args.mc, methods=methods,
                              target=args.target, record=record, threshold=args.threshold, alpha=args.alpha,
                              cmap=args.cmap, seed=args.seed)
    out = Path(args.out) if args.out else Path("reports")
    written = write_reports(report, out, formats)
    flags = [k for k, v in report.data["flags"].items() if v]
    if args.json:
        print(json.dumps({"case": report.slug, "files": {k: str(v) for k, v in written.items()}, "flags": flags}))
        return 0
    for fmt, path in written.items():
        print(f"{fmt}: {path}")
    print("flags: " + (", ".join(flags) if flags else "none"))
    return 0
