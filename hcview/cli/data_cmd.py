"""``python -m hcview data check PATH``: say what an image, DICOM, CSV or dataset root holds.
``python -m hcview data deid IN OUT``: write de-identified DICOM(s), pixels unchanged."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from hcview.cli.argtypes import window_spec
from hcview.errors import DatasetError, InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="inspect images, DICOMs, CSVs and dataset roots")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    c = sub.add_parser("check", help="check an image / DICOM / CSV / dataset folder and print what it holds")
    c.add_argument("path", help="file or folder; or a data spec such as sample:nih or nih:/data/NIH")
    c.add_argument("--adapter", choices=["auto", "nih", "chexpert", "jsrt", "mri", "folder"], default="auto",
                   help="dataset layout of a folder (default: detect)")
    c.add_argument("--window", default=None, type=window_spec,
                   help="DICOM window: header, lung, mediastinum, bone, brain or C,W")
    c.add_argument("--json", action="store_true", help="print JSON instead of text")
    c.set_defaults(func=cmd_check)
    d = sub.add_parser("deid", help="de-identify a DICOM file (or a folder of them, one study key) into OUT; "
                                    "pixels unchanged",
                       description="PS3.15 Basic Application Level Confidentiality Profile (Retain Patient "
                                   "Characteristics: sex, age) at every nesting depth; private tags removed; UIDs "
                                   "remapped consistently for all files of one run. The pixel data is written "
                                   "unchanged: a file flagged BurnedInAnnotation=YES is reported.")
    d.add_argument("input", metavar="IN", help="a DICOM file, or a folder (searched recursively)")
    d.add_argument("output", metavar="OUT", help="output file (for a file IN) or folder")
    d.add_argument("--seed", default=None, metavar="KEY",
                   help="UID key: the same key maps a UID to the same new UID across runs (default: a new key per run)")
    d.add_argument("--json", action="store_true", help="print JSON instead of text")
    d.set_defaults(func=cmd_deid)


def _detect_adapter(root: Path) -> str:
    if list(root.glob("Data_Entry_2017*.csv")):
        return "nih"
    if (root / "train.csv").exists() or (root / "valid.csv").exists():
        return "chexpert"
    csvs = list(root.glob("*.csv"))
    if csvs:
        head = csvs[0].read_text(errors="replace").splitlines()[:1]
        if head and ("subtlety" in head[0].lower() or head[0].upper().startswith("JPC")):
            return "jsrt"
    return "folder"


def check_path(path: str, adapter: str = "auto", window=None) -> dict:
    """What ``data check`` reports, as a dict. Raises a one-line HcviewError on bad input."""
    from hcview.data.io import load_image, sniff

    if ":" in path and not Path(path).exists() and path.split(":", 1)[0] in ("sample",):
        return _check_sample(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or folder")
    if p.is_dir():
        from hcview.data.adapters import ADAPTERS

        kind = _detect_adapter(p) if adapter == "auto" else adapter
        src = ADAPTERS[kind](str(p), {})
        t = src.table
        out = {"kind": "dataset", "adapter": kind, "root": str(p), "n": int(len(t)),
               "splits": {k: int(v) for k, v in t["split"].value_counts().items()}, "split_rule": src.split_rule}
        if "label" in t.columns:
            out["label_counts"] = {str(k): int(v) for k, v in t["label"].value_counts().sort_index().items()}
        elif src.family == "nih14":
            from hcview.data.mappings import NIH14

            out["label_counts"] = {lab: int(t[lab].sum()) for lab in NIH14}
        elif src.family == "chexpert":
            from hcview.data.mappings import CHEXPERT14, chexpert_value

            out["label_counts"] = {lab: int(t[lab].map(chexpert_value).sum()) for lab in CHEXPERT14}
        elif src.family == "jsrt":
            out["label_counts"] = {str(k): int(v) for k, v in t["state"].value_counts().items()}
        if "patient_id" in t.columns:
            out["patients"] = int(t["patient_id"].nunique())
        out.update({k: v for k, v in src.notes.items() if isinstance(v, (int, str, bool))})
        return out
    if not p.is_file():  # a FIFO or a device would block or never end
        raise InputError(f"{path}: not a regular file")
    with open(p, "rb") as f:
        head = f.read(256)
    if p.suffix.lower() in (".csv", ".tsv", ".txt") and sniff(head) is None:
        from hcview.data.tabular import load_records, read_csv_text

        df, _ = read_csv_text(p)
        out = {"kind": "csv", "path": str(p), "rows": int(len(df)), "columns": int(df.shape[1])}
        if "Age" in df.columns:
            _, info = load_records(p)
            out.update(features=len(info["features"]), targets=info["targets"], label_counts=info["label_counts"],
                       missing_values=int(sum(info["missing"].values())))
        else:
            if len(df) == 0:
                from hcview.errors import CsvError

                raise CsvError(f"{p.name}: CSV has a header but no rows")
            out["column_names"] = list(map(str, df.columns))[:20]
        return out
    im = load_image(p, window=window)
    m = im.meta
    out = {"kind": im.kind, "path": str(p), "size": m.get("size"), "modality": m.get("modality") or None,
           "pixel_spacing_mm": m.get("pixel_spacing_mm"), "photometric": m.get("photometric"),
           "bits": m.get("bits_stored"), "frames": m.get("frames"), "window": m.get("window")}
    if im.kind == "dicom":
        out["transfer_syntax"] = m.get("transfer_syntax")
        out["deid_removed"] = [f"{r['keyword']} {r['tag']}" + (f" x{r['count']}" if r.get("count", 1) > 1 else "")
                               for r in im.deid_removed]
        out["deid_removed_count"] = int(sum(int(r.get("count", 1)) for r in im.deid_removed))
        if m.get("notes"):
            out["notes"] = list(m["notes"])
        if m.get("warning"):
            out["warning"] = m["warning"]
    return out


def _check_sample(spec: str) -> dict:
    from hcview.data.datasets import build_dataset
    from hcview.models.labels import load_label_space

    default_ls = {"sample:nih": "cihmlc", "sample:brain-mri": "hcnet_brain_mri", "sample:phantoms": "hcnet_paper",
                  "sample:nodules": "resmtnet_jsrt", "sample:cervical": "cervical4"}
    if spec not in default_ls:
        raise DatasetError(f"unknown sample {spec!r}: one of {', '.join(default_ls)}")
    ds = build_dataset(spec, load_label_space(default_ls[spec]), "all", 64, (0.5,) * 3, (0.5,) * 3)
    return {"kind": "dataset", "spec": spec, "n": ds.info["n"], "label_space": ds.info["label_space"],
            "label_counts": ds.info["label_counts"], "synthetic": ds.info["synthetic"], "licence": ds.info["licence"]}


def cmd_check(args: argparse.Namespace) -> int:
    import sys

    out = check_path(args.path, args.adapter, args.window)
    if out.get("warning"):
        print(f"warning: {out['path']}: {out['warning']}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, indent=2, default=str))
        return 0
    print(f"OK {out['kind']}: {out.get('path') or out.get('root') or out.get('spec')}")
    for k, v in out.items():
        if k in ("kind", "path", "root", "spec"):
            continue
        if isinstance(v, dict):
            v = ", ".join(f"{a}={b}" for a, b in v.items()) if not any(isinstance(b, dict) for b in v.values()) else \
                "; ".join(f"{a}: " + ", ".join(f"{c}={d}" for c, d in b.items()) if isinstance(b, dict) else f"{a}={b}"
                          for a, b in v.items())
        elif isinstance(v, list):
            v = ", ".join(map(str, v)) if v else "(none)"
        print(f"  {k}: {v}")
    return 0


def _deid_one(src: Path, dst: Path, seed: str) -> dict:
    from hcview.data.dicom import deidentify_file

    if dst.exists() and dst.resolve() == src.resolve():
        raise InputError(f"{dst}: is the input file; give a different output path")
    return deidentify_file(src, dst, name=src.name, seed=seed)


def _looks_dicom(p: Path) -> bool:
    from hcview.data.dicom import is_dicom_name, looks_like_dicom

    try:
        with open(p, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    return (len(head) >= 132 and head[128:132] == b"DICM") or looks_like_dicom(head) or is_dicom_name(p.name)


def cmd_deid(args: argparse.Namespace) -> int:
    """``data deid IN OUT``: one file, or every DICOM under a folder with one UID key (a study stays consistent)."""
    import secrets
    import sys

    from hcview.data.dicom import BURNED_IN_WARNING
    from hcview.errors import HcviewError, describe

    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise InputError(f"{src}: no such file or folder")
    seed = args.seed if args.seed is not None else secrets.token_hex(16)
    if src.is_file():
        if dst.is_dir():
            dst = dst / src.name
        jobs = [(src, dst)]
    else:
        if dst.exists() and not dst.is_dir():
            raise InputError(f"{dst}: is a file; the output for a folder must be a folder")
        dst_res = dst.resolve()
        files = sorted(p for p in src.rglob("*") if p.is_file() and not p.resolve().is_relative_to(dst_res))
        jobs = [(p, dst / p.relative_to(src)) for p in files if _looks_dicom(p)]
        ignored = len(files) - len(jobs)
        if not jobs:
            raise InputError(f"{src}: no DICOM files found")
    results, failed = [], []
    for s_path, d_path in jobs:
        try:
            r = _deid_one(s_path, d_path, seed)
        except HcviewError as e:
            if len(jobs) == 1:
                raise
            failed.append((s_path, describe(e)[0]))
            print(f"warning: skipped {s_path}: {e}", file=sys.stderr)
            continue
        results.append((s_path, d_path, r))
        if r["burned_in_annotation"]:
            print(f"warning: {s_path}: {BURNED_IN_WARNING}; the pixels were copied unchanged: review them before "
                  "sharing", file=sys.stderr)
    if args.json:
        print(json.dumps({"files": [{"input": str(a), "output": str(b), "removed": [dict(x) for x in r["removed"]],
                                     "removed_count": r["removed"].total,
                                     "burned_in_annotation": r["burned_in_annotation"]} for a, b, r in results],
                          "failed": [{"input": str(a), "error": m} for a, m in failed]}, indent=2))
    else:
        for a, b, r in results:
            print(f"wrote {b}: {r['removed'].summary(limit=12)}")
        if src.is_dir():
            print(f"{len(results)} of {len(jobs)} DICOM file(s) de-identified"
                  + (f"; {ignored} other file(s) ignored" if ignored else ""))
    if failed:
        raise InputError(f"{len(failed)} of {len(jobs)} DICOM file(s) could not be de-identified (see the warnings)")
    return 0
