"""Known-answer tests for app.py's helpers, on tiny models built in tmp_path."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, context_free_model, make_tiny_model, write_jsonl

import app
import names


# ---- names and prompts --------------------------------------------------------------------
@pytest.mark.parametrize("full, expected", [
    ("张涛", ("张", "涛")), ("张子涵", ("张", "子涵")), ("欧阳娜", ("欧阳", "娜")),
    ("欧阳子涵", ("欧阳", "子涵")), ("司马杰", ("司马", "杰")),
])
def test_split_name(full, expected):
    assert app.split_name(full) == expected


def test_given_name_span_finds_the_given_name_after_the_surname():
    assert app.given_name_span("小孩取名叫张涛", "张涛") == (6, 7)
    assert app.given_name_span("女儿的名字叫欧阳子涵", "欧阳子涵") == (8, 10)
    assert app.given_name_span("小孩取名叫张涛", "李伟") is None  # label not in the text
    assert app.given_name_span("小孩取名叫张涛", None) is None


@pytest.mark.parametrize("gender, length, surname, expected", [
    ("any", 1, "张", "小孩的名字叫张[MASK]"),  # the documented default prompt
    ("girl", 2, "李", "女孩的名字叫李[MASK][MASK]"),
    ("boy", 1, "欧阳", "男孩的名字叫欧阳[MASK]"),
])
def test_prompt_templates(gender, length, surname, expected):
    args = app.SuggestArguments(gender=gender, name_length=length, surname=surname)
    assert args.resolved_prompt() == expected


def test_explicit_prompt_wins_and_gets_two_masks_for_two_characters():
    assert app.SuggestArguments(prompt="我叫王[MASK]", gender="girl").resolved_prompt() == "我叫王[MASK]"
    assert app.SuggestArguments(prompt="我叫王[MASK]", name_length=2).resolved_prompt() == "我叫王[MASK][MASK]"


def test_templates_are_sentence_patterns_of_the_corpus(corpus):
    """A trained model has seen the prompt's sentence pattern: every template occurs in train.json."""
    texts = [r["text"] for r in corpus]
    for template in app.PROMPT_TEMPLATES.values():
        stem = template.split("{")[0]
        assert sum(t.startswith(stem) for t in texts) >= 10, stem


# ---- the corpus ---------------------------------------------------------------------------
def test_corpus_meets_its_specification(corpus):
    texts = [r["text"] for r in corpus]
    assert len(corpus) >= 150 and len(set(texts)) == len(texts)
    for r in corpus:
        assert r["label"] in r["text"] and r["text"].endswith(r["label"])
    given = {app.split_name(r["label"])[1] for r in corpus}
    assert len(given) >= 60
    assert {len(g) for g in given} == {1, 2}
    patterns = {r["text"][: r["text"].rindex(r["label"])] for r in corpus}
    assert len(patterns) >= 10
    surnames = [app.split_name(r["label"])[0] for r in corpus]
    assert surnames.count("张") > len(corpus) / 2 and len(set(surnames)) >= 5
    for gender, words in (("boy", ("男孩", "儿子")), ("girl", ("女孩", "女儿"))):
        assert sum(any(w in t for w in words) for t in texts) >= 40, gender


def test_load_corpus_accepts_json_lines_array_and_unlabelled(tmp_path):
    rows = [{"text": "小孩取名叫张涛", "label": "张涛"}, {"text": "小孩取名叫张伟", "label": "张伟"}]
    lines = write_jsonl(tmp_path / "a.json", rows)
    array = tmp_path / "b.json"
    array.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    plain = write_jsonl(tmp_path / "c.json", [{"text": r["text"]} for r in rows])
    for path in (lines, array):
        ds, encoding = app.load_corpus(str(path))
        assert encoding == "UTF-8"
        assert ds["text"] == [r["text"] for r in rows] and ds["label"] == ["张涛", "张伟"]
    assert app.load_corpus(str(plain))[0].column_names == ["text"]


# ---- tokenization and split ---------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_tokenize_keeps_word_ids_and_marks_the_given_name(tokenizer):
    import datasets

    ds = datasets.Dataset.from_list([{"text": "小孩取名叫张子涵", "label": "张子涵"},
                                     {"text": "女儿的名字叫欧阳娜", "label": "欧阳娜"}])
    out = app.tokenize_corpus(ds, tokenizer, max_seq_length=32)
    row = out[0]
    tokens = tokenizer.convert_ids_to_tokens(row["input_ids"])
    assert tokens == ["[CLS]", *"小孩取名叫张子涵", "[SEP]"]
    # One word per Han character, None for the special tokens.
    assert row["word_ids"] == [None, 0, 1, 2, 3, 4, 5, 6, 7, None]
    assert [t for t, m in zip(tokens, row["name_mask"]) if m] == ["子", "涵"]
    assert row["special_tokens_mask"] == [1] + [0] * 8 + [1]
    tokens = tokenizer.convert_ids_to_tokens(out[1]["input_ids"])
    assert [t for t, m in zip(tokens, out[1]["name_mask"]) if m] == ["娜"]  # not 阳娜: 欧阳 is the surname


def test_long_texts_are_truncated_with_a_warning(tokenizer, caplog):
    import datasets

    ds = datasets.Dataset.from_list([{"text": "小孩" * 40}, {"text": "小孩取名叫张涛"}])
    out = app.tokenize_corpus(ds, tokenizer, max_seq_length=16)
    assert [len(x) for x in out["input_ids"]] == [16, 9]
    assert "1 of 2 texts are longer than --max_seq_length 16" in caplog.text


def test_split_sizes_are_exact_and_reproducible(tokenizer, corpus):
    import datasets

    ds = app.tokenize_corpus(datasets.Dataset.from_list(corpus[:100]), tokenizer, 32)
    a = app.split_corpus(ds, 0.15, seed=1)
    b = app.split_corpus(ds, 0.15, seed=1)
    c = app.split_corpus(ds, 0.15, seed=2)
    assert (len(a["train"]), len(a["test"])) == (85, 15)
    assert a["test"]["text"] == b["test"]["text"] != c["test"]["text"]
    assert len(app.split_corpus(ds, 10, seed=1)["test"]) == 10
    with pytest.raises(app.UserError, match="too few to split"):
        app.split_corpus(ds.select([0]), 0.15, seed=1)


# ---- masking ------------------------------------------------------------------------------
def _examples(tokenizer, texts_labels):
    import datasets

    ds = datasets.Dataset.from_list([{"text": t, "label": l} for t, l in texts_labels])
    return [dict(r) for r in app.tokenize_corpus(ds, tokenizer, 32)]


def test_every_example_gets_at_least_one_masked_token(tokenizer):
    examples = _examples(tokenizer, [("张涛", "张涛"), ("小孩取名叫张伟", "张伟")] * 32)
    collator = app.NameMaskingCollator(tokenizer, mlm_probability=0.01, seed=0)
    for _ in range(5):
        batch = collator(examples)
        per_row = (batch["labels"] != -100).sum(dim=1)
        assert per_row.min() >= 1
        # Forced masks land on real tokens, never on [CLS]/[SEP]/[PAD].
        targets = batch["labels"][batch["labels"] != -100]
        assert not torch.isin(targets, torch.tensor(tokenizer.all_special_ids)).any()


def test_stock_collator_does_leave_short_examples_unmasked(tokenizer):
    """Why the guarantee above is needed: the library collator alone draws no mask for some rows."""
    from transformers import DataCollatorForLanguageModeling

    examples = _examples(tokenizer, [("张涛", "张涛")] * 64)
    batch = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0)(
        [{k: e[k] for k in app.MODEL_INPUTS} for e in examples])
    assert ((batch["labels"] != -100).sum(dim=1) == 0).sum() > 30


def test_name_masking_masks_the_whole_given_name(tokenizer):
    examples = _examples(tokenizer, [("小孩取名叫张子涵", "张子涵")] * 8)
    batch = app.NameMaskingCollator(tokenizer, mlm_probability=0.01, name_mask_probability=1.0, seed=0)(examples)
    name_cols = [7, 8]  # [CLS] 小 孩 取 名 叫 张 子 涵 [SEP]
    assert (batch["input_ids"][:, name_cols] == tokenizer.mask_token_id).all()
    assert tokenizer.convert_ids_to_tokens(batch["labels"][0, name_cols].tolist()) == ["子", "涵"]
    off = app.NameMaskingCollator(tokenizer, mlm_probability=0.01, name_mask_probability=0.0, seed=0)(examples)
    assert (off["labels"] != -100).sum() < 8 * 2  # one forced token per row, not whole names


def test_test_split_is_masked_once_and_reproducibly(tokenizer, corpus):
    import datasets

    ds = app.tokenize_corpus(datasets.Dataset.from_list(corpus[:40]), tokenizer, 32)
    a = app.mask_test_split_once(ds, tokenizer, 0.15, seed=3)
    b = app.mask_test_split_once(ds, tokenizer, 0.15, seed=3)
    c = app.mask_test_split_once(ds, tokenizer, 0.15, seed=4)
    assert a["labels"] == b["labels"] and a["input_ids"] == b["input_ids"]
    assert a["labels"] != c["labels"]
    assert [len(x) for x in a["input_ids"]] == [len(x) for x in ds["input_ids"]]  # padding stripped
    # The training collator only pads these: labels survive untouched, padded with -100.
    batch = app.NameMaskingCollator(tokenizer, seed=9)([a[0], a[1]])
    width = batch["labels"].shape[1]
    assert batch["labels"][0].tolist() == a[0]["labels"] + [-100] * (width - len(a[0]["labels"]))


# ---- suggestions: a model whose probabilities the test controls ---------------------------
def _bias_model(tokenizer, favourite: list[str]):
    """A tiny BERT whose logits ignore the context: the output layer is zero but for its bias.

    Token favourite[0] gets the highest bias, favourite[1] the next, ...; the rest descend by id.
    """
    others = -0.01 * torch.arange(len(tokenizer), dtype=torch.float)
    return context_free_model(tokenizer, {token: 10.0 - rank for rank, token in enumerate(favourite)}, others)


def test_names_only_drops_punctuation_digits_latin_and_pieces(tokenizer):
    model, logp = _bias_model(tokenizer, ["，", "1", "a", "##涛", "[SEP]", "涛", "伟"])
    raw = names.suggest_names(model, tokenizer, "小孩的名字叫张[MASK]", top_k=7, names_only=False)
    assert [t for t, _ in raw] == ["，", "1", "a", "##涛", "[SEP]", "涛", "伟"]
    found = names.suggest_names(model, tokenizer, "小孩的名字叫张[MASK]", top_k=3)
    assert [t for t, _ in found][:2] == ["涛", "伟"]
    assert all(app.HAN_CHAR.fullmatch(t) for t, _ in found)
    # Probabilities are the model's own (over the whole vocabulary), not renormalised.
    涛 = tokenizer.convert_tokens_to_ids("涛")
    assert found[0][1] == pytest.approx(logp[涛].item(), abs=1e-5)


def test_beam_search_scores_are_the_chain_rule_and_match_brute_force(tiny_model, tokenizer):
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    prompt = "女孩的名字叫李[MASK][MASK]"
    found = names.suggest_names(model, tokenizer, prompt, top_k=5, beam_width=len(tokenizer), max_per_character=0)
    allowed, _ = names.vocab_tables(tokenizer, len(tokenizer))
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"][0]
    p1, p2 = (ids == tokenizer.mask_token_id).nonzero().flatten().tolist()
    with torch.no_grad():
        first = model(input_ids=ids[None]).logits[0, p1].log_softmax(-1)
        # Every first character, filled in: the second mask's distribution conditioned on it.
        batch = ids.repeat(len(tokenizer), 1)
        batch[:, p1] = torch.arange(len(tokenizer))
        second = model(input_ids=batch).logits[:, p2].log_softmax(-1)
    joint = first[:, None] + second
    joint[~allowed] = float("-inf")
    joint[:, ~allowed] = float("-inf")
    best = joint.flatten().topk(5)
    expected = [("".join(tokenizer.convert_ids_to_tokens([i // len(tokenizer), i % len(tokenizer)])), s)
                for i, s in zip(best.indices.tolist(), best.values.tolist())]
    assert [n for n, _ in found] == [n for n, _ in expected]
    for (name, score), (_, want) in zip(found, expected):
        c1, c2 = tokenizer.convert_tokens_to_ids(list(name))
        assert score == pytest.approx(first[c1].item() + second[c1, c2].item(), abs=1e-4) == pytest.approx(want, abs=1e-4)
    assert len({n for n, _ in found}) == 5 and all(len(n) == 2 for n, _ in found)
    # The default beam (top_k wide) finds the same best name here.
    assert names.suggest_names(model, tokenizer, prompt, top_k=5, max_per_character=0)[0][0] == found[0][0]


def test_two_masks_under_a_context_free_model_pair_the_two_best_characters(tokenizer):
    model, logp = _bias_model(tokenizer, ["涛", "伟", "，"])
    found = names.suggest_names(model, tokenizer, "小孩的名字叫张[MASK][MASK]", top_k=3, max_per_character=0)
    涛, 伟 = tokenizer.convert_tokens_to_ids(["涛", "伟"])
    assert found[0][0] == "涛涛" and {found[1][0], found[2][0]} == {"涛伟", "伟涛"}  # the last two tie
    assert found[0][1] == pytest.approx(2 * logp[涛].item(), abs=1e-5)
    assert found[1][1] == pytest.approx((logp[涛] + logp[伟]).item(), abs=1e-5)


def test_name_score_on_a_hand_made_case(tokenizer):
    """Ranks are fixed by the bias: 涛 1st, 伟 2nd, 婷 3rd, 鹏 4th, ..., 芳 7th; 强 is far down."""
    model, _ = _bias_model(tokenizer, ["涛", "伟", "婷", "鹏", "磊", "杰", "芳"])
    rows = {"input_ids": [], "name_mask": []}
    for text, label in [("小孩取名叫张涛", "张涛"), ("小孩取名叫张芳", "张芳"), ("小孩取名叫张强", "张强"),
                        ("小孩取名叫张伟", "张伟")]:
        enc = tokenizer(text)
        rows["input_ids"].append(enc["input_ids"])
        rows["name_mask"].append([0] * 7 + [1, 0])
    import datasets

    score = app.name_score(model, tokenizer, datasets.Dataset.from_dict(rows), ks=(1, 5, 20))
    # 涛 rank 1, 伟 rank 2, 芳 rank 7, 强 beyond 20 -> top1 1/4, top5 2/4, top20 3/4.
    assert score == {"name_top1": 0.25, "name_top5": 0.5, "name_top20": 0.75, "name_chars": 4}


# ---- report shapes ------------------------------------------------------------------------
def test_suggestion_table_is_aligned_for_han_characters():
    lines = app.format_suggestions("top 2", [("涛", math.log(0.5)), ("子涵", math.log(0.25))], surname="曾")
    assert lines == ["top 2",
                     "rank  name    pinyin       lean    probability",
                     "   1  曾涛    zēng tāo     男 88%  0.500000",
                     "   2  曾子涵  zēng zǐ hán  女 67%  0.250000"]
    # Each column starts at the same terminal column in every row (a Han character is two columns wide).
    for header, cells in (("pinyin", ["zēng", "zēng"]), ("lean", ["男", "女"]), ("probability", ["0.5", "0.2"])):
        starts = {app.display_width(line[: line.index(cell)]) for line, cell in zip(lines[2:], cells)}
        assert starts == {lines[1].index(header)}, header


def test_probabilities_too_small_for_six_decimals_are_shown_in_exponent_form():
    assert app.format_probability(math.log(0.0123456)) == "0.012346"
    assert app.format_probability(math.log(1.234e-8)) == "1.23e-08"
    assert len(app.format_probability(math.log(0.5))) == len(app.format_probability(math.log(1e-9))) == 8


def test_report_lines_are_chinese_first_and_keep_the_english_keys():
    assert app.format_eval("before training", {"eval_loss": 1.0}).startswith("训练前 before training: eval_loss 1.0000")
    assert app.format_eval("after training", {"eval_loss": 1.0}).startswith("训练后 after training: eval_loss 1.0000")
    assert app.format_quality({"gender_fit": 0.95, "name_realism": 1.0}) == \
        "名字质量 quality: gender_fit 0.9500  name_realism 1.0000"
    assert app.format_quality({"name_realism": 0.5}) == "名字质量 quality: name_realism 0.5000"


def test_eval_line_labels_loss_and_perplexity():
    line = app.format_eval("after training", {"eval_loss": 2.0, "name_top1": 0.5})
    assert line == f"训练后 after training: eval_loss 2.0000  perplexity {math.exp(2):.2f}  name_top1 0.5000"
    assert app.perplexity(1e6) == float("inf")


# ---- atomic saving ------------------------------------------------------------------------
def test_failed_save_leaves_the_previous_model_untouched(tmp_path):
    out = tmp_path / "model"
    app.save_atomically(str(out), lambda d: (d / "weights").write_text("old"))

    def broken(folder):
        (folder / "weights").write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        app.save_atomically(str(out), broken)
    assert (out / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no staging folders left behind
    app.save_atomically(str(out), lambda d: (d / "weights").write_text("new"))
    assert (out / "weights").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def _model_with_old_model_and_checkpoint(tmp_path):
    out = tmp_path / "model"
    app.save_atomically(str(out), lambda d: (d / "weights").write_text("old"))
    (out / "checkpoint-5").mkdir()
    (out / "checkpoint-5" / "state").write_text("step 5")
    return out


def _new(folder):
    (folder / "weights").write_text("new")


@pytest.mark.parametrize("how", ["exchange", "rename"])
def test_a_swap_that_fails_leaves_the_previous_model_and_its_checkpoints(tmp_path, monkeypatch, how):
    """The swap itself fails (not write()): a save that deleted the old model before the new one was in
    place would lose it here. 'exchange': the one-step swap fails; 'rename': a system without it, whose
    move of the new folder into place fails after the old one was moved aside."""
    out = _model_with_old_model_and_checkpoint(tmp_path)

    def exchange_fails(a, b):
        raise OSError(5, "I/O error", str(b))

    if how == "exchange":
        monkeypatch.setattr(app, "exchange_paths", exchange_fails)
    else:
        monkeypatch.setattr(app, "exchange_paths", lambda a, b: False)
        real_rename = Path.rename

        def rename(self, target):
            if Path(target) == out and self.name.startswith(".model.new-"):
                raise OSError(28, "No space left on device")
            return real_rename(self, target)

        monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError):
        app.save_atomically(str(out), _new)
    assert (out / "weights").read_text() == "old"
    assert (out / "checkpoint-5" / "state").read_text() == "step 5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_a_swap_replaces_the_model_and_carries_the_checkpoints(tmp_path, monkeypatch, exchange):
    out = _model_with_old_model_and_checkpoint(tmp_path)
    if not exchange:
        monkeypatch.setattr(app, "exchange_paths", lambda a, b: False)
    app.save_atomically(str(out), _new)
    assert (out / "weights").read_text() == "new" and (out / "checkpoint-5" / "state").read_text() == "step 5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_exchange_paths_swaps_two_folders_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "x").write_text("a"), (b / "x").write_text("b")
    if not app.exchange_paths(a, b):
        pytest.skip("this filesystem has no renameat2 RENAME_EXCHANGE; save_atomically uses two renames")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


def test_recover_puts_back_a_model_moved_aside_by_a_killed_save(tmp_path):
    out = tmp_path / "model"
    aside = tmp_path / ".model.old-123"
    aside.mkdir()
    (aside / "weights").write_text("old")
    (tmp_path / ".model.new-xyz").mkdir()
    app.recover_output_dir(out)
    assert (out / "weights").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    # With a model in place, an aside copy is an old one whose deletion was cut short: it goes.
    (tmp_path / ".model.old-456").mkdir()
    app.recover_output_dir(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


# ---- the training loss ------------------------------------------------------------------------
@pytest.mark.parametrize("num_items", [None, 37])
def test_masked_positions_loss_equals_the_stock_loss(tiny_model, tokenizer, corpus, num_items):
    """The loss app.py trains with (output layer at masked positions only) is the stock one on the same batch:
    without num_items_in_batch, BertForMaskedLM's own loss, the mean over masked tokens. With it (the Trainer
    passes it, for gradient accumulation and for averaging across processes), transformers' ForMaskedLM loss
    on the stock logits: their sum over num_items_in_batch. (BertForMaskedLM.forward itself takes
    num_items_in_batch but ignores it.) A sum, or a mean over all tokens, is far off."""
    import datasets
    from transformers import AutoModelForMaskedLM

    stock = AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    ours, _ = app.load_model_and_tokenizer(str(tiny_model), for_training=True)
    ours.eval()
    rows = app.tokenize_corpus(datasets.Dataset.from_list(corpus[:16]), tokenizer, 32)
    batch = app.NameMaskingCollator(tokenizer, seed=1)([{k: r[k] for k in app.MODEL_INPUTS} for r in rows])
    batch.pop("special_tokens_mask", None)
    extra = {} if num_items is None else {"num_items_in_batch": torch.tensor(num_items)}
    with torch.no_grad():
        stock_out = stock(**batch)
        want = stock_out.loss if num_items is None else stock.loss_function(
            logits=stock_out.logits, labels=batch["labels"], vocab_size=stock.config.vocab_size, **extra)
        got = ours(**batch, **extra).loss
    n_masked = int((batch["labels"] != -100).sum())
    assert n_masked > 16
    assert got.item() == pytest.approx(want.item(), rel=1e-5)
    if num_items is None:  # what the check tells apart: a sum is n_masked times larger
        assert abs(got.item() * n_masked - want.item()) > 1


# ---- speed levers that no output shows ----------------------------------------------------
def _fresh_python(code: str) -> str:
    """Run code in a new interpreter (these levers change process-wide state), return its stdout."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("keep", [False, True])
def test_freed_memory_stays_with_the_process_only_when_kept(keep):
    returned_mib = float(_fresh_python(f"""
import app, torch
def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096
if {keep}: app.keep_freed_memory()
x = torch.ones(2**24)  # 64 MiB, written, so resident
held = rss(); del x
print((held - rss()) / 2**20)
"""))
    if keep:
        assert returned_mib < 8  # the next step reuses it without page faults
    else:
        assert returned_mib > 56  # glibc's default: unmapped at once


def test_a_run_exempts_import_time_objects_from_the_garbage_collector(tiny_model, tmp_path):
    frozen = int(_fresh_python(f"""
import gc, app
assert gc.get_freeze_count() == 0
assert app.main(['--do_train', 'False', '--model_name_or_path', {str(tiny_model)!r},
                 '--result_file', {str(tmp_path / 'result.txt')!r}]) == 0
print(gc.get_freeze_count())
""").split()[-1])
    assert frozen > 100_000  # torch, transformers and datasets alone create ~400k
