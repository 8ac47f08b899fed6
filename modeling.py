"""The model: bert-base-chinese (or any fill-mask model) and its tokenizer, from the Hugging Face
cache or a local folder, and the training forward that runs the 21128-way output layer only where a
token is masked.

Each way loading can fail (not cached and offline, a damaged folder, no folder) is one UserError
that says how to get the model. It does not choose the precision (device.py) and does not train
(training.py).
"""

from __future__ import annotations

import os

import torch.nn.functional as F
from transformers import AutoModelForMaskedLM, AutoTokenizer, BertForMaskedLM
from transformers.modeling_outputs import MaskedLMOutput

from errors import UserError
from hub import hub_endpoint, hub_offline, hub_reachable, unavailable
from names import MASK


def _masked_positions_forward(
    self,
    input_ids=None,
    attention_mask=None,
    token_type_ids=None,
    labels=None,
    masked_positions=None,
    masked_labels=None,
    **kwargs,
):
    """BertForMaskedLM.forward, but with labels the 21128-way output layer runs only at masked
    positions.

    The stock forward computes logits for every token and the loss then discards ~85% of them; the
    output layer is the largest matmul in the model. The collator sends where the masked tokens are
    (masking.NameMaskingCollator: masked_positions into the flattened batch, masked_labels, padded
    with
    -100), so the rows are gathered by index: a boolean index would make a GPU host wait for the
    device to count them. Without labels (predictions) it is the stock forward.

    While training, the loss is label-smoothed by self.label_smoothing (--label_smoothing_factor,
    set by training.NamingTrainer); evaluation's is plain. Not under nn.DataParallel
    (load_model_and_tokenizer).
    """
    num_items_in_batch = kwargs.pop("num_items_in_batch", None)
    if labels is None and masked_labels is None:
        return type(self).forward(
            self,
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            **kwargs,
        )
    # a caller that sends labels only: find them here (this does wait on a GPU)
    if masked_positions is None:
        masked_positions = (labels.flatten() != -100).nonzero().flatten()
        masked_labels = labels.flatten()[masked_positions]
    hidden = self.bert(
        input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
    ).last_hidden_state
    logits = self.cls(hidden.flatten(0, 1).index_select(0, masked_positions))  # (K, vocab)
    # The Trainer's LabelSmoother on the masked positions: PyTorch's label_smoothing is its formula.
    smoothing = getattr(self, "label_smoothing", 0.0) if self.training else 0.0
    # gradient accumulation: the Trainer normalises over all micro-batches
    if num_items_in_batch is not None:
        loss = (
            F.cross_entropy(
                logits.float(), masked_labels, reduction="sum", label_smoothing=smoothing
            )
            / num_items_in_batch
        )
    else:  # the mean over the real targets (-100 ignored)
        loss = F.cross_entropy(logits.float(), masked_labels, label_smoothing=smoothing)
    return MaskedLMOutput(loss=loss, logits=logits)


def takes_positions(model) -> bool:
    """The model trains with _masked_positions_forward (a BertForMaskedLM loaded for training)."""
    return getattr(model.forward, "__func__", None) is _masked_positions_forward


def load_model_and_tokenizer(name: str, for_training: bool, masked_positions: bool = True):
    """(model, tokenizer) from a local folder or the hub cache, else downloaded; or a UserError
    saying how to get them.

    The cache comes first (no network at all), so a cached model loads the same with or without
    network. Only a model that is not there is downloaded, and only after one quick look at the
    hub: without network, huggingface_hub would retry each file for about 50 seconds, printing a
    warning at every retry.

    For training, a BertForMaskedLM gets _masked_positions_forward, unless masked_positions is
    False: under nn.DataParallel (several GPUs in one process) it keeps the stock forward.
    DataParallel splits every tensor along dim 0, which cuts positions into the whole flattened
    batch apart from the rows they index, and its replicas are shallow copies whose instance
    attributes (this bound forward among them) still point at the model on GPU 0."""
    try:
        try:
            tokenizer, model = _load(name, local_files_only=True)
        except Exception:
            if os.path.isdir(name) or hub_offline() or not hub_reachable():
                raise
            # the first run: download into the cache
            tokenizer, model = _load(name, local_files_only=False)
    except (
        Exception
    ) as e:  # OSError, ValueError, safetensors' and tokenizers' own errors: all mean "cannot load"
        if os.path.isdir(name) and os.path.isfile(os.path.join(name, "config.json")):
            raise UserError(
                f"model folder '{name}' cannot be loaded ({type(e).__name__}:"
                f" {str(e).strip().splitlines()[0][:120] if str(e).strip() else 'no detail'}): it"
                " is incomplete or damaged; train it again, or pass another folder"
            ) from None
        if (not for_training and not os.path.isdir(name)) or hub_offline() or not hub_reachable():
            raise UserError(unavailable(name, for_training)) from None
        raise UserError(
            f"cannot load model '{name}' (not in the cache, and the download from"
            f" {hub_endpoint()} failed: {type(e).__name__}): pre-download it where there is"
            f" network (hf download {name}), use a mirror (HF_ENDPOINT=https://your-mirror), or"
            " pass --model_name_or_path a local model folder"
        ) from None
    if MASK not in tokenizer.get_vocab():
        raise UserError(
            f"model '{name}': its tokenizer has no {MASK} token, so it cannot fill in names"
        )
    if for_training and masked_positions and type(model) is BertForMaskedLM:
        model.forward = _masked_positions_forward.__get__(model)
    return model, tokenizer


def _load(name: str, local_files_only: bool):
    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_files_only)
    model = AutoModelForMaskedLM.from_pretrained(name, local_files_only=local_files_only)
    return tokenizer, model


def check_positions(model, max_seq_length: int):
    """--max_seq_length fits the model's position embeddings (checked before any training)."""
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions and max_seq_length > positions:
        raise UserError(
            f"--max_seq_length {max_seq_length} is more than the model's {positions} "
            f"positions: pass at most {positions}"
        )
