"""The host's share of a training step: what the CPU that drives the device does, measured on a CPU.

A step of a small batch on a GPU is bound by the host (Python, collation, thousands of op launches) and by
the moments the host waits for the device. Both can be measured here, where there is no GPU:
    python bench.py waits       # ops that make a CUDA host wait, per step: the stock Trainer against app.py
    python bench.py host        # seconds per step where compute is nil (2 layers, 64 wide): plain against ours
    python bench.py startup     # where the seconds before the first training step go
    python bench.py precision   # fp32 against bf16 autocast, and torch.compile, per step and in compile time
It does not measure a GPU; what the GPU choices rest on is said where they are made (device.py).
"""

from __future__ import annotations

import collections
import contextlib
import os
import tempfile
import traceback
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import standin

HERE = Path(__file__).resolve().parent
aten = torch.ops.aten
# Ops whose result the host must read back (or whose size it must know) before it can go on: on a CUDA
# device each waits for all the work queued before it. bool(t), float(t), t.item() all end in _local_scalar_dense.
WAITING_OPS = {aten._local_scalar_dense.default: "item/bool/float", aten.nonzero.default: "nonzero",
               aten.masked_select.default: "masked_select", aten._unique2.default: "unique",
               aten.unique_dim.default: "unique", aten.unique_consecutive.default: "unique", aten.equal.default: "equal"}
INDEXING_OPS = (aten.index.Tensor, aten.index_put_.default, aten.index_put.default, aten._index_put_impl_.default)


class HostWaits(TorchDispatchMode):
    """Counts the ops that would make a CUDA host wait for the device, by where they run ('step': inside
    Trainer.training_step, 'loop': the rest of the training loop) and by call site (file:line function of the
    innermost frame outside torch). Counting is paused while data is loaded (host work by construction)."""

    def __init__(self):
        super().__init__()
        self.sites = collections.Counter()  # (where, kind, site) -> count
        self.where = "loop"
        self._paused = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self._paused:
            kind = WAITING_OPS.get(func)
            if kind is None and func in INDEXING_OPS and any(
                    t is not None and t.dtype == torch.bool for t in args[1]):
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
    frames = [f for f in traceback.extract_stack()[:-3]
              if "site-packages/torch/" not in f.filename and not f.filename.endswith("bench_host.py")]
    f = frames[-1] if frames else None
    return f"{Path(f.filename).name}:{f.lineno} {f.name}" if f else "?"


def count_waits(trainer, counter: HostWaits):
    """Make trainer.train() count its waits into counter (evaluation and data loading not counted)."""
    train, evaluate, step, loader = trainer.train, trainer.evaluate, trainer.training_step, trainer.get_train_dataloader
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
        cls = type(dataloader)  # accelerate's DataLoaderShard: its instances' class cannot be swapped
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

    trainer.train, trainer.evaluate, trainer.training_step = counted_train, uncounted_evaluate, training_step
    trainer.get_train_dataloader = get_train_dataloader
    return trainer


def waits_of_the_stock_trainer(model_dir: Path, train_file: Path, epochs: int, batch_size: int) -> tuple[HostWaits, int]:
    """The stock recipe: BertForMaskedLM's own forward, DataCollatorForLanguageModeling, TrainingArguments'
    defaults (but for one log per epoch, as app.py)."""
    from transformers import (AutoModelForMaskedLM, AutoTokenizer, DataCollatorForLanguageModeling, Trainer,
                              TrainingArguments)

    import corpus

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rows = corpus.tokenize_corpus(corpus.load_corpus(str(train_file))[0], tokenizer, 64)
    train = corpus.split_corpus(rows, 0.15, 42)["train"].select_columns(["input_ids", "attention_mask", "token_type_ids"])
    args = TrainingArguments(output_dir=tempfile.mkdtemp(prefix="stock-"), num_train_epochs=epochs, report_to="none",
                             per_device_train_batch_size=batch_size, save_strategy="no", logging_strategy="epoch",
                             use_cpu=True, disable_tqdm=True)
    trainer = Trainer(model=AutoModelForMaskedLM.from_pretrained(model_dir), args=args, train_dataset=train,
                      data_collator=DataCollatorForLanguageModeling(tokenizer), processing_class=tokenizer)
    counter = HostWaits()
    count_waits(trainer, counter).train()
    return counter, trainer.state.global_step


def waits_of_app(model_dir: Path, train_file: Path, epochs: int, batch_size: int, *extra: str) -> tuple[HostWaits, int]:
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
            status = app.main(["--model_name_or_path", str(model_dir), "--train_file", str(train_file), "--output_dir",
                               str(work / "out"), "--result_file", str(work / "result.txt"), "--num_train_epochs",
                               str(epochs), "--per_device_train_batch_size", str(batch_size), "--disable_tqdm", "True",
                               *extra])
    finally:
        training.build_trainer = build
    assert status == 0, f"app.py failed with status {status}"
    return counter, built[-1].state.global_step


def tiny_model(folder: Path, vocab: Path | None = None) -> Path:
    """2 layers, 64 wide, bert-base-chinese's vocabulary (or its synthetic stand-in): compute is nil, the host's
    work per step is what is left."""
    if not (folder / "model.safetensors").exists():
        tokens = standin.base_vocab(HERE / "train.json", vocab)
        standin.build_model(folder, tokens, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=128, max_position_embeddings=128)
    return folder


def waits(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = tiny_model(work / "tiny-model", opts.vocab)
    results = {"stock Trainer": waits_of_the_stock_trainer(model, HERE / "train.json", opts.epochs, opts.batch_size),
               "app.py": waits_of_app(model, HERE / "train.json", opts.epochs, opts.batch_size)}
    print(f"\nops that make a CUDA host wait, per optimizer step ({opts.epochs} epochs, batch {opts.batch_size}, "
          f"data loading and evaluation not counted)\n")
    print("| run | in training_step | elsewhere in the loop |")
    print("|---|---:|---:|")
    for name, (counter, steps) in results.items():
        per = counter.per_step(steps)
        print(f"| {name} | {per['step']:.2f} | {per['loop']:.2f} |")
    for name, (counter, steps) in results.items():
        print(f"\n{name}, {steps} steps, by call site:")
        for (where, kind, site), n in sorted(counter.sites.items()):
            print(f"  {where:4}  {kind:16} {n:5}  {site}")
