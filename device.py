"""The device: which precision this hardware computes fast, how batches reach it, and the memory
lever for training on a CPU.

configure() sets the TrainingArguments that depend on the hardware (use_cpu, bf16/fp16, tf32,
copies that do not block) from --precision. On a GPU, --precision auto is then settled by
measuring: choose_for_batch() times a few steps of the real batch in each candidate precision and
keeps the faster (small batches are bound by the host, where autocast's casts cost more than its
faster matmuls save). It does not move the model to the device for training: the Trainer does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import time
from pathlib import Path

import torch

from errors import UserError


def keep_freed_memory():
    """Stop glibc from handing freed memory back to the OS.

    A training step allocates and frees large weight casts and gradients; by default glibc unmaps
    every large block on free, so the next step page-faults it all in again. Keeping it makes a
    default CPU run of a bert-base-chinese-shaped model ~1.1x faster (measured, 2 cores: 0.60 ->
    0.54 s a step); the price is that RSS stays at its peak until the process ends (~+550 MB).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl): nothing to tune
        return
    m_trim_threshold, m_mmap_max = -1, -4  # from <malloc.h>
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2**31 - 1)


def no_accelerator() -> bool:
    return not torch.cuda.is_available() and not (
        hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    )


def uses_cuda(args) -> bool:
    """Training goes to a CUDA GPU: there is one, and --use_cpu was not asked for (then everything
    is the CPU's)."""
    return torch.cuda.is_available() and not args.use_cpu


# Where a Linux CPU lists its features; a constant so that tests can show the code another CPU.
CPUINFO = Path("/proc/cpuinfo")


def local_gpu() -> int:
    """The GPU this process trains on: LOCAL_RANK under torchrun/accelerate. The Trainer selects it
    only later (TrainingArguments' device setup), so until then torch's current device is GPU 0 in
    every process.
    """
    return int(os.environ.get("LOCAL_RANK", 0) or 0) % max(1, torch.cuda.device_count())


def native_bf16(cuda: bool) -> bool:
    """bf16 is faster only where the hardware computes it natively (AMX / AVX512-BF16 CPUs, Ampere+
    GPUs)."""
    if cuda:
        # torch.cuda.is_bf16_supported() counts emulation by default: True on a T4 or V100,
        # where bf16 is slow. Its including_emulation=False test is the compute capability
        # (8.0, Ampere, and later) of the current device, which is GPU 0 at this point; ours is
        # the process's own GPU.
        if torch.version.hip:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.cuda.get_device_capability(local_gpu())[0] >= 8
    try:
        flags = CPUINFO.read_text()
    except OSError:  # not Linux: no cheap way to know, fp32 is the safe choice
        return False
    return bool(re.search(r"\b(amx_bf16|avx512_bf16)\b", flags))


def configure(args):
    """use_cpu, bf16/fp16, tf32 and non-blocking copies of the TrainingArguments, from
    args.precision and the hardware. On CUDA, precision auto starts as bf16 (fp16 before Ampere)
    and choose_for_batch() settles it.
    """
    if no_accelerator():
        # Without it torchrun on a CPU machine starts N separate runs of world_size
        # 1 (no gloo group).
        args.use_cpu = True
    cuda = uses_cuda(args)
    # the Trainer's own flags, --bf16 / --fp16 True
    asked = "bf16" if args.bf16 else "fp16" if args.fp16 else None
    if asked and args.bf16 and args.fp16:
        raise UserError(
            "--bf16 True and --fp16 True ask for two precisions: pass one (or --precision"
            " auto|fp32|bf16|fp16)"
        )
    if asked and args.precision not in ("auto", asked):
        raise UserError(
            f"--{asked} True contradicts --precision {args.precision}: pass one of them "
            f"(--precision {asked} is the same as --{asked} True)"
        )
    if asked:
        # asked for by name: neither the CPU rule nor the GPU timing second-guesses it
        args.precision = asked
    if args.precision == "fp16" and (args.use_cpu or no_accelerator()):
        # CPU autocast keeps matmuls in float32 under fp16: the run would be fp32 labelled fp16
        # (identical losses, measured), so no label may claim it.
        flag = "--fp16 True" if asked == "fp16" else "--precision fp16"
        raise UserError(
            f"{flag} needs a GPU: on a CPU, fp16 autocast trains in fp32; pass --precision bf16 (or"
            " auto, fp32), or train on a GPU"
        )
    if not (args.bf16 or args.fp16):
        if args.precision == "bf16" or (args.precision == "auto" and native_bf16(cuda)):
            args.bf16 = True
        elif args.precision == "fp16" or (args.precision == "auto" and cuda):
            args.fp16 = True
    if cuda:
        args.tf32 = (
            args.tf32
            if args.tf32 is not None
            else torch.cuda.get_device_capability(local_gpu())[0] >= 8
        )
        # Batches go to the GPU from pinned memory without the host waiting for the copy (and for
        # all the work queued before it, which a copy from pageable memory waits for).
        if args.accelerator_config is None or isinstance(args.accelerator_config, dict):
            args.accelerator_config = {"non_blocking": True, **(args.accelerator_config or {})}


def pad_multiple(args) -> int | None:
    """Pad batches to a multiple of 8 tokens on a GPU (tensor cores work in tiles of 8) and under
    torch.compile (fewer distinct shapes to compile for); not on a CPU, where padding is only more
    work."""
    return 8 if uses_cuda(args) or args.torch_compile else None


def precision_of(args) -> str:
    return "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"


def set_precision(args, precision: str):
    """Switch settled TrainingArguments to fp32, bf16 or fp16 autocast (before the Trainer is
    built)."""
    args.bf16, args.fp16 = precision == "bf16", precision == "fp16"
    # what the Trainer hands accelerate
    args.mixed_precision = precision if precision != "fp32" else "no"


# On a CPU that computes bf16 natively, autocast pays where matmuls dominate a step
# (bert-base-chinese, 768 wide: 1.47x a whole run, measured on AMX). Narrower models are bound by
# the cost of each op, and autocast only adds ops: a cast of each weight and of each matmul's output
# (bench.py precision counts them).
MIN_BF16_HIDDEN_ON_CPU = 512


def cpu_precision_for(args, model) -> str | None:
    """--precision auto on a CPU: fp32 instead of native bf16 for a model narrower than
    MIN_BF16_HIDDEN_ON_CPU. Returns why, where it switched; None otherwise."""
    hidden = getattr(model.config, "hidden_size", None)
    if args.precision != "auto" or uses_cuda(args) or not args.bf16 or hidden is None:
        return None
    if hidden >= MIN_BF16_HIDDEN_ON_CPU:
        return None
    set_precision(args, "fp32")
    return (
        f"a {hidden}-wide model is bound by per-op cost on a CPU, where bf16 autocast only adds"
        " casts"
    )


def wants_measured_precision(args) -> bool:
    """--precision auto on one GPU (with several, each process would measure and might choose
    differently)."""
    return args.precision == "auto" and uses_cuda(args) and args.world_size <= 1


def choose_for_batch(args, model, batch) -> dict:
    """The faster of fp32 (TF32 matmuls) and bf16 autocast (fp16 before Ampere) for this model and
    batch on this GPU, measured; args are switched to it. Returns {precision: seconds a step}."""
    half = "bf16" if native_bf16(True) else "fp16"
    seconds = time_precisions(model, batch, ("fp32", half), args.device)
    set_precision(args, min(seconds, key=seconds.get))
    return seconds


def time_precisions(model, batch, precisions, device, warmup: int = 2, steps: int = 5) -> dict:
    """Seconds for one forward and backward of `batch` in each precision (median of `steps`, after
    `warmup`).

    Every precision is warmed up before any is timed, and the timed steps alternate between them,
    so that neither gets the cold GPU (first kernels, the allocator growing) or a later clock
    change to itself. The model is left as it was: on `device`, no gradients, the random state
    (dropout) restored."""
    model.to(device).train()
    batch = {k: v.to(device) for k, v in batch.items()}
    times = {precision: [] for precision in precisions}
    with torch.random.fork_rng(devices=[device] if torch.device(device).type == "cuda" else []):
        for step in range(warmup + steps):
            for precision in precisions:
                dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
                autocast = (
                    torch.autocast(torch.device(device).type, dtype=dtype)
                    if dtype
                    else contextlib.nullcontext()
                )
                _synchronize(device)
                start = time.perf_counter()
                with autocast:
                    loss = model(**batch).loss
                loss.backward()
                _synchronize(device)
                if step >= warmup:
                    times[precision].append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return {precision: sorted(t)[steps // 2] for precision, t in times.items()}


def _synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
