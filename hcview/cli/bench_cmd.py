"""``python -m hcview bench``: speed at paper resolution, as ratios measured in the same run.

Headline (CIHMLC, the chosen variant at its input size; paper: 320 px), each ratio against one plain forward pass
(``model(x)`` under ``torch.inference_mode``):

- ``mc_dropout_ratio``: MC dropout with 10 samples (backbone once, head 10 times); naive 10 full passes alongside;
- ``cam_all_labels_ratio``: Grad-CAM for all 21 labels (one backbone pass); pytorch-grad-cam's per-label loop alongside;
- ``review_bundle_ratio``: prediction + MC-10 + Grad-CAM top-3 + LRP top-1 (``hcview.infer.bundle.review``); the same
  pieces computed one by one alongside;
- ``train_step_ratio``: the trainer's steps per second / a plain PyTorch loop's (same model, batch, data, optimiser);
- ``batch_throughput_ratio``: ``predict --input FOLDER --csv`` images per second / a plain ``inference_mode`` loop
  over the same decoded images.

Also: a per-model table (every model's variant at its input size), torchxrayvision's DenseNet-121 (``weights=None``)
next to CIHMLC on the same input, app cold start to first render and rerun server times, peak RSS with all four
models loaded, and which imports dominate the app's cold start. Timings are medians over repeats; each timed call is
paired with the mean of the plain forward passes just before and after it, and a ratio is the median of those paired
ratios (a shared machine's load changes between calls, rarely within two neighbouring ones). ``--quick`` (under 2
minutes on 2 cores) uses fewer repeats, fewer steps and images and extrapolates the per-label loop from a few labels;
the full run measures everything. Writes BENCHMARKS.md (``--no-write``: don't); ``--validity`` additionally measures
explanation validity on phantoms. Speed targets live here, never in unit tests.
"""
from __future__ import annotations

import copy
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hcview.errors import InputError

HEADLINE = "cihmlc"
GOALS = {"mc_dropout_ratio": ("<=", 1.2), "cam_all_labels_ratio": ("<=", 1.5), "review_bundle_ratio": ("<=", 5.0),
         "train_step_ratio": (">=", 0.95), "batch_throughput_ratio": (">=", 1.0)}
APP_GOALS = {"cold_start_s": 3.0, "cached_rerun_ms": 100.0, "rss_all_models_mb": 2048.0}


def register(sub) -> None:
    p = sub.add_parser("bench", help="speed at paper resolution: MC dropout, Grad-CAM, LRP, review bundle, training, "
                                     "batch inference, app start (writes BENCHMARKS.md)")
    p.add_argument("--quick", action="store_true", help="fewer repeats, steps and images (under 2 minutes on 2 cores)")
    p.add_argument("--variant", default="paper", choices=["paper", "demo"], help="model variants (at their input size)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", default="auto", help="CPU intra-op threads: a number, or auto (the cores the 1-minute "
                                                     "load average leaves free, at least 1: the trainer's rule)")
    p.add_argument("--clock", default="auto", choices=["auto", "cpu", "wall"],
                   help="what the ratios compare: process CPU time or wall time (auto: CPU time for single-threaded "
                        "CPU runs, wall time otherwise; both are reported)")
    p.add_argument("--models", nargs="+", default=None, help="models in the per-model table (default: all)")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds per measurement (default 3, --quick 2)")
    p.add_argument("--mc", type=int, default=10, help="MC-dropout passes")
    p.add_argument("--skip", nargs="+", default=[], choices=["models", "xrv", "train", "batch", "app", "memory"],
                   help="leave out these parts (--quick leaves out the per-model table and the app)")
    p.add_argument("--validity", action="store_true", help="also measure explanation validity on phantoms")
    p.add_argument("--validity-models", nargs="+", default=["resmtnet"], help="models with a lesion-mask data set")
    p.add_argument("--validity-cases", type=int, default=12)
    p.add_argument("--no-write", action="store_true", help="do not write BENCHMARKS.md")
    p.add_argument("--readme", action="store_true",
                   help="print the README's block of ratios, read from BENCHMARKS.md (measures nothing)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


# ---------------------------------------------------------------------------------------------- timing
class Clock:
    """Wall time and process CPU time of one call (CUDA work is synchronised before and after). ``primary``: which
    one the ratios use: ``cpu`` for single-threaded CPU runs (the work done, whatever else the machine runs: on a
    shared 2-core machine at load 5-8 wall times swing 2x between neighbouring calls), else ``wall``."""

    def __init__(self, device, primary: str = "wall"):
        self.cuda = getattr(device, "type", str(device)) == "cuda"
        self.primary = "wall" if self.cuda else primary

    def __call__(self, fn) -> tuple[float, float]:
        import torch

        if self.cuda:
            torch.cuda.synchronize()
        t, c = time.perf_counter(), time.process_time()
        fn()
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t, time.process_time() - c


CLOCK = {"primary": "wall"}  # set by run()


def _clock(device) -> Clock:
    return Clock(device, CLOCK["primary"])


def _med(xs):
    return float(statistics.median(xs)) if xs else float("nan")


def paired(clock: Clock, base, alts: dict, rounds: int, warm: bool = True) -> dict:
    """Time ``base`` (one forward) and each alternative in rounds: base, alt1, base, alt2, ..., base. Each alternative
    is paired with the mean of the base calls just before and after it. Returns ``{"base_ms", name: {"ms", "ratio",
    "ratios", "ms_wall", "ratio_wall", "ms_cpu", "ratio_cpu"}}`` (medians over rounds; ``ms``/``ratio`` on the
    clock's primary measure)."""
    if warm:
        base()
        for f in alts.values():
            f()
    bases = {"wall": [], "cpu": []}
    res = {k: {"wall": [], "cpu": [], "r_wall": [], "r_cpu": []} for k in alts}
    for _ in range(max(1, rounds)):
        b_prev = clock(base)
        for j, kind in enumerate(("wall", "cpu")):
            bases[kind].append(b_prev[j])
        for k, f in alts.items():
            a = clock(f)
            b_next = clock(base)
            for j, kind in enumerate(("wall", "cpu")):
                bases[kind].append(b_next[j])
                res[k][kind].append(a[j])
                res[k]["r_" + kind].append(a[j] / max((b_prev[j] + b_next[j]) / 2, 1e-9))
            b_prev = b_next
    p = clock.primary
    out = {"base_ms": _med(bases[p]) * 1e3, "base_ms_wall": _med(bases["wall"]) * 1e3,
           "base_ms_cpu": _med(bases["cpu"]) * 1e3, "base_n": len(bases[p]), "clock": p}
    for k, v in res.items():
        out[k] = {"ms": _med(v[p]) * 1e3, "ratio": _med(v["r_" + p]), "ratios": [round(r, 3) for r in v["r_" + p]],
                  "ms_wall": _med(v["wall"]) * 1e3, "ratio_wall": _med(v["r_wall"]),
                  "ms_cpu": _med(v["cpu"]) * 1e3, "ratio_cpu": _med(v["r_cpu"])}
    return out


def choose_threads(setting, device) -> tuple[int, str]:
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        return torch.get_num_threads(), "CUDA run: CPU threads left at the default"
    from hcview.device import available_cores
    from hcview.train.trainer import cpu_threads

    n = cpu_threads(setting)
    why = ("set by --threads" if setting not in (None, "", "auto") else
           f"auto: {available_cores()} cores, "
           f"1-minute load average {os.getloadavg()[0]:.1f} at the start")
    return n, why


def machine(threads: int | None = None) -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"host": platform.node() or "host", "cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem, "gpu": gpu,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "torch": torch.__version__, "threads": threads if threads is not None else torch.get_num_threads(),
            "load_average": [round(v, 1) for v in os.getloadavg()]}


def _sample_png() -> Path:
    from hcview import paths

    return sorted((paths.samples_dir() / "nih-cxr-512").glob("*.png"))[0]


def _loaded_on_sample(model_id: str, variant: str, device: str):
    """A fresh predictor (its load timed) and the bundled sample PNG decoded and preprocessed for it:
    ``(predictor, load seconds, loaded image, model input)``."""
    from hcview.infer.predictor import get_predictor

    t = time.perf_counter()
    pred = get_predictor(model_id, variant, device=device, fresh=True)
    load_s = time.perf_counter() - t
    loaded = pred.load(_sample_png())
    return pred, load_s, loaded, pred.preprocess(loaded)


# ---------------------------------------------------------------------------------------------- headline
def bench_headline(variant: str, device: str, rounds: int, quick: bool, mc: int = 10, log=print) -> dict:
    """The five-ratio model (CIHMLC) at its input size: forward vs MC, all-labels CAM, LRP, review bundle, and the
    slow alternatives (naive MC, pytorch-grad-cam per label, pieces one by one, zennit's LRP)."""
    import torch

    from hcview.explain.all_labels import all_label_cams, per_label_cams_reference
    from hcview.explain.lrp import chain_plan, lrp, zennit_lrp
    from hcview.infer.bundle import review
    from hcview.infer.mc_dropout import mc_samples

    pred, load_s, loaded, x = _loaded_on_sample(HEADLINE, variant, device)
    m, clock = pred.model, _clock(pred.device)
    n_out = len(pred.label_space.all_outputs())

    def forward():
        with torch.inference_mode():
            m(x)

    res0 = pred.predict(loaded, mc=0)
    top3 = pred.targets_for(res0, "top3")
    top1 = pred.targets_for(res0, "top1")
    t = time.perf_counter()
    chain = chain_plan(m, x) is not None
    plan_s = time.perf_counter() - t
    log(f"headline {HEADLINE}/{variant} at {pred.input_size} px: loaded in {load_s:.1f} s, chain LRP plan "
        f"{'built' if chain else 'not applicable'} in {plan_s:.1f} s")
    fast = paired(clock, forward, {
        "mc": lambda: mc_samples(m, x, n=mc, seed=0, fast=True),
        "cam_all_labels": lambda: all_label_cams(m, x),
        "lrp_top1": lambda: lrp(m, x, top1),
        "review_bundle": lambda: review(pred, loaded, mc=mc, seed=0, cam_targets="top3", lrp_targets="top1"),
    }, rounds)
    log(f"  forward {fast['base_ms']:.0f} ms; MC-{mc} x{fast['mc']['ratio']:.2f}, CAM all {n_out} labels "
        f"x{fast['cam_all_labels']['ratio']:.2f}, LRP x{fast['lrp_top1']['ratio']:.2f}, review bundle "
        f"x{fast['review_bundle']['ratio']:.2f}")

    # the slow alternatives: fewer rounds; the per-label loop on a few labels in --quick (per-label cost x labels)
    k = 3 if quick else n_out
    targets_k = [(h, i) for h, i, _ in pred.label_space.all_outputs()][:k]
    resolved1 = [pred.label_space.resolve(t) for t in top1]

    def one_by_one():
        res = pred.predict(loaded, mc=mc, seed=0)
        pred.explain(res, ("gradcam",), "top3")
        pred.explain(res, ("lrp",), "top1")

    def before():  # as the pieces ran before the shared pass: MC's own backbone pass, zennit's LRP
        pred.predict(loaded, mc=0)
        mc_samples(m, x, n=mc, seed=0)
        all_label_cams(m, x, top3)
        zennit_lrp(m, x, resolved1)

    import zennit.attribution  # noqa: F401  (imports out of the timed calls)
    import zennit.composites  # noqa: F401
    slow_rounds = 1 if quick else max(1, rounds - 1)
    slow = paired(clock, forward, {
        "mc_naive": lambda: mc_samples(m, x, n=mc, seed=0, fast=False),
        "cam_pytorch_grad_cam_loop": lambda: per_label_cams_reference(m, x, targets_k),
        "lrp_zennit": lambda: zennit_lrp(m, x, resolved1),
        "review_one_by_one": one_by_one,
        "review_before": before,
    }, slow_rounds, warm=not quick)
    slow["cam_pytorch_grad_cam_loop"]["labels_measured"] = k
    if k < n_out:  # per-label cost x labels
        for key in ("ms", "ratio"):
            slow["cam_pytorch_grad_cam_loop"][key] *= n_out / k
        slow["cam_pytorch_grad_cam_loop"]["ratios"] = [round(r * n_out / k, 3) for r in
                                                       slow["cam_pytorch_grad_cam_loop"]["ratios"]]
    log(f"  naive MC x{slow['mc_naive']['ratio']:.1f}, pytorch-grad-cam loop x"
        f"{slow['cam_pytorch_grad_cam_loop']['ratio']:.1f}{' (from %d labels)' % k if k < n_out else ''}, zennit LRP x"
        f"{slow['lrp_zennit']['ratio']:.1f}, one by one x{slow['review_one_by_one']['ratio']:.1f}, as before x"
        f"{slow['review_before']['ratio']:.1f}")

    # exactness / conservation checks made by the same run
    import numpy as np

    chk = {}
    fast_cams = all_label_cams(m, x, targets_k[:3], scale="minmax")
    chk["cam_vs_pytorch_grad_cam_max_abs_diff_float32"] = float(np.abs(fast_cams - per_label_cams_reference(m, x, targets_k[:3])).max())
    a = mc_samples(m, x, n=mc, seed=1, fast=True)
    b = mc_samples(m, x, n=mc, seed=1, fast=False)
    chk["mc_fast_vs_naive_max_abs_diff"] = max(float((a[h] - b[h]).abs().max()) for h in a)
    lm = lrp(m, x, top1)[0]
    zm = zennit_lrp(m, x, resolved1)[0]
    chk.update({"lrp_conservation": lm.conservation, "lrp_approximate": lm.approximate, "lrp_rules": lm.rules,
                "lrp_zennit_conservation": zm.conservation, "lrp_engine": "chain" if chain else "zennit"})
    res, maps = review(pred, loaded, mc=mc, seed=0)
    ref = pred.predict(loaded, mc=mc, seed=0)
    chk["bundle_vs_predictor_max_abs_diff"] = max(
        [float(np.abs(res.probs[h] - ref.probs[h]).max()) for h in ref.probs] +
        [float(np.abs(res.uncertainty[h].std - ref.uncertainty[h].std).max()) for h in ref.probs])
    return {"model": HEADLINE, "variant": variant, "input_size": pred.input_size, "outputs": n_out,
            "params_m": sum(p.numel() for p in m.parameters()) / 1e6, "untrained": pred.untrained,
            "device": str(pred.device), "load_s": load_s, "forward_ms": fast["base_ms"], "fast": fast, "slow": slow,
            "checks": chk, "targets": {"top3": top3, "top1": top1}, "mc": mc}


# ---------------------------------------------------------------------------------------------- per model
def bench_model(model_id: str, variant: str, device: str, rounds: int, quick: bool, mc: int = 10) -> dict:
    import torch

    from hcview.explain.all_labels import all_label_cams, per_label_cams_reference
    from hcview.explain.lrp import chain_plan, lrp
    from hcview.infer.bundle import review
    from hcview.infer.mc_dropout import mc_samples

    pred, load_s, loaded, x = _loaded_on_sample(model_id, variant, device)
    m, clock = pred.model, _clock(pred.device)
    outs = pred.label_space.all_outputs()

    def forward():
        with torch.inference_mode():
            m(x)

    alts = {"mc": lambda: mc_samples(m, x, n=mc, seed=0), "cam_all_labels": lambda: all_label_cams(m, x)}
    k = min(len(outs), 3 if quick else 7)
    tk = [(h, i) for h, i, _ in outs][:k]
    if not quick:
        alts.update({"lrp_top1": lambda: lrp(m, x, [0]), "review_bundle": lambda: review(pred, loaded, mc=mc),
                     "mc_naive": lambda: mc_samples(m, x, n=mc, seed=0, fast=False),
                     "cam_pytorch_grad_cam_loop": lambda: per_label_cams_reference(m, x, tk)})
    r = paired(clock, forward, alts, 1 if quick else rounds)
    row = {"model": model_id, "variant": variant, "input_size": pred.input_size, "outputs": len(outs),
           "params_m": sum(p.numel() for p in m.parameters()) / 1e6, "load_s": load_s, "forward_ms": r["base_ms"],
           "untrained": pred.untrained}
    for key in alts:
        row[key] = {"ms": r[key]["ms"], "ratio": r[key]["ratio"]}
    if "cam_pytorch_grad_cam_loop" in row and k < len(outs):
        row["cam_pytorch_grad_cam_loop"] = {key: v * len(outs) / k for key, v in row["cam_pytorch_grad_cam_loop"].items()}
        row["cam_pytorch_grad_cam_loop"]["labels_measured"] = k
    if not quick:
        lm = lrp(m, x, [0])[0]
        row["lrp_conservation"], row["lrp_approximate"] = lm.conservation, lm.approximate
        row["lrp_logit"] = lm.logit
        row["lrp_engine"] = "chain" if chain_plan(m, x) is not None else "zennit"
    return row


# ---------------------------------------------------------------------------------------------- torchxrayvision
def bench_xrv(variant: str, device: str, rounds: int) -> dict:
    """torchxrayvision's DenseNet-121 (weights=None, 1 channel, 18 outputs) next to CIHMLC's variant, same image and
    size, one plain forward each (paired)."""
    import torch

    try:
        t = time.perf_counter()
        import torchxrayvision as xrv
        import_s = time.perf_counter() - t
    except ImportError as e:
        return {"skipped": f"torchxrayvision is not installed ({e.name}); pip install -r requirements-dev.txt"}
    from hcview.infer.predictor import get_predictor

    pred = get_predictor(HEADLINE, variant, device=device)
    x = pred.preprocess(pred.load(_sample_png()))
    xm = xrv.models.DenseNet(weights=None).to(pred.device).eval()
    x1 = x[:, :1].contiguous()
    m = pred.model
    clock = _clock(pred.device)

    def ours():
        with torch.inference_mode():
            m(x)

    def theirs():
        with torch.inference_mode():
            xm(x1)

    r = paired(clock, ours, {"xrv": theirs}, rounds)
    return {"input_size": pred.input_size, "import_s": import_s, "cihmlc_ms": r["base_ms"], "xrv_ms": r["xrv"]["ms"],
            "xrv_over_cihmlc": r["xrv"]["ratio"], "xrv_params_m": sum(p.numel() for p in xm.parameters()) / 1e6,
            "cihmlc_params_m": sum(p.numel() for p in m.parameters()) / 1e6, "version": getattr(xrv, "__version__", "?"),
            "outputs": int(xm.classifier.out_features)}


# ---------------------------------------------------------------------------------------------- training
def bench_train(variant: str, device: str, threads: int, steps: int, batch_size: int, log=print) -> dict:
    """Trainer steps per second (``hcview.train.trainer.train``, timed between its per-step cancel checks) against a
    plain PyTorch loop: the same model (same seed), batch, data set (with the trainer's augmentation), loss and
    optimiser. The first step of each is a warm-up."""
    import shutil

    import torch
    from torch.utils.data import DataLoader

    from hcview.models import create_model, get_spec
    from hcview.train.config import resolve_config
    from hcview.train.forward import collate, model_inputs, to_device
    from hcview.train.losses import build_criterion
    from hcview.train.trainer import TrainTargets, build_split, seed_everything, train

    spec = get_spec(HEADLINE)
    v = spec.variant(variant)
    cfg = resolve_config(HEADLINE, variant, data="sample:nih", epochs=1, batch_size=batch_size, max_steps=steps + 2,
                         max_eval_samples=batch_size, threads=threads, device=device, num_workers=0)
    out = Path(tempfile.mkdtemp(prefix="hcview-bench-train-"))
    ticks: list = []
    k = 0 if CLOCK["primary"] == "wall" else 1

    def now():
        return time.perf_counter(), time.process_time()

    def tick():
        ticks.append(now())
        return False

    def steps_of(t):  # step 2.. (step 1 is the warm-up); (wall, cpu) per step
        return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(t[1:], t[2:])]

    def trainer_run():
        ticks.clear()
        train(dict(cfg), out / f"run{len(runs)}", should_stop=tick, show_bar=False, log=lambda s: None)
        return steps_of(ticks)

    def reference_run():
        seed_everything(int(cfg["seed"]))
        dev = torch.device(device)
        ls = spec.label_space(variant)
        ds = build_split(cfg, spec, v, ls, "train", cfg.get("augment") or None)
        model = create_model(HEADLINE, variant).to(dev)
        crit, _ = build_criterion(spec, v, cfg, TrainTargets(ds), ls)
        opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]), betas=tuple(cfg["betas"]), eps=float(cfg["eps"]),
                               weight_decay=float(cfg.get("weight_decay") or 0.0))
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=collate, drop_last=True,
                            generator=torch.Generator().manual_seed(int(cfg["seed"])))
        model.train()
        t = [now()]
        for i, batch in enumerate(loader):
            batch = to_device(batch, dev)
            o = model(batch["image"], **model_inputs(batch, spec, model))
            loss, _ = crit(o, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            t.append(now())
            if i + 1 >= steps + 1:
                break
        return steps_of(t)

    runs: list = []
    try:
        # ABBA: whatever drifts during the run (allocator warm-up, a neighbour's load) falls on both sides alike
        order = ("trainer", "reference", "reference", "trainer")
        times = {"trainer": [], "reference": []}
        for name in order:
            t0 = time.perf_counter()
            st = trainer_run() if name == "trainer" else reference_run()
            runs.append(name)
            times[name] += st
            log(f"  {name}: {len(st)} timed steps, median {_med([x[k] for x in st]):.2f} s/step "
                f"({CLOCK['primary']}; run {time.perf_counter() - t0:.0f} s wall)")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    tr, rf = _med([x[k] for x in times["trainer"]]), _med([x[k] for x in times["reference"]])
    trw, rfw = _med([x[0] for x in times["trainer"]]), _med([x[0] for x in times["reference"]])
    return {"model": HEADLINE, "variant": variant, "input_size": v.input_size, "batch_size": batch_size,
            "timed_steps_each": len(times["trainer"]), "trainer_s_per_step": tr, "reference_s_per_step": rf,
            "trainer_steps_per_s": 1 / tr, "reference_steps_per_s": 1 / rf, "ratio": rf / tr, "ratio_wall": rfw / trw,
            "clock": CLOCK["primary"],
            "trainer_steps": [round(x[k], 3) for x in times["trainer"]],
            "reference_steps": [round(x[k], 3) for x in times["reference"]],
            "data": "sample:nih (upsampled to the input size), the trainer's augmentation"}


# ---------------------------------------------------------------------------------------------- batch
def bench_batch(variant: str, device: str, n_images: int, rounds: int, mc: int = 10, log=print) -> dict:
    """``predict --input FOLDER --csv`` (``collect_files`` + ``predict_files``, model already loaded) against a plain
    ``torch.inference_mode()`` loop over the same images decoded beforehand, one image per forward."""
    import shutil

    import torch

    from hcview import paths
    from hcview.data.io import load_image, to_model_input
    from hcview.infer.batch import collect_files, predict_files
    from hcview.infer.predictor import get_predictor

    pred = get_predictor(HEADLINE, variant, device=device)
    folder = Path(tempfile.mkdtemp(prefix="hcview-bench-batch-"))
    try:
        srcs = sorted((paths.samples_dir() / "nih-cxr-1000").glob("*/*/*.png"))[:n_images]
        for i, s in enumerate(srcs):
            (folder / f"{i:03d}.png").write_bytes(s.read_bytes())
        files = collect_files([folder])
        xs = [to_model_input(load_image(f), pred.input_size, pred.spec.mean, pred.spec.std)[None].to(pred.device)
              for f in files]
        m, clock = pred.model, _clock(pred.device)

        def plain():
            with torch.inference_mode():
                for x in xs:
                    m(x)

        def cli_path(k=0):
            return lambda: predict_files(pred, collect_files([folder]), mc=k, progress=False)

        warm_files = collect_files([folder])[:2]  # first-call costs (imports, thread pools) out of the timings
        predict_files(pred, warm_files, mc=mc, progress=False)
        with torch.inference_mode():
            m(xs[0])
        alts = {"predict_csv": cli_path(0)}
        if mc:
            alts["predict_csv_mc"] = cli_path(mc)
        r = paired(clock, plain, alts, rounds, warm=False)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    n = len(files)
    out = {"model": HEADLINE, "variant": variant, "input_size": pred.input_size, "images": n,
           "plain_img_per_s": n / (r["base_ms"] / 1e3), "predict_csv_img_per_s": n / (r["predict_csv"]["ms"] / 1e3),
           "ratio": 1 / r["predict_csv"]["ratio"], "batch_size": 16,
           "workers": min(2, os.cpu_count() or 1) if n > 16 else 0, "source": "sample pack NIH PNGs (64 px, upsampled)"}
    if mc:
        out.update({"mc": mc, "predict_csv_mc_img_per_s": n / (r["predict_csv_mc"]["ms"] / 1e3),
                    "ratio_mc": 1 / r["predict_csv_mc"]["ratio"]})
    log(f"  plain loop {out['plain_img_per_s']:.2f} img/s, predict --csv {out['predict_csv_img_per_s']:.2f} img/s "
        f"(x{out['ratio']:.2f})" + (f", with --mc {mc} x{out['ratio_mc']:.2f}" if mc else ""))
    return out


# ---------------------------------------------------------------------------------------------- app
_RERUN_SCRIPT = r'''
import json, os, statistics, sys, time
from streamlit.testing.v1 import AppTest
app, n = sys.argv[1], int(sys.argv[2])
out = {}
at = AppTest.from_file(app, default_timeout=600)
t = time.perf_counter(); at.run(); out["first_run_s"] = time.perf_counter() - t
out["first_run_exceptions"] = len(at.exception)
ts = []
for _ in range(n):
    t = time.perf_counter(); at.run(); ts.append(time.perf_counter() - t)
out["overview_rerun_ms"] = [round(x * 1e3, 1) for x in ts]
try:  # Case review as the page tests drive it: a bundled PNG through CIHMLC's demo model, MC-10, Explanations tab
    case = AppTest.from_file(os.path.join(os.path.dirname(app), "views", "2_Case_review.py"), default_timeout=600)
    case.run()
    sample = case.selectbox(key="case_sample")
    sample.select(next(o for o in sample.options if "00000001_000.png" in o)).run()
    case.selectbox(key="case_model").set_value("cihmlc")
    case.number_input(key="case_mc").set_value(10)
    case.session_state["case_tab"] = "Explanations"
    t = time.perf_counter(); case.run(); out["case_first_s"] = time.perf_counter() - t
    ts = []
    for i in range(n):  # the overlay's opacity slider: a rerun that changes only the display
        case.slider(key="case_alpha").set_value(0.3 + 0.1 * (i % 5))
        t = time.perf_counter(); case.run(); ts.append(time.perf_counter() - t)
    out["case_rerun_ms"] = [round(x * 1e3, 1) for x in ts]
    out["case_exceptions"] = len(case.exception)
except Exception as e:
    out["case_error"] = f"{type(e).__name__}: {e}"[:300]
print("BENCH-JSON " + json.dumps(out))
'''

_IMPORT_SCRIPT = r'''
import json, sys, time
t = [time.perf_counter()]
import streamlit
t.append(time.perf_counter())
import hcview.ui.common, hcview.ui.jobs_widgets
t.append(time.perf_counter())
from hcview.models.cards import catalog_rows
catalog_rows()
t.append(time.perf_counter())
first_page_torch = "torch" in sys.modules
from hcview.models.catalog import catalog
t.append(time.perf_counter())
catalog()
t.append(time.perf_counter())
steps = ["import streamlit", "import hcview.ui.common + jobs_widgets (the app's imports)",
         "the first page's catalog (snapshot + model cards, no torch)",
         "a model page: import torch, torchvision and the registry", "the registry's catalog (every paper module, "
         "parameter counts on the meta device)"]
print("BENCH-JSON " + json.dumps({"steps": [{"step": s, "seconds": round(b - a, 2)} for s, a, b in zip(steps, t, t[1:])],
                                  "first_page_imports_torch": first_page_torch}))
'''

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(var_dir: str, threads: int | None = None) -> dict:
    from hcview import paths

    env = {**os.environ, "HCVIEW_VAR_DIR": var_dir, "PYTHONUNBUFFERED": "1", "HCVIEW_ALLOW_DOWNLOAD": "0",
           "PYTHONPATH": os.pathsep.join([str(paths.ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def app_cold_start(var_dir: str, timeout: float = 180) -> dict:
    """``streamlit run app.py`` until ``/_stcore/health`` answers, then (with Playwright and Chromium, launched
    before the clock starts) until the Overview page's first script run has finished in a browser."""
    import shutil
    import urllib.request

    from hcview import paths

    chromium = os.environ.get("HCVIEW_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    pw = browser = None
    why = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright, why = None, "playwright is not installed"
    if sync_playwright and not chromium:
        why = "no Chromium binary"
    if sync_playwright and chromium:
        pw = sync_playwright().start()
        browser = pw.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu",
                                                                      "--disable-dev-shm-usage"])
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(Path(var_dir) / "streamlit.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
                            cwd=paths.ROOT, env=_env(var_dir), stdout=log, stderr=subprocess.STDOUT)
    out: dict = {}
    try:
        while time.perf_counter() - t0 < timeout:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        out["health_s"] = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.05)
        if "health_s" not in out:
            out["error"] = f"no /_stcore/health answer within {timeout:.0f} s"
            return out
        if browser is None:
            out["first_render_skipped"] = why
            return out
        page = browser.new_page()
        page.goto(url, wait_until="commit")
        page.wait_for_function(
            "() => { const a = document.querySelector(\"[data-testid='stApp']\");"
            " return a && a.getAttribute('data-test-script-state') === 'notRunning'"
            " && document.querySelector(\"[data-testid='stMain'] h1\") }", timeout=timeout * 1000)
        out["first_render_s"] = time.perf_counter() - t0
        page.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if browser is not None:
            browser.close()
        if pw is not None:
            pw.stop()
    return out


def app_reruns(var_dir: str, n: int, threads: int) -> dict:
    """Server-side script run times from Streamlit's AppTest (no browser, no network): the Overview page's first run
    (cold: imports) and reruns, then the Case-review page with a bundled sample through CIHMLC's demo model."""
    from hcview import paths

    p = subprocess.run([sys.executable, "-c", _RERUN_SCRIPT, str(paths.ROOT / "app.py"), str(n)], cwd=paths.ROOT,
                       env=_env(var_dir, threads), capture_output=True, text=True, timeout=900)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            r = json.loads(line[len("BENCH-JSON "):])
            for k in ("overview_rerun_ms", "case_rerun_ms"):
                if k in r:
                    r[k + "_median"] = _med(r[k])
            return r
    return {"error": (p.stderr or p.stdout)[-500:]}


def app_imports(var_dir: str, top: int = 8) -> dict:
    """What the app's first page pays for before it renders (streamlit, the shared sidebar's model catalog), step by
    step, and ``python -X importtime``'s heaviest third-party packages (cumulative, where first imported)."""
    from hcview import paths

    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-X", "importtime", "-c", _IMPORT_SCRIPT], cwd=paths.ROOT,
                       env=_env(var_dir, 1), capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    steps, first_torch = [], None
    for line in p.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            rec = json.loads(line[len("BENCH-JSON "):])
            steps, first_torch = rec["steps"], rec.get("first_page_imports_torch")
    first: dict = {}
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        try:
            cum = int(parts[1])
        except ValueError:
            continue
        name = parts[2].strip()
        root = name.split(".")[0]
        if name == root and root not in ("hcview", "encodings") and root not in first:
            first[root] = cum
    heavy = sorted(first.items(), key=lambda kv: -kv[1])[:top]
    return {"wall_s": wall, "steps": steps, "first_page_imports_torch": first_torch, "top": [{"module": k, "cumulative_s": round(v / 1e6, 2)} for k, v in heavy]}


# ---------------------------------------------------------------------------------------------- memory
_RSS_SCRIPT = r'''
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[2]))
from hcview.infer.predictor import get_predictor
from hcview.models import list_models
variant = sys.argv[1]
img = np.asarray(__import__("PIL.Image", fromlist=["Image"]).open(sys.argv[3]).convert("L"), dtype=np.float32) / 255
t = time.perf_counter()
preds = [get_predictor(m, variant) for m in list_models()]
def hwm():  # peak RSS of this process image (ru_maxrss would carry the parent's peak across fork + exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
loaded = hwm()
for p in preds:
    p.predict(img, mc=10)
print("BENCH-JSON " + json.dumps({"variant": variant, "models": list_models(), "after_load_mb": loaded,
      "after_predict_mb": hwm(),
      "params_m": sum(sum(q.numel() for q in p.model.parameters()) for p in preds) / 1e6,
      "seconds": time.perf_counter() - t}))
'''


def rss_all_models(variant: str, threads: int) -> dict:
    """Peak RSS of a fresh process holding all four models of ``variant`` (after loading, and after one prediction
    with MC-10 each)."""
    from hcview import paths

    var_dir = tempfile.mkdtemp(prefix="hcview-bench-rss-")
    p = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, variant, str(threads), str(_sample_png())], cwd=paths.ROOT,
                       env=_env(var_dir, threads), capture_output=True, text=True, timeout=900)
    for line in p.stdout.splitlines():
        if line.startswith("BENCH-JSON "):
            return json.loads(line[len("BENCH-JSON "):])
    return {"variant": variant, "error": (p.stderr or p.stdout)[-500:]}


# ---------------------------------------------------------------------------------------------- run
def _goal_met(name: str, value) -> bool | None:
    if value is None or value != value:
        return None
    op, g = GOALS[name]
    return value <= g if op == "<=" else value >= g


def run(args) -> int:
    if args.readme:
        from hcview import paths

        print(readme_ratios_markdown((paths.ROOT / "BENCHMARKS.md").read_text()))
        return 0
    import torch

    from hcview import paths
    from hcview.device import pick_device
    from hcview.models import get_spec, list_models

    t_start = time.perf_counter()
    os.environ.setdefault("HCVIEW_ALLOW_DOWNLOAD", "0")  # untrained paper variants: never wait on the network
    device = pick_device(args.device)
    threads, why = choose_threads(args.threads, device)
    if device.type == "cpu":
        torch.set_num_threads(threads)
    models = args.models or list_models()
    for mid in models:
        get_spec(mid)  # unknown ids: one line
    quick = args.quick
    rounds = args.repeats or (2 if quick else 3)
    CLOCK["primary"] = args.clock if args.clock != "auto" else (
        "cpu" if device.type == "cpu" and threads == 1 else "wall")
    skip = set(args.skip) | ({"models", "app"} if quick else set())
    say = (lambda s: print(s, file=sys.stderr, flush=True)) if args.json else (lambda s: print(s, flush=True))
    info = machine(threads)
    say(f"bench: {info['cpu']}, {threads} thread(s) ({why}), {'quick' if quick else 'full'} run, {args.variant} "
        f"variants, ratios on {CLOCK['primary']} time")
    result: dict = {"quick": quick, "variant": args.variant, "device": str(device), "threads": threads,
                    "threads_reason": why, "rounds": rounds, "machine": info, "clock": CLOCK["primary"],
                    "skipped": sorted(skip),
                    "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    sections: dict = {}
    t_sec = time.perf_counter()

    def lap(name):
        nonlocal t_sec
        sections[name] = round(time.perf_counter() - t_sec, 1)
        t_sec = time.perf_counter()

    head = bench_headline(args.variant, str(device), rounds, quick, args.mc, log=say)
    lap("headline")
    result["headline"] = head
    result["mc_dropout_ratio"] = head["fast"]["mc"]["ratio"]
    result["cam_all_labels_ratio"] = head["fast"]["cam_all_labels"]["ratio"]
    result["review_bundle_ratio"] = head["fast"]["review_bundle"]["ratio"]
    if "train" not in skip:
        say("training steps (trainer vs plain loop)")
        tr = bench_train(args.variant, str(device), threads, steps=2 if quick else 3, batch_size=2 if quick else 4,
                         log=say)
        result["train"], result["train_step_ratio"] = tr, tr["ratio"]
        lap("train")
    if "batch" not in skip:
        say("batch inference (predict --csv vs plain loop)")
        ba = bench_batch(args.variant, str(device), 8 if quick else 32, 1 if quick else 2, args.mc, log=say)
        result["batch"], result["batch_throughput_ratio"] = ba, ba["ratio"]
        lap("batch")
    if "xrv" not in skip:
        say("torchxrayvision DenseNet-121 vs CIHMLC")
        result["torchxrayvision"] = bench_xrv(args.variant, str(device), 2 if quick else rounds + 2)
        lap("xrv")
    if "models" not in skip:
        rows = []
        for mid in models:
            say(f"model table: {mid}")
            rows.append(bench_model(mid, args.variant, str(device), max(1, rounds - 1), quick, args.mc))
        result["models"] = rows
        lap("models")
    if "memory" not in skip:
        say("peak RSS with all four models loaded")
        result["memory"] = {v: rss_all_models(v, threads) for v in
                            dict.fromkeys([args.variant] + ([] if quick else ["demo"]))}
        lap("memory")
    if "app" not in skip:
        say("app: cold start, reruns, imports")
        var_dir = tempfile.mkdtemp(prefix="hcview-bench-app-")
        app = {"cold_start": app_cold_start(var_dir), "reruns": app_reruns(var_dir, 3 if quick else 7, threads)}
        if not quick:
            app["imports"] = app_imports(var_dir)
        result["app"] = app
        lap("app")
    for k in GOALS:
        result.setdefault(k, None)
    result["goals"] = {k: f"{op} {g}" for k, (op, g) in GOALS.items()}
    result["met"] = {k: _goal_met(k, result[k]) for k in GOALS}
    result["seconds"] = round(time.perf_counter() - t_start, 1)
    result["section_seconds"] = sections
    result["machine"]["load_average_end"] = [round(v, 1) for v in os.getloadavg()]
    validity = None
    if args.validity:
        validity = {}
        for mid in args.validity_models:
            validity[f"{mid}-demo"] = run_validity(mid, "demo", n_cases=args.validity_cases)
    if validity is None:
        try:
            validity = json.loads((paths.models_dir() / "explanation_validity.json").read_text())
        except (OSError, ValueError):
            validity = None
    rest = sys.argv[2:] if sys.argv[1:2] == ["bench"] else []
    result["command"] = " ".join(["python -m hcview bench", *rest])
    if not args.no_write:
        write_markdown(result, validity, paths.ROOT / "BENCHMARKS.md")
        update_readme(paths.ROOT / "README.md", paths.ROOT / "BENCHMARKS.md")
    if args.json:
        print(json.dumps({k: result[k] for k in GOALS} | {k: v for k, v in result.items() if k not in GOALS}
                         | {"validity": validity}, default=_jsonable))
    else:
        for k in GOALS:
            v = result[k]
            print(f"{k}: {'n/a' if v is None else '%.2f' % v} (goal {result['goals'][k]}: "
                  f"{'met' if result['met'][k] else 'NOT met' if result['met'][k] is False else 'n/a'})")
        print(f"{result['seconds']:.0f} s" + ("" if args.no_write else f"; wrote {paths.ROOT / 'BENCHMARKS.md'}"))
    return 0


def _jsonable(o):
    try:
        return float(o)
    except (TypeError, ValueError):
        return str(o)


# ---------------------------------------------------------------------------------------------- BENCHMARKS.md
def _f(v, fmt="%.2f", none="n/a"):
    return none if v is None or (isinstance(v, float) and v != v) else fmt % v


README_RATIOS_START = "<!-- bench-ratios:start -->"
README_RATIOS_END = "<!-- bench-ratios:end -->"


def readme_ratios_markdown(benchmarks: str) -> str:
    """The README's block: the five headline ratios as BENCHMARKS.md states them (value, goal, met), with the command,
    machine and date of that run. Read from the file, so the README can never quote figures the file does not hold."""
    lines = benchmarks.splitlines()

    def field(prefix: str) -> str:
        line = next((ln for ln in lines if ln.startswith(prefix)), "")
        return line[len(prefix):].strip().rstrip("\\").strip()

    rows = []
    for ln in lines:
        m = re.match(r"^\| `(\w+_ratio)` \| \*\*([^*]+)\*\*[^|]*\| ([^|]+) \| (\w+) \| ([^|]+) \|", ln)
        if m:
            rows.append(f"| `{m[1]}` | {m[5].strip()} | **{m[2]}** | {m[3].strip()} | {m[4]} |")
    if not rows:
        raise ValueError("BENCHMARKS.md holds no headline ratio table")
    gpu = next((ln for ln in lines if ln.startswith("**GPU figures")), "")
    command = field("Command:")
    command = command.split("`")[1] if "`" in command else command
    out = [f"Measured by `{command}` on "
           f"{field('Machine:')}; {field('Measured:').split(';')[0]}. CIHMLC paper variant at 320 px, each ratio "
           "against its alternative in the same run:", "",
           "| ratio | what | measured | goal | met |", "|---|---|---|---|---|", *rows]
    if gpu:
        out += ["", gpu]
    return "\n".join(out)


def update_readme(readme: Path, benchmarks: Path) -> None:
    """Rewrite the README's ratio block from BENCHMARKS.md (atomically; a README without the markers is left alone)."""
    from hcview.io_utils import atomic_write

    try:
        text = readme.read_text()
    except OSError:
        return
    if README_RATIOS_START not in text or README_RATIOS_END not in text:
        return
    head, rest = text.split(README_RATIOS_START, 1)
    _, tail = rest.split(README_RATIOS_END, 1)
    new = f"{head}{README_RATIOS_START}\n{readme_ratios_markdown(benchmarks.read_text())}\n{README_RATIOS_END}{tail}"
    atomic_write(readme, lambda f: f.write(new), "w")


def _conservation_cell(row: dict) -> str:
    """Relevance sum / explained logit; a ratio over a logit of about zero (random weights) says nothing."""
    logit = row.get("lrp_logit")
    if logit is not None and abs(logit) < 1e-3:
        return f"undefined: explained logit {logit:.1e} (random weights)"
    c = row["lrp_conservation"]
    return (f"{c:.1e}" if abs(c) >= 1000 else f"{c:.2f}") + (" (approximate)" if row["lrp_approximate"] else "")


def write_markdown(r: dict, validity: dict | None, path: Path) -> None:
    from hcview.io_utils import atomic_write

    atomic_write(path, lambda f: f.write("\n".join(markdown_lines(r, validity)) + "\n"), "w")


def markdown_lines(r: dict, validity: dict | None) -> list[str]:
    m, h = r["machine"], r["headline"]
    fast, slow, chk = h["fast"], h["slow"], h["checks"]
    L = ["# Benchmarks", "",
         f"Command: `{r['command']}` ({'quick' if r['quick'] else 'full'} run, {r['seconds']:.0f} s)  ",
         f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM, {m['os']}, Python {m['python']}, "
         f"torch {m['torch']}; device {r['device']}; **{r['threads']} CPU thread(s)** ({r['threads_reason']})  ",
         f"Measured: {r['measured_at']}; load average {', '.join(map(str, m['load_average']))} at the start, "
         f"{', '.join(map(str, m.get('load_average_end', [])))} at the end (the machine is shared with other jobs).  ",
         "**GPU figures are not measured**: this machine has no GPU (`--device cuda` runs the same measurements on one).",
         "",
         "Method: medians over rounds; every timed call is paired with the mean of the plain forward passes just before "
         "and after it, and each ratio is the median of those paired ratios, so the shared machine's load cancels out "
         "of the ratios more than of the absolute times. One forward = `model(x)` under `torch.inference_mode()`. "
         f"Models are {r['variant']} variants at their input sizes with random weights (no paper checkpoints are "
         "shipped; speed does not depend on the weights). With 2 threads on a loaded 2-core machine OpenMP threads "
         "spin-wait for each other while descheduled (measured 17x slower than 1 thread); hence the thread rule.", "",
         f"## Headline: {h['model']} {h['variant']} variant at {h['input_size']} px ({h['params_m']:.1f} M parameters, "
         f"{h['outputs']} outputs)", "",
         f"One forward: **{fast['base_ms']:.0f} ms** (median of {fast['base_n']}).", "",
         "| ratio | measured | goal | met | what | alternative measured in the same run |", "|---|---|---|---|---|---|"]
    names = {"mc_dropout_ratio": (f"MC dropout, {h['mc']} samples / one forward", "mc",
                                  f"naive {h['mc']} full passes: x{_f(slow['mc_naive']['ratio'], '%.1f')}"),
             "cam_all_labels_ratio": (f"Grad-CAM for all {h['outputs']} labels / one forward", "cam_all_labels",
                                      f"pytorch-grad-cam per-label loop: x{_f(slow['cam_pytorch_grad_cam_loop']['ratio'], '%.1f')}"
                                      + (f" (measured on {slow['cam_pytorch_grad_cam_loop']['labels_measured']} labels, "
                                         f"x{h['outputs']}/{slow['cam_pytorch_grad_cam_loop']['labels_measured']})"
                                         if slow['cam_pytorch_grad_cam_loop']['labels_measured'] < h['outputs'] else "")),
             "review_bundle_ratio": (f"review: prediction + MC-{h['mc']} + Grad-CAM top-3 + LRP top-1 / one forward",
                                     "review_bundle",
                                     f"same pieces one by one: x{_f(slow['review_one_by_one']['ratio'], '%.1f')}; as "
                                     f"before this change (MC's own backbone pass, zennit LRP): "
                                     f"x{_f(slow['review_before']['ratio'], '%.1f')}")}
    for k, (what, key, alt) in names.items():
        L.append(f"| `{k}` | **{_f(r[k])}** ({fast[key]['ms']:.0f} ms) | {r['goals'][k]} | "
                 f"{'yes' if r['met'][k] else 'NO'} | {what} | {alt} |")
    tr, ba = r.get("train"), r.get("batch")
    if tr:
        L.append(f"| `train_step_ratio` | **{_f(r['train_step_ratio'])}** | {r['goals']['train_step_ratio']} | "
                 f"{'yes' if r['met']['train_step_ratio'] else 'NO'} | trainer steps/s / plain PyTorch loop steps/s "
                 f"(batch {tr['batch_size']}, {tr['timed_steps_each']} timed steps each) | trainer "
                 f"{tr['trainer_s_per_step']:.2f} s/step, plain loop {tr['reference_s_per_step']:.2f} s/step |")
    if ba:
        L.append(f"| `batch_throughput_ratio` | **{_f(r['batch_throughput_ratio'])}** | "
                 f"{r['goals']['batch_throughput_ratio']} | {'yes' if r['met']['batch_throughput_ratio'] else 'NO'} | "
                 f"`predict --input FOLDER --csv --mc 0` img/s / plain `inference_mode` loop img/s ({ba['images']} "
                 f"images) | predict {ba['predict_csv_img_per_s']:.2f} img/s, plain loop {ba['plain_img_per_s']:.2f} "
                 f"img/s" + (f"; with the CLI's default `--mc {ba['mc']}`: x{_f(ba.get('ratio_mc'))}" if ba.get("mc") else "")
                 + " |")
    L += ["", f"LRP top-1 alone: x{_f(fast['lrp_top1']['ratio'])} ({fast['lrp_top1']['ms']:.0f} ms, "
          f"{chk['lrp_engine']} rules), conservation **{_f(chk['lrp_conservation'])}** "
          f"({'approximate' if chk['lrp_approximate'] else 'within [0.8, 1.2]'}); zennit's composite on the same case: "
          f"x{_f(slow['lrp_zennit']['ratio'], '%.1f')}, conservation {_f(chk['lrp_zennit_conservation'])}.", "",
          f"Checks made by the same run: all-labels CAM vs pytorch-grad-cam max |diff| "
          f"{chk['cam_vs_pytorch_grad_cam_max_abs_diff_float32']:.1e} (float32; the unit test compares in float64 to "
          f"1e-5); MC fast vs naive max |diff| {chk['mc_fast_vs_naive_max_abs_diff']:.1e}; review bundle vs the "
          f"predictor's own prediction and MC max |diff| {chk['bundle_vs_predictor_max_abs_diff']:.1e}.", "",
          "Anchors: CIHMLC's reference code runs 10 full passes for MC dropout and one backward pass per label (21) for "
          "its CAMs: those are the naive-MC and per-label-loop columns here. Chester (a published CXR explainer) is "
          "reported to take 1.3 s to predict and 17 s to explain (not measured here).", ""]
    xr = r.get("torchxrayvision")
    if xr:
        L += ["## torchxrayvision", ""]
        if xr.get("skipped"):
            L.append(f"Skipped: {xr['skipped']}.")
        else:
            L.append(f"torchxrayvision {xr['version']} `DenseNet(weights=None)` (DenseNet-121, 1 channel, "
                     f"{xr['outputs']} outputs, {xr['xrv_params_m']:.1f} M parameters) vs CIHMLC {r['variant']} "
                     f"({xr['cihmlc_params_m']:.1f} M: DenseNet-121 + Conv(512) head), same image at "
                     f"{xr['input_size']} px, one forward each: **{xr['xrv_ms']:.0f} ms vs {xr['cihmlc_ms']:.0f} ms** "
                     f"(torchxrayvision / CIHMLC = {xr['xrv_over_cihmlc']:.2f}). Importing torchxrayvision took "
                     f"{xr['import_s']:.1f} s.")
        L.append("")
    rows = r.get("models")
    if rows:
        full = "lrp_top1" in rows[0]
        L += [f"## Per model ({r['variant']} variants)", "",
              "Ratios to one forward of the same model, same run. " + ("" if full else
              "Quick run: forward, MC and all-labels CAM only (the full run adds LRP, the review bundle, naive MC and "
              "the per-label loop)."), ""]
        hdr = ["model", "input", "outputs", "params M", "load s", "forward ms", "MC-10", "all-labels CAM"]
        if full:
            hdr += ["LRP top-1", "LRP conservation", "review bundle", "naive MC-10", "pytorch-grad-cam loop"]
        L += ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
        for row in rows:
            cells = [row["model"], str(row["input_size"]), str(row["outputs"]), f"{row['params_m']:.1f}",
                     f"{row['load_s']:.1f}", f"{row['forward_ms']:.0f}", f"x{row['mc']['ratio']:.2f}",
                     f"x{row['cam_all_labels']['ratio']:.2f}"]
            if full:
                loop = row["cam_pytorch_grad_cam_loop"]
                cells += [f"x{row['lrp_top1']['ratio']:.1f} ({row['lrp_engine']})",
                          _conservation_cell(row),
                          f"x{row['review_bundle']['ratio']:.1f}", f"x{row['mc_naive']['ratio']:.1f}",
                          f"x{loop['ratio']:.1f}" + (f" (from {int(loop['labels_measured'])} labels)" if
                                                     "labels_measured" in loop else "")]
            L.append("| " + " | ".join(cells) + " |")
        L.append("")
    if tr or ba:
        L += ["## Training and batch inference", ""]
        if tr:
            L.append(f"Training ({tr['model']} {tr['variant']} at {tr['input_size']} px, batch {tr['batch_size']}, "
                     f"{tr['data']}): trainer {tr['trainer_steps_per_s']:.3f} steps/s vs plain loop "
                     f"{tr['reference_steps_per_s']:.3f} steps/s; step times trainer {tr['trainer_steps']} s, plain "
                     f"{tr['reference_steps']} s. The trainer's step includes fetching the next batch, the loss parts, "
                     "the progress line and the cancel check.")
        if ba:
            L.append(f"Batch ({ba['images']} {ba['source']}, model loaded): `predict_files` with batches of "
                     f"{ba['batch_size']} and {ba['workers']} decoding workers vs a plain loop over the same images "
                     "decoded beforehand (decoding is not timed for the plain loop).")
        L.append("")
    mem = r.get("memory")
    app = r.get("app")
    if mem or app:
        L += ["## App and memory", ""]
    if app:
        cs, rr = app["cold_start"], app["reruns"]
        L.append(f"- Cold start (`streamlit run app.py` to first render of the Overview page in headless Chromium): "
                 f"**{_f(cs.get('first_render_s'), '%.1f')} s** (goal <= {APP_GOALS['cold_start_s']:.0f} s); "
                 f"`/_stcore/health` answered after {_f(cs.get('health_s'), '%.1f')} s"
                 + (f"; first render not measured: {cs['first_render_skipped']}" if cs.get("first_render_skipped") else "")
                 + (f"; error: {cs['error']}" if cs.get("error") else "") + ".")
        if "error" in rr:
            L.append(f"- Reruns: not measured ({rr['error'][:200]}).")
        else:
            L.append(f"- Reruns, server time (Streamlit AppTest, no browser): Overview page first run "
                     f"{rr['first_run_s']:.1f} s (cold imports), cached rerun **{_f(rr.get('overview_rerun_ms_median'), '%.0f')} "
                     f"ms** (goal <= {APP_GOALS['cached_rerun_ms']:.0f} ms); Case review with a bundled PNG through "
                     f"CIHMLC's demo model: first run {_f(rr.get('case_first_s'), '%.1f')} s, cached rerun "
                     f"**{_f(rr.get('case_rerun_ms_median'), '%.0f')} ms**"
                     + (f" (case page error: {rr['case_error']})" if rr.get("case_error") else "")
                     + ", moving the overlay opacity slider on the Explanations tab (MC-10, Grad-CAM and LRP maps cached "
                     "per case and model version; the rerun redraws the page).")
        imp = app.get("imports")
        if imp:
            L.append(f"- What the first page pays for, then a model page (a fresh process, {imp['wall_s']:.1f} s wall "
                     "under `python -X importtime`; the first page imports torch: "
                     f"{'yes' if imp.get('first_page_imports_torch') else 'no'}): " + "; ".join(f"{st['step']} {st['seconds']:.1f} s" for st in imp["steps"])
                     + ". Heaviest packages (cumulative, where first imported): "
                     + ", ".join(f"{t['module']} {t['cumulative_s']:.1f} s" for t in imp["top"]) + ".")
    if mem:
        for v, mm in mem.items():
            if "error" in mm:
                L.append(f"- Peak RSS, all four {v} models: not measured ({mm['error'][:200]}).")
            else:
                L.append(f"- Peak RSS of a fresh process with all four {v} models ({mm['params_m']:.0f} M parameters): "
                         f"**{mm['after_load_mb']:.0f} MB** loaded, {mm['after_predict_mb']:.0f} MB after one "
                         f"prediction with MC-10 each (goal <= {APP_GOALS['rss_all_models_mb']:.0f} MB).")
    if mem or app:
        L.append("")
    if validity:
        L += _validity_lines(validity)
    return L


def _validity_lines(validity: dict) -> list[str]:
    lines = ["## Explanation validity (phantoms with ground-truth lesion masks)", ""]
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
    return lines


def run_validity(model_id: str = "resmtnet", variant: str = "demo", n_cases: int = 16, split: str = "test",
                 methods=("gradcam", "lrp"), out_path=None) -> dict:
    """Measure on the model's phantom set (its spec's ``validity_data``); write ``models/explanation_validity.json``
    (merged per model)."""
    from hcview import paths
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
