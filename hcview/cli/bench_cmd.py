"""``python -m hcview bench``: per model (demo variant): cold load, single-case latency, MC dropout
fast path (backbone once, head N times) vs N full passes, all-labels Grad-CAM in one backbone pass vs
one pytorch-grad-cam backward per label, LRP latency, peak RSS. Writes BENCHMARKS.md.

``--validity`` additionally measures explanation validity on phantoms (pointing game, randomisation
test) and writes ``models/explanation_validity.json``. Speed targets live here, never in unit tests.
"""
from __future__ import annotations

import copy
import json
import platform
import resource
import time
from pathlib import Path

from hcview.errors import InputError


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmark inference, MC dropout, Grad-CAM and LRP (writes BENCHMARKS.md)")
    p.add_argument("--models", nargs="+", default=None, help="model ids (default: every registered model)")
    p.add_argument("--variant", default="demo", choices=["demo", "paper"])
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (best reported)")
    p.add_argument("--mc", type=int, default=10, help="MC-dropout passes")
    p.add_argument("--validity", action="store_true", help="also measure explanation validity on phantoms")
    p.add_argument("--validity-models", nargs="+", default=["resmtnet"], help="models with a lesion-mask data set")
    p.add_argument("--validity-cases", type=int, default=12)
    p.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts) * 1000.0  # best of N: robust to other processes on a shared machine (timeit's advice)


def bench_model(model_id: str, variant: str = "demo", repeats: int = 3, mc: int = 10) -> dict:
    import numpy as np
    import torch

    from hcview.explain.all_labels import all_label_cams, per_label_cams_reference
    from hcview.explain.lrp import lrp
    from hcview.infer.mc_dropout import mc_samples
    from hcview.infer.predictor import get_predictor

    t = time.perf_counter()
    pr = get_predictor(model_id, variant, fresh=True)
    cold = (time.perf_counter() - t) * 1000.0
    m, s = pr.model, pr.input_size
    x = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(0)).to(pr.device)
    grey = np.random.default_rng(0).random((512, 512)).astype(np.float32)
    n_out = len(pr.label_space.all_outputs())

    def single():
        with torch.no_grad():
            m(x)

    r = {"model": model_id, "variant": variant, "input_size": s, "untrained": pr.untrained, "outputs": n_out,
         "cold_load_ms": cold, "device": str(pr.device)}
    r["single_case_ms"] = _timed(single, repeats)
    r["predict_end_to_end_ms"] = _timed(lambda: pr.predict(grey, mc=0), repeats)
    r["mc_fast_ms"] = _timed(lambda: mc_samples(m, x, n=mc, fast=True), repeats)
    r["mc_full_ms"] = _timed(lambda: mc_samples(m, x, n=mc, fast=False), repeats)
    r["mc_gain"] = r["mc_full_ms"] / r["mc_fast_ms"]
    a = mc_samples(m, x, n=mc, seed=1, fast=True)
    b = mc_samples(m, x, n=mc, seed=1, fast=False)
    r["mc_max_abs_diff"] = max(float((a[k] - b[k]).abs().max()) for k in a)
    r["cam_all_labels_one_pass_ms"] = _timed(lambda: all_label_cams(m, x), repeats)
    r["cam_per_label_backward_ms"] = _timed(lambda: per_label_cams_reference(m, x), max(2, repeats // 2))
    r["cam_gain"] = r["cam_per_label_backward_ms"] / r["cam_all_labels_one_pass_ms"]
    r["cam_max_abs_diff"] = float(np.abs(all_label_cams(m, x, scale="minmax") - per_label_cams_reference(m, x)).max())
    r["lrp_ms"] = _timed(lambda: lrp(m, x, [0]), repeats)
    r["lrp_conservation"] = lrp(m, x, [0])[0].conservation
    r["peak_rss_mb"] = _rss_mb()
    return r


def machine() -> str:
    import torch

    from hcview.device import describe

    return f"{platform.node() or 'host'}: {platform.processor() or platform.machine()}, {describe()}, " \
           f"torch {torch.__version__}, Python {platform.python_version()}"


def write_markdown(rows: list[dict], cmd: str, validity: dict | None, path: Path) -> None:
    from hcview.io_utils import atomic_write

    lines = ["# Benchmarks", "", f"Command: `{cmd}`  ", f"Machine: {machine()}  ",
             f"Measured: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at the end "
             f"{', '.join('%.1f' % v for v in __import__('os').getloadavg())}. Best of N repeats after one warm-up (the machine is shared with other jobs); "
             "batch of 1; demo variants; untrained models where no checkpoint is registered (speed does not depend "
             "on the weights). Peak RSS is the process's, cumulative over the models benchmarked before it.", "",
             "| model | input | outputs | cold load ms | single case ms | predict (load+MC off) ms | MC-10 fast ms | "
             "MC-10 full ms | MC gain | all-labels CAM one pass ms | per-label CAM ms | CAM gain | LRP ms | "
             "LRP conservation | peak RSS MB |",
             "|" + "---|" * 15]
    for r in rows:
        lines.append(f"| {r['model']} | {r['input_size']} | {r['outputs']} | {r['cold_load_ms']:.0f} | "
                     f"{r['single_case_ms']:.1f} | {r['predict_end_to_end_ms']:.1f} | {r['mc_fast_ms']:.1f} | "
                     f"{r['mc_full_ms']:.1f} | {r['mc_gain']:.1f}x | {r['cam_all_labels_one_pass_ms']:.1f} | "
                     f"{r['cam_per_label_backward_ms']:.1f} | {r['cam_gain']:.1f}x | {r['lrp_ms']:.1f} | "
                     f"{r['lrp_conservation']:.2f} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Checks made by the same run: MC fast vs full max |diff| "
              + ", ".join(f"{r['model']} {r['mc_max_abs_diff']:.1e}" for r in rows)
              + "; all-labels vs pytorch-grad-cam per label max |diff| "
              + ", ".join(f"{r['model']} {r['cam_max_abs_diff']:.1e}" for r in rows)
              + " (float32; min-max normalisation amplifies rounding where raw CAMs are tiny; the unit test "
              "compares in float64).", ""]
    if validity:
        lines += ["## Explanation validity (phantoms with ground-truth lesion masks)", ""]
        for key, v in validity.items():
            lines.append(f"**{key}** on {v['data']}, {v['n_cases']} lesion cases, target head `{v['head']}`, "
                         f"measured {v.get('measured_at', '?')} in {v.get('seconds', '?')} s"
                         f"{' (UNTRAINED model: figures are a baseline, not a validation)' if v['untrained'] else ''}:")
            if v.get("pointing_chance") is not None:
                lines.append("")
                lines.append(f"Pointing-game chance level (mean fraction of the image inside the lesion mask, "
                             f"dilated by {v.get('tolerance_px')} px): {v['pointing_chance']:.3f}.")
            lines.append("")
            lines.append("| method | pointing game | randomisation (full) Spearman | cascading (top -> down) |")
            lines.append("|---|---|---|---|")
            for meth, mv in v["methods"].items():
                casc = ", ".join(f"{k} {('%.2f' % c) if c is not None else 'n/a'}" for k, c in mv["randomisation_cascading"].items())
                full = mv["randomisation_full"]
                lines.append(f"| {meth} | {mv['pointing_game']:.2f} ({mv['pointing_hits']}/{v['n_cases']}) | "
                             f"{('%.2f' % full) if full is not None else 'n/a'} | {casc} |")
            lines.append("")
    atomic_write(path, lambda f: f.write("\n".join(lines) + "\n"), "w")


def run(args) -> int:
    import sys

    from hcview import paths

    rows = []
    from hcview.models import get_spec, list_models

    models = args.models or list_models()
    for mid in models:
        get_spec(mid)  # unknown ids: one line
    for mid in models:
        r = bench_model(mid, args.variant, args.repeats, args.mc)
        rows.append(r)
        if not args.json:
            print(f"{mid}: single {r['single_case_ms']:.1f} ms, MC fast {r['mc_fast_ms']:.1f} vs full "
                  f"{r['mc_full_ms']:.1f} ms ({r['mc_gain']:.1f}x), CAM all-labels {r['cam_all_labels_one_pass_ms']:.1f} "
                  f"vs per-label {r['cam_per_label_backward_ms']:.1f} ms ({r['cam_gain']:.1f}x), LRP {r['lrp_ms']:.1f} ms",
                  flush=True)
    validity = None
    if args.validity:
        validity = {}
        for mid in args.validity_models:
            validity[f"{mid}-{args.variant}"] = run_validity(mid, args.variant, n_cases=args.validity_cases)
    rest = sys.argv[2:] if sys.argv[1:2] == ["bench"] else []
    cmd = " ".join(["python -m hcview bench", *rest])
    if validity is None:  # show the last measured figures (with their own timestamp)
        try:
            validity = json.loads((paths.models_dir() / "explanation_validity.json").read_text())
        except (OSError, ValueError):
            validity = None
    if not args.no_write:
        write_markdown(rows, cmd, validity, paths.ROOT / "BENCHMARKS.md")
    if args.json:
        print(json.dumps({"machine": machine(), "results": rows, "validity": validity}, default=float))
    elif not args.no_write:
        print(f"wrote {paths.ROOT / 'BENCHMARKS.md'}")
    return 0


def run_validity(model_id: str = "resmtnet", variant: str = "demo", n_cases: int = 16, split: str = "test",
                 methods=("gradcam", "lrp"), out_path=None) -> dict:
    """Measure on the model's phantom set (its spec's ``validity_data``); write ``models/explanation_validity.json``
    (merged per model)."""
    from hcview.data.datasets import build_dataset
    from hcview.explain.validity import explanation_validity, nan_to_none
    from hcview.infer.predictor import get_predictor
    from hcview.io_utils import atomic_write_json
    from hcview.paths import portable

    pr = get_predictor(model_id, variant)
    if not pr.spec.validity_data:
        raise InputError(f"{model_id} has no data set with lesion masks to measure explanation validity on")
    data_spec, head = pr.spec.validity_data
    ds = build_dataset(data_spec, pr.label_space, split, pr.input_size, pr.spec.mean, pr.spec.std)
    items = []
    for i in range(len(ds)):
        it = ds[i]
        if "mask" in it and int(it["mask"].sum()) > 0:
            it["image"] = it["image"].to(pr.device)
            items.append(it)
        if len(items) >= n_cases:
            break
    t0 = time.perf_counter()
    with pr.lock:
        model = copy.deepcopy(pr.model)
    r = explanation_validity(model, items, head, methods)
    r.update({"model": model_id, "variant": variant, "data": f"{data_spec} ({split})", "untrained": pr.untrained,
              "checkpoint": portable(pr.checkpoint) if pr.checkpoint else None,
              "checkpoint_sha256": pr.card.get("sha256"), "seconds": round(time.perf_counter() - t0, 1),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    out_path = out_path or paths.models_dir() / "explanation_validity.json"
    try:
        allr = json.loads(open(out_path).read())
    except (OSError, ValueError):
        allr = {}
    allr[f"{model_id}-{variant}"] = nan_to_none(r)
    atomic_write_json(out_path, allr)
    return nan_to_none(r)
