"""training.py: the name score, on a model whose ranking the test sets; a training loop in which
the host does not wait for the device because of us."""

import math

import pytest
import torch

import bench_host
import evaluation
import training
from conftest import REPO, ranked_model


def test_name_score_on_a_hand_made_case(tiny_tokenizer):
    """Ranks are fixed by the bias: 涛 1st, 伟 2nd, 婷 3rd, 鹏 4th, ..., 芳 7th; 强 is far down."""
    model, _ = ranked_model(tiny_tokenizer, ["涛", "伟", "婷", "鹏", "磊", "杰", "芳"])
    rows = {"input_ids": [], "name_mask": []}
    for text, _label in [
        ("小孩取名叫张涛", "张涛"),
        ("小孩取名叫张芳", "张芳"),
        ("小孩取名叫张强", "张强"),
        ("小孩取名叫张伟", "张伟"),
    ]:
        enc = tiny_tokenizer(text)
        rows["input_ids"].append(enc["input_ids"])
        rows["name_mask"].append([0] * 7 + [1, 0])
    import datasets

    score = evaluation.name_score(
        model, tiny_tokenizer, datasets.Dataset.from_dict(rows), ks=(1, 5, 20)
    )
    # 涛 rank 1, 伟 rank 2, 芳 rank 7, 强 beyond 20 -> top1 1/4, top5 2/4, top20 3/4.
    assert score == {"name_top1": 0.25, "name_top5": 0.5, "name_top20": 0.75, "name_chars": 4}


# ---- a host that does not wait for the device ---------------------------------------------------
OUR_MODULES = {p.name for p in REPO.glob("*.py") if not p.name.startswith("bench")}


def test_app_adds_no_host_waits_over_the_stock_trainer(tiny_model, small_corpus):
    """Counted on the CPU (bench_host.HostWaits): the ops that make a CUDA host wait for the
    device, per optimizer step, inside training_step and elsewhere in the training loop. app.py may
    not add any over the stock recipe, and none may come from our own code."""
    stock, stock_steps = bench_host.waits_of_the_stock_trainer(
        tiny_model, small_corpus, epochs=2, batch_size=8
    )
    ours, steps = bench_host.waits_of_app(tiny_model, small_corpus, 2, 8)
    assert steps == stock_steps == 2 * 7  # 60 rows, 9 held out: 51 / 8 -> 7 steps an epoch
    assert stock.per_step(steps)["loop"] >= 2  # the counter sees the stock loop's isnan/isinf check
    for where in ("step", "loop"):
        assert ours.per_step(steps)[where] <= stock.per_step(steps)[where], (where, ours.sites)
    assert [site for (_, _, site) in ours.sites if site.split(":")[0] in OUR_MODULES] == []
    # Not even the model's own check of the attention mask (the collator sends the 4D mask SDPA
    # takes).
    assert ours.per_step(steps)["step"] == 0
    # What is left in the loop is read once per log (2 epochs) and once at the end, not once per
    # step.
    assert sum(n for (where, _, _), n in ours.sites.items() if where == "loop") <= 2 * 2 + 1


def test_a_nan_step_is_logged_as_the_stock_filter_logs_it(
    tiny_model, tiny_tokenizer, small_corpus, tmp_path
):
    """NamingTrainer keeps logging_nan_inf_filter's guard without its per-step bool(): a step whose
    loss is NaN counts as the average of the window so far, exactly as the stock check does;
    without any guard every logged loss from then on is NaN."""
    from transformers import (
        AutoModelForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    import corpus

    rows = corpus.tokenize_corpus(corpus.load_corpus(str(small_corpus))[0], tiny_tokenizer, 32)
    rows = rows.select_columns(["input_ids", "attention_mask"])

    def logged_losses(trainer_class, nan_filter):
        model = AutoModelForMaskedLM.from_pretrained(tiny_model)
        forward, calls = model.forward, []

        def third_loss_is_nan(*args, **kwargs):
            out = forward(*args, **kwargs)
            calls.append(1)
            if len(calls) == 3:
                out.loss = out.loss + float("nan")  # a NaN value whose gradients stay finite
            return out

        model.forward = third_loss_is_nan
        args = TrainingArguments(
            output_dir=str(tmp_path / "out"),
            max_steps=8,
            logging_steps=4,
            report_to="none",
            per_device_train_batch_size=4,
            save_strategy="no",
            use_cpu=True,
            disable_tqdm=True,
            logging_nan_inf_filter=nan_filter,
            seed=3,
            remove_unused_columns=False,
        )
        trainer = trainer_class(
            model=model,
            args=args,
            train_dataset=rows,
            data_collator=DataCollatorForLanguageModeling(tiny_tokenizer, seed=3),
        )
        trainer.train()
        return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]

    stock = logged_losses(Trainer, nan_filter=True)
    ours = logged_losses(training.NamingTrainer, nan_filter=False)
    unguarded = logged_losses(Trainer, nan_filter=False)
    assert len(stock) == 2 and all(math.isfinite(x) for x in stock)
    assert ours == pytest.approx(stock, rel=1e-6)
    # and it stays NaN: the Trainer resets it with tr_loss -= tr_loss
    assert all(math.isnan(x) for x in unguarded)


def test_the_flops_estimate_is_the_stock_one_with_the_parameters_counted_once(
    tiny_model, tmp_path, monkeypatch
):
    from transformers import AutoModelForMaskedLM, Trainer, TrainingArguments

    model = AutoModelForMaskedLM.from_pretrained(tiny_model)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    ours, stock = training.NamingTrainer(model=model, args=args), Trainer(model=model, args=args)
    calls = []
    count = model.num_parameters
    monkeypatch.setattr(model, "num_parameters", lambda **kw: calls.append(kw) or count(**kw))
    for length in (7, 12):
        inputs = {"input_ids": torch.ones(4, length, dtype=torch.long)}
        assert ours.floating_point_ops(inputs) == Trainer.floating_point_ops(stock, inputs) > 0
    assert len(calls) == 1 + 2  # ours once, the stock method at each call


# ---- eval_loss: the mean over masked tokens ---------------------------------------------
def _trainer_on_test_split(tmp_path, model_dir, corpus_file, *flags):
    """(trainer, model, test split masked once) as app.py builds them, without training."""
    import app
    import corpus
    import modeling
    from report import Report

    model_args, data_args, _, args = app.parse_args(
        [
            "--model_name_or_path",
            str(model_dir),
            "--train_file",
            str(corpus_file),
            "--output_dir",
            str(tmp_path / "out"),
            "--disable_tqdm",
            "True",
            *flags,
        ]
    )
    rows, _ = corpus.load_corpus(data_args.train_file)
    model, tokenizer = modeling.load_model_and_tokenizer(str(model_dir), for_training=True)
    train, _, test_masked, _ = app.prepare_data(rows, tokenizer, data_args, args)
    quiet = Report(enabled=False)
    trainer = training.build_trainer(model, tokenizer, args, data_args, train, test_masked, quiet)
    return trainer, model, test_masked


@torch.inference_mode()
def _token_mean_by_hand(model, test_masked) -> float:
    """Sum of every masked token's cross-entropy over the number of masked tokens, one row at a
    time through the stock forward (no batching, no padding, no masked positions)."""
    from transformers import BertForMaskedLM

    total, count = 0.0, 0
    model.eval()
    for row in test_masked:
        logits = BertForMaskedLM.forward(model, input_ids=torch.tensor([row["input_ids"]])).logits[
            0
        ]
        labels = torch.tensor(row["labels"])
        total += torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
        count += int((labels != -100).sum())
    return total / count


def test_eval_loss_is_the_mean_over_masked_tokens_for_any_eval_batch_size(
    tmp_path, tiny_model, small_corpus
):
    """The stock loop averages batch means weighted by rows, so eval_loss moved with
    --per_device_eval_batch_size. Ours is the token mean over the whole test split: the same for 1,
    7 and 32, and equal to the hand computation."""
    trainer, model, test_masked = _trainer_on_test_split(
        tmp_path, tiny_model, small_corpus, "--precision", "fp32"
    )
    by_hand = _token_mean_by_hand(model, test_masked)
    losses = {}
    for batch_size in (1, 7, 32):
        trainer.args.per_device_eval_batch_size = batch_size
        losses[batch_size] = trainer.evaluate()["eval_loss"]
    assert all(abs(loss - by_hand) < 1e-5 for loss in losses.values()), (by_hand, losses)
    # The rows' mean of the batch means (the stock loop at batch size 1) is another number here.
    per_row = []
    with torch.inference_mode():
        for row in test_masked:
            labels = torch.tensor(row["labels"])
            logits = model(input_ids=torch.tensor([row["input_ids"]])).logits[0]
            per_row.append(torch.nn.functional.cross_entropy(logits, labels).item())
    assert abs(sum(per_row) / len(per_row) - by_hand) > 1e-3


def test_the_token_mean_takes_the_batches_as_they_come():
    """--eval_do_concat_batches False hands over one array per batch, of different lengths."""
    import numpy as np
    from transformers import EvalPrediction

    import evaluation

    rows = np.array([[2.0, 1.0], [6.0, 3.0], [1.0, 1.0], [3.0, 1.0]])
    whole = evaluation.token_mean_loss(EvalPrediction(predictions=rows, label_ids=None))
    batches = [rows[:3], rows[3:]]
    split = evaluation.token_mean_loss(EvalPrediction(predictions=batches, label_ids=None))
    assert whole == split == {"loss": 12.0 / 6.0}
