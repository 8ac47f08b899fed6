"""report.py: the printed lines and the name table, by their exact shapes."""

import math

import report


def test_suggestion_table_is_aligned_for_han_characters():
    lines = report.format_suggestions("top 2", [("涛", math.log(0.5)), ("子涵", math.log(0.25))], surname="曾")
    assert lines == ["top 2",
                     "rank  name    pinyin       lean    probability",
                     "   1  曾涛    zēng tāo     男 88%  0.500000",
                     "   2  曾子涵  zēng zǐ hán  女 67%  0.250000"]
    # Each column starts at the same terminal column in every row (a Han character is two columns wide).
    for header, cells in (("pinyin", ["zēng", "zēng"]), ("lean", ["男", "女"]), ("probability", ["0.5", "0.2"])):
        starts = {report.display_width(line[: line.index(cell)]) for line, cell in zip(lines[2:], cells)}
        assert starts == {lines[1].index(header)}, header


def test_probabilities_too_small_for_six_decimals_are_shown_in_exponent_form():
    assert report.format_probability(math.log(0.0123456)) == "0.012346"
    assert report.format_probability(math.log(1.234e-8)) == "1.23e-08"
    assert len(report.format_probability(math.log(0.5))) == len(report.format_probability(math.log(1e-9))) == 8


def test_report_lines_are_chinese_first_and_keep_the_english_keys():
    assert report.format_eval("before training", {"eval_loss": 1.0}).startswith("训练前 before training: eval_loss 1.0000")
    assert report.format_eval("after training", {"eval_loss": 1.0}).startswith("训练后 after training: eval_loss 1.0000")
    assert report.format_quality({"gender_fit": 0.95, "name_realism": 1.0}) == \
        "名字质量 quality: gender_fit 0.9500  name_realism 1.0000"
    assert report.format_quality({"name_realism": 0.5}) == "名字质量 quality: name_realism 0.5000"


def test_eval_line_labels_loss_and_perplexity():
    line = report.format_eval("after training", {"eval_loss": 2.0, "name_top1": 0.5})
    assert line == f"训练后 after training: eval_loss 2.0000  perplexity {math.exp(2):.2f}  name_top1 0.5000"
    assert report.perplexity(1e6) == float("inf")
