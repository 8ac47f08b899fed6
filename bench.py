"""Benchmark app.py against the plain recipe, offline, on a model of bert-base-chinese's shape.

    python bench.py speed --repeats 3      # plain vs ours, interleaved; ~8 minutes on 2 CPU cores
    python bench.py scaling                # 1k / 10k / 100k-sentence corpora; ~6 minutes
    python bench.py names                  # name score with and without name masking; ~3 minutes
    python bench.py gender                 # gender fit, realism, variety by --gender_weight; ~1 min
    python bench.py lists --vocab PATH     # the four tables a parent reads, weak/strong; ~10 min
    python bench.py speed --vocab PATH     # use a real vocab.txt instead of the synthetic one
    python bench.py table --vocab PATH     # what sense, source and sound add to a table; ~1 min

The model is BertConfig(vocab_size=21128) with random weights (the real checkpoint is not needed:
the cost of a step depends on the shape, not on the values), saved once into --work (default: a
temporary folder). Its vocab.txt is bert-base-chinese's layout: the special tokens, then Han
characters, the corpus's own first, so every corpus character is one token, as with the real
vocabulary.

speed: both runs use the same corpus, split, once-masked test set, epochs, batch size, learning
rate and so the same number of optimizer steps; each is a separate process, timed whole (start-up
included).
- plain: the straightforward recipe, as the original script did it: fp32, the model's own
  full-vocabulary MLM loss, an evaluation every epoch (ours has one too: the loss curve),
  predictions before and after training through pipeline("fill-mask"), which loads the model again
  from disk each time.
- ours: `python app.py` with its defaults (bf16 where the CPU does it natively, the output layer
  only at masked positions, a loss curve evaluated every epoch), --name_mask_probability 0 so that
  both train on the very same objective and their eval losses compare.
It does not measure quality beyond the eval loss: the random model has nothing to suggest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from standin import build_base_model

HERE = Path(__file__).resolve().parent


def run_plain(
    model_dir: str,
    train_file: str,
    output_dir: str,
    epochs: float,
    batch_size: int,
    lr: float,
    seed: int,
    metrics_file: str,
):
    """The plain recipe, in this process. Shares app.py's data code so that both see the same
    tokens. It trains and fills in on the device the Trainer and pipeline pick by themselves, as
    app.py does: the GPU where there is one (pinning it to the CPU would time a CPU against app.py
    on the GPU)."""
    from transformers import (
        AutoModelForMaskedLM,
        AutoTokenizer,
        Trainer,
        TrainingArguments,
        pipeline,
        set_seed,
    )

    import corpus
    import masking
    import report
    import splitting
    import training

    report.setup_logging(is_main=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    set_seed(seed)
    model = AutoModelForMaskedLM.from_pretrained(model_dir)
    data = splitting.split_corpus(
        corpus.tokenize_corpus(corpus.load_corpus(train_file)[0], tokenizer, 64), 0.15, seed
    )
    test_masked = masking.mask_test_split_once(data["test"], tokenizer, 0.15, seed)
    args = TrainingArguments(
        output_dir=output_dir,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=32,
        learning_rate=lr,
        seed=seed,
        eval_strategy="epoch",
        save_strategy="no",
        logging_strategy="epoch",
        report_to="none",
        remove_unused_columns=False,
        prediction_loss_only=True,
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
    )
    collator = masking.NameMaskingCollator(
        tokenizer, mlm_probability=0.15, seed=seed, send_positions=False
    )
    trainer = Trainer(
        model=model,
        args=args,
        data_collator=collator,
        train_dataset=data["train"],
        eval_dataset=test_masked,
        processing_class=tokenizer,
        callbacks=[training.StepTimer()],
    )
    before = trainer.evaluate()["eval_loss"]
    pipeline("fill-mask", model=model_dir)("小孩的名字叫张[MASK]", top_k=20)
    trainer.train()
    after = trainer.evaluate()["eval_loss"]
    trainer.save_model(output_dir)
    tokenizer.save_pretrained(output_dir)
    pipeline("fill-mask", model=output_dir)("小孩的名字叫张[MASK]", top_k=20)
    metrics = {
        "eval_loss_before": before,
        "eval_loss": after,
        "train_steps": trainer.state.global_step,
        **training.step_timer(trainer).metrics(trainer.state),
    }
    Path(metrics_file).write_text(json.dumps(metrics, indent=2))


def timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """Run cmd; (wall seconds, peak RSS in MiB) of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(
            f"bench: {' '.join(cmd[:3])} failed with status"
            f" {proc.returncode}:\n{proc.stderr.read()[-3000:]}"
        )
    return wall, usage.ru_maxrss / 1024


def speed(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = opts.model or build_base_model(work / "base-model", Path(opts.train_file), opts.vocab)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "datasets-cache"))
    common = dict(epochs=opts.epochs, batch=opts.batch_size, lr=opts.learning_rate, seed=opts.seed)
    commands = {
        "plain": [
            sys.executable,
            __file__,
            "_plain",
            str(model),
            opts.train_file,
            str(work / "plain-out"),
            *(str(v) for v in common.values()),
            str(work / "plain-metrics.json"),
        ],
        "ours": [
            sys.executable,
            str(HERE / "app.py"),
            "--model_name_or_path",
            str(model),
            "--train_file",
            opts.train_file,
            "--output_dir",
            str(work / "ours-out"),
            "--result_file",
            str(work / "ours-result.txt"),
            "--num_train_epochs",
            str(opts.epochs),
            "--per_device_train_batch_size",
            str(opts.batch_size),
            "--learning_rate",
            str(opts.learning_rate),
            "--seed",
            str(opts.seed),
            "--name_mask_probability",
            "0",
            "--disable_tqdm",
            "True",
        ],
    }
    metrics_path = {
        "plain": work / "plain-metrics.json",
        "ours": work / "ours-out" / "metrics.json",
    }
    runs = {name: [] for name in commands}
    for i in range(opts.repeats):  # interleaved, so that drift on a shared machine hits both alike
        for name, cmd in commands.items():
            wall, rss = timed(cmd, env)
            m = json.loads(metrics_path[name].read_text())
            runs[name].append(
                dict(
                    wall=wall,
                    rss=rss,
                    step=m["seconds_per_step"],
                    tps=m["tokens_per_second"],
                    loss=m["eval_loss"],
                    steps=m["train_steps"],
                )
            )
            print(
                f"run {i + 1}/{opts.repeats} {name:5}: wall {wall:6.1f} s  step"
                f" {m['seconds_per_step']:.3f} s  {m['tokens_per_second']:7.0f} tok/s  peak RSS"
                f" {rss:6.0f} MiB  eval_loss {m['eval_loss']:.4f}  steps {m['train_steps']}",
                flush=True,
            )
    med = {
        name: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for name, rs in runs.items()
    }
    assert med["plain"]["steps"] == med["ours"]["steps"], (
        "both must take the same number of optimizer steps"
    )
    print(
        f"\nmedian of {opts.repeats} interleaved runs; {opts.epochs:g} epochs, batch"
        f" {opts.batch_size}, lr {opts.learning_rate:g}, {med['ours']['steps']:.0f} optimizer"
        f" steps, {os.cpu_count()} CPU cores\n"
    )
    print(
        "| run | whole run (s) | per training step (s) | training tokens/s | peak RSS (MiB) | final"
        " eval loss |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in med.items():
        print(
            f"| {name} | {m['wall']:.1f} | {m['step']:.3f} | {m['tps']:.0f} | {m['rss']:.0f} |"
            f" {m['loss']:.4f} |"
        )
    print(
        f"| plain/ours | {med['plain']['wall'] / med['ours']['wall']:.2f}x |"
        f" {med['plain']['step'] / med['ours']['step']:.2f}x |"
        f" {med['ours']['tps'] / med['plain']['tps']:.2f}x | | |"
    )
    losses = {name: [r["loss"] for r in rs] for name, rs in runs.items()}
    print(f"\nfinal eval losses: plain {losses['plain']}, ours {losses['ours']}")


def synthetic_corpus(path: Path, n: int, seed: int = 0):
    """n sentences from train.json's patterns with random names: a corpus of any size."""
    import random

    rng = random.Random(seed)
    rows = [
        json.loads(line)
        for line in (HERE / "train.json").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    patterns = sorted({r["text"][: r["text"].rindex(r["label"])] for r in rows})
    given = sorted({r["label"][1:] for r in rows if r["label"][0] == "张"})
    surnames = ["张", "王", "李", "刘", "陈", "杨", "赵", "黄", "周", "吴"]
    with path.open("w", encoding="utf-8") as f:
        for _ in range(n):
            name = rng.choice(surnames) + rng.choice(given)
            f.write(
                json.dumps({"text": rng.choice(patterns) + name, "label": name}, ensure_ascii=False)
                + "\n"
            )


def scaling(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    model = build_base_model(work / "base-model", HERE / "train.json", opts.vocab)
    print(
        "| sentences | tokenize (s) | tokenize (s per 1k) | training tokens/s | peak RSS (MiB) |"
        " Arrow cache (MiB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for n in opts.sizes:
        corpus = work / f"synthetic-{n}.json"
        synthetic_corpus(corpus, n)
        cache = work / f"cache-{n}"
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(cache))
        # Tokenization alone, timed in a process of its own with an empty cache.
        probe = (
            f"import sys, time; sys.path.insert(0, {str(HERE)!r}); import corpus; from transformers"
            f" import AutoTokenizer; tok = AutoTokenizer.from_pretrained({str(model)!r}); ds, _ ="
            f" corpus.load_corpus({str(corpus)!r}); t = time.perf_counter();"
            " corpus.tokenize_corpus(ds, tok, 64); print(time.perf_counter() - t)"
        )
        tok_seconds = float(
            subprocess.run(
                [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
            ).stdout.split()[-1]
        )
        shutil.rmtree(cache, ignore_errors=True)
        cmd = [
            sys.executable,
            str(HERE / "app.py"),
            "--model_name_or_path",
            str(model),
            "--train_file",
            str(corpus),
            "--output_dir",
            str(work / f"out-{n}"),
            "--result_file",
            str(work / f"result-{n}.txt"),
            "--max_steps",
            str(opts.steps),
            "--test_size",
            "64",
            "--eval_strategy",
            "no",
            "--disable_tqdm",
            "True",
        ]
        _, rss = timed(cmd, env)
        m = json.loads((work / f"out-{n}" / "metrics.json").read_text())
        arrow = sum(p.stat().st_size for p in cache.rglob("*.arrow")) / 2**20
        print(
            f"| {n} | {tok_seconds:.2f} | {tok_seconds / n * 1000:.3f} |"
            f" {m['tokens_per_second']:.0f} | {rss:.0f} | {arrow:.1f} |",
            flush=True,
        )


def main(argv=None):
    if argv is None and sys.argv[1:2] == ["_plain"]:  # the plain run's own process (see speed())
        model_dir, train_file, output_dir, epochs, batch, lr, seed, metrics = sys.argv[2:]
        sys.path.insert(0, str(HERE))
        return run_plain(
            model_dir,
            train_file,
            output_dir,
            float(epochs),
            int(batch),
            float(lr),
            int(seed),
            metrics,
        )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    for name in (
        "speed",
        "scaling",
        "names",
        "gender",
        "lists",
        "waits",
        "startup",
        "host",
        "precision",
        "page",
        "table",
    ):
        p = sub.add_parser(name)
        p.add_argument(
            "--work", help="folder for the model and outputs (default: a new temporary one)"
        )
        p.add_argument(
            "--vocab", type=Path, help="a real vocab.txt of 21128 tokens (default: synthetic)"
        )
    sp = sub.choices["speed"]
    sp.add_argument("--repeats", type=int, default=3)
    sp.add_argument(
        "--model", type=Path, help="benchmark this model folder instead of the base-shaped stand-in"
    )
    sp.add_argument("--train_file", default=str(HERE / "train.json"))
    sp.add_argument("--epochs", type=float, default=3.0)  # app.py's defaults
    sp.add_argument("--batch_size", type=int, default=16)
    sp.add_argument("--learning_rate", type=float, default=5e-5)
    sp.add_argument("--seed", type=int, default=42)
    sc = sub.choices["scaling"]
    sc.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    sc.add_argument(
        "--steps",
        type=int,
        default=20,
        help="training steps per corpus: throughput, not a full run",
    )
    nm = sub.choices["names"]
    nm.add_argument("--probabilities", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0])
    nm.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    nm.add_argument("--epochs", type=int, default=30)
    sub.choices["gender"].add_argument(
        "--weights", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0]
    )
    ls = sub.choices["lists"]
    ls.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 2.0])
    ls.add_argument(
        "--weak", type=Path, help="a folder app.py saved with its defaults (skips that training)"
    )
    ls.add_argument(
        "--strong",
        type=Path,
        help="a folder app.py saved after long training (skips that training)",
    )
    wt = sub.choices["waits"]
    wt.add_argument("--epochs", type=int, default=2)
    wt.add_argument("--batch_size", type=int, default=16)
    st = sub.choices["startup"]
    st.add_argument(
        "--model", type=Path, help="time this model folder instead of the base-shaped stand-in"
    )
    st.add_argument("--repeats", type=int, default=3)
    ht = sub.choices["host"]
    ht.add_argument(
        "--model", type=Path, help="time this model folder instead of the 2-layer, 64-wide one"
    )
    ht.add_argument("--batch_size", type=int, default=2)
    ht.add_argument("--rounds", type=int, default=5)
    pr = sub.choices["precision"]
    pr.add_argument(
        "--model", type=Path, help="this model folder instead of the 2-layer, 64-wide one"
    )
    pr.add_argument("--batch_size", type=int, default=16)
    pr.add_argument("--steps", type=int, default=40)
    pr.add_argument("--repeats", type=int, default=3)
    pg = sub.choices["page"]
    pg.add_argument(
        "--clients", type=int, nargs="+", default=[30], help="one burst of each many clients"
    )
    pg.add_argument(
        "--model", type=Path, help="serve this model folder instead of the base-shaped stand-in"
    )
    pg.add_argument("--mix", choices=["varied", "same"], default="varied")
    pg.add_argument("--how_many", type=int, default=20, help="names per list (the page's default)")
    pg.add_argument(
        "--alone", type=int, default=5, help="requests alone; their median is the yardstick"
    )
    pg.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds a client waits before it counts an error",
    )
    tb = sub.choices["table"]
    tb.add_argument(
        "--model", type=Path, help="time this model folder instead of the base-shaped stand-in"
    )
    tb.add_argument("--surname", default="王")
    tb.add_argument("--gender", choices=["boy", "girl", "any"], default="boy")
    tb.add_argument("--top_k", type=int, default=20)
    tb.add_argument("--repeats", type=int, default=5)
    opts = parser.parse_args(argv)
    if getattr(opts, "vocab", None) and not opts.vocab.is_file():
        parser.error(
            f"--vocab {opts.vocab} does not exist: pass bert-base-chinese's vocab.txt, or leave"
            " --vocab out for a synthetic vocabulary of the same size"
        )
    if opts.what in ("names", "gender", "lists"):
        import bench_names

        return getattr(bench_names, opts.what)(opts)
    if opts.what in ("waits", "host"):
        import bench_host

        return getattr(bench_host, opts.what)(opts)
    if opts.what == "startup":
        import bench_startup

        return bench_startup.startup(opts)
    if opts.what == "page":
        import bench_page

        return bench_page.page(opts)
    if opts.what == "table":
        import bench_table

        return bench_table.table(opts)
    if opts.what == "precision":
        import bench_precision

        return bench_precision.precision(opts)
    {"speed": speed, "scaling": scaling}[opts.what](opts)


if __name__ == "__main__":
    main()
