"""Distributed data parallel helpers.

``python -m hcview train --nproc N ...`` re-runs itself under torchrun
(``python -m torch.distributed.run --standalone --nproc_per_node N -m hcview train ...``); every
worker then calls :func:`setup`, which reads torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK)
and joins a process group: gloo on CPU, nccl on CUDA. Only rank 0 writes checkpoints and progress.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistCtx:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def in_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and int(os.environ.get("WORLD_SIZE", "1")) > 1


def setup(device: torch.device) -> DistCtx:
    """Join the process group when launched by torchrun; a no-op otherwise."""
    if not in_torchrun():
        return DistCtx()
    ctx = DistCtx(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(ctx.local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return ctx


def device_for(ctx: DistCtx, device: torch.device) -> torch.device:
    if device.type == "cuda" and ctx.enabled:
        return torch.device("cuda", ctx.local_rank)
    return device


def cleanup() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def any_true(flag: bool, ctx: DistCtx, device: torch.device) -> bool:
    """True on every rank if it is true on any rank (keeps stop decisions in step)."""
    if not ctx.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def sync_buffers(model: torch.nn.Module, ctx: DistCtx) -> None:
    """Copy rank 0's buffers (BatchNorm running stats) to every rank. DDP broadcasts buffers at the
    start of each forward, so after the last training step each rank holds stats updated by its own
    batch; call this before validation/saving so all ranks hold identical state."""
    if ctx.enabled:
        for b in model.buffers():
            dist.broadcast(b.data, src=0)


def barrier(ctx: DistCtx) -> None:
    if ctx.enabled:
        dist.barrier()


def state_hash(model: torch.nn.Module) -> str:
    """sha256 of a state_dict (names + bytes), to check that ranks agree."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def torchrun_command(nproc: int, hcview_args: list[str]) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={int(nproc)}",
            "-m", "hcview", *hcview_args]


def launch(nproc: int, hcview_args: list[str]) -> int:
    """Run ``python -m hcview <hcview_args>`` under torchrun and wait; returns its exit code.
    SIGTERM to this process is passed on to torchrun (which stops its workers)."""
    import signal

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 2) // max(1, nproc))))
    proc = subprocess.Popen(torchrun_command(nproc, hcview_args), env=env)

    def _forward(signum, _frame):
        try:
            proc.send_signal(signum)
        except ProcessLookupError:
            pass

    old = signal.signal(signal.SIGTERM, _forward)
    try:
        return proc.wait()
    finally:
        signal.signal(signal.SIGTERM, old)
