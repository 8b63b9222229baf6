"""``python -m hcview data check PATH``: say what an image, DICOM, CSV or dataset root holds."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from hcview.errors import DatasetError, InputError


def register(subparsers) -> None:
    p = subparsers.add_parser("data", help="inspect images, DICOMs, CSVs and dataset roots")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True
    c = sub.add_parser("check", help="check an image / DICOM / CSV / dataset folder and print what it holds")
    c.add_argument("path", help="file or folder; or a data spec such as sample:nih or nih:/data/NIH")
    c.add_argument("--adapter", choices=["auto", "nih", "chexpert", "jsrt", "mri", "folder"], default="auto",
                   help="dataset layout of a folder (default: detect)")
    c.add_argument("--window", default=None, help="DICOM window: header, lung, mediastinum, bone, brain or C,W")
    c.add_argument("--json", action="store_true", help="print JSON instead of text")
    c.set_defaults(func=cmd_check)


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
        out["deid_removed"] = [f"{r['keyword']} {r['tag']}" for r in im.deid_removed]
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
    out = check_path(args.path, args.adapter, args.window)
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
