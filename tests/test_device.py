"""device.py: precision chosen for the hardware (and, on a GPU, measured on the first batch),
batches padded where it pays, and the speed levers that no output shows."""

import json
import re
import subprocess
import sys

import pytest
import torch

import corpus
import device
import masking
from conftest import REPO


def _fresh_python(code: str) -> str:
    """Run code in a new interpreter (these levers change process-wide state), return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("keep", [False, True])
def test_freed_memory_stays_with_the_process_only_when_kept(keep):
    returned_mib = float(
        _fresh_python(f"""
import device, torch
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096
if {keep}: device.keep_freed_memory()
x = torch.ones(2**24)  # 64 MiB, written, so resident
held = rss(); del x
print((held - rss()) / 2**20)
""")
    )
    if keep:
        assert returned_mib < 8  # the next step reuses it without page faults
    else:
        assert returned_mib > 56  # glibc's default: unmapped at once


def test_a_run_exempts_import_time_objects_from_the_garbage_collector(tiny_model, tmp_path):
    frozen = int(
        _fresh_python(f"""
import gc, app
assert gc.get_freeze_count() == 0
assert app.main(['--do_train', 'False', '--model_name_or_path', {str(tiny_model)!r},
                 '--result_file', {str(tmp_path / "result.txt")!r}]) == 0
print(gc.get_freeze_count())
""").split()[-1]
    )
    assert frozen > 100_000  # torch, transformers and datasets alone create ~400k


def _first_batch(tiny_tokenizer, corpus_rows, **collator_options):
    import datasets

    rows = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:8]), tiny_tokenizer, 32)
    collator = masking.NameMaskingCollator(tiny_tokenizer, seed=0, **collator_options)
    return collator([{k: r[k] for k in masking.MODEL_INPUTS} for r in rows])


def test_timing_precisions_leaves_the_model_as_it_was(tiny_model, tiny_tokenizer, corpus_rows):
    import modeling

    model, _ = modeling.load_model_and_tokenizer(str(tiny_model), for_training=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    seconds = device.time_precisions(
        model, _first_batch(tiny_tokenizer, corpus_rows), ("fp32", "bf16"), "cpu", warmup=1, steps=3
    )
    assert set(seconds) == {"fp32", "bf16"} and all(s > 0 for s in seconds.values())
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # dropout's draws during the timing do not shift training's
    assert torch.equal(torch.get_rng_state(), rng)


@pytest.mark.parametrize("precision, mixed", [("fp32", "no"), ("bf16", "bf16")])
def test_a_settled_precision_reaches_the_trainer(tmp_path, tiny_model, precision, mixed):
    from transformers import AutoModelForMaskedLM, Trainer

    import app

    *_, args = app.parse_args(
        ["--output_dir", str(tmp_path / "out"), "--precision", "bf16", "--eval_strategy", "no"]
    )
    device.set_precision(args, precision)
    trainer = Trainer(model=AutoModelForMaskedLM.from_pretrained(tiny_model), args=args)
    assert trainer.accelerator.mixed_precision == mixed and device.precision_of(args) == precision


def test_on_a_gpu_copies_do_not_block_and_auto_is_measured(monkeypatch):
    """configure()'s CUDA branch, on a CPU: CUDA reported present, a Hopper card (bf16, TF32).
    (TrainingArguments itself checks TF32 against the real hardware, so the fields configure() sets
    are checked on their own.)
    """
    from types import SimpleNamespace

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (9, 0))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    args = SimpleNamespace(
        precision="auto",
        bf16=False,
        fp16=False,
        tf32=None,
        accelerator_config=None,
        torch_compile=False,
        use_cpu=False,
        world_size=1,
    )
    device.configure(args)
    assert args.accelerator_config == {"non_blocking": True} and not args.use_cpu
    # the starting point; choose_for_batch() settles it
    assert args.bf16 and not args.fp16 and args.tf32
    assert device.wants_measured_precision(args) and device.pad_multiple(args) == 8
    args.precision = "bf16"
    assert not device.wants_measured_precision(args)  # asked for: not second-guessed


def test_use_cpu_on_a_gpu_machine_gets_the_cpus_choices(monkeypatch):
    """--use_cpu True where CUDA is present: the run is the CPU's, so none of the GPU's choices
    apply (no timing on the GPU, no TF32, no pinned non-blocking copies, no padding) and the CPU's
    precision rule does.
    """
    from types import SimpleNamespace

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    # a bf16 CPU: tells the two apart
    monkeypatch.setattr(device, "native_bf16", lambda cuda: not cuda)
    args = SimpleNamespace(
        precision="auto",
        bf16=False,
        fp16=False,
        tf32=None,
        accelerator_config=None,
        torch_compile=False,
        use_cpu=True,
        world_size=1,
    )
    device.configure(args)
    assert args.bf16 and not args.fp16 and args.tf32 is None and args.accelerator_config is None
    assert not device.wants_measured_precision(args) and device.pad_multiple(args) is None
    assert (
        device.cpu_precision_for(args, SimpleNamespace(config=SimpleNamespace(hidden_size=64)))
        is not None
    )
    assert device.precision_of(args) == "fp32"


def test_batches_are_padded_to_a_multiple_of_8_where_asked(tiny_tokenizer, corpus_rows):
    plain = _first_batch(tiny_tokenizer, corpus_rows)
    padded = _first_batch(tiny_tokenizer, corpus_rows, pad_to_multiple_of=8)
    assert (
        padded["input_ids"].shape[1] % 8 == 0
        and padded["input_ids"].shape[1] >= plain["input_ids"].shape[1]
    )
    # the corpus's sentences are not all 8, 16, ... tokens long
    assert plain["input_ids"].shape[1] % 8 != 0


@pytest.mark.parametrize("cpu_bf16", [False, True], ids=["plain-cpu", "bf16-cpu"])
def test_a_run_that_measures_its_precision_says_what_it_chose(
    tmp_path, tiny_model, small_corpus, monkeypatch, capsys, cpu_bf16
):
    """The wiring of --precision auto on a GPU, run on the CPU: the first batch is timed in fp32
    and in half precision, the faster is used for training and stated in the report, the
    configuration block and the card. Both kinds of CPU, on any machine: on one with native bf16
    the CPU's own rule settles it first (a 64-wide model trains in fp32) and nothing is timed; on
    one without, the timing decides."""
    import app

    monkeypatch.setattr(device, "native_bf16", lambda cuda: cpu_bf16)
    monkeypatch.setattr(device, "wants_measured_precision", lambda args: True)
    out = tmp_path / "out"
    assert (
        app.main(
            [
                "--model_name_or_path",
                str(tiny_model),
                "--train_file",
                str(small_corpus),
                "--output_dir",
                str(out),
                "--result_file",
                str(tmp_path / "result.txt"),
                "--num_train_epochs",
                "1",
            ]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    lines = [line for line in stdout.splitlines() if line.startswith("== 精度 precision:")]
    assert len(lines) == 1, lines
    if cpu_bf16:
        assert (
            lines[0].startswith("== 精度 precision: fp32 (a 64-wide model")
            and " ms" not in lines[0]
        )
        chosen = "fp32"
    else:
        assert "a step of the first batch" in lines[0] and "fp32" in lines[0] and " ms" in lines[0]
        chosen = lines[0].split()[3]
        assert chosen in ("fp32", "fp16", "bf16")
    # The configuration block says what trains: the settled choice, not "auto".
    assert re.search(rf"^precision +{chosen}$", stdout, re.M)
    assert f"| precision | {chosen} |" in (out / "README.md").read_text(encoding="utf-8")
    assert json.loads((out / "metrics.json").read_text())["train_steps"] > 0


def test_torch_compile_takes_our_forward_whole(tmp_path, tiny_model, small_corpus):
    """--torch_compile (the Trainer's flag) with the masked-positions forward: dynamo compiles it
    without a graph break (a break would hand every step back to Python). aot_eager traces as
    inductor does, without generating code, so the check is quick."""
    import torch._dynamo

    import app

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    assert (
        app.main(
            [
                "--model_name_or_path",
                str(tiny_model),
                "--train_file",
                str(small_corpus),
                "--output_dir",
                str(tmp_path / "out"),
                "--result_file",
                str(tmp_path / "result.txt"),
                "--num_train_epochs",
                "1",
                "--torch_compile",
                "True",
                "--torch_compile_backend",
                "aot_eager",
            ]
        )
        == 0
    )
    counters = torch._dynamo.utils.counters
    assert counters["stats"]["unique_graphs"] >= 1
    assert dict(counters["graph_break"]) == {}
    torch._dynamo.reset()


@pytest.mark.parametrize(
    "flags, native",
    [
        ("fpu sse2 avx2 fma", False),  # AVX2 only
        # AVX512-BF16 (AMD EPYC Genoa, Intel Cooper Lake)
        ("fpu avx2 avx512f avx512_bf16 avx512_vnni", True),
        ("fpu avx2 avx512f amx_bf16 amx_tile amx_int8", True),  # AMX (Intel Sapphire Rapids)
        ("fpu avx2 avx512f avx512_bf16_not_a_flag", False),  # a whole flag, not a prefix
    ],
)
def test_native_bf16_reads_the_cpus_flags(tmp_path, monkeypatch, flags, native):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: {flags}\n\n")
    monkeypatch.setattr(device, "CPUINFO", cpuinfo)
    assert device.native_bf16(cuda=False) is native
    monkeypatch.setattr(device, "CPUINFO", tmp_path / "absent")  # not Linux: fp32, the safe choice
    assert device.native_bf16(cuda=False) is False


@pytest.mark.parametrize("native", [False, True], ids=["plain-cpu", "bf16-cpu"])
@pytest.mark.parametrize("hidden", [64, 768])
def test_the_cpu_precision_rule_on_both_kinds_of_cpu(tmp_path, hidden, native, monkeypatch):
    """--precision auto on a CPU. Without native bf16: fp32 for every model, and no rule to state.
    With it: autocast's casts cost more than bf16 saves where ops are small (fp32 below
    MIN_BF16_HIDDEN_ON_CPU, said why); bert-base's width keeps bf16. Each kind of CPU is pinned, so
    the outcome is the same on any machine."""
    from types import SimpleNamespace

    import app

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU's rule, on any machine
    monkeypatch.setattr(device, "native_bf16", lambda cuda: native)
    *_, args = app.parse_args(["--output_dir", str(tmp_path / "out")])
    assert device.precision_of(args) == ("bf16" if native else "fp32")
    why = device.cpu_precision_for(
        args, SimpleNamespace(config=SimpleNamespace(hidden_size=hidden))
    )
    expected = "bf16" if native and hidden >= device.MIN_BF16_HIDDEN_ON_CPU else "fp32"
    assert device.precision_of(args) == expected and args.mixed_precision == (
        "no" if expected == "fp32" else "bf16"
    )
    assert (why is not None) == (native and expected == "fp32")
    *_, asked = app.parse_args(["--output_dir", str(tmp_path / "out"), "--precision", "bf16"])
    assert device.precision_of(asked) == "bf16"  # asked for: not second-guessed, on either CPU
    assert (
        device.cpu_precision_for(asked, SimpleNamespace(config=SimpleNamespace(hidden_size=64)))
        is None
    )
    assert device.precision_of(asked) == "bf16"


def test_autocast_adds_ops_to_a_small_models_step(tiny_model):
    """Why --precision auto keeps a small model in fp32 on a CPU: bf16 autocast casts every weight
    and every matmul's output, so a step dispatches markedly more ops (counted, so the same on
    every machine).
    """
    import bench_precision

    fp32, bf16 = (bench_precision.ops_per_step(tiny_model, p) for p in ("fp32", "bf16"))
    assert bf16 > 1.15 * fp32


@pytest.mark.parametrize(
    "local_rank, capability, expected", [("0", (8, 0), "bf16"), ("1", (7, 5), "fp16")]
)
def test_bf16_is_native_only_from_ampere_on_this_processs_own_gpu(
    monkeypatch, local_rank, capability, expected
):
    """A T4 or V100 emulates bf16, and torch.cuda.is_bf16_supported() counts emulation by default:
    there auto must start from fp16, and TF32 is off. Under torchrun each process asks about its
    own GPU (LOCAL_RANK), not GPU 0: here GPU 0 is an A100 and GPU 1 a T4."""
    from types import SimpleNamespace

    gpus = {0: (8, 0), 1: (7, 5)}
    asked = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_capability",
        lambda index=None: asked.append(index) or gpus[index or 0],
    )
    # emulation counts
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setenv("LOCAL_RANK", local_rank)
    args = SimpleNamespace(
        precision="auto",
        bf16=False,
        fp16=False,
        tf32=None,
        accelerator_config=None,
        torch_compile=False,
        use_cpu=False,
        world_size=1,
    )
    device.configure(args)
    assert gpus[int(local_rank)] == capability and set(asked) == {int(local_rank)}
    assert device.precision_of(args) == expected and args.tf32 == (expected == "bf16")
    assert device.native_bf16(True) == (expected == "bf16")


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("flag, precision", [("--bf16", "bf16"), ("--fp16", "fp16")])
def test_an_explicit_bf16_or_fp16_is_what_trains(tmp_path, monkeypatch, native, flag, precision):
    """--bf16 True / --fp16 True (the Trainer's flags) are honoured like --precision bf16 / fp16:
    the CPU's rule for small models does not turn them back to fp32, on a CPU with or without
    native bf16. Against another
    --precision they are refused in one line."""
    from types import SimpleNamespace

    import app
    from errors import UserError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(device, "native_bf16", lambda cuda: native)
    if precision == "fp16":  # CPU autocast would train fp16 in fp32: refused, with the way out
        for asked in ([flag, "True"], ["--precision", "fp16"]):
            with pytest.raises(UserError, match="needs a GPU: on a CPU, fp16 autocast trains"):
                app.parse_args(["--output_dir", str(tmp_path / "out"), *asked])
        with pytest.raises(UserError, match=f"{flag} True contradicts --precision fp32"):
            app.parse_args(
                ["--output_dir", str(tmp_path / "out"), flag, "True", "--precision", "fp32"]
            )
        return
    *_, args = app.parse_args(["--output_dir", str(tmp_path / "out"), flag, "True"])
    assert (
        device.cpu_precision_for(args, SimpleNamespace(config=SimpleNamespace(hidden_size=64)))
        is None
    )
    assert device.precision_of(args) == precision and args.precision == precision
    with pytest.raises(UserError, match=f"{flag} True contradicts --precision fp32"):
        app.parse_args(["--output_dir", str(tmp_path / "out"), flag, "True", "--precision", "fp32"])
    with pytest.raises(UserError, match="two precisions"):
        app.parse_args(["--output_dir", str(tmp_path / "out"), "--bf16", "True", "--fp16", "True"])


def test_the_timed_batch_is_the_training_batch_and_the_precisions_alternate(
    tmp_path, tiny_model, tiny_tokenizer, corpus_rows, monkeypatch
):
    """--precision auto on a GPU times the batch the Trainer trains on first: the training
    collator's padding (to a multiple of 8), its 4D mask and masked positions. Each precision is
    warmed up before any is timed, and the timed steps alternate, so that neither gets the cold GPU
    alone."""
    import datasets

    import app
    import modeling
    import training

    monkeypatch.setattr(device, "wants_measured_precision", lambda args: True)
    monkeypatch.setattr(device, "pad_multiple", lambda args: 8)  # as on a GPU
    monkeypatch.setattr(device, "native_bf16", lambda cuda: True)
    # a GPU has no CPU rule
    monkeypatch.setattr(device, "cpu_precision_for", lambda args, model: None)
    *_, data_args, _, args = app.parse_args(
        [
            "--output_dir",
            str(tmp_path / "out"),
            "--precision",
            "auto",
            "--per_device_train_batch_size",
            "8",
        ]
    )
    model, _ = modeling.load_model_and_tokenizer(str(tiny_model), for_training=True)
    train = masking.training_columns(
        corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:16]), tiny_tokenizer, 32)
    )
    order, timed = [], []
    model.register_forward_pre_hook(
        lambda module, args: order.append(torch.is_autocast_enabled("cpu"))
    )
    time_precisions = device.time_precisions
    monkeypatch.setattr(
        device,
        "time_precisions",
        lambda model, batch, *a, **k: timed.append(batch) or time_precisions(model, batch, *a, **k),
    )
    training.settle_precision(model, tiny_tokenizer, train, data_args, args)
    (batch,) = timed
    first = training.make_collator(model, tiny_tokenizer, args, data_args)(
        masking.first_examples(train, 8)
    )
    assert batch.keys() == first.keys() and all(torch.equal(batch[k], first[k]) for k in batch)
    assert (
        batch["input_ids"].shape[1] % 8 == 0
        and batch["attention_mask"].dim() == 4
        and "masked_positions" in batch
    )
    # fp32, bf16, fp32, bf16, ...: 2 warm-up rounds, 5 timed
    assert order == [False, True] * (2 + 5)
