"""app.py run for real, as a user runs it, on tiny models trained in tmp_path."""

import json
import re

import pytest

import app
import names
import roles
from conftest import make_tiny_model, run_script

# rank, name, pinyin (tone-marked syllables), tones (3-1-4, 同调 when flat), strokes (3+11), lean,
# probability, sound (a homophone, ! when embarrassing, or -), meaning (Chinese sense, then English)
ROW = re.compile(
    r"^\s*(\d+)  (\S+)\s+((?:[a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜ]+ ?)+?)\s+([1-5](?:-[1-5])*(?:"
    r" 同调)?|-)\s+"
    r"((?:\d+|\?)(?:\+(?:\d+|\?))*|-)\s+(男 \d+%|女 \d+%|-)\s+(\d\.\d{6}|\d\.\d\de-\d\d)"
    r"  +(!?[\u4e00-\u9fff]+|-)(?:  +(.*))?$"
)
TITLE = re.compile(r"^\S+ top (\d+) (names|raw tokens) for ")


def tables(text: str, full: bool = False) -> list[list[tuple]]:
    """The suggestion tables of a report: one list of (name, probability) per table, or with
    full=True of (name, pinyin, lean, probability, tones, strokes, meaning)."""
    found = []
    for line in text.splitlines():
        if TITLE.match(line):
            found.append([])
        elif (m := ROW.match(line)) and found:
            name, pinyin, tones, strokes, lean, p, meaning = m.group(2, 3, 4, 5, 6, 7, 9)
            found[-1].append(
                (name, pinyin.strip(), lean, float(p), tones, strokes, meaning or "")
                if full
                else (name, float(p))
            )
    return found


def test_script_runs_the_whole_flow(trained):
    work, proc = trained
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    m_before = re.search(
        r"^训练前 before training: eval_loss (\d+\.\d{4})  perplexity (\d+\.\d{2})", out, re.M
    )
    m_after = re.search(
        r"^训练后 after training: eval_loss (\d+\.\d{4})  perplexity (\d+\.\d{2})", out, re.M
    )
    assert m_before and m_after
    for m in (m_before, m_after):  # perplexity is exp(loss), each labelled as what it is
        assert float(m.group(2)) == pytest.approx(2.718281828 ** float(m.group(1)), rel=1e-3)
    assert (
        len(re.findall(r"^epoch \d/2: train_loss \d+\.\d{4}  eval_loss \d+\.\d{4}", out, re.M)) == 2
    )
    assert "masked example 0:" in out and "masked example 1:" in out and "[MASK]" in out
    assert "word_ids" in out  # the processed dataset is shown
    before, after = tables(out)
    assert len(before) == len(after) == 20
    assert all(re.fullmatch(r"张[\u4e00-\u9fff]", c) for c, _ in before + after)
    # Ranked with the real-name frequency prior, so not by probability; never a character the
    # corpus uses mostly outside given names (its surname 张, its prompt words), which app.py saved
    # as the corpus's roles.
    excluded = roles.load(work / "out").not_given_name_chars()
    assert "名" in excluded and not set(excluded) & {c[1] for c, _ in before + after}
    # Nothing a user can do nothing about: no library warnings, no tracebacks.
    assert not re.search(r"warn|Traceback|Some weights", proc.stderr, re.I), proc.stderr[-3000:]


def test_report_and_saved_outputs(trained):
    work, proc = trained
    report = (work / "result.txt").read_text(encoding="utf-8")
    assert "== 配置 configuration" in report and "训练前 before training: eval_loss" in report
    assert "训练后 after training: eval_loss" in report
    assert [len(t) for t in tables(report)] == [20, 20]
    metrics = json.loads((work / "out" / "metrics.json").read_text())
    assert metrics["train_rows"] + metrics["test_rows"] == 60
    assert metrics["train_steps"] == 2 * -(-metrics["train_rows"] // 8)
    assert f"训练后 after training: eval_loss {metrics['eval_loss']:.4f}" in proc.stdout
    assert f"训练前 before training: eval_loss {metrics['eval_loss_before']:.4f}" in proc.stdout
    # The after-training list's quality, as printed under the reloaded model's table.
    quality = re.findall(
        r"^名字质量 quality: name_realism (\d\.\d{4})  registrable 1\.0000$", report, re.M
    )
    assert len(quality) == 2 and float(quality[1]) == pytest.approx(
        metrics["name_realism"], abs=1e-4
    )
    # the filter holds by construction
    assert metrics["name_realism"] == metrics["name_realism_before"] == 1.0
    assert "gender_fit" not in metrics  # --gender any asks for no gender
    assert metrics["perplexity"] == pytest.approx(2.718281828 ** metrics["eval_loss"], rel=1e-6)
    assert 0 <= metrics["name_top1"] <= metrics["name_top5"] <= metrics["name_top20"] <= 1
    # The default split holds whole names out: the name score is on names training never had.
    assert metrics["test_names_seen"] == 0 and metrics["test_names_unseen"] >= 5
    assert metrics["name_top20_unseen"] == metrics["name_top20"]
    assert "name_top20_seen" not in metrics
    assert re.search(
        rf"^测试集的名字 test names: {metrics['test_names_unseen']} given names never seen in"
        r" training, 0 also in training",
        proc.stdout,
        re.M,
    )
    card = (work / "out" / "README.md").read_text(encoding="utf-8")
    assert f"holds {metrics['test_names_unseen']} given names that never occur in training" in card
    # held-out scores, checks of the list and timings each in a table of their own
    scores, checks, speed = (
        card.split(title)[1].split("##")[0]
        for title in ("## Scores on the held-out split", "## The suggested list", "## Speed")
    )
    assert "| eval_loss |" in scores and "name_realism" not in scores and "seconds" not in scores
    assert "| name_realism | 1.0000 |" in checks and "| train_tokens |" in speed
    assert "| name_realism | 1.0000 |" in card and "are 1.0000 by construction" in card
    assert "base_model:" in card and "corpus.json" in card and f"{metrics['eval_loss']:.4f}" in card
    assert (work / "out" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in work.iterdir() if p.name.startswith(".")]  # no staging folders left


def test_saved_model_works_with_the_fill_mask_pipeline(trained):
    from transformers import pipeline

    work, _ = trained
    fill = pipeline("fill-mask", model=str(work / "out"), device="cpu")
    out = fill("小孩的名字叫张[MASK]", top_k=5)
    assert len(out) == 5 and all(0 <= r["score"] <= 1 for r in out)
    # The probabilities the script printed last are the reloaded model's own, as the pipeline gives
    # them.
    last_table = tables((work / "result.txt").read_text(encoding="utf-8"))[-1]
    scores = {
        r["token_str"]: r["score"] for r in fill("小孩的名字叫张[MASK]", top_k=len(fill.tokenizer))
    }
    assert len(last_table) == 20
    for name, probability in last_table:
        assert scores[name[1:]] == pytest.approx(probability, abs=2e-6), name


def test_suggest_two_character_names_from_the_saved_model_without_training(trained):
    work, _ = trained
    proc = run_script(
        "--do_train",
        "False",
        "--model_name_or_path",
        work / "out",
        "--surname",
        "李",
        "--gender",
        "girl",
        "--name_length",
        "2",
        "--top_k",
        10,
        "--result_file",
        "suggest.txt",
        "--train_file",
        "no-such-file.json",
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "女孩的名字叫李[MASK][MASK]" in proc.stdout
    (table,) = tables(proc.stdout, full=True)
    assert len(table) == 10 and len({name for name, *_ in table}) == 10
    assert all(re.fullmatch(r"李[\u4e00-\u9fff]{2}", name) for name, *_ in table)
    assert all(len(pinyin.split()) == 3 and pinyin.startswith("lǐ ") for _, pinyin, *_ in table)
    # The quality line counts the rows whose lean is the asked gender's.
    fit = re.search(
        r"^名字质量 quality: gender_fit (\d\.\d{4})  name_realism 1\.0000  registrable 1\.0000$",
        proc.stdout,
        re.M,
    )
    assert (
        fit and float(fit.group(1)) == sum(lean.startswith("女") for _, _, lean, *_ in table) / 10
    )
    assert "before training" not in proc.stdout  # no corpus, no training
    assert (work / "suggest.txt").exists()


def test_a_generation_character_and_characters_to_avoid(trained, tmp_path):
    """The issue's Done-when: --pattern 子_ --avoid ... --suggestions_file: every name is 李子 +
    one character, none holds an avoided one, each row shows strokes, meaning and tones, and the
    JSON holds the same rows.
    """
    work, _ = trained

    def run(*extra):
        proc = run_script(
            "--do_train",
            "False",
            "--model_name_or_path",
            work / "out",
            "--surname",
            "李",
            "--gender",
            "girl",
            "--top_k",
            10,
            "--result_file",
            tmp_path / "r.txt",
            *extra,
            cwd=tmp_path,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        (table,) = tables(proc.stdout, full=True)
        return proc.stdout, table

    _, plain = run("--pattern", "子_")
    avoid = "".join(name[2] for name, *_ in plain[:3])  # the model's three favourites after 李子
    out, table = run(
        "--pattern", "子_", "--avoid", avoid, "--suggestions_file", tmp_path / "names.json"
    )
    assert "女孩的名字叫李子[MASK]" in out and len(table) == 10
    assert all(re.fullmatch(r"李子[\u4e00-\u9fff]", name) for name, *_ in table)
    assert not set(avoid) & {name[2] for name, *_ in table}
    records = json.loads((tmp_path / "names.json").read_text(encoding="utf-8"))
    assert [r["name"] for r in records] == [name for name, *_ in table]
    # The run names the file it wrote, and its configuration (printed and in the report) says what
    # was avoided: the list means something else without it.
    report = (tmp_path / "r.txt").read_text(encoding="utf-8")
    for text in (out, report):
        assert f"名字表已写入 names written to {tmp_path / 'names.json'}" in text.splitlines()
        assert re.search(rf"^avoid +{avoid}$", text, re.M) and re.search(
            r"^suggestions_file +\S*names.json$", text, re.M
        )
    for (name, pinyin, lean, p, tones, strokes, meaning), r in zip(table, records, strict=True):
        assert (r["given"], r["pinyin"], r["lean"]) == (name[1:], pinyin, lean)
        assert r["probability"] == pytest.approx(p, rel=1e-2, abs=1e-6)
        assert strokes == "+".join(map(str, r["strokes"])) and r["strokes"][0] == 3  # 子: 3 strokes
        assert (
            tones.split()[0] == r["tones"] == "-".join(str(names.tone(s)) for s in pinyin.split())
        )
        # Chinese first: 子's first word, then the other character's (its English where it has none)
        second = r["sense"][1][0] if r["sense"][1] else r["meaning"][1].split(";")[0][:4]
        assert meaning.startswith(f"{r['sense'][0][0]} / {second}"), meaning
        assert r["meaning"][0].startswith("offspring, child;")
        assert r["registrable"] is True and r["flat"] == tones.endswith("同调")
    # The pattern's other side: _子 keeps 子 second.
    _, second = run("--pattern", "_子", "--name_length", "1")
    assert (
        all(re.fullmatch(r"李[\u4e00-\u9fff]子", name) for name, *_ in second) and len(second) == 10
    )


def _run_in_process(tmp_path, model, *extra):
    out = tmp_path / "out"
    status = app.main(
        [
            "--model_name_or_path",
            str(model),
            "--output_dir",
            str(out),
            "--result_file",
            str(tmp_path / "result.txt"),
            *map(str, extra),
        ]
    )
    assert status == 0
    return json.loads((out / "metrics.json").read_text()), (tmp_path / "result.txt").read_text(
        encoding="utf-8"
    )


def test_same_seed_same_losses_and_predictions(tmp_path, tiny_model, small_corpus):
    args = (
        "--train_file",
        small_corpus,
        "--num_train_epochs",
        2,
        "--per_device_train_batch_size",
        8,
        "--seed",
        5,
    )
    m1, r1 = _run_in_process(tmp_path / "a", tiny_model, *args)
    m2, r2 = _run_in_process(tmp_path / "b", tiny_model, *args)
    m3, _ = _run_in_process(tmp_path / "c", tiny_model, *args[:-1], 6)
    for key in ("eval_loss_before", "eval_loss", "name_top20"):
        assert m1[key] == m2[key]
    assert tables(r1) == tables(r2)
    assert m1["eval_loss"] != m3["eval_loss"]  # the seed does matter


def test_it_learns_names(tmp_path, corpus_rows):
    """A tiny model trained from scratch ends with mostly corpus given-name characters in its top
    20.

    Its vocabulary also holds 1000 Han characters the corpus never uses, so that an untrained model,
    ranking almost at random, ranks few name characters high: its name score is low. (Its list is
    not: ranking almost at random, the list is the real-name frequency prior's own, the characters
    real names use most, and train.json's names are such characters: 18 of 20.)
    """
    texts = [r["text"] for r in corpus_rows]
    used = set("".join(texts))
    filler = [chr(c) for c in range(0x4E00, 0x9FFF) if chr(c) not in used][:1000]
    model = make_tiny_model(tmp_path / "scratch", texts, extra_tokens=filler)
    metrics, report = _run_in_process(
        tmp_path,
        model,
        "--num_train_epochs",
        30,
        "--learning_rate",
        2e-3,
        "--per_device_train_batch_size",
        32,
        # a row split: the name score on names the model trained on (held-out names: README)
        "--hold_out_names",
        False,
    )
    name_chars = {c for r in corpus_rows for c in names.split_name(r["label"])[1]}
    before, after = tables(report)
    n_before = sum(c[1:] in name_chars for c, _ in before)
    n_after = sum(c[1:] in name_chars for c, _ in after)
    print(f"name characters in the top 20: before {n_before}, after {n_after}")
    assert n_after >= 15
    assert metrics["eval_loss"] < metrics["eval_loss_before"] - 2
    assert metrics["name_top20"] > metrics["name_top20_before"] + 0.2
    assert metrics["test_names_seen"] > 0 and metrics["name_top20_seen"] > 0.2
