"""A corpus too small to split into meaningful halves (2 rows: 1 train / 1 test) trains, but says
so in one warning line instead of reporting its numbers as if they meant something."""

import pytest

import report
from conftest import read_corpus, run_script, write_jsonl


@pytest.mark.parametrize(
    "n_train, n_test, warned",
    [(1, 1, True), (297, 4, True), (4, 53, True), (5, 5, False), (297, 53, False)],
)
def test_a_split_under_five_sentences_is_warned_of(n_train, n_test, warned):
    warning = report.few_rows_warning(n_train, n_test)
    assert (warning is not None) == warned
    if warned:
        assert f"only {n_train} train / {n_test} test sentences" in warning


def test_a_two_row_corpus_trains_with_one_warning_line(tmp_path, tiny_model):
    corpus = write_jsonl(tmp_path / "two.json", read_corpus()[:2])
    proc = run_script(
        "--model_name_or_path",
        tiny_model,
        "--train_file",
        corpus,
        "--output_dir",
        tmp_path / "out",
        "--num_train_epochs",
        1,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "== 数据 data: 2 rows (UTF-8), 1 train / 1 test" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING: only 1 train / 1 test sentences: the eval loss, perplexity and name score of so"
        " few say little, and so little data teaches little; use a few dozen sentences or more"
    ]
