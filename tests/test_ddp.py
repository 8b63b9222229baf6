"""DDP: 2 CPU processes (gloo) under torchrun for a few steps end with identical weights; only rank 0 writes."""
import json
import os
import subprocess
import sys

import torch

from hcview.train import ddp


def test_torchrun_command_shape():
    cmd = ddp.torchrun_command(2, ["train", "--model", "hcnet"])
    assert cmd[1:6] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m"]
    assert cmd[6:] == ["hcview", "train", "--model", "hcnet"]


def test_state_hash_detects_any_change():
    m = torch.nn.Linear(3, 2)
    h = ddp.state_hash(m)
    assert h == ddp.state_hash(m)
    with torch.no_grad():
        m.bias[0] += 1e-6
    assert h != ddp.state_hash(m)


def test_two_cpu_ranks_end_with_identical_weights(tmp_path, tmp_var_dir, tmp_models_dir):
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "hcview", "train", "--model", "cihmlc", "--variant", "demo", "--nproc", "2",
           "--device", "cpu", "--max-steps", "3", "--batch-size", "4", "--max-train-samples", "32",
           "--max-eval-samples", "8", "--out", str(out), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    h0 = (out / "state_hash_rank0.txt").read_text()
    h1 = (out / "state_hash_rank1.txt").read_text()
    assert len(h0) == 64 and h0 == h1
    res = json.loads((out / "result.json").read_text())
    assert res["steps"] == 3
    card = json.loads((out / "best_metric.json").read_text())
    assert card["world_size"] == 2
    # only rank 0 writes progress: one line per step, not two
    ev = [json.loads(s) for s in (out / "progress.jsonl").read_text().splitlines()]
    assert [e["step"] for e in ev if e["event"] == "step"] == [1, 2, 3]
    # the weights actually moved away from the initial ones (training happened on both ranks)
    from hcview.models import create_model
    from hcview.models.checkpoint import load_state

    torch.manual_seed(0)
    init = create_model("cihmlc", "demo")
    trained = load_state(out / "best_metric.pt")
    assert any(not torch.equal(v, trained[k]) for k, v in init.state_dict().items() if v.dtype.is_floating_point)
