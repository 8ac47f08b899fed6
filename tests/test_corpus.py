"""corpus.py: reading corpus files, checking rows, tokenizing with word_ids, splitting."""

import json

import pytest

import corpus
import names
import splitting
from conftest import write_jsonl
from errors import UserError


def test_corpus_meets_its_specification(corpus_rows):
    texts = [r["text"] for r in corpus_rows]
    assert len(corpus_rows) >= 150 and len(set(texts)) == len(texts)
    for r in corpus_rows:
        assert r["label"] in r["text"] and r["text"].endswith(r["label"])
    given = {names.split_name(r["label"])[1] for r in corpus_rows}
    assert len(given) >= 60
    assert {len(g) for g in given} == {1, 2}
    patterns = {r["text"][: r["text"].rindex(r["label"])] for r in corpus_rows}
    assert len(patterns) >= 10
    surnames = [names.split_name(r["label"])[0] for r in corpus_rows]
    assert surnames.count("张") > len(corpus_rows) / 2 and len(set(surnames)) >= 5
    for gender, words in (("boy", ("男孩", "儿子")), ("girl", ("女孩", "女儿"))):
        assert sum(any(w in t for w in words) for t in texts) >= 40, gender


def test_load_corpus_accepts_json_lines_array_and_unlabelled(tmp_path):
    rows = [
        {"text": "小孩取名叫张涛", "label": "张涛"},
        {"text": "小孩取名叫张伟", "label": "张伟"},
    ]
    lines = write_jsonl(tmp_path / "a.json", rows)
    array = tmp_path / "b.json"
    array.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    plain = write_jsonl(tmp_path / "c.json", [{"text": r["text"]} for r in rows])
    for path in (lines, array):
        ds, encoding = corpus.load_corpus(str(path))
        assert encoding == "UTF-8"
        assert ds["text"] == [r["text"] for r in rows] and ds["label"] == ["张涛", "张伟"]
    assert corpus.load_corpus(str(plain))[0].column_names == ["text"]


def test_given_name_span_finds_the_given_name_after_the_surname():
    assert corpus.given_name_span("小孩取名叫张涛", "张涛") == (6, 7)
    assert corpus.given_name_span("女儿的名字叫欧阳子涵", "欧阳子涵") == (8, 10)
    assert corpus.given_name_span("小孩取名叫张涛", "李伟") is None  # label not in the text
    assert corpus.given_name_span("小孩取名叫张涛", None) is None


def test_tokenize_keeps_word_ids_and_marks_the_given_name(tiny_tokenizer):
    import datasets

    ds = datasets.Dataset.from_list(
        [
            {"text": "小孩取名叫张子涵", "label": "张子涵"},
            {"text": "女儿的名字叫欧阳娜", "label": "欧阳娜"},
        ]
    )
    out = corpus.tokenize_corpus(ds, tiny_tokenizer, max_seq_length=32)
    row = out[0]
    tokens = tiny_tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert tokens == ["[CLS]", *"小孩取名叫张子涵", "[SEP]"]
    # One word per Han character, None for the special tokens.
    assert row["word_ids"] == [None, 0, 1, 2, 3, 4, 5, 6, 7, None]
    assert [t for t, m in zip(tokens, row["name_mask"], strict=True) if m] == ["子", "涵"]
    assert row["special_tokens_mask"] == [1] + [0] * 8 + [1]
    tokens = tiny_tokenizer.convert_ids_to_tokens(out[1]["input_ids"])
    # not 阳娜: 欧阳 is the surname
    assert [t for t, m in zip(tokens, out[1]["name_mask"], strict=True) if m] == ["娜"]


def test_long_texts_are_truncated_with_a_warning(tiny_tokenizer, caplog):
    import datasets

    ds = datasets.Dataset.from_list([{"text": "小孩" * 40}, {"text": "小孩取名叫张涛"}])
    out = corpus.tokenize_corpus(ds, tiny_tokenizer, max_seq_length=16)
    assert [len(x) for x in out["input_ids"]] == [16, 9]
    assert "1 of 2 texts are longer than --max_seq_length 16" in caplog.text


def test_split_sizes_are_exact_and_reproducible(tiny_tokenizer, corpus_rows):
    import datasets

    ds = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows[:100]), tiny_tokenizer, 32)
    a = splitting.split_corpus(ds, 0.15, seed=1, hold_out_names=False)
    b = splitting.split_corpus(ds, 0.15, seed=1, hold_out_names=False)
    c = splitting.split_corpus(ds, 0.15, seed=2, hold_out_names=False)
    assert (len(a["train"]), len(a["test"])) == (85, 15)
    assert a["test"]["text"] == b["test"]["text"] != c["test"]["text"]
    assert len(splitting.split_corpus(ds, 10, seed=1, hold_out_names=False)["test"]) == 10
    with pytest.raises(UserError, match="too few to split"):
        splitting.split_corpus(ds.select([0]), 0.15, seed=1)


def test_every_double_surname_with_a_reading_splits_as_one(tiny_tokenizer):
    """单于娜 is 单于 + 娜, not 单 + 于娜: each double surname in names.SURNAME_READINGS is a
    double surname, and the given-name mask of a corpus sentence marks only the given name."""
    import datasets

    doubles = [s for s in names.SURNAME_READINGS if len(s) == 2]
    assert {"单于", "万俟"} <= set(doubles) <= names.double_surnames()
    assert [names.split_name(s + "娜") for s in doubles] == [(s, "娜") for s in doubles]
    rows = corpus.tokenize_corpus(
        datasets.Dataset.from_list([{"text": "小孩取名叫单于娜", "label": "单于娜"}]),
        tiny_tokenizer,
        32,
    )
    tokens = tiny_tokenizer.convert_ids_to_tokens(rows[0]["input_ids"])
    assert [t for t, m in zip(tokens, rows[0]["name_mask"], strict=True) if m] == ["娜"]


@pytest.mark.parametrize("seed", [42, 1, 7])
def test_whole_given_names_are_held_out(tiny_tokenizer, corpus_rows, seed):
    """train.json split by rows put every one of its test names into training too (40 to 44
    distinct test names, all seen, for seeds 42, 1, 7); held out by name, no test name trains, and
    the test split is as large as whole names allow (at most --test_size's 53 rows)."""
    import datasets

    ds = corpus.tokenize_corpus(datasets.Dataset.from_list(corpus_rows), tiny_tokenizer, 32)
    split = splitting.split_corpus(ds, 0.15, seed=seed)
    train_names = {names.split_name(label)[1] for label in split["train"]["label"]}
    test_names = {names.split_name(label)[1] for label in split["test"]["label"]}
    assert test_names and not test_names & train_names
    assert 45 <= len(split["test"]) <= 53 and len(split["train"]) + len(split["test"]) == 350
    counts = splitting.test_name_counts(split["test"])
    assert counts == {"test_names_unseen": len(test_names), "test_names_seen": 0}
    assert counts["test_names_unseen"] >= 5
    again = splitting.split_corpus(ds, 0.15, seed=seed)
    assert again["test"]["text"] == split["test"]["text"]
    line = splitting.describe_test_names(split["test"], True)
    assert f"{len(test_names)} given names never seen in training, 0 also in training" in line
    by_rows = splitting.split_corpus(ds, 0.15, seed=seed, hold_out_names=False)
    assert splitting.test_name_counts(by_rows["test"])["test_names_seen"] >= 30
    assert "split by sentence (--hold_out_names False)" in splitting.describe_test_names(
        by_rows["test"], False
    )


def test_a_corpus_without_labels_or_with_one_name_says_so(tiny_tokenizer):
    import datasets

    unlabelled = corpus.tokenize_corpus(
        datasets.Dataset.from_list([{"text": f"今天天气很好{i}"} for i in range(10)]),
        tiny_tokenizer,
        32,
    )
    split = splitting.split_corpus(unlabelled, 0.2, seed=1)
    assert splitting.test_name_counts(split["test"]) == {}
    assert "no name labels: no name score" in splitting.describe_test_names(split["test"], True)
    one_name = corpus.tokenize_corpus(
        datasets.Dataset.from_list(
            [{"text": f"小孩取名叫张涛{'。' * i}", "label": "张涛"} for i in range(10)]
        ),
        tiny_tokenizer,
        32,
    )
    split = splitting.split_corpus(one_name, 0.2, seed=1)
    assert len(split["test"]) == 2  # split by rows
    assert splitting.test_name_counts(split["test"]) == {
        "test_names_unseen": 0,
        "test_names_seen": 1,
    }
    line = splitting.describe_test_names(split["test"], True)
    assert "no name could be held out whole (fewer than two names" in line


@pytest.mark.parametrize("seed", range(6))
def test_names_are_held_out_before_unlabelled_rows_fill_the_test_split(tiny_tokenizer, seed):
    """Unlabelled rows always fit: drawn among the names, they filled the test split before any
    name did (seeds 3 and 4 split by sentence and said 'too few names'). Names come first now."""
    import datasets

    people = ["张涛", "李娜", "王伟"]
    rows = [{"text": f"小孩取名叫{p}{'。' * i}", "label": p} for p in people for i in range(3)]
    rows += [{"text": f"今天天气很好{'。' * i}"} for i in range(20)]
    ds = corpus.tokenize_corpus(datasets.Dataset.from_list(rows), tiny_tokenizer, 32)
    split = splitting.split_corpus(ds, 5, seed=seed)
    counts = splitting.test_name_counts(split["test"])
    assert counts["test_names_unseen"] >= 1 and counts["test_names_seen"] == 0, counts
    assert len(split["test"]) == 5


def test_a_labelled_corpus_whose_test_rows_have_no_label_says_so(tiny_tokenizer):
    import datasets

    rows = [{"text": "今天天气很好"}, {"text": "小孩取名叫张涛", "label": "张涛"}]
    rows += [{"text": f"今天天气很好{'。' * i}"} for i in range(1, 5)]
    ds = corpus.tokenize_corpus(datasets.Dataset.from_list(rows), tiny_tokenizer, 32)
    test = ds.select([0]).add_column("given_name", [None]).add_column("name_seen", [False])
    line = splitting.describe_test_names(test, True, labelled=True)
    assert "none of the test sentences has a name label" in line and "no name labels" not in line
