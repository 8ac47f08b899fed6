"""A label that is not a full name in its own sentence: a warning that names its line (the row
still trains, without a name), and nothing downstream counts it as labelled. A warning, not a
refusal: labels are optional and any string loads (tests/test_generated_input.py)."""

import json
import logging

import pytest

import corpus
from conftest import read_corpus, run_script, write_jsonl

BAD = {"text": "小孩取名叫张涛", "label": "王涛"}


@pytest.fixture
def nine_good_one_bad(tmp_path):
    return write_jsonl(tmp_path / "corpus.json", [*read_corpus()[:9], BAD])


def test_the_warning_names_the_line_and_the_label(nine_good_one_bad, caplog):
    with caplog.at_level(logging.WARNING, logger="app"):
        rows, _ = corpus.load_corpus(str(nine_good_one_bad))
    assert len(rows) == 10  # the row still trains
    (record,) = [r for r in caplog.records if "label" in r.getMessage()]
    message = record.getMessage()
    assert "line 10: label '王涛' is not in its text '小孩取名叫张涛'" in message
    assert "1 of 10 labels unused" in message and "\n" not in message
    assert corpus.count_labelled(rows) == 9


def test_an_array_names_the_row_and_a_short_label_is_no_full_name(tmp_path, caplog):
    path = tmp_path / "corpus.json"
    rows = [{"text": "小孩取名叫张涛", "label": "张涛"}, {"text": "小孩取名叫张涛", "label": "涛"}]
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="app"):
        loaded, _ = corpus.load_corpus(str(path))
    assert "row 2: label '涛' is no full name" in caplog.text
    assert corpus.count_labelled(loaded) == 1


def test_many_unused_labels_are_counted_not_all_listed():
    text = "".join(
        json.dumps({"text": f"小孩取名叫张{c}", "label": f"王{c}"}, ensure_ascii=False) + "\n"
        for c in "涛伟婷鹏敏军丽"
    )
    warning = corpus.unfound_labels(text)
    assert warning.count("is not in its text") == corpus.LABELS_SHOWN
    assert "and 2 more" in warning and "7 of 7 labels unused" in warning


def test_good_null_and_empty_labels_say_nothing():
    rows = [{"text": "小孩取名叫张涛", "label": "张涛"}, {"text": "今天很好", "label": None}]
    rows.append({"text": "今天很好", "label": ""})
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    assert corpus.unfound_labels(text) is None


def test_the_run_warns_and_the_model_card_claims_only_the_labels_found(
    tmp_path, tiny_model, nine_good_one_bad
):
    proc = run_script(
        "--model_name_or_path",
        tiny_model,
        "--train_file",
        nine_good_one_bad,
        "--output_dir",
        tmp_path / "out",
        "--num_train_epochs",
        1,
        "--test_size",
        2,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = [line for line in proc.stderr.splitlines() if "王涛" in line]
    assert len(warnings) == 1 and "line 10" in warnings[0]
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "(10 sentences, 9 with a name label)" in card
