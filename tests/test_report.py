"""report.py: the printed lines and the name table, by their exact shapes."""

import inspect
import math
import re

import name_table
import report


def test_suggestion_table_is_aligned_for_han_characters():
    lines = name_table.format_suggestions(
        "top 2", [("涛", math.log(0.5)), ("子涵", math.log(0.25))], surname="曾"
    )
    assert lines == [
        "top 2",
        "rank  name    pinyin       tones     strokes  lean    probability  sound  meaning",
        "   1  曾涛    zēng tāo     1-1 同调  10       男 88%  0.500000     -      浪涛",
        "   2  曾子涵  zēng zǐ hán  1-3-2     3+11     女 67%  0.250000     -      天子 / 涵养",
    ]
    # 子涵's row has no room for its English cut at a word ('offs…'), so no row shows English: a
    # table in one language, not some rows in two. A table of one-character names has room.
    (line,) = name_table.format_suggestions("t", [("涛", math.log(0.5))], surname="曾")[2:]
    assert line.endswith("     -      浪涛  large waves")
    # Each column starts at the same terminal column in every row (a Han character is two columns
    # wide).
    for header, cells in (
        ("pinyin", ["zēng", "zēng"]),
        ("tones", ["1-1", "1-3"]),
        ("strokes", ["10", "3+"]),
        ("lean", ["男", "女"]),
        ("probability", ["0.5", "0.2"]),
        ("sound", ["-      浪涛", "-      天子"]),
        ("meaning", ["浪涛", "天子"]),
    ):
        starts = {
            name_table.display_width(line[: line.index(cell)])
            for line, cell in zip(lines[2:], cells, strict=True)
        }
        assert starts == {lines[1].index(header)}, header


def test_the_table_fits_100_columns_and_cuts_long_meanings_fairly():
    """罡's first sense is 76 characters long: it is cut, 沅's short one is kept whole where it
    fits."""
    lines = name_table.format_suggestions(
        "t", [("罡沅", -1.0), ("子涵", -2.0), ("飚", -3.0)], surname="欧阳"
    )
    assert max(map(name_table.display_width, lines)) <= name_table.TABLE_WIDTH == 100
    # and the note printed under every table
    assert (
        max(map(name_table.display_width, name_table.RANKING_NOTE.split("\n")))
        <= name_table.TABLE_WIDTH
    )
    # 罡 and 沅 have no Chinese words: their English first senses share the width, each cut at
    # a word
    assert lines[2].endswith("     -      the… / name of…")
    # 飚 is outside the 2013 table: said before its meaning
    assert lines[4].endswith("(非规范字) whirlwi…")


def test_english_is_cut_at_a_word_or_not_shown():
    assert name_table.cut_words("great, numerous; vast", 16) == "great, numerous…"
    assert name_table.cut_words("determined, resolute", 12) == "determined…"
    assert name_table.cut_words("determined", 6) == ""
    assert name_table.cut_words("house", 6) == "house"
    (record,) = name_table.suggestion_records([("志刚", -1.0)], "王")
    tail = name_table.english_tail(record, 40)
    whole = set(re.split(r"[ ,;]+", " ".join(record["meaning"])))
    assert tail and set(re.split(r"[ ,;/…]+", tail)) - {""} <= whole, tail  # whole words only
    assert name_table.english_tail(record, 20) == ""  # no room: Chinese only
    assert name_table.short_sense(record, 20) == " / ".join(w[0] for w in record["sense"])


def test_records_hold_what_a_parent_reads():
    (record,) = name_table.suggestion_records([("子涵", math.log(0.25))], "李")
    assert record == {
        "name": "李子涵",
        "given": "子涵",
        "pinyin": "lǐ zǐ hán",
        "probability": 0.25,
        "strokes": [3, 11],
        "sense": [["天子", "君子", "天之骄子"], ["涵养", "内涵"]],
        "meaning": [
            "offspring, child; fruit, seed of; 1st terrestrial branch",
            "soak, wet; tolerate, be lenient",
        ],
        "registrable": True,
        "tones": "3-3-2",
        "flat": False,
        "lean": "女 67%",
        "boy_share": record["boy_share"],
        "homophones": record["homophones"],
        "source": None,  # no classic's line holds 子 and 涵 in order
    }
    # 李子 sounds like 例子, 梨子, ...: heard (the name's start, common words), none embarrassing
    assert {"word": "例子", "pinyin": "li zi", "echoes": "李子", "heard": True} | {
        "same_tones": False,  # lì zi, lǐ zǐ
        "embarrassing": False,
    } in record["homophones"]
    assert 0.32 < record["boy_share"] < 0.34
    (raw,) = name_table.suggestion_records([("，", -1.0)])
    assert (raw["strokes"], raw["meaning"], raw["registrable"], raw["tones"]) == (
        [],
        [],
        False,
        "-",
    )


def test_probabilities_too_small_for_six_decimals_are_shown_in_exponent_form():
    assert name_table.format_probability(math.log(0.0123456)) == "0.012346"
    assert name_table.format_probability(math.log(1.234e-8)) == "1.23e-08"
    assert (
        len(name_table.format_probability(math.log(0.5)))
        == len(name_table.format_probability(math.log(1e-9)))
        == 8
    )


def test_report_lines_are_chinese_first_and_keep_the_english_keys():
    assert report.format_eval("before training", {"eval_loss": 1.0}).startswith(
        "训练前 before training: eval_loss 1.0000"
    )
    assert report.format_eval("after training", {"eval_loss": 1.0}).startswith(
        "训练后 after training: eval_loss 1.0000"
    )
    assert (
        report.format_quality({"gender_fit": 0.95, "name_realism": 1.0})
        == "名字质量 quality: gender_fit 0.9500  name_realism 1.0000"
    )
    assert report.format_quality({"name_realism": 0.5}) == "名字质量 quality: name_realism 0.5000"
    assert (
        report.format_quality({"name_realism": 1.0, "registrable": 0.95})
        == "名字质量 quality: name_realism 1.0000  registrable 0.9500"
    )


def test_eval_line_labels_loss_and_perplexity():
    line = report.format_eval("after training", {"eval_loss": 2.0, "name_top1": 0.5})
    assert (
        line == f"训练后 after training: eval_loss 2.0000  perplexity {math.exp(2):.2f}  name_top1"
        " 0.5000"
    )
    assert report.perplexity(1e6) == float("inf")


def test_each_masked_example_is_the_train_example_of_its_number_with_its_targets_shown(
    tiny_tokenizer, capsys
):
    """The data block prints train example i, then that row as the collator masks it, and says
    what stands at each target (a learner checks the 80/10/10 rule against it)."""
    from types import SimpleNamespace

    from datasets import Dataset

    import masking

    texts = ["小孩取名叫张涛", "女孩取名叫李娜", "男孩的名字叫欧阳明"]
    enc = tiny_tokenizer(texts, return_special_tokens_mask=True)
    train = Dataset.from_dict(dict(enc))
    args = SimpleNamespace(mlm_probability=0.5, name_mask_probability=0.0)
    masked = masking.masked_examples(train, tiny_tokenizer, args, seed=3, n=3)
    report.show_examples(report.Report(True), tiny_tokenizer, train, train, masked)
    lines = capsys.readouterr().out.splitlines()
    for i, text in enumerate(texts):
        shown = lines[lines.index(f"train example {i}: [CLS]{text}[SEP]") + 1]
        assert shown.startswith(f"masked example {i}: [CLS]")
        targets = shown.split("(targets: ")[1].rstrip(")").split()
        sentence = shown.split(": ", 1)[1].split("  (targets")[0]
        assert targets, shown  # at 0.5 every row has a target
        for target in targets:
            original, read = target.split("=kept")[0], None
            if "→" in target:
                original, read = target.split("→")
                assert read in sentence and original != read
            assert original in text


def test_the_tables_data_is_read_in_the_background_once(monkeypatch):
    """app.py starts reading the name table's data files before it loads the model: the thread
    fills each file's cache, and a table asks for nothing more."""
    import name_sources
    import name_words

    loaders = (name_words._senses, name_words._sounds, name_sources._lines)
    for cached in loaders:
        cached.cache_clear()
    name_table.read_data_in_background().join(timeout=60)
    assert [cached.cache_info().currsize for cached in loaders] == [1, 1, 1]
    misses = [cached.cache_info().misses for cached in loaders]
    name_table.format_suggestions("t", [("子衿", -1.0)], "王")
    assert [cached.cache_info().misses for cached in loaders] == misses


def test_app_reads_the_tables_data_before_it_loads_the_model():
    import ast

    import app

    for function in (app.train_and_suggest, app.suggest_only):
        nodes = ast.walk(ast.parse(inspect.getsource(function)))
        calls = [
            ast.unparse(node.func)
            for node in sorted(
                (n for n in nodes if isinstance(n, ast.Call)),
                key=lambda n: (n.lineno, n.col_offset),
            )
        ]
        assert calls.index("name_table.read_data_in_background") < calls.index(
            "modeling.load_model_and_tokenizer"
        )
