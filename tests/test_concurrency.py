"""One cached model serves every session: two threads explaining different cases at the same time
(Grad-CAM + LRP + MC dropout) must get exactly what they get one after the other."""
import threading

import numpy as np
import torch

from hcview.explain.all_labels import all_label_cams
from hcview.explain.gradcam import gradcam
from hcview.explain.guard import hook_count, state_fingerprint
from hcview.explain.lrp import lrp
from hcview.infer.mc_dropout import mc_samples
from hcview.models.registry import create_model


def _work(model, x):
    return {"mc": {k: v.numpy() for k, v in mc_samples(model, x, n=5, seed=11).items()},
            "mc_full": {k: v.numpy() for k, v in mc_samples(model, x, n=3, seed=5, fast=False).items()},
            "cam": gradcam(model, x, [("labels", 0), ("labels", 5)], "gradcam"),
            "cam_all": all_label_cams(model, x, [("labels", 1), ("labels", 2)]),
            "lrp": np.stack([m.relevance for m in lrp(model, x, [("labels", 3)])])}


def _same(a, b):
    for k in a:
        if isinstance(a[k], dict):
            for h in a[k]:
                np.testing.assert_array_equal(a[k][h], b[k][h])
        else:
            np.testing.assert_array_equal(a[k], b[k])


def test_two_threads_same_results_as_sequential():
    torch.manual_seed(0)
    model = create_model("cihmlc", "demo").eval()
    xs = [torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(s)) for s in (1, 2)]
    before = state_fingerprint(model)
    seq = [_work(model, x) for x in xs]
    assert not np.array_equal(seq[0]["cam"], seq[1]["cam"])  # the two cases really differ
    for _ in range(2):
        barrier = threading.Barrier(2)
        got, errors = [None, None], []

        def run(i):
            try:
                barrier.wait()
                got[i] = _work(model, xs[i])
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        for i in range(2):
            _same(seq[i], got[i])
    assert state_fingerprint(model) == before and hook_count(model) == 0


def test_global_rng_does_not_affect_mc_samples():
    torch.manual_seed(0)
    model = create_model("medfusionnet", "demo").eval()
    x = torch.randn(1, 3, 64, 64)
    torch.manual_seed(1)
    a = mc_samples(model, x, n=4, seed=3)["labels"]
    torch.manual_seed(99)
    torch.rand(10)
    b = mc_samples(model, x, n=4, seed=3)["labels"]
    assert torch.equal(a, b)
