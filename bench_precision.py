"""fp32 against bf16 autocast, and torch.compile: python bench.py precision.

Per training step of app.py's Trainer on a small model: the seconds (median of --repeats) and the
aten ops a step dispatches (ops_per_step, the same on every machine: what a GPU would see as kernel
launches), and what compiling costs. It measures this CPU only; device.py says what the GPU
choices rest on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from bench_host import HERE, our_trainer, tiny_model, train_split


class OpCount(TorchDispatchMode):
    """Every aten op dispatched while active (what a GPU would see as kernel launches, give or take
    fusions)."""

    def __init__(self):
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        return func(*args, **(kwargs or {}))


def ops_per_step(model_dir: Path, precision: str, batch_size: int = 2, steps: int = 4) -> float:
    """aten ops in one training step (forward, backward, clipping, optimizer) of app.py's Trainer,
    in fp32 or under bf16 autocast: a count, the same on every machine."""
    trainer = our_trainer(
        model_dir,
        train_split(model_dir).select(range(batch_size * steps)),
        batch_size,
        tempfile.mkdtemp(prefix="ops-"),
        "--precision",
        precision,
    )
    counter, step = OpCount(), trainer.training_step

    def counted_step(*args, **kwargs):
        with counter:
            return step(*args, **kwargs)

    trainer.training_step = counted_step
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        trainer.train()
    return counter.ops / trainer.state.global_step


def precision(opts):
    """fp32 against bf16 autocast, and torch.compile against eager, for app.py on the given model:
    ops a step (counted), seconds a step (median, in separate processes run in turn), and for
    compile the seconds it costs against those it saves, as a crossover in steps and in corpus size
    (at the default 3 epochs)."""
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = opts.model or tiny_model(work / "tiny-model", opts.vocab)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "datasets-cache"))
    settings = {
        "fp32": ["--precision", "fp32"],
        "bf16 autocast": ["--precision", "bf16"],
        "fp32 + torch.compile": ["--precision", "fp32", "--torch_compile", "True"],
    }
    # emulated bf16 is many times slower: its time says nothing about bf16 hardware
    if not _native_bf16_here():
        del settings["bf16 autocast"]
    runs = {name: [] for name in settings}
    for _ in range(opts.repeats):
        for name, flags in settings.items():
            shutil.rmtree(work / "out", ignore_errors=True)
            proc = subprocess.run(
                [
                    sys.executable,
                    str(HERE / "app.py"),
                    "--model_name_or_path",
                    str(model),
                    "--train_file",
                    str(HERE / "train.json"),
                    "--output_dir",
                    str(work / "out"),
                    "--result_file",
                    str(work / "result.txt"),
                    "--max_steps",
                    str(opts.steps),
                    "--per_device_train_batch_size",
                    str(opts.batch_size),
                    "--eval_strategy",
                    "no",
                    "--disable_tqdm",
                    "True",
                    *flags,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                sys.exit(f"bench: {name} failed:\n{proc.stderr[-3000:]}")
            runs[name].append(json.loads((work / "out" / "metrics.json").read_text()))
    ops = {
        name: ops_per_step(model, "bf16" if "bf16" in name else "fp32", opts.batch_size)
        for name in ("fp32", "bf16 autocast")
    }
    step = {
        name: statistics.median(m["median_step_seconds"] for m in ms) for name, ms in runs.items()
    }
    extra = {
        name: statistics.median(
            max(0.0, m["train_seconds"] - m["median_step_seconds"] * m["train_steps"]) for m in ms
        )
        for name, ms in runs.items()
    }
    print(
        f"\n{Path(model).name}, batch {opts.batch_size}, {opts.steps} steps, {os.cpu_count()} CPU"
        f" cores (native bf16: {_native_bf16_here()}); median of {opts.repeats} runs each\n"
    )
    print(
        "| setting | aten ops a step | seconds a step | seconds beyond the steady steps (compiling,"
        " warming up) |"
    )
    print("|---|---:|---:|---:|")
    for name in ops | settings:
        cells = [f"{ops[name]:.0f}" if name in ops else "-"] + (
            [f"{step[name]:.4f}", f"{extra[name]:.1f}"]
            if name in settings
            else ["not timed: no native bf16 here"] * 2
        )
        print(f"| {name} | " + " | ".join(cells) + " |")
    saved = step["fp32"] - step["fp32 + torch.compile"]
    cost = extra["fp32 + torch.compile"] - extra["fp32"]
    if saved > 0:
        steps = cost / saved
        print(
            f"\ntorch.compile pays after {steps:.0f} steps: {cost:.1f} s of compiling against"
            f" {saved * 1000:.1f} ms saved a step, i.e. a corpus of about"
            f" {steps * opts.batch_size / 3:.0f} sentences at 3 epochs"
        )
    else:
        print(
            "\ntorch.compile does not pay here: a compiled step is not faster"
            f" ({step['fp32 + torch.compile']:.4f} s against {step['fp32']:.4f} s), and compiling"
            f" costs {cost:.1f} s"
        )


def _native_bf16_here() -> bool:
    import device

    return device.native_bf16(cuda=torch.cuda.is_available())  # where app.py's runs will train
