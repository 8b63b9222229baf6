"""The review bundle returns what the predictor returns; the bench's timing pairs and its report. Demo variants, tiny
inputs: the speed goals themselves are measured by ``python -m hcview bench``, never asserted here."""
import json

import numpy as np
import pytest
import torch

from hcview.explain.guard import hook_count, state_fingerprint
from hcview.infer.bundle import review
from hcview.infer.predictor import Predictor
from hcview.models import list_models
from hcview.models.registry import create_model


def _img(seed=0, size=96):
    return np.random.default_rng(seed).random((size, size)).astype(np.float32)


@pytest.mark.parametrize("mid", list_models())
def test_review_bundle_equals_predict_and_explain(mid):
    torch.manual_seed(0)
    pr = Predictor(mid, "demo", model=create_model(mid, "demo"))
    before = state_fingerprint(pr.model)
    res, maps = review(pr, _img(), mc=5, seed=3, cam_targets="top3", lrp_targets="top1")
    ref = pr.predict(_img(), mc=5, seed=3)
    ref_maps = pr.explain(ref, ("gradcam",), "top3") + pr.explain(ref, ("lrp",), "top1")
    for h in ref.probs:
        np.testing.assert_array_equal(res.probs[h], ref.probs[h])
        np.testing.assert_array_equal(res.uncertainty[h].std, ref.uncertainty[h].std)
    assert res.to_json()["outputs"] == ref.to_json()["outputs"]
    assert [(m["method"], m["head"], m["index"]) for m in maps] == [(m["method"], m["head"], m["index"]) for m in ref_maps]
    for a, b in zip(maps, ref_maps):
        np.testing.assert_allclose(a["map"], b["map"], atol=1e-6)
        assert a["approximate"] == b["approximate"] and set(a) == set(b)
    assert state_fingerprint(pr.model) == before and hook_count(pr.model) == 0


def test_review_bundle_runs_the_backbone_once_for_a_chain_model():
    torch.manual_seed(0)
    pr = Predictor("cihmlc", "demo", model=create_model("cihmlc", "demo"))
    review(pr, _img(1), mc=4)  # builds the chain plan (a trace) once
    calls = []
    h = pr.model.backbone.conv0.register_forward_hook(lambda *a: calls.append(1))
    try:
        _, maps = review(pr, _img(2), mc=10, cam_targets="top3", lrp_targets="top2")
    finally:
        h.remove()
    assert len(calls) == 1  # prediction, MC-10, three Grad-CAMs and two LRP maps from one backbone pass
    assert [m["method"] for m in maps] == ["gradcam"] * 3 + ["lrp"] * 2
    assert all(0.8 <= m["conservation"] <= 1.2 for m in maps if m["method"] == "lrp")


def test_paired_timing_pairs_each_alternative_with_its_neighbouring_forwards():
    from hcview.cli.bench_cmd import paired

    ticks = iter([(1.0, 1.0), (3.0, 3.0), (1.0, 1.0), (10.0, 10.0), (3.0, 3.0)] * 2)

    class FakeClock:
        primary = "cpu"

        def __call__(self, fn):
            fn()
            return next(ticks)

    r = paired(FakeClock(), lambda: None, {"a": lambda: None, "b": lambda: None}, rounds=2, warm=False)
    assert r["a"]["ratio"] == pytest.approx(3.0) and r["b"]["ratio"] == pytest.approx(10.0 / 2.0)
    assert r["base_ms"] == pytest.approx(1000.0) and r["base_n"] == 6


def test_forward_chunk_on_cpu():
    from hcview.infer.batch import forward_chunk

    assert forward_chunk(torch.zeros(16, 3, 320, 320)) == 2
    assert forward_chunk(torch.zeros(16, 3, 64, 64)) == 16
    assert forward_chunk(torch.zeros(3, 3, 1024, 1024)) == 1


def test_bench_quick_demo_prints_the_five_ratios_and_writes_the_report(tmp_path, capsys, monkeypatch):
    from hcview.cli import bench_cmd, main

    written = {}
    monkeypatch.setattr(bench_cmd, "write_markdown", lambda r, v, path: written.update(
        text="\n".join(bench_cmd.markdown_lines(r, v))))
    monkeypatch.setattr(bench_cmd, "update_readme", lambda readme, bench: written.update(readme=readme.name))
    n = torch.get_num_threads()
    try:
        assert main(["bench", "--quick", "--variant", "demo", "--threads", "1", "--skip", "xrv", "memory", "--json"]) == 0
    finally:
        torch.set_num_threads(n)
    j = json.loads(capsys.readouterr().out)
    ratios = ["mc_dropout_ratio", "cam_all_labels_ratio", "review_bundle_ratio", "train_step_ratio",
              "batch_throughput_ratio"]
    assert list(j)[:5] == ratios and all(isinstance(j[k], float) and j[k] > 0 for k in ratios)
    assert j["threads"] == 1 and j["clock"] == "cpu" and j["headline"]["input_size"] == 64
    assert j["headline"]["checks"]["lrp_engine"] == "chain" and j["headline"]["checks"]["mc_fast_vs_naive_max_abs_diff"] == 0
    assert set(j["met"]) == set(ratios) and "models" not in j and "app" not in j
    text = written["text"]
    assert "GPU figures are not measured" in text and "`review_bundle_ratio`" in text and "1 CPU thread" in text
    assert written["readme"] == "README.md"  # the README's ratio block is rewritten with the file
    block = bench_cmd.readme_ratios_markdown(text)
    assert all(f"`{k}`" in block for k in ratios) and f"**{j['mc_dropout_ratio']:.2f}**" in block
