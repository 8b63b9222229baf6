"""``python -m hcview demo [--models a,b] [--quick] [--json] [--background]``: train and register the demo
variant of each model on the bundled sample pack (foreground by default; ``--background`` queues jobs).

For HC-Net the full demo also trains the flat baseline of the paper's ablation (``models/hcnet-flat-demo.pt``)
and stores the hierarchical-vs-flat comparison on the 1281 held-out slices in the HC-Net card (``ablation``).
``--quick`` trains small versions instead (HC-Net: 1 epoch, no flat baseline), for a first look in minutes."""
from __future__ import annotations

import json
import sys
import time


def register(sub):
    p = sub.add_parser("demo", help="train + register the demo models on the sample pack")
    p.add_argument("--models", default=None, help="comma-separated ids (default: all four)")
    p.add_argument("--device", default=None)
    p.add_argument("--background", action="store_true", help="queue background jobs instead")
    p.add_argument("--quick", action="store_true",
                   help="small versions (HC-Net: 1 epoch, no flat baseline / ablation): minutes, not the shipped quality")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from hcview.jobs.bootstrap import demo_models, submit_demo_jobs

    models = demo_models([m.strip() for m in args.models.split(",") if m.strip()] if args.models else None)
    if args.background and args.quick:
        from hcview.errors import InputError

        raise InputError("--quick runs in the foreground (drop --background)")
    if args.background:
        jobs = submit_demo_jobs(models, only_missing=False)
        out = [{"model": j["model"], "id": j["id"], "status": j["status"]} for j in jobs]
        print(json.dumps(out, indent=2) if args.json else "\n".join(f"{o['model']}: job {o['id']} ({o['status']})" for o in out))
        return 0

    from hcview.train.config import default_out_dir, resolve_config
    from hcview.train.trainer import train

    from hcview.models import versions
    from hcview.train.postfit import apply_post
    from hcview.train.trainer import cpu_threads, register_checkpoint

    t0 = time.time()
    threads = cpu_threads("auto")  # decided once, before our own load counts in the load average
    print(f"demo: {len(models)} model(s), {threads} CPU thread(s) (load average {_load():.1f})", file=sys.stderr)
    rows = []
    for m in models:
        t = time.time()
        print(f"== {m} (demo) ==", file=sys.stderr, flush=True)
        over = dict(QUICK.get(m, {})) if args.quick else {}
        cfg = resolve_config(m, "demo", device=args.device, threads=threads, **over)
        if m == "hcnet" and not args.quick:
            print(f"HC-Net: {cfg['epochs']} epochs on the brain-MRI training split, then the flat baseline with the same "
                  f"budget and the ablation on 1281 test slices (about {HCNET_MINUTES} min on a quiet 2-core CPU)",
                  file=sys.stderr, flush=True)
        res = train(cfg, default_out_dir(m, "demo"), show_bar=not args.json)
        post = apply_post(res["checkpoint"], cfg["data"])  # the OOD gate and operating points, then ship it
        shipped = str(register_checkpoint(res["checkpoint"], versions.shipped_path(m, "demo")))
        row = {"model": m, "data": cfg["data"], "seconds": round(time.time() - t, 1), "steps": res["steps"],
               "checkpoint": shipped, "test": res.get("test"), "quick": bool(args.quick),
               "ood": post["ood"].get("separation")}
        if m == "hcnet" and not args.quick:
            row["ablation"] = _hcnet_ablation(shipped, args, threads)
            row["seconds"] = round(time.time() - t, 1)
        rows.append(row)
    total = round(time.time() - t0, 1)
    if args.json:
        print(json.dumps({"total_seconds": total, "threads": threads, "models": rows}, indent=2, default=str))
    else:
        for r in rows:
            tm = {k: v for k, v in (r["test"] or {}).items() if k.startswith("test_") and isinstance(v, float)}
            print(f"{r['model']:<13}{r['seconds']:>7.1f}s  {r['data']:<18} " + " ".join(f"{k[5:]}={v:.3f}" for k, v in tm.items()))
        print(f"total {total:.1f}s")
    return 0


HCNET_DEMO_NOTES = (
    "Deviations from the paper's recipe (ImageNet ResNet-18, 224 px, Adam 1e-4 constant, batch 64, 15 epochs), and why: "
    "ResNet-10 from scratch (no offline ImageNet weights; sized for a 2-core CPU), 128 px, Adam 1e-3 with a per-step "
    "cosine decay to 0 (from scratch a constant 1e-4 learns too slowly for a CPU budget; the decay also lets BatchNorm "
    "statistics settle), batch 32 (more optimiser steps in few epochs), 4 epochs (what a shared 2-core CPU allowed). "
    "Kept: hflip p=0.5, rotation +-15 deg, translate 0.1, CE(anatomy) + CE(category) + class-weighted CE(disease) with "
    "w_i = N / (C n_i) from the training split, checkpoint chosen on validation disease accuracy. Anatomy has one class "
    "on this data (its head is trivially certain). Trained on the public training split cleaned of near-duplicates "
    "of the test images; tested on all 1281 test images (see data/samples/README.md).")
QUICK = {"hcnet": {"epochs": 1}}  # --quick overrides; the other demos are already quick
HCNET_MINUTES = "10-15"  # hierarchical + flat, 4 epochs each: ~0.5 s a step at 2 threads, quiet (estimate)


def _hcnet_ablation(hier_path: str, args, threads: int) -> dict:
    """Train the flat baseline (same config, one head), register it, compare on the test split, store in the card."""
    from pathlib import Path

    from hcview.infer.ablation import CASES_SUFFIX, FLAT_NAME, FLAT_OVERRIDES, hierarchical_vs_flat, write_ablation
    from hcview.models.checkpoint import card_path
    from hcview.paths import models_dir
    from hcview.train.config import default_out_dir, resolve_config
    from hcview.train.trainer import register_checkpoint, train

    print("== hcnet flat baseline (demo, one disease head) ==", file=sys.stderr, flush=True)
    cfg = resolve_config("hcnet", "demo", device=args.device, threads=threads, **FLAT_OVERRIDES)
    res = train(cfg, default_out_dir("hcnet", "flat-demo"), show_bar=not args.json)
    flat = register_checkpoint(res["checkpoint"], models_dir() / f"{FLAT_NAME}.pt")
    print("== hcnet ablation: hierarchical vs flat on the test split ==", file=sys.stderr, flush=True)
    block = hierarchical_vs_flat(hier_path, flat, cfg["data"], "test",
                                 cases_csv=Path(hier_path).with_name(Path(hier_path).stem + CASES_SUFFIX))
    write_ablation(card_path(hier_path), block, notes=HCNET_DEMO_NOTES)
    mc = block["mcnemar_disease"]
    print(f"disease accuracy hierarchical {block['hierarchical']['disease_accuracy']:.3f} vs flat "
          f"{block['flat']['disease_accuracy']:.3f}; McNemar b={mc['b']} c={mc['c']} p={mc['p_value']:.3g}",
          file=sys.stderr, flush=True)
    return {"flat_checkpoint": str(flat), "mcnemar_p": mc["p_value"],
            "hierarchical_disease_accuracy": block["hierarchical"]["disease_accuracy"],
            "flat_disease_accuracy": block["flat"]["disease_accuracy"]}


def _load() -> float:
    import os

    try:
        return os.getloadavg()[0]
    except OSError:
        return 0.0
