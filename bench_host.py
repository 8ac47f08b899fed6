"""The host's share of a training step: what the CPU that drives the device does, measured on a CPU.

A step of a small batch on a GPU is bound by the host (Python, collation, thousands of op launches)
and by the moments the host waits for the device. Both can be measured here, where there is no GPU:
    python bench.py waits   # ops that make a CUDA host wait, per step: the stock Trainer vs app.py
    python bench.py host    # seconds per step, compute nil (2 layers, 64 wide): plain vs ours
It does not measure a GPU; what the GPU choices rest on is said where they are made (device.py).
The start-up and precision benchmarks live beside it (bench_startup.py, bench_precision.py) and
use its trainers (plain_trainer, our_trainer) and StepClock.
"""

from __future__ import annotations

import collections
import contextlib
import os
import statistics
import tempfile
import time
import traceback
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import standin

HERE = Path(__file__).resolve().parent
aten = torch.ops.aten
# Ops whose result the host must read back (or whose size it must know) before it can go on:
# on a CUDA device each waits for all the work queued before it. bool(t), float(t), t.item()
# all end in _local_scalar_dense.
WAITING_OPS = {
    aten._local_scalar_dense.default: "item/bool/float",
    aten.nonzero.default: "nonzero",
    aten.masked_select.default: "masked_select",
    aten._unique2.default: "unique",
    aten.unique_dim.default: "unique",
    aten.unique_consecutive.default: "unique",
    aten.equal.default: "equal",
}
INDEXING_OPS = (
    aten.index.Tensor,
    aten.index_put_.default,
    aten.index_put.default,
    aten._index_put_impl_.default,
)


class HostWaits(TorchDispatchMode):
    """Counts the ops that would make a CUDA host wait for the device, by where they run ('step':
    inside Trainer.training_step, 'loop': the rest of the training loop) and by call site
    (file:line function of the innermost frame outside torch). Counting is paused while data is
    loaded (host work by construction).
    """

    def __init__(self):
        super().__init__()
        self.sites = collections.Counter()  # (where, kind, site) -> count
        self.where = "loop"
        self._paused = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self._paused:
            kind = WAITING_OPS.get(func)
            if (
                kind is None
                and func in INDEXING_OPS
                and any(t is not None and t.dtype == torch.bool for t in args[1])
            ):
                kind = "bool index"
            if kind:
                self.sites[self.where, kind, _call_site()] += 1
        return func(*args, **(kwargs or {}))

    @contextlib.contextmanager
    def paused(self):
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1

    def per_step(self, steps: int) -> dict:
        """{'step': waits per step inside training_step, 'loop': elsewhere in the loop}."""
        totals = collections.Counter()
        for (where, _, _), n in self.sites.items():
            totals[where] += n
        return {where: totals[where] / steps for where in ("step", "loop")}


def _call_site() -> str:
    frames = [
        f
        for f in traceback.extract_stack()[:-3]
        if "site-packages/torch/" not in f.filename and not f.filename.endswith("bench_host.py")
    ]
    f = frames[-1] if frames else None
    return f"{Path(f.filename).name}:{f.lineno} {f.name}" if f else "?"


def count_waits(trainer, counter: HostWaits):
    """Make trainer.train() count its waits into counter (evaluation and data loading not
    counted)."""
    train, evaluate, step, loader = (
        trainer.train,
        trainer.evaluate,
        trainer.training_step,
        trainer.get_train_dataloader,
    )
    patched = []

    def counted_train(*args, **kwargs):
        try:
            with counter:
                return train(*args, **kwargs)
        finally:
            for cls, original in patched:
                cls.__iter__ = original

    def uncounted_evaluate(*args, **kwargs):
        with counter.paused():
            return evaluate(*args, **kwargs)

    def training_step(*args, **kwargs):
        counter.where = "step"
        try:
            return step(*args, **kwargs)
        finally:
            counter.where = "loop"

    def get_train_dataloader():
        dataloader = loader()
        # accelerate's DataLoaderShard: its instances' class cannot be swapped
        cls = type(dataloader)
        original = cls.__iter__

        def uncounted_batches(self):
            batches = original(self)
            while True:
                with counter.paused():
                    batch = next(batches, None)
                if batch is None:
                    return
                yield batch

        patched.append((cls, original))
        cls.__iter__ = uncounted_batches
        return dataloader

    trainer.train, trainer.evaluate, trainer.training_step = (
        counted_train,
        uncounted_evaluate,
        training_step,
    )
    trainer.get_train_dataloader = get_train_dataloader
    return trainer


def waits_of_the_stock_trainer(
    model_dir: Path, train_file: Path, epochs: int, batch_size: int
) -> tuple[HostWaits, int]:
    """The stock recipe: BertForMaskedLM's own forward, DataCollatorForLanguageModeling,
    TrainingArguments' defaults (but for one log per epoch, as app.py)."""
    trainer = plain_trainer(
        model_dir,
        train_split(model_dir, train_file),
        batch_size,
        tempfile.mkdtemp(prefix="stock-"),
        epochs,
    )
    counter = HostWaits()
    count_waits(trainer, counter).train()
    return counter, trainer.state.global_step


def waits_of_app(
    model_dir: Path, train_file: Path, epochs: int, batch_size: int, *extra: str
) -> tuple[HostWaits, int]:
    """app.py itself, in this process, with its Trainer counted."""
    import app
    import training

    counter, built = HostWaits(), []
    build = training.build_trainer

    def build_counted(*args, **kwargs):
        built.append(count_waits(build(*args, **kwargs), counter))
        return built[-1]

    training.build_trainer = build_counted
    work = Path(tempfile.mkdtemp(prefix="waits-"))
    try:
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            status = app.main(
                [
                    "--model_name_or_path",
                    str(model_dir),
                    "--train_file",
                    str(train_file),
                    "--output_dir",
                    str(work / "out"),
                    "--result_file",
                    str(work / "result.txt"),
                    "--num_train_epochs",
                    str(epochs),
                    "--per_device_train_batch_size",
                    str(batch_size),
                    "--disable_tqdm",
                    "True",
                    "--use_cpu",
                    "True",  # counted on the CPU, as the stock one is
                    *extra,
                ]
            )
    finally:
        training.build_trainer = build
    assert status == 0, f"app.py failed with status {status}"
    return counter, built[-1].state.global_step


def tiny_model(folder: Path, vocab: Path | None = None) -> Path:
    """2 layers, 64 wide, bert-base-chinese's vocabulary (or its synthetic stand-in): compute is
    nil, the host's work per step is what is left."""
    if not (folder / "model.safetensors").exists():
        tokens = standin.base_vocab(HERE / "train.json", vocab)
        standin.build_model(
            folder,
            tokens,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=128,
        )
    return folder


def waits(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = tiny_model(work / "tiny-model", opts.vocab)
    results = {
        "stock Trainer": waits_of_the_stock_trainer(
            model, HERE / "train.json", opts.epochs, opts.batch_size
        ),
        "app.py": waits_of_app(model, HERE / "train.json", opts.epochs, opts.batch_size),
    }
    print(
        f"\nops that make a CUDA host wait, per optimizer step ({opts.epochs} epochs, batch"
        f" {opts.batch_size}, data loading and evaluation not counted)\n"
    )
    print("| run | in training_step | elsewhere in the loop |")
    print("|---|---:|---:|")
    for name, (counter, steps) in results.items():
        per = counter.per_step(steps)
        print(f"| {name} | {per['step']:.2f} | {per['loop']:.2f} |")
    for name, (counter, steps) in results.items():
        print(f"\n{name}, {steps} steps, by call site:")
        for (where, kind, site), n in sorted(counter.sites.items()):
            print(f"  {where:4}  {kind:16} {n:5}  {site}")


# ---- host time per step --------------------------------------------------------------------------
class StepClock:
    """A TrainerCallback's worth of timing: each step's seconds, and the seconds from one step's
    end to the next (the host's whole share of a step: fetching and collating the batch
    included)."""

    def __init__(self):
        self.step, self.loop, self._begin, self._last_end = [], [], None, None

    def on_step_begin(self, *args, **kwargs):
        self._begin = time.perf_counter()

    def on_step_end(self, *args, **kwargs):
        now = time.perf_counter()
        self.step.append(now - self._begin)
        if self._last_end is not None:
            self.loop.append(now - self._last_end)
        self._last_end = now

    def __getattr__(self, name):  # every other TrainerCallback event: nothing to do
        if name.startswith("on_"):
            return lambda *args, **kwargs: None
        raise AttributeError(name)


def train_split(model_dir: Path, train_file: Path = HERE / "train.json"):
    """The training rows of train_file as app.py makes them by default: tokenized (64 tokens), 15%
    held out, seed 42."""
    from transformers import AutoTokenizer

    import corpus
    import splitting

    rows = corpus.tokenize_corpus(
        corpus.load_corpus(str(train_file))[0], AutoTokenizer.from_pretrained(model_dir), 64
    )
    return splitting.split_corpus(rows, 0.15, 42)["train"]


def plain_trainer(model_dir: Path, train, batch_size: int, output_dir: str, epochs: int = 1):
    """The plain script's recipe: BertForMaskedLM's own forward and loss,
    DataCollatorForLanguageModeling, TrainingArguments' defaults."""
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    args = TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        report_to="none",
        save_strategy="no",
        logging_strategy="epoch",
        use_cpu=True,
        disable_tqdm=True,
    )
    return Trainer(
        model=AutoModelForMaskedLM.from_pretrained(model_dir),
        args=args,
        processing_class=tokenizer,
        train_dataset=train.select_columns(["input_ids", "attention_mask", "token_type_ids"]),
        data_collator=DataCollatorForLanguageModeling(tokenizer),
    )


def our_trainer(model_dir: Path, train, batch_size: int, output_dir: str, *flags: str):
    """app.py's Trainer with app.py's options (the same epochs and batch size; no evaluation,
    nothing saved), on the CPU as plain_trainer is: these measure the host's work, the same on any
    machine."""
    import app
    import masking
    import modeling
    import training
    from report import Report

    _, data_args, _, args = app.parse_args(
        [
            "--model_name_or_path",
            str(model_dir),
            "--output_dir",
            output_dir,
            "--num_train_epochs",
            "1",
            "--per_device_train_batch_size",
            str(batch_size),
            "--eval_strategy",
            "no",
            "--disable_tqdm",
            "True",
            "--use_cpu",
            "True",
            *flags,
        ]
    )
    model, tokenizer = modeling.load_model_and_tokenizer(str(model_dir), for_training=True)
    return training.build_trainer(
        model, tokenizer, args, data_args, masking.training_columns(train), None, Report(False)
    )


def host(opts):
    """Seconds per step of the plain recipe and of app.py, alternated in one process (round after
    round, so that whatever else the machine does falls on both): medians over all steps of all
    rounds."""
    from transformers import set_seed

    import report

    report.setup_logging(is_main=True)
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = opts.model or tiny_model(work / "tiny-model", opts.vocab)
    train = train_split(model)
    clocks = {"plain": [], "ours": []}
    for _ in range(opts.rounds):
        for name, make in (("plain", plain_trainer), ("ours", our_trainer)):
            set_seed(42)
            trainer = make(model, train, opts.batch_size, str(work / f"{name}-out"))
            clock = StepClock()
            trainer.add_callback(clock)
            with contextlib.redirect_stdout(open(os.devnull, "w")):
                trainer.train()
            clocks[name].append(clock)
    med = {
        name: {
            kind: statistics.median(t for c in cs for t in getattr(c, kind))
            for kind in ("step", "loop")
        }
        for name, cs in clocks.items()
    }
    # The ratio of each round's two runs, which ran back to back, then the median over rounds: a
    # slow spell of the machine falls within one round and on both runs of it.
    ratio = {
        kind: statistics.median(
            statistics.median(getattr(p, kind)) / statistics.median(getattr(o, kind))
            for p, o in zip(clocks["plain"], clocks["ours"], strict=True)
        )
        for kind in ("step", "loop")
    }
    print(
        f"\nhost time per step: {Path(model).name}, batch {opts.batch_size}, train.json,"
        f" {opts.rounds} rounds of one epoch each, plain then ours, in one process"
        f" ({torch.get_num_threads()} threads)\n"
    )
    print("| run | training step (ms) | step + fetching and collating its batch (ms) |")
    print("|---|---:|---:|")
    for name, m in med.items():
        print(f"| {name} | {m['step'] * 1000:.2f} | {m['loop'] * 1000:.2f} |")
    print(
        f"| plain/ours (median of the rounds' ratios) | {ratio['step']:.2f}x |"
        f" {ratio['loop']:.2f}x |"
    )
    return ratio
