"""bench.py and standin.py: the stand-in model, the corpora and the tables, run on tiny settings."""

import json
import re
import subprocess
import sys

import pytest

import bench
import standin
from conftest import REPO, read_corpus


def test_base_model_has_bert_base_chinese_shape(tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    folder = standin.build_base_model(tmp_path / "base", REPO / "train.json", vocab=None)
    config = AutoConfig.from_pretrained(folder)
    assert (
        config.vocab_size,
        config.hidden_size,
        config.num_hidden_layers,
        config.num_attention_heads,
        config.intermediate_size,
        config.max_position_embeddings,
    ) == (21128, 768, 12, 12, 3072, 512)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert len(tokenizer) == 21128
    # bert-base-chinese's layout
    assert [tokenizer.convert_ids_to_tokens(i) for i in (0, 100, 101, 102, 103)] == [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
    ]
    text = read_corpus()[0]["text"]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tokenizer.unk_token_id not in ids  # one token per character


def test_synthetic_corpus_uses_the_corpus_patterns(tmp_path):
    bench.synthetic_corpus(tmp_path / "s.json", 500)
    rows = [
        json.loads(line) for line in (tmp_path / "s.json").read_text(encoding="utf-8").splitlines()
    ]
    assert len(rows) == 500
    stems = {r["text"][: r["text"].rindex(r["label"])] for r in read_corpus()}
    assert all(
        r["text"].endswith(r["label"]) and r["text"][: -len(r["label"])] in stems for r in rows
    )


def test_speed_compares_plain_and_ours_on_the_same_steps(tmp_path, tiny_model, small_corpus):
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "speed",
            "--repeats",
            "1",
            "--epochs",
            "1",
            "--model",
            str(tiny_model),
            "--train_file",
            str(small_corpus),
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| (plain|ours|plain/ours) \|(.*)$", proc.stdout, re.M)
    }
    assert set(rows) == {"plain", "ours", "plain/ours"}
    assert re.match(r" \d+\.\d+x \| \d+\.\d+x \| \d+\.\d+x \|", rows["plain/ours"])
    plain = json.loads((tmp_path / "plain-metrics.json").read_text())
    ours = json.loads((tmp_path / "ours-out" / "metrics.json").read_text())
    # 60 rows, 9 held out, batch 16
    assert plain["train_steps"] == ours["train_steps"] == -(-51 // 16)
    assert plain["train_tokens"] == ours["train_tokens"]  # the same data
    # The same once-masked test tokens and the same starting model: only fp32 vs bf16 rounding
    # differs.
    assert abs(plain["eval_loss_before"] - ours["eval_loss_before"]) < 0.05


def test_names_reports_each_probability(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "names",
            "--probabilities",
            "0",
            "1",
            "--seeds",
            "1",
            "--epochs",
            "1",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(
        r"^\| 0\.0 \| \d\.\d{3} \| \d\.\d{3} \| \d\.\d{3} \| \d+\.\d{4} \|$", proc.stdout, re.M
    )
    assert re.search(r"^\| 1\.0 \| ", proc.stdout, re.M)


def test_each_startup_phase_is_the_function_the_run_calls():
    """bench.py startup times each STARTUP_STEPS entry by wrapping module.name: the run must call
    it through that module (a function moved elsewhere would silently drop its phase)."""
    import importlib

    import bench_startup

    sources = {m: (REPO / f"{m}.py").read_text(encoding="utf-8") for m in ("app", "suggestions")}
    for module, name, _ in bench_startup.STARTUP_STEPS:
        assert callable(getattr(importlib.import_module(module), name)), (module, name)
        call = f"{name}(" if module == "app" else f"{module}.{name}("
        assert any(call in text for text in sources.values()), f"app.py never calls {call}"


def test_page_serves_a_burst_of_clients_and_compares_it_with_one_alone(tmp_path, tiny_model):
    """bench.py page on a tiny model: demo.py started, asked alone and by 4 clients at once; the
    table counts every client and the page is alive afterwards."""
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench.py"),
            "page",
            "--model",
            str(tiny_model),
            "--clients",
            "4",
            "--alone",
            "2",
            "--how_many",
            "5",
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    row = re.search(
        r"^\| 4 \| (\d+) \| (\d+) \| (\d+) \|(.*)\| (\w+) \| [\d.]+ \|$", proc.stdout, re.M
    )
    assert row, proc.stdout
    tables, busy, errors, timings, alive = row.groups()
    assert (int(tables), int(busy), int(errors), alive) == (4, 0, 0, "yes")
    one, p50, p95, top, ratio = (float(x.strip(" x")) for x in timings.split("|"))
    assert 0 < p50 <= p95 <= top and one > 0 and ratio == pytest.approx(top / one, rel=0.25)


def test_a_missing_vocab_file_is_one_error_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        bench.main(["page", "--vocab", str(tmp_path / "vocab.txt")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err
    assert "error: --vocab" in err and "does not exist" in err


def test_table_times_the_table_with_and_without_sense_source_and_sound(tmp_path, tiny_model):
    """bench.py table on a tiny model: both tables timed; 'without' really leaves the three out
    and puts them back."""
    import bench_table
    import name_table

    found = [("子涵", -1.0), ("浩然", -2.0)]
    with bench_table.without_words():
        bare = name_table.suggestion_records(found, "孟")
    full = name_table.suggestion_records(found, "孟")
    assert all(r["sense"] == [[], []] and r["source"] is None for r in bare)
    assert all(r["homophones"] == [] for r in bare)
    assert full[1]["source"]["work"] == "孟子" and full[0]["sense"][1]  # 浩然, 涵
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench.py"), "table", "--model", str(tiny_model)]
        + ["--repeats", "2", "--top_k", "5", "--work", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    cells = re.search(r"^\| records and table \| ([\d.]+) ms \| ([\d.]+) ms \|$", proc.stdout, re.M)
    first = re.search(r"^first table: ([\d.]+)x$", proc.stdout, re.M)
    later = re.search(r"^later tables: ([\d.]+)x$", proc.stdout, re.M)
    assert cells and first and later, proc.stdout
    assert all(float(x) > 0 for x in cells.groups())
