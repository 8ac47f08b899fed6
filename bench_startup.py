"""Where the seconds before the first training step go: python bench.py startup.

A fresh process imports torch, datasets, transformers and app.py, timing each, then runs the
default `python app.py` on a model of bert-base-chinese's shape up to the end of its first training
step, timing the first call of each step of the pipeline (STARTUP_STEPS). It saves nothing. It does
not time the training itself (bench.py speed does) nor a GPU.
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
import time
from pathlib import Path

import torch

import standin

HERE = Path(__file__).resolve().parent


# What startup() times, in the order a run does it: (module, function, label). Only
# each one's first call.
STARTUP_STEPS = [
    ("corpus", "load_corpus", "corpus: read and check train.json"),
    ("modeling", "load_model_and_tokenizer", "model and tokenizer: load"),
    ("app", "prepare_data", "data: tokenize, split, mask the test split"),
    ("training", "settle_precision", "precision: measured on the first batch (GPU)"),
    ("training", "build_trainer", "Trainer: build"),
    ("evaluation", "evaluate", "evaluation before training (loss, name score)"),
    ("suggestions", "report_suggestions", "first suggestion table"),
]


class _FirstStepDone(KeyboardInterrupt):
    """Ends the timed run after its first training step (app.main handles it like Ctrl-C: nothing
    is saved)."""


# The timed process first imports these, timing each, before anything else
# (bench_startup imports torch itself).
STARTUP_IMPORTS = [
    ("import torch", ["torch"]),
    ("import datasets", ["datasets"]),
    (
        "import transformers (Trainer, auto classes)",
        ["transformers", "transformers.trainer", "transformers.models.auto.modeling_auto"],
    ),
    ("import app and its modules", ["app"]),
]
_STARTUP_PRELUDE = """import importlib, sys, time
start, phases = time.perf_counter(), []
sys.path.insert(0, {here!r})
for label, modules in {imports!r}:
    t = time.perf_counter()
    for module in modules:
        importlib.import_module(module)
    phases.append((label, time.perf_counter() - t))
import bench_startup
bench_startup.run_startup({model!r}, {train_file!r}, {work!r}, phases, start)
"""


def run_startup(model_dir: str, train_file: str, work: str, phases: list, start: float):
    """The default run in this fresh process (its imports timed already, into phases), up to the
    end of its first training step; prints the phases' seconds as JSON."""
    import importlib

    imports_done = time.perf_counter()
    for module, name, label in STARTUP_STEPS:
        _time_first_call(importlib.import_module(module), name, label, phases)
    from transformers import TrainerCallback

    class FirstStep(TrainerCallback):
        def on_train_begin(self, *args, **kwargs):
            self.began = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            phases.append(
                ("trainer.train() to the end of the first step", time.perf_counter() - self.began)
            )
            raise _FirstStepDone()

    training = importlib.import_module("training")
    build = training.build_trainer
    training.build_trainer = lambda *a, **k: _with_callback(build(*a, **k), FirstStep())
    app = importlib.import_module("app")
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        app.main(
            [
                "--model_name_or_path",
                model_dir,
                "--train_file",
                train_file,
                "--output_dir",
                f"{work}/out",
                "--result_file",
                f"{work}/result.txt",
                "--disable_tqdm",
                "True",
            ]
        )
    end = time.perf_counter()
    timed = sum(s for label, s in phases if not label.startswith("import"))
    phases.append(("the rest (options, checks, report lines)", end - imports_done - timed))
    print(json.dumps({"phases": phases, "after_imports": end - imports_done, "total": end - start}))


def _with_callback(trainer, callback):
    trainer.add_callback(callback)
    return trainer


def _time_first_call(module, name: str, label: str, phases: list):
    function, calls = getattr(module, name), []

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if not calls:
                phases.append((label, time.perf_counter() - t))
            calls.append(1)

    setattr(module, name, timed)


def startup(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = opts.model or standin.build_base_model(
        work / "base-model", HERE / "train.json", opts.vocab
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "datasets-cache"))
    runs = []
    for _ in range(opts.repeats):
        shutil.rmtree(work / "run", ignore_errors=True)
        started = time.perf_counter()
        code = _STARTUP_PRELUDE.format(
            here=str(HERE),
            imports=STARTUP_IMPORTS,
            model=str(model),
            train_file=str(HERE / "train.json"),
            work=str(work / "run"),
        )
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"bench: the start-up run failed:\n{proc.stderr[-3000:]}")
        runs.append((json.loads(proc.stdout.strip().splitlines()[-1]), wall))
    print(
        f"\nwhere the seconds before the first training step go (median of {opts.repeats} fresh"
        f" processes; {Path(model).name}, {torch.get_num_threads()} threads)\n"
    )
    print("| phase | seconds |")
    print("|---|---:|")
    for i, (label, _) in enumerate(runs[0][0]["phases"]):
        print(f"| {label} | {statistics.median(r['phases'][i][1] for r, _ in runs):.2f} |")
    print(
        "| **everything after the imports** |"
        f" **{statistics.median(r['after_imports'] for r, _ in runs):.2f}** |"
    )
    print(
        "| whole process, interpreter start included |"
        f" {statistics.median(w for _, w in runs):.2f} |"
    )
