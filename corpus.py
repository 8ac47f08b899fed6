"""The corpus: a JSON file of {"text": ..., "label": "张涛"} rows, read in whatever encoding it was
saved in, checked row by row, and tokenized with `word_ids` and the given name's tokens marked.
The train/test split is splitting.py's.

It reads UTF-8 (with or without BOM), GB18030/GBK and UTF-16/32; any other file and every malformed
row is a UserError that names the line. check_options checks the data options (app.DataArguments,
the masking rates among them) before the file is read. It does not mask tokens (masking.py).
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import tempfile
from pathlib import Path

import datasets
import pyarrow.compute as pc

from errors import UserError
from names import HAN_CHAR, split_name

logger = logging.getLogger("app.corpus")

# What a corpus file may be saved as. GB18030 is a superset of GBK and GB2312, so
# it reads all three.
ENCODING_NAMES = {
    "utf_8": "UTF-8",
    "utf_8_sig": "UTF-8 with BOM",
    "gb18030": "GB18030/GBK",
    "utf_16": "UTF-16",
    "utf_16_le": "UTF-16",
    "utf_16_be": "UTF-16",
    "utf_32": "UTF-32",
    "utf_32_le": "UTF-32",
    "utf_32_be": "UTF-32",
}

GB_FAMILY = {"gb2312", "gbk", "gb18030", "hz", "cp936"}


def read_corpus_text(path: str) -> tuple[str, str]:
    """(text, encoding name) of a corpus file saved as UTF-8 (with or without BOM), GB18030/GBK or
    UTF-16/32.

    UTF-8 and byte-order marks are recognised exactly; anything else is identified by
    charset-normalizer (the detector requests uses), and only the encodings above are accepted: a
    file in any other encoding, or not text at all, is refused with the iconv command that converts
    it.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise UserError(
            f"train file '{path}' cannot be read ({e.strerror}): check its permissions"
        ) from None
    # before UTF-16: FF FE 00 00 starts both
    if raw.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        encoding = "utf_32"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf_16"
    elif raw.startswith(codecs.BOM_UTF8):
        encoding = "utf_8_sig"
    else:
        encoding = "utf_8" if _is_utf8_text(raw) else _bomless_utf16(raw) or _detect_encoding(raw)
    if encoding is None or encoding not in ENCODING_NAMES or not _decodes(raw, encoding):
        looks = f"it looks like {encoding}" if encoding else "it looks like binary data"
        raise UserError(
            f"train file '{path}' is not text in UTF-8, GBK/GB18030 or UTF-16 ({looks}): save it as"
            f" UTF-8 (iconv -f {(encoding or 'GBK').upper()} -t UTF-8 '{path}' > corpus.utf8.json)"
            " and pass that"
        )
    text = raw.decode(encoding)
    if "\x00" in text:
        raise UserError(
            f"train file '{path}' holds NUL characters, so it is binary, not JSON text: "
            'pass a JSON Lines file of {"text": ...} rows'
        )
    return text, ENCODING_NAMES[encoding]


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _is_utf8_text(raw: bytes) -> bool:
    """Valid UTF-8, and not UTF-16 of ASCII (NUL bytes). A GBK file that is also valid UTF-8 is
    read as UTF-8: no detector can tell them apart, and it takes a file of a very few characters
    (GBK 一 is D2 BB, which is UTF-8 for Cyrillic һ); a real GBK corpus is never valid UTF-8."""
    return b"\x00" not in raw and _decodes(raw, "utf_8")


def _bomless_utf16(raw: bytes) -> str | None:
    """UTF-16 without a byte-order mark, which charset-normalizer misses for short files of Chinese
    (found by the property tests). JSON's ASCII braces, quotes and keys give a zero high byte, so
    zeros crowd the odd byte positions (little-endian) or the even ones (big-endian)."""
    pairs = len(raw) // 2
    if len(raw) % 2 or pairs < 4:
        return None
    even, odd = raw[0::2].count(0), raw[1::2].count(0)
    for encoding, zeros, others in (("utf_16_le", odd, even), ("utf_16_be", even, odd)):
        if zeros >= pairs / 4 and zeros > 2 * others and _decodes(raw, encoding):
            return encoding
    return None


def _detect_encoding(raw: bytes) -> str | None:
    """The encoding of a file that is not UTF-8, among those we read; else charset-normalizer's
    best guess of any encoding (to name it in the error); None if it sees no text at all."""
    import charset_normalizer

    ours = charset_normalizer.from_bytes(
        raw, cp_isolation=["gb18030", *(e for e in ENCODING_NAMES if "16" in e or "32" in e)]
    )
    if ours.best() is not None:
        name = codecs.lookup(ours.best().encoding).name.replace("-", "_")
        return "gb18030" if name in GB_FAMILY else name
    # Too short for the detector to be sure (a few GBK characters, found by the property tests), but
    # valid GB18030 with Chinese in it: for a corpus of Chinese names, that is what it is.
    if _decodes(raw, "gb18030") and HAN_CHAR.search(raw.decode("gb18030")):
        return "gb18030"
    guess = charset_normalizer.from_bytes(raw).best()
    return codecs.lookup(guess.encoding).name.replace("-", "_") if guess else None


def describe_corpus_problem(text: str) -> str | None:
    """The first problem of a corpus, as 'line N: ...' (JSON Lines) or 'row N: ...' (a JSON array),
    or None.

    Checked before datasets sees the file: its JSON reader names no line, and it crashes the whole
    process (SIGSEGV in pyarrow) on some shapes that are no rows, such as a file holding only
    `null` or an array that starts with null (both found by the property tests).
    """
    parsed = _numbered_rows(text)
    if isinstance(parsed, str):
        return parsed
    rows, where = parsed
    if not rows:
        return 'it holds no rows; it needs one {"text": ...} object per line'
    for n, row in rows:
        value = row.get("text") if isinstance(row, dict) else None
        if not isinstance(value, str) or not value.strip():
            shown = "missing" if not isinstance(row, dict) or "text" not in row else _short(value)
            return f'{where} {n}: "text" is {shown}; every row needs a non-empty "text" string'
        if "label" in row and row["label"] is not None and not isinstance(row["label"], str):
            return (
                f'{where} {n}: "label" is {_short(row["label"])}; it must be the full name as a'
                ' string ("张涛")'
            )
    return None


def _numbered_rows(text: str) -> tuple[list[tuple[int, object]], str] | str:
    """([(line or row number, parsed value)], 'line' or 'row'), or the JSON problem as 'line N:
    ...'."""
    if text.lstrip().startswith("["):
        try:
            return list(enumerate(json.loads(text), start=1)), "row"
        except json.JSONDecodeError as e:
            return f"line {e.lineno}: not valid JSON ({e.msg}); fix that line"
        except RecursionError:
            return 'nested too deeply to be rows of {"text": ...}'
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                rows.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                return f"line {n}: not valid JSON ({e.msg}); fix that line"
            except RecursionError:
                return f'line {n}: nested too deeply to be a {{"text": ...}} row'
    return rows, "line"


# How many of a corpus's unusable labels the warning names one by one.
LABELS_SHOWN = 5


def unfound_labels(text: str) -> str | None:
    """A warning naming each row whose label is not a full name found in its text (the first
    LABELS_SHOWN, with their line numbers), or None. Such a row trains as one without a label: it
    still teaches the language, but gives no name to mask or score. A warning, not a refusal: the
    label is optional, the row is sound, and one typo in a large corpus should not stop a run;
    the count makes the rest of the output true (the model card claims only the labels found).
    """
    parsed = _numbered_rows(text)
    if isinstance(parsed, str):
        return None
    rows, where = parsed
    labels = [
        (n, row["label"], row.get("text"))
        for n, row in rows
        if isinstance(row, dict) and isinstance(row.get("label"), str) and row["label"]
    ]
    bad = [
        (n, label, text)
        for n, label, text in labels
        if not isinstance(text, str) or given_name_span(text, label) is None
    ]
    if not bad:
        return None
    shown = "; ".join(
        f"{where} {n}: label {label!r} is not in its text {_short(text)}"
        if len(label) >= 2
        else f"{where} {n}: label {label!r} is no full name (surname and given name, 张涛)"
        for n, label, text in bad[:LABELS_SHOWN]
    )
    more = f"; and {len(bad) - LABELS_SHOWN} more" if len(bad) > LABELS_SHOWN else ""
    return (
        f"{shown}{more}: {len(bad)} of {len(labels)} labels unused, so these rows train without"
        " a name (no name masking or name score from them); fix the labels to use them"
    )


def count_labelled(rows) -> int:
    """The rows whose label is a full name found in their text: the ones the name score and name
    masking use (what the model card claims)."""
    if "label" not in rows.column_names:
        return 0
    return sum(
        given_name_span(text, label) is not None
        for text, label in zip(rows["text"], rows["label"], strict=True)
    )


def _short(value) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def load_corpus(path: str) -> tuple[datasets.Dataset, str]:
    """(the corpus as a datasets.Dataset with a 'text' column, and 'label' if the file has one; its
    encoding)."""
    if os.path.isdir(path):
        raise UserError(
            f"train file '{path}' is a folder: pass --train_file a JSON Lines file of {{\"text\":"
            " ...} rows"
        )
    if not os.path.isfile(path):
        raise UserError(
            f"train file '{path}' not found: pass --train_file a JSON Lines file of {{\"text\":"
            " ...} rows"
        )
    if os.path.getsize(path) == 0:
        raise UserError(f"train file '{path}' is empty: it needs {{\"text\": ...}} rows")
    text, encoding = read_corpus_text(path)
    problem = describe_corpus_problem(text)
    if problem:
        raise UserError(f"train file '{path}': {problem}")
    if warning := unfound_labels(text):
        logger.warning("train file '%s', %s", path, warning)
    ds = _load_json(path, text, plain_utf8=encoding == "UTF-8")
    if (
        ds is not None
        and "label" in ds.column_names
        and getattr(ds.features["label"], "dtype", None) == "null"
    ):
        ds = ds.remove_columns("label")  # every label is null: an unlabelled corpus
    if (
        ds is None
        or "text" not in ds.column_names
        or not _is_string_column(ds, "text")
        or ("label" in ds.column_names and not _is_string_column(ds, "label"))
        or _has_blank(ds, "text")
    ):
        raise UserError(
            f"train file '{path}': datasets cannot read it as rows of {{\"text\": ...}}: "
            "write one JSON object per line"
        )
    return ds, encoding


def _load_json(path: str, text: str, plain_utf8: bool) -> datasets.Dataset | None:
    """datasets' JSON loader on the file, or on a UTF-8 copy of it (datasets reads UTF-8 only);
    None if it refuses. Its own error lines ('Failed to load JSON ...') are not shown: the rows
    were checked already.
    """
    quiet = logging.getLogger("datasets")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL + 1)
    try:
        if plain_utf8:
            return datasets.load_dataset("json", data_files=path, split="train")
        with tempfile.TemporaryDirectory(prefix="corpus-utf8-") as tmp:
            copy = Path(tmp) / Path(path).name
            copy.write_text(text, encoding="utf-8")
            # In memory and with a cache inside the temporary folder: nothing refers to it
            # once it is gone.
            return datasets.load_dataset(
                "json",
                data_files=str(copy),
                split="train",
                keep_in_memory=True,
                cache_dir=str(Path(tmp) / "cache"),
            )
    except Exception:  # anything datasets or pyarrow refuses; the diagnosis is ours
        return None
    finally:
        quiet.setLevel(level)


def _is_string_column(ds, column: str) -> bool:
    # datasets 5 reads mixed types as Json
    return getattr(ds.features[column], "dtype", None) == "string"


def _has_blank(ds, column: str) -> bool:
    """Any null or whitespace-only value, checked on the Arrow column (no copy into Python)."""
    values = ds.data.column(column)
    return bool(values.null_count) or bool(
        pc.any(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0)).as_py()
    )


def given_name_span(text: str, label: str | None) -> tuple[int, int] | None:
    """Character span of the given name of `label` inside `text`, or None if the text does not
    contain it. A label that gives its own split ("钟离 娜") is found without the separator."""
    if not label:
        return None
    surname, given = split_name(label)
    if not surname or not given:
        return None
    start = text.rfind(surname + given)
    if start < 0:
        return None
    return start + len(surname), start + len(surname) + len(given)


def tokenize_corpus(ds, tokenizer, max_seq_length: int):
    """Adds input_ids, attention_mask, token_type_ids, special_tokens_mask, word_ids and name_mask.

    name_mask marks the tokens of the given name (1) found through 'label'; all 0 without labels.
    """
    has_label = "label" in ds.column_names

    def tokenize(batch):
        enc = tokenizer(
            batch["text"],
            truncation=True,
            max_length=max_seq_length,
            return_special_tokens_mask=True,
            return_offsets_mapping=True,
        )
        labels = batch["label"] if has_label else [None] * len(batch["text"])
        enc["word_ids"] = [enc.word_ids(i) for i in range(len(batch["text"]))]
        enc["name_mask"], enc["truncated"] = [], []
        for text, label, offsets, special in zip(
            batch["text"], labels, enc["offset_mapping"], enc["special_tokens_mask"], strict=True
        ):
            span = given_name_span(text, label)
            enc["name_mask"].append(
                [
                    int(span is not None and not sp and s >= span[0] and e <= span[1])
                    for (s, e), sp in zip(offsets, special, strict=True)
                ]
            )
            last_end = max(
                (e for (s, e), sp in zip(offsets, special, strict=True) if not sp), default=0
            )
            enc["truncated"].append(
                len(offsets) >= max_seq_length and last_end < len(text.rstrip())
            )
        del enc["offset_mapping"]
        return enc

    tokenized = ds.map(tokenize, batched=True, batch_size=1000)
    n_truncated = pc.sum(tokenized.data.column("truncated")).as_py() or 0
    if n_truncated:
        logger.warning(
            "%d of %d texts are longer than --max_seq_length %d tokens and were truncated",
            n_truncated,
            len(tokenized),
            max_seq_length,
        )
    return tokenized.remove_columns("truncated")


def check_options(options):
    """The data options (app.DataArguments) on their own, before the corpus is read: each bad value
    is a UserError that names the option and what it takes."""
    if not 0 < options.mlm_probability <= 1:
        raise UserError(f"--mlm_probability must be in (0, 1], got {options.mlm_probability}")
    if not 0 <= options.name_mask_probability <= 1:
        raise UserError(
            f"--name_mask_probability must be in [0, 1], got {options.name_mask_probability}"
        )
    if options.test_size <= 0 or (
        options.test_size >= 1 and options.test_size != int(options.test_size)
    ):
        raise UserError(
            "--test_size must be a share in (0, 1) or a whole number of rows, got"
            f" {options.test_size}"
        )
    if options.max_seq_length < 8:
        raise UserError(f"--max_seq_length must be at least 8, got {options.max_seq_length}")
