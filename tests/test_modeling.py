"""modeling.py: the training loss, computed at the masked positions only, is the stock loss."""

import pytest
import torch

import corpus
import masking
import modeling


@pytest.mark.parametrize("sent", ["positions", "labels only"])
@pytest.mark.parametrize("num_items", [None, 37])
def test_masked_positions_loss_equals_the_stock_loss(
    tiny_model, tiny_tokenizer, corpus_rows, num_items, sent
):
    """The loss app.py trains with (output layer at masked positions only) is the stock one on the
    same batch: without num_items_in_batch, BertForMaskedLM's own loss, the mean over masked
    tokens. With it (the Trainer passes it, for gradient accumulation and for averaging across
    processes), transformers' ForMaskedLM loss on the stock logits: their sum over
    num_items_in_batch. (BertForMaskedLM.forward itself takes num_items_in_batch but ignores it.) A
    sum, or a mean over all tokens, is far off. Our forward gets the batch as the Trainer hands it
    (with the collator's masked positions, padded, and the 4D attention mask that SDPA takes) or,
    from other callers, with labels and the 2D mask only."""
    import datasets
    from transformers import AutoModelForMaskedLM

    stock = AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    ours, _ = modeling.load_model_and_tokenizer(str(tiny_model), for_training=True)
    ours.eval()
    rows = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:16]), tiny_tokenizer, 32)
    collator = masking.NameMaskingCollator(tiny_tokenizer, seed=1, sdpa_mask=True)
    batch = collator.mask([{k: r[k] for k in masking.MODEL_INPUTS} for r in rows])
    batch.pop("special_tokens_mask", None)
    ours_batch = collator.for_forward(dict(batch)) if sent == "positions" else batch
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    with torch.no_grad():
        stock_out = stock(**batch)
        want = (
            stock_out.loss
            if num_items is None
            else stock.loss_function(
                logits=stock_out.logits,
                labels=batch["labels"],
                vocab_size=stock.config.vocab_size,
                **extra,
            )
        )
        got = ours(**ours_batch, **extra).loss
    n_masked = int((batch["labels"] != -100).sum())
    assert n_masked > 16
    # the batch is padded
    assert ours_batch["attention_mask"].dim() == (4 if sent == "positions" else 2)
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    if num_items is None:  # what the check tells apart: a sum is n_masked times larger
        assert abs(got.item() * n_masked - want.item()) > 1
