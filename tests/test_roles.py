"""Names a parent would keep from any model (issue 19): the corpus's roles (roles.py), saved with
the model and used by app.py --do_train False and demo.py; the hard gender rule; the frequency
prior; no everyday words.

Models here are context-free (conftest.context_free_model): the test sets what the model is sure of.
"""

import re
import shutil

import pytest
import torch

import app
import beam_search
import corpus
import demo
import names
import roles
from conftest import (
    REPO,
    context_free_model,
    make_tiny_model,
    ranked_model,
    read_corpus,
    write_jsonl,
)

# the four tables
CASES = [("王", "boy", 2), ("欧阳", "girl", 2), ("陈", "any", 1), ("李", "girl", 1)]


def saved_folder(folder, texts, favourite: dict, seed=0):
    """A model folder as app.py leaves it, minus training: tokenizer, a context-free model that is
    sure of `favourite` (the other tokens get logits from 0 to 3 at random), no roles yet."""
    from transformers import AutoTokenizer

    make_tiny_model(folder, texts)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    others = 3 * torch.rand(len(tokenizer), generator=torch.Generator().manual_seed(seed))
    model, _ = context_free_model(tokenizer, favourite, others)
    model.save_pretrained(folder)
    return folder


def listed(folder, tmp_path, surname, gender, length, *extra) -> tuple[list[str], str]:
    """(given names, whole report) of `app.py --do_train False` on a saved folder."""
    result = tmp_path / f"{surname}-{gender}-{length}.txt"
    assert (
        app.main(
            [
                "--do_train",
                "False",
                "--model_name_or_path",
                str(folder),
                "--surname",
                surname,
                "--gender",
                gender,
                "--name_length",
                str(length),
                "--result_file",
                str(result),
                *map(str, extra),
            ]
        )
        == 0
    )
    text = result.read_text(encoding="utf-8")
    # raw tokens come without it
    shown = [m.group(1) for m in re.finditer(r"^\s+\d+  (\S+)  ", text, re.M)]
    return [name.removeprefix(surname) for name in shown], text


@pytest.fixture(scope="module")
def train_rows():
    rows, _ = corpus.load_corpus(str(REPO / "train.json"))
    return rows


# ---- the roles ---------------------------------------------------------------------------------
def test_roles_are_counted_from_the_given_name_spans(tmp_path):
    rows = [
        {"text": "小孩取名叫张涛", "label": "张涛"},
        {"text": "儿子的名字叫王子涵", "label": "王子涵"},
        {"text": "这个女孩叫欧阳娜", "label": "欧阳娜"},
        {"text": "名字不在句子里", "label": "李娜"},
    ]
    ds, _ = corpus.load_corpus(str(write_jsonl(tmp_path / "c.json", rows)))
    found = roles.count_roles(ds)
    # 李娜 is not in its text: that row says nothing
    assert found.in_names == {"涛": 1, "子": 1, "涵": 1, "娜": 1}
    assert found.elsewhere["张"] == found.elsewhere["王"] == found.elsewhere["阳"] == 1
    assert found.elsewhere["名"] == 2 and found.elsewhere["子"] == 1 and found.elsewhere["叫"] == 3
    assert found.given_names == {"涛": 1, "子涵": 1, "娜": 1}
    # 子: as often elsewhere as in names, so not "mostly outside"; 小: elsewhere only, but real
    # names use it often (257,501 times). 阳 too (101,251), but here it is only ever a surname's.
    assert found.not_given_name_chars() == "".join(sorted(set("孩取名叫张儿的字王这个女欧阳")))
    assert found.surnames == {"张": 1, "王": 1, "欧": 1, "阳": 1}
    ds, _ = corpus.load_corpus(
        str(write_jsonl(tmp_path / "plain.json", [{"text": "小孩取名叫张涛"}] * 3))
    )
    assert roles.count_roles(ds) == roles.CorpusRoles()  # no labels: no evidence, nothing excluded


def test_train_json_roles_exclude_its_surnames_and_prompt_words_but_not_common_name_characters(
    train_rows,
):
    found = roles.count_roles(train_rows)
    out = found.not_given_name_chars()
    for char in "张名女叫孩王陈李":
        assert char in out, char
    # 子 is mostly elsewhere (儿子) but real names use it 59,360 times; 宝 (宝宝) 98,764 times.
    assert found.elsewhere["子"] > found.in_names["子"] and "子" not in out and "宝" not in out
    assert found.given_names["子涵"] == 5 and found.given_names["涛"] == 5


def test_the_roles_survive_save_and_reload_and_demo_uses_them(trained, train_rows):
    """app.py saved them beside metrics.json from the corpus it trained on; roles.load and demo.py
    read the same."""
    work, proc = trained
    assert proc.returncode == 0, proc.stderr[-2000:]
    ds, _ = corpus.load_corpus(str(work / "corpus.json"))
    expected = roles.count_roles(ds)
    assert (work / "out" / roles.ROLES_FILE).is_file() and expected.in_names
    assert roles.load(work / "out") == expected
    assert demo.load_suggester(str(work / "out")).corpus_roles == expected


# ---- a model sure of the corpus's surname and prompt words ---------------------------------------
@pytest.fixture(scope="module")
def sure_of_zhang_and_ming(tmp_path_factory, train_rows):
    """Sure of 张, 名 and 女 by 5 nats or more over every other character, as the default run's
    model is sure of 张 (王张张 0.00074 against 王子宇 0.00001), with train.json's roles saved
    beside it."""
    folder = saved_folder(
        tmp_path_factory.mktemp("sure") / "model",
        [r["text"] for r in read_corpus()],
        {"张": 9.0, "名": 8.8, "女": 8.6},
    )
    roles.save(roles.count_roles(train_rows), folder)
    return folder


def test_lists_from_a_model_sure_of_zhang_and_ming_hold_neither(sure_of_zhang_and_ming, tmp_path):
    folder = sure_of_zhang_and_ming
    raw, _ = listed(folder, tmp_path, "王", "boy", 1, "--raw_predictions", True, "--top_k", 3)
    assert raw == ["张", "名", "女"]  # the model's own view, unfiltered
    for surname, gender, length in CASES:
        found, report = listed(folder, tmp_path, surname, gender, length)
        assert len(found) == 20 and all(len(g) == length for g in found), report
        assert not set("张名女") & set("".join(found)), (surname, found)
        assert all(names.fits_strictly(g, gender) for g in found)
    # Without the roles the frequency prior alone does not outvote a model this sure: they are why
    # it holds.
    shutil.copytree(folder, tmp_path / "no-roles")
    (tmp_path / "no-roles" / roles.ROLES_FILE).unlink()
    found, _ = listed(tmp_path / "no-roles", tmp_path, "陈", "any", 1)
    assert found[:2] == ["张", "名"]


def test_the_page_uses_the_saved_roles(sure_of_zhang_and_ming):
    page = demo.load_suggester(str(sure_of_zhang_and_ming))
    table, _, message, *_ = page("欧阳", "女孩 girl", "双字名 2", 20)
    assert message == "" and table.count("<tr>") == 21
    assert not re.search(r"<td>欧阳\S*[张名女]\S*</td>", table)


# ---- gender: a hard rule -------------------------------------------------------------------------
def test_a_girl_list_from_a_boy_biased_model_holds_no_boy_name_and_says_it_is_short(tmp_path):
    """A vocabulary of boys' characters and a model that ranks them first: the few characters that
    fit a girl are listed, no boys' ones fill the list up, and one line says so."""
    boys = "涛伟杰军鹏强刚宇轩浩"
    from transformers import AutoTokenizer

    folder = tmp_path / "model"
    make_tiny_model(folder, ["小孩的名字叫张" + boys])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model, _ = ranked_model(tokenizer, list(boys))
    model.save_pretrained(folder)
    girl_fit = [
        c
        for c in tokenizer.get_vocab()
        if names.is_name_char(c) and c != "李" and names.fits_strictly(c, "girl")
    ]
    assert 0 < len(girl_fit) < 10
    found, report = listed(folder, tmp_path, "李", "girl", 1, "--top_k", 10)
    assert sorted(found) == sorted(girl_fit) and not set(boys) & set(found)
    assert f"只有 {len(found)} 个名字符合女孩名字的条件（要 10 个）" in report
    assert f"only {len(found)} of the 10 names asked for pass the filters for a girl" in report
    boy_list, report = listed(folder, tmp_path, "李", "boy", 1, "--top_k", 10)
    assert sorted(boy_list) == sorted(boys) and "只有" not in report
    table, _, message, *_ = demo.load_suggester(str(folder))("李", "女孩 girl", "单字名 1", 10)
    assert table.count("<tr>") == len(found) + 1 and message.startswith(f"只有 {len(found)} 个名字")


def test_no_character_leaning_strongly_the_other_way_even_where_the_name_fits(tokenizer):
    """杰婷 leans to girls as a whole (婷 96% girls outweighs 杰), but 杰 is 2.7 times as frequent
    in boys' names: it never goes into a girl's name; 霞 (31 times in girls') never into a boy's."""
    assert (
        names.fits_gender("杰婷", "girl")
        and names.leans_strongly("杰", "girl")
        and names.leans_strongly("霞", "boy")
    )
    model, _ = context_free_model(
        tokenizer, {"杰": 9, "婷": 8.5, "霞": 8, "涛": 7.5}, torch.zeros(len(tokenizer))
    )
    girls = [
        g
        for g, _ in beam_search.suggest_names(
            model, tokenizer, "女孩的名字叫李[MASK][MASK]", 20, gender="girl"
        )
    ]
    boys = [
        g
        for g, _ in beam_search.suggest_names(
            model, tokenizer, "男孩的名字叫李[MASK][MASK]", 20, gender="boy"
        )
    ]
    assert "婷霞" in girls and not any("杰" in g or "涛" in g for g in girls)
    assert "杰涛" in boys and not any("霞" in g or "婷" in g for g in boys)
    assert all(names.fits_strictly(g, "girl") for g in girls) and all(
        names.fits_strictly(g, "boy") for g in boys
    )


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    texts = [r["text"] for r in read_corpus()] + ["子思宇涵琪轩杰婷军霞天"]
    return AutoTokenizer.from_pretrained(
        make_tiny_model(tmp_path_factory.mktemp("roles") / "m", texts)
    )


# ---- the frequency prior and everyday words ------------------------------------------------------
def test_a_rare_name_character_needs_a_clearly_surer_model(tokenizer):
    """张 is used 5,259 times in real given names, 宇 147,851: with weight 0.5, 张 needs 0.5
    log(147851 / 5259) = 1.67 nats more than 宇 to rank above it."""
    margin = names.FREQUENCY_WEIGHT * math_log(147851 / 5259)
    assert margin == pytest.approx(1.67, abs=0.01)
    for lead, first in ((1.0, "宇"), (1.6, "宇"), (1.75, "张"), (3.0, "张")):
        model, _ = context_free_model(
            tokenizer, {"张": 5 + lead, "宇": 5.0}, torch.zeros(len(tokenizer))
        )
        found = beam_search.suggest_names(model, tokenizer, "小孩的名字叫陈[MASK]", 2)
        assert found[0][0] == first, lead
        raw = beam_search.suggest_names(
            model, tokenizer, "小孩的名字叫陈[MASK]", 2, names_only=False
        )
        assert raw[0][0] == "张"  # the model's own order
        # the printed probability is the model's
        assert dict(found) == pytest.approx(dict(raw), abs=1e-6)


def math_log(x):
    import math

    return math.log(x)


def test_no_everyday_word_as_a_given_name_unless_the_corpus_gives_it(tokenizer):
    """天天 (every day) and 子女 (children) are jieba words used 1,855 and 1,845 times; 天宇 and
    子涵 are not words."""
    assert {"天天", "子女"} <= names.everyday_words() and not {
        "天宇",
        "子涵",
    } & names.everyday_words()
    model, _ = context_free_model(
        tokenizer, {"天": 9, "子": 8.9, "女": 8.8, "宇": 8, "涵": 7.9}, torch.zeros(len(tokenizer))
    )
    prompt = "小孩的名字叫陈[MASK][MASK]"
    found = [
        g for g, _ in beam_search.suggest_names(model, tokenizer, prompt, 20, max_per_character=0)
    ]
    assert "天宇" in found and "子涵" in found and not {"天天", "子女"} & set(found)
    with_roles = roles.CorpusRoles(given_names={"天天": 1})
    found = [
        g
        for g, _ in beam_search.suggest_names(
            model, tokenizer, prompt, 20, max_per_character=0, roles=with_roles
        )
    ]
    assert "天天" in found and "子女" not in found


def test_no_character_twice_unless_the_corpus_gives_such_a_name(tokenizer):
    """A model that has learned little repeats its favourite (王子子, 王宇宇 in the default run
    before this rule)."""
    model, _ = context_free_model(
        tokenizer, {"子": 9, "婷": 8.9, "宇": 8}, torch.zeros(len(tokenizer))
    )
    prompt = "小孩的名字叫陈[MASK][MASK]"
    found = [
        g for g, _ in beam_search.suggest_names(model, tokenizer, prompt, 20, max_per_character=0)
    ]
    assert "子宇" in found and not {"子子", "婷婷", "宇宇"} & set(found)
    found = [
        g
        for g, _ in beam_search.suggest_names(
            model,
            tokenizer,
            prompt,
            20,
            max_per_character=0,
            roles=roles.CorpusRoles(given_names={"婷婷": 1}),
        )
    ]
    assert "婷婷" in found and not {"子子", "宇宇"} & set(found)


# ---- the corpus's surname; the corpus's own rare names (issue 26) ---------------------------
def test_a_corpus_surname_is_no_name_character_unless_a_given_name_uses_it(tmp_path):
    """train.json with every 张 replaced by 杨: 杨 is common in real names (so the rule for
    characters used mostly outside names let it through), and a model trained hard on it put 李杨
    at #9 with the table's highest probability. A surname of the corpus that none of its given
    names uses is out."""
    rows = [
        {"text": r["text"].replace("张", "杨"), "label": r["label"].replace("张", "杨")}
        for r in read_corpus()
    ]
    ds, _ = corpus.load_corpus(str(write_jsonl(tmp_path / "yang.json", rows)))
    found = roles.count_roles(ds)
    assert names.is_common_char("杨") and found.surnames["杨"] >= 200
    assert "杨" not in found.in_names and "杨" in found.not_given_name_chars()
    folder = saved_folder(tmp_path / "model", [r["text"] for r in rows], {"杨": 12.0})
    roles.save(found, folder)
    names_found, report = listed(folder, tmp_path, "李", "any", 1)
    assert len(names_found) == 20 and "杨" not in names_found, report
    # a corpus that also gives 杨 in a given name keeps it
    rows.append({"text": "小孩取名叫王杨", "label": "王杨"})
    assert (
        "杨"
        not in roles.count_roles(
            corpus.load_corpus(str(write_jsonl(tmp_path / "yang2.json", rows)))[0]
        ).not_given_name_chars()
    )


def test_the_corpus_own_rare_given_names_stay_candidates(tmp_path):
    """瓤 琬 劭 宵 镭: real names use each under 1,000 times (MIN_NAME_COUNT), so a model trained on
    a corpus of them ranked them first and the table never showed them. The corpus's own given-name
    characters are always candidates."""
    rare = "瓤琬劭宵镭"
    assert not any(names.is_name_char(c) for c in rare)
    rows = [{"text": f"小孩取名叫张{c}", "label": f"张{c}"} for c in rare + "傑" for _ in range(3)]
    ds, _ = corpus.load_corpus(str(write_jsonl(tmp_path / "rare.json", rows)))
    folder = saved_folder(
        tmp_path / "model",
        [r["text"] for r in read_corpus()] + [r["text"] for r in rows],
        {c: 12.0 - i for i, c in enumerate(rare + "傑")},
    )
    roles.save(roles.count_roles(ds), folder)
    found, report = listed(folder, tmp_path, "李", "any", 1)
    assert found[:5] == list(rare), report
    # 傑 (traditional) is no character of the standard table: left out, and a line says so
    assert "傑" not in found
    assert re.search(
        r"^语料里的名字用字没有列出 .*: 傑 not in the 2013 standard table", report, re.M
    )
    found, report = listed(folder, tmp_path, "李", "any", 1, "--registrable_only", False)
    assert "傑" in found and "corpus name characters left out" not in report
    (folder / roles.ROLES_FILE).unlink()  # without the corpus's roles: real data's rule alone
    found, _ = listed(folder, tmp_path, "李", "any", 1)
    assert not set(rare) & set(found)
