"""masking.py: at least one mask per sentence, whole given names, the test split masked once."""

import pytest
import torch

import corpus
import masking


def _examples(tiny_tokenizer, texts_labels):
    import datasets

    ds = datasets.Dataset.from_list([{"text": t, "label": label} for t, label in texts_labels])
    return [dict(r) for r in corpus.tokenize_corpus(ds, tiny_tokenizer, 32)]


def test_every_example_gets_at_least_one_masked_token(tiny_tokenizer):
    examples = _examples(tiny_tokenizer, [("张涛", "张涛"), ("小孩取名叫张伟", "张伟")] * 32)
    collator = masking.NameMaskingCollator(tiny_tokenizer, mlm_probability=0.01, seed=0)
    for _ in range(5):
        batch = collator(examples)
        per_row = (batch["labels"] != -100).sum(dim=1)
        assert per_row.min() >= 1
        # Forced masks land on real tokens, never on [CLS]/[SEP]/[PAD].
        targets = batch["labels"][batch["labels"] != -100]
        assert not torch.isin(targets, torch.tensor(tiny_tokenizer.all_special_ids)).any()


def test_stock_collator_does_leave_short_examples_unmasked(tiny_tokenizer):
    """Why the guarantee above is needed: the library collator alone draws no mask for some rows."""
    from transformers import DataCollatorForLanguageModeling

    examples = _examples(tiny_tokenizer, [("张涛", "张涛")] * 64)
    batch = DataCollatorForLanguageModeling(tiny_tokenizer, mlm_probability=0.15, seed=0)(
        [{k: e[k] for k in masking.MODEL_INPUTS} for e in examples]
    )
    assert ((batch["labels"] != -100).sum(dim=1) == 0).sum() > 30


def test_name_masking_masks_the_whole_given_name(tiny_tokenizer):
    examples = _examples(tiny_tokenizer, [("小孩取名叫张子涵", "张子涵")] * 8)
    batch = masking.NameMaskingCollator(
        tiny_tokenizer, mlm_probability=0.01, name_mask_probability=1.0, seed=0
    )(examples)
    name_cols = [7, 8]  # [CLS] 小 孩 取 名 叫 张 子 涵 [SEP]
    assert (batch["input_ids"][:, name_cols] == tiny_tokenizer.mask_token_id).all()
    assert tiny_tokenizer.convert_ids_to_tokens(batch["labels"][0, name_cols].tolist()) == [
        "子",
        "涵",
    ]
    off = masking.NameMaskingCollator(
        tiny_tokenizer, mlm_probability=0.01, name_mask_probability=0.0, seed=0
    )(examples)
    assert (off["labels"] != -100).sum() < 8 * 2  # one forced token per row, not whole names


def test_test_split_is_masked_once_and_reproducibly(tiny_tokenizer, corpus_rows):
    import datasets

    ds = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:40]), tiny_tokenizer, 32)
    a = masking.mask_test_split_once(ds, tiny_tokenizer, 0.15, seed=3)
    b = masking.mask_test_split_once(ds, tiny_tokenizer, 0.15, seed=3)
    c = masking.mask_test_split_once(ds, tiny_tokenizer, 0.15, seed=4)
    assert a["labels"] == b["labels"] and a["input_ids"] == b["input_ids"]
    assert a["labels"] != c["labels"]
    assert [len(x) for x in a["input_ids"]] == [len(x) for x in ds["input_ids"]]  # padding stripped
    # The training collator only pads these: labels survive untouched, padded with -100.
    batch = masking.NameMaskingCollator(tiny_tokenizer, seed=9)([a[0], a[1]])
    width = batch["labels"].shape[1]
    assert batch["labels"][0].tolist() == a[0]["labels"] + [-100] * (width - len(a[0]["labels"]))


def test_each_batch_says_where_its_masked_tokens_are(tiny_tokenizer):
    """masked_positions index the flattened batch, masked_labels are the targets there; both are
    padded to a multiple of 8 with position 0 and label -100. A batch without padding needs no
    attention_mask.
    """
    collator = masking.NameMaskingCollator(tiny_tokenizer, mlm_probability=0.3, seed=0)
    for texts in (
        ["小孩取名叫张涛", "小孩取名叫张子涵", "女儿的名字叫欧阳娜"],
        ["小孩取名叫张涛"] * 3,
    ):
        batch = collator(_examples(tiny_tokenizer, [(t, None) for t in texts]))
        labels = batch["labels"].flatten()
        truth = [i for i, t in enumerate(labels.tolist()) if t != -100]
        k = len(batch["masked_positions"])
        assert (
            k % masking.POSITIONS_MULTIPLE == 0
            and len(truth) <= k < len(truth) + masking.POSITIONS_MULTIPLE
        )
        assert batch["masked_positions"].tolist() == truth + [0] * (k - len(truth))
        assert batch["masked_labels"].tolist() == labels[truth].tolist() + [-100] * (k - len(truth))
        padded = len({len(t) for t in texts}) > 1
        assert ("attention_mask" in batch) == padded
        assert "special_tokens_mask" not in batch


def test_the_collator_counts_training_tokens_not_evaluation_tokens(tiny_tokenizer, corpus_rows):
    import datasets

    ds = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:10]), tiny_tokenizer, 32)
    collator = masking.NameMaskingCollator(tiny_tokenizer, seed=0)
    collator([{k: r[k] for k in masking.MODEL_INPUTS} for r in ds])
    assert collator.tokens_seen == sum(len(ids) for ids in ds["input_ids"])  # non-padding tokens
    # the evaluation's batches
    collator(list(masking.mask_test_split_once(ds, tiny_tokenizer, 0.15, seed=1)))
    assert collator.tokens_seen == sum(len(ids) for ids in ds["input_ids"])


def test_a_padded_batch_can_carry_the_mask_sdpa_takes(tiny_tokenizer):
    """(batch, 1, 1, length) bool, True where a token may be attended to: the 2D mask, shaped for
    scaled_dot_product_attention, which transformers passes through as it is."""
    examples = _examples(tiny_tokenizer, [("小孩取名叫张涛", None), ("女儿的名字叫欧阳娜", None)])
    two_d = masking.NameMaskingCollator(tiny_tokenizer, seed=0)(examples)["attention_mask"]
    four_d = masking.NameMaskingCollator(tiny_tokenizer, seed=0, sdpa_mask=True)(examples)[
        "attention_mask"
    ]
    assert four_d.dtype == torch.bool and four_d.shape == (2, 1, 1, two_d.shape[1])
    assert torch.equal(four_d[:, 0, 0, :], two_d.bool()) and not four_d.all()


@pytest.mark.parametrize("sampling", ["sequential", "random"])
def test_masks_differ_every_epoch_under_every_sampler(tmp_path, tiny_model, small_corpus, sampling):
    """The masks came from (seed, rows) alone: with --train_sampling_strategy sequential the same
    rows make the same batches each epoch, and every row was masked the same way every epoch. Now
    the epoch goes into the seed (training.MaskEpoch): few batches repeat a mask."""
    from test_training import _trainer_on_test_split

    flags = ["--train_sampling_strategy", sampling, "--num_train_epochs", "3"]
    flags += ["--per_device_train_batch_size", "4", "--precision", "fp32", "--seed", "3"]
    trainer, _, _ = _trainer_on_test_split(tmp_path, tiny_model, small_corpus, *flags)
    collate, seen = trainer.data_collator, []

    def recording(examples):
        batch = collate(examples)
        if "row" in examples[0]:  # a training batch, not an evaluation one
            seen.append((collate.epoch, tuple(e["row"] for e in examples), batch["labels"].clone()))
        return batch

    trainer.data_collator = recording
    trainer.train()
    assert sorted({epoch for epoch, _, _ in seen}) == [0, 1, 2]
    masks = {}  # (rows of the batch) -> the masks each epoch drew for it
    for epoch, rows, labels in seen:
        masks.setdefault(rows, {})[epoch] = labels
    repeated = [
        rows
        for rows, by_epoch in masks.items()
        for a, b in ((0, 1), (1, 2))
        if a in by_epoch and b in by_epoch and torch.equal(by_epoch[a], by_epoch[b])
    ]
    compared = sum((0 in e and 1 in e) + (1 in e and 2 in e) for e in masks.values())
    if sampling == "sequential":
        assert compared == 2 * len(masks) > 0  # the same batches each epoch
    assert len(repeated) <= compared // 4, (len(repeated), compared)


def test_a_one_row_batch_is_masked_afresh_each_epoch(tiny_tokenizer, corpus_rows):
    """A one-row training split makes the same one-row batch every epoch."""
    import datasets

    rows = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:1]), tiny_tokenizer, 32)
    examples = masking.first_examples(masking.training_columns(rows), 1)
    collator = masking.NameMaskingCollator(tiny_tokenizer, mlm_probability=0.3, seed=1)
    drawn = []
    for epoch in range(6):
        collator.epoch = epoch
        drawn.append(tuple(collator(examples)["labels"][0].tolist()))
    assert len(set(drawn)) >= 4, drawn
    collator.epoch = 0  # epoch 0 draws as the rows alone did (the README's masked examples)
    assert masking.batch_seed(1, [0], 0) == masking.batch_seed(1, [0])
    assert tuple(collator(examples)["labels"][0].tolist()) == drawn[0]
