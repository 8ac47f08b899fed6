"""Every Trainer flag a user passes works end to end, or is refused in one `error:` line before
training.

The runs are app.main in this process on a tiny model (2 layers, hidden 64), a 60-row corpus and
2-4 steps. Several GPUs in one process (nn.DataParallel) are simulated on the CPU: each tensor of a
batch is split along dim 0 the way torch's scatter splits it, and the replicas' outputs are
concatenated the way its gather does.
"""

import hashlib
import json
import math
import re
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import TrainingArguments
from transformers.modeling_outputs import MaskedLMOutput

import app
import corpus
import evaluation
import masking
import modeling
import training


def _common(tmp_path, tiny_model, small_corpus, out="out"):
    return [
        "--model_name_or_path",
        str(tiny_model),
        "--train_file",
        str(small_corpus),
        "--output_dir",
        str(tmp_path / out),
        "--result_file",
        str(tmp_path / f"{out}.txt"),
        "--per_device_train_batch_size",
        "8",
        "--disable_tqdm",
        "True",
    ]


def run_app(capsys, argv):
    """(exit status, stdout, stderr) of app.main(argv)."""
    status = app.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_one_line_error(status, err, *words):
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert status == 2 and len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], lines[0]


def assert_trained(status, out, err, folder, steps):
    """A saved model and true numbers: finite losses, the steps asked for, tokens counted."""
    assert status == 0, err[-3000:]
    metrics = json.loads((folder / "metrics.json").read_text())
    assert (folder / "model.safetensors").exists()
    assert metrics["train_steps"] == steps
    assert math.isfinite(metrics["eval_loss"]) and math.isfinite(metrics["eval_loss_before"])
    assert 0 <= metrics["name_top1"] <= metrics["name_top5"] <= metrics["name_top20"] <= 1
    assert metrics["train_tokens"] > 0 and metrics["tokens_per_second"] > 0
    assert f"训练后 after training: eval_loss {metrics['eval_loss']:.4f}" in out
    return metrics


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- row 1: several GPUs in one process (nn.DataParallel) ----------------------------------------
class ScatteringDataParallel(torch.nn.Module):
    """nn.DataParallel over `replicas` devices, on the CPU: its scatter (every tensor argument
    split along dim 0 with Tensor.chunk, as torch.cuda.comm.scatter splits it; fewer chunks, fewer
    replicas), its replicas (made with Module._replicate_for_data_parallel, as torch's replicate
    makes them: shallow copies sharing the parameters here, copies on each GPU there) and its
    gather (each output tensor concatenated along dim 0, a 0-dim one made 1-dim first)."""

    def __init__(self, module, replicas: int = 2):
        super().__init__()
        self.module, self.replicas = module, replicas

    def replicate(self):
        copies = {m: m._replicate_for_data_parallel() for m in self.module.modules()}
        for original, copy in copies.items():
            copy._parameters = dict(original._parameters)
            copy._modules = {name: copies.get(child) for name, child in original._modules.items()}
        return copies[self.module]

    def forward(self, **kwargs):
        parts = {
            k: list(v.chunk(self.replicas)) if torch.is_tensor(v) else [v] * self.replicas
            for k, v in kwargs.items()
        }
        outs = []
        for i in range(min(len(p) for p in parts.values())):
            replica = self.replicate()
            # On GPU i a replica that ran a forward bound to the original would compute on GPU 0's
            # weights.
            assert getattr(replica.forward, "__self__", replica) is replica, (
                "the replica runs the original's forward"
            )
            outs.append(replica(**{k: p[i] for k, p in parts.items()}))
        return MaskedLMOutput(
            **{
                k: torch.cat([t[None] if t.dim() == 0 else t for t in (o[k] for o in outs)])
                for k in outs[0].keys()
            }
        )


def _training_batch(tiny_model, tiny_tokenizer, corpus_rows, tmp_path, n_gpu, rows=16):
    """(model, args, the first training batch), the model loaded and the collator made as app.py
    does for n_gpu."""
    import datasets

    *_, data_args, _, args = app.parse_args(
        ["--output_dir", str(tmp_path / "out"), "--eval_strategy", "no"]
    )
    args._n_gpu = n_gpu
    model, _ = modeling.load_model_and_tokenizer(
        str(tiny_model), for_training=True, masked_positions=n_gpu <= 1
    )
    collator = training.make_collator(model, tiny_tokenizer, args, data_args)
    train = corpus.tokenize_corpus(
        datasets.Dataset.from_list(corpus_rows[:rows]), tiny_tokenizer, 32
    )
    return model, args, collator(masking.first_examples(masking.training_columns(train), rows))


def test_under_data_parallel_the_stock_forward_trains_on_whole_rows(
    tiny_model, tiny_tokenizer, corpus_rows, tmp_path
):
    """With 2 GPUs the Trainer wraps the model in nn.DataParallel, which splits every tensor along
    dim 0. Masked positions into the flattened batch cannot be split so (a replica indexes rows it
    does not have), and a forward bound to the model is not the replica's. So app.py keeps the
    stock forward there; the batch carries the same masks as labels, each replica scores its own
    rows, and the Trainer scales the loss for gradient accumulation (the stock forward ignores
    num_items_in_batch)."""
    ours, _, one_gpu = _training_batch(tiny_model, tiny_tokenizer, corpus_rows, tmp_path, n_gpu=1)
    # why: what a plain run did on every multi-GPU machine
    with pytest.raises((IndexError, AssertionError)):
        ScatteringDataParallel(ours)(**one_gpu)

    stock, args, two_gpus = _training_batch(
        tiny_model, tiny_tokenizer, corpus_rows, tmp_path, n_gpu=2
    )
    assert not modeling.takes_positions(stock) and "masked_positions" not in two_gpus
    real = one_gpu["masked_labels"] != -100
    assert torch.equal(
        two_gpus["labels"].flatten()[one_gpu["masked_positions"][real]],
        one_gpu["masked_labels"][real],
    )
    stock.eval()
    with torch.no_grad():
        split = ScatteringDataParallel(stock)(**two_gpus).loss
        halves = [
            stock(**{k: v[rows] for k, v in two_gpus.items()}).loss
            for rows in (slice(0, 8), slice(8, 16))
        ]
    assert split.shape == (2,) and torch.allclose(split, torch.stack(halves))
    assert not training.NamingTrainer(model=stock, args=args).model_accepts_loss_kwargs


def test_a_plain_run_on_a_machine_with_two_gpus_trains(
    tmp_path, tiny_model, small_corpus, capsys, monkeypatch
):
    """`python app.py` where the Trainer sees 2 GPUs: it wraps the model in nn.DataParallel
    (simulated above), the batch of 2 x 8 rows is split between the replicas, and the run ends with
    a saved model and true numbers.
    """
    monkeypatch.setattr(TrainingArguments, "n_gpu", property(lambda self: 2))
    monkeypatch.setattr(torch.nn, "DataParallel", ScatteringDataParallel)
    status, out, err = run_app(
        capsys,
        [
            *_common(tmp_path, tiny_model, small_corpus),
            "--max_steps",
            "3",
            "--gradient_accumulation_steps",
            "2",
        ],
    )
    assert_trained(status, out, err, tmp_path / "out", steps=3)
    assert re.search(r"^device +cpu x 2 \(nn.DataParallel\)$", out, re.M)
    # rows per optimizer step: 2 replicas x 8 rows, accumulated twice (it said 16)
    assert re.search(r"^batch_size +32 \(16 x 2 accumulated\)$", out, re.M)


# ---- row 2: --load_best_model_at_end -------------------------------------------------------------
def test_with_load_best_model_at_end_the_numbers_describe_the_saved_best_model(
    tmp_path, tiny_model, small_corpus, capsys
):
    """A learning rate this high makes step 1's model the best of three: the model saved is
    checkpoint-1's, and the after-training loss (report, metrics.json, card) is that model's, not
    the last evaluation's.
    """
    out = tmp_path / "out"
    status, stdout, err = run_app(
        capsys,
        [
            *_common(tmp_path, tiny_model, small_corpus),
            "--max_steps",
            "3",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "1",
            "--save_strategy",
            "steps",
            "--save_steps",
            "1",
            "--load_best_model_at_end",
            "True",
            "--learning_rate",
            "0.1",
            "--lr_scheduler_type",
            "constant",
        ],
    )
    metrics = assert_trained(status, stdout, err, out, steps=3)
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    evals = {e["step"]: e["eval_loss"] for e in state["log_history"] if "eval_loss" in e}
    best = min(evals, key=evals.get)
    # what the test is about
    assert best != 3 and state["best_model_checkpoint"].endswith(f"checkpoint-{best}")
    assert sha256(out / "model.safetensors") == sha256(
        out / f"checkpoint-{best}" / "model.safetensors"
    )
    assert metrics["eval_loss"] == pytest.approx(evals[best], rel=1e-6)
    assert metrics["eval_loss"] != pytest.approx(evals[3], rel=1e-3)
    assert f"| eval_loss | {metrics['eval_loss']:.4f} |" in (out / "README.md").read_text(
        encoding="utf-8"
    )
    # Each evaluation during training has its line; the evaluation of the best model after it is
    # the report's.
    assert len(re.findall(r"^step \d/3: ", stdout, re.M)) == 3


# ---- rows 3 and 10: resuming ---------------------------------------------------------------------
def test_a_resumed_run_is_the_straight_run_and_another_weight_decay_is_refused(
    tmp_path, tiny_model, small_corpus, capsys
):
    """4 steps straight, saving at step 2; then the same run resumed from that checkpoint (a copy)
    ends with the same model: a batch's masks do not depend on the batches before it. Resuming with
    another --weight_decay (whose optimizer state holds the old one) is refused in one line before
    any training."""
    flags = [
        "--max_steps",
        "4",
        "--save_strategy",
        "steps",
        "--save_steps",
        "2",
        "--weight_decay",
        "0.01",
        "--eval_strategy",
        "no",
    ]
    status, out, err = run_app(capsys, [*_common(tmp_path, tiny_model, small_corpus), *flags])
    straight = assert_trained(status, out, err, tmp_path / "out", steps=4)

    (tmp_path / "resumed").mkdir()
    shutil.copytree(tmp_path / "out" / "checkpoint-2", tmp_path / "resumed" / "checkpoint-2")
    resume = [
        *_common(tmp_path, tiny_model, small_corpus, out="resumed"),
        *flags,
        "--resume_from_checkpoint",
        "True",
    ]
    status, out, err = run_app(capsys, [*resume, "--weight_decay", "0"])
    assert_one_line_error(status, err, "--weight_decay 0.01", "checkpoint-2")
    assert (
        "== 训练 training" not in out and not (tmp_path / "resumed" / "model.safetensors").exists()
    )

    status, out, err = run_app(capsys, resume)
    resumed = assert_trained(status, out, err, tmp_path / "resumed", steps=4)
    assert "resuming from" in out
    assert resumed["eval_loss"] == pytest.approx(straight["eval_loss"], rel=1e-6, abs=1e-6)
    assert sha256(tmp_path / "resumed" / "checkpoint-4" / "model.safetensors") == sha256(
        tmp_path / "out" / "checkpoint-4" / "model.safetensors"
    )


# ---- row 4: --label_smoothing_factor -------------------------------------------------------------
def test_label_smoothing_on_the_masked_positions_is_the_trainers_label_smoother(
    tiny_model, tiny_tokenizer, corpus_rows, tmp_path
):
    """Training's loss with --label_smoothing_factor 0.1 is transformers' LabelSmoother on the
    stock logits (the Trainer's own, which cannot take our (masked tokens, vocab) logits);
    evaluation's stays the plain loss, so that eval_loss and perplexity mean what they say."""
    from transformers import AutoModelForMaskedLM
    from transformers.trainer_pt_utils import LabelSmoother

    model, _, batch = _training_batch(tiny_model, tiny_tokenizer, corpus_rows, tmp_path, n_gpu=1)
    *_, args = app.parse_args(
        [
            "--output_dir",
            str(tmp_path / "out"),
            "--label_smoothing_factor",
            "0.1",
            "--eval_strategy",
            "no",
        ]
    )
    trainer = training.NamingTrainer(model=model, args=args)
    assert trainer.label_smoother is None and model.label_smoothing == 0.1
    stock = AutoModelForMaskedLM.from_pretrained(tiny_model)
    labels = torch.full_like(batch["input_ids"], -100).flatten()
    labels[batch["masked_positions"]] = batch["masked_labels"]
    labels = labels.view_as(batch["input_ids"])
    mask = batch["attention_mask"][:, 0, 0, :].long()
    torch.manual_seed(0)
    with torch.no_grad():
        model.train(), stock.train()  # training mode, dropout off: the same numbers both ways
        for module in (*model.modules(), *stock.modules()):
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        ours = model(**batch).loss
        want = LabelSmoother(epsilon=0.1)(
            stock(input_ids=batch["input_ids"], attention_mask=mask), labels
        )
        plain = stock(input_ids=batch["input_ids"], attention_mask=mask, labels=labels).loss
        model.eval()
        evaluated = model(**batch).loss
    assert ours.item() == pytest.approx(want.item(), rel=1e-5)
    assert abs(ours.item() - plain.item()) > 1e-3  # smoothing does change it
    assert evaluated.item() == pytest.approx(plain.item(), rel=1e-5)


# ---- rows 5 and 11: dataloader workers, --max_steps ----------------------------------------------
def test_workers_count_tokens_and_mask_as_the_main_process_does(
    tmp_path, tiny_model, small_corpus, capsys
):
    """--dataloader_num_workers 2: the tokens reach metrics.json (workers count in copies of the
    collator), and the masks are the main process's (a batch's masks come from its rows). With
    --max_steps, the report, the lines during training and the card count steps, not epochs."""
    runs = {}
    for workers in ("0", "2"):
        status, out, err = run_app(
            capsys,
            [
                *_common(tmp_path, tiny_model, small_corpus, out=f"w{workers}"),
                "--max_steps",
                "3",
                "--logging_steps",
                "1",
                "--logging_strategy",
                "steps",
                "--dataloader_num_workers",
                workers,
            ],
        )
        runs[workers] = assert_trained(status, out, err, tmp_path / f"w{workers}", steps=3)
    assert runs["0"]["train_tokens"] == runs["2"]["train_tokens"]
    assert runs["0"]["eval_loss"] == pytest.approx(runs["2"]["eval_loss"], rel=1e-6)
    # 3 steps of 8 of the 51 training rows, each row 7-13 tokens with [CLS] and [SEP].
    assert 3 * 8 * 7 <= runs["2"]["train_tokens"] <= 3 * 8 * 13
    assert re.search(r"^steps +3$", out, re.M) and not re.search(r"^epochs ", out, re.M)
    assert (
        re.findall(r"^step (\d)/3: ", out, re.M) == ["3"]
        and "epoch" not in out.split("== 训练 training")[1]
    )
    assert "| steps | 3 |" in (tmp_path / "w2" / "README.md").read_text(encoding="utf-8")


# ---- row 6: a run that diverges ------------------------------------------------------------------
def test_a_diverged_run_says_so_and_leaves_the_saved_model(
    tmp_path, tiny_model, small_corpus, capsys
):
    """--learning_rate 1e12: eval_loss NaN. It is reported as diverged, no name score or table is
    made from NaN logits (NaN ranks every character first; the two-character beam search crashed on
    it), and the run ends with one error line, leaving the model and the report an earlier run
    saved."""
    common = [
        *_common(tmp_path, tiny_model, small_corpus),
        "--max_steps",
        "2",
        "--name_length",
        "2",
    ]
    status, out, err = run_app(capsys, common)
    assert_trained(status, out, err, tmp_path / "out", steps=2)
    saved = {p.name: sha256(p) for p in (tmp_path / "out").iterdir() if p.is_file()}
    report = (tmp_path / "out.txt").read_text(encoding="utf-8")

    status, out, err = run_app(capsys, [*common, "--learning_rate", "1e12"])
    assert_one_line_error(status, err, "diverged", "nan", "--learning_rate")
    # no name_top scores
    assert re.search(r"^训练后 after training: eval_loss nan  perplexity nan$", out, re.M)
    assert out.count("训练发散 diverged") == 1 and "fine-tuned" not in out
    assert {p.name: sha256(p) for p in (tmp_path / "out").iterdir() if p.is_file()} == saved
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == report
    assert "no model was saved" in err and "checkpoint" not in err

    # With checkpoints, the Trainer has written some during training: the error line says where
    # they are, rather than that nothing was written (--resume_from_checkpoint True would pick the
    # newest, diverged one).
    status, out, err = run_app(
        capsys,
        [*common, "--learning_rate", "1e12", "--save_strategy", "steps", "--save_steps", "1"],
    )
    assert_one_line_error(
        status,
        err,
        "diverged",
        "no model was saved",
        "checkpoint-1, checkpoint-2",
        "delete them before resuming",
    )
    assert {p.name: sha256(p) for p in (tmp_path / "out").iterdir() if p.is_file()} == saved


def test_no_name_score_from_nan_logits(tiny_model, tiny_tokenizer, corpus_rows, tmp_path):
    """The name score ranks the true character by how many score higher: none do when all are
    NaN."""
    import datasets

    model, _ = modeling.load_model_and_tokenizer(str(tiny_model), for_training=False)
    rows = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:8]), tiny_tokenizer, 32)
    with torch.no_grad():
        model.cls.predictions.decoder.bias.fill_(float("nan"))
        model.cls.predictions.bias.fill_(float("nan"))
    # why the score is skipped
    assert evaluation.name_score(model, tiny_tokenizer, rows)["name_top1"] == 1.0

    class Evaluates:
        def evaluate(self):
            return {"eval_loss": float("nan")}

        def is_world_process_zero(self):
            return True

    assert evaluation.evaluate(Evaluates(), model, tiny_tokenizer, rows) == {
        "eval_loss": pytest.approx(float("nan"), nan_ok=True)
    }


# ---- the flag matrix -----------------------------------------------------------------------------
# Flags real users pass (run_mlm's documented usage, the Trainer's docs), each run for 2 steps end
# to end.
# --torch_compile has its end-to-end run in test_device.py
# (test_torch_compile_takes_our_forward_whole), which also checks that dynamo takes the forward
# without a graph break.
WORKS = {
    "accumulation, cosine, warmup share": [
        "--gradient_accumulation_steps",
        "2",
        "--lr_scheduler_type",
        "cosine",
        "--warmup_steps",
        "0.5",
    ],
    "steps: evaluate, save, keep 1": [
        "--eval_strategy",
        "steps",
        "--eval_steps",
        "1",
        "--save_strategy",
        "steps",
        "--save_steps",
        "1",
        "--save_total_limit",
        "1",
    ],
    "adafactor, weight decay": ["--optim", "adafactor", "--weight_decay", "0.01"],
    "adamw_torch, group_by_length, report_to none": [
        "--optim",
        "adamw_torch",
        "--train_sampling_strategy",
        "group_by_length",
        "--report_to",
        "none",
    ],
    "label smoothing": ["--label_smoothing_factor", "0.1"],
    "bf16 asked for": ["--bf16", "True"],
}
REFUSED = {
    "best model without checkpoints": (
        ["--load_best_model_at_end", "True"],
        ["--load_best_model_at_end"],
    ),
    "bf16 against --precision fp32": (
        ["--bf16", "True", "--precision", "fp32"],
        ["--bf16 True", "--precision fp32"],
    ),
    "bf16 and fp16": (["--bf16", "True", "--fp16", "True"], ["--bf16", "--fp16"]),
    # CPU autocast runs fp16 as fp32: a run labelled fp16 that trained in fp32 (no CUDA here: the
    # test hides it)
    "fp16 on a CPU": (["--fp16", "True"], ["--fp16 True needs a GPU", "--precision bf16"]),
    "precision fp16 on a CPU": (
        ["--precision", "fp16"],
        ["--precision fp16 needs a GPU", "--precision bf16"],
    ),
    # transformers 4's names, which transformers 5 removed: the line says what replaced them
    "warmup_ratio": (["--warmup_ratio", "0.1"], ["--warmup_ratio", "--warmup_steps"]),
    "group_by_length": (
        ["--group_by_length", "True"],
        ["--group_by_length", "--train_sampling_strategy group_by_length"],
    ),
}


def _precision_said(out: str, folder) -> str:
    """The precision in the configuration block, checked against the model card's."""
    said = re.search(r"^precision +(\S+)$", out, re.M).group(1)
    assert f"| precision | {said} |" in (folder / "README.md").read_text(encoding="utf-8")
    return said


@pytest.mark.parametrize("flags", WORKS.values(), ids=WORKS.keys())
def test_flag_works(tmp_path, tiny_model, small_corpus, capsys, flags):
    status, out, err = run_app(
        capsys, [*_common(tmp_path, tiny_model, small_corpus), "--max_steps", "2", *flags]
    )
    assert_trained(status, out, err, tmp_path / "out", steps=2)
    precision = _precision_said(out, tmp_path / "out")
    if "--bf16" in flags or "--fp16" in flags:
        assert precision == flags[flags.index("--bf16" if "--bf16" in flags else "--fp16")][2:]
    if "--gradient_accumulation_steps" in flags:  # rows per optimizer step, not per pass
        assert re.search(r"^batch_size +16 \(8 x 2 accumulated\)$", out, re.M), out
        card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
        assert "| gradient accumulation steps | 2 |" in card
    if "--save_total_limit" in flags:
        assert [p.name for p in (tmp_path / "out").glob("checkpoint-*")] == ["checkpoint-2"]
    assert "Traceback" not in err


@pytest.mark.parametrize("flags, words", REFUSED.values(), ids=REFUSED.keys())
def test_flag_refused_in_one_line_before_training(
    tmp_path, tiny_model, small_corpus, capsys, monkeypatch, flags, words
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same on a GPU machine
    status, out, err = run_app(
        capsys, [*_common(tmp_path, tiny_model, small_corpus), "--max_steps", "2", *flags]
    )
    assert_one_line_error(status, err, *words)
    assert "== 训练 training" not in out and not (tmp_path / "out").exists()


@settings(
    max_examples=3,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    accumulation=st.sampled_from(["1", "2"]),
    scheduler=st.sampled_from(["linear", "cosine", "constant"]),
    optim=st.sampled_from(["adamw_torch", "adafactor"]),
    smoothing=st.sampled_from(["0", "0.1"]),
    weight_decay=st.sampled_from(["0", "0.01"]),
    sampling=st.sampled_from(["random", "group_by_length"]),
    precision=st.sampled_from([[], ["--bf16", "True"], ["--precision", "fp32"]]),
)
def test_drawn_combinations_of_flags_train(
    tmp_path_factory,
    tiny_model,
    small_corpus,
    capsys,
    accumulation,
    scheduler,
    optim,
    smoothing,
    weight_decay,
    sampling,
    precision,
):
    work = tmp_path_factory.mktemp("drawn")
    flags = [
        "--max_steps",
        "2",
        "--gradient_accumulation_steps",
        accumulation,
        "--lr_scheduler_type",
        scheduler,
        "--optim",
        optim,
        "--label_smoothing_factor",
        smoothing,
        "--weight_decay",
        weight_decay,
        "--train_sampling_strategy",
        sampling,
        *precision,
    ]
    status, out, err = run_app(capsys, [*_common(work, tiny_model, small_corpus), *flags])
    assert_trained(status, out, err, work / "out", steps=2)
    if precision:
        assert _precision_said(out, work / "out") == precision[1].replace("True", "bf16")


def test_a_step_count_given_alone_sets_its_strategy():
    """--save_steps 3 under our default --save_strategy no wrote nothing (and a resume found no
    checkpoint): a step count given alone means its strategy is steps. Evaluating every N steps
    logs the training loss every N steps too. A step count against another strategy is refused."""
    import cli
    from errors import UserError

    assert cli.implied_options(cli.given_options(["--max_steps", "7", "--save_steps=3"])) == {
        "save_strategy": "steps"
    }
    assert cli.implied_options({"eval_steps": "4"}) == {
        "eval_strategy": "steps",
        "logging_strategy": "steps",
        "logging_steps": "4",
    }
    assert cli.implied_options({"eval_strategy": "steps", "logging_strategy": "epoch"}) == {}
    assert cli.implied_options({"save_steps": 3, "save_strategy": "steps"}) == {}
    with pytest.raises(UserError, match="--save_steps 3 counts steps, but --save_strategy epoch"):
        cli.implied_options({"save_steps": "3", "save_strategy": "epoch"})


def test_save_steps_alone_leaves_its_checkpoints(tmp_path, tiny_model, small_corpus, capsys):
    status, out, err = run_app(
        capsys,
        [*_common(tmp_path, tiny_model, small_corpus), "--max_steps", "7", "--save_steps", "3"],
    )
    assert_trained(status, out, err, tmp_path / "out", steps=7)
    saved = sorted(p.name for p in (tmp_path / "out").glob("checkpoint-*"))
    assert {"checkpoint-3", "checkpoint-6"} <= set(saved), saved


def test_each_evaluation_line_has_its_own_periods_train_loss(
    tmp_path, tiny_model, small_corpus, capsys
):
    """Every 4 steps of 14 (an epoch is 7): the lines showed the epoch's loss at steps 8, 12 and 14
    (4.8156 three times). Now each shows the loss logged at its own step (the checkpoints' log
    says which), the last one included."""
    flags = ["--max_steps", "14", "--eval_strategy", "steps", "--eval_steps", "4"]
    flags += ["--save_steps", "14"]
    status, out, err = run_app(capsys, [*_common(tmp_path, tiny_model, small_corpus), *flags])
    assert_trained(status, out, err, tmp_path / "out", steps=14)
    state = json.loads((tmp_path / "out" / "checkpoint-14" / "trainer_state.json").read_text())
    logged = {e["step"]: e["loss"] for e in state["log_history"] if "loss" in e}
    printed = {
        int(step): float(loss)
        for step, loss in re.findall(r"^step (\d+)/14: train_loss (\S+)  eval_loss", out, re.M)
    }
    assert sorted(printed) == [4, 8, 12, 14], out
    assert all(abs(printed[step] - logged[step]) < 1e-4 for step in printed), (printed, logged)
