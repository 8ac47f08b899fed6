"""Naming knowledge (names.py): statistics, filter, gender lean and product, pinyin, variety, beam
search.

Known answers are derived here from the installed statistics file itself, not copied from names.py.
"""

import csv
import importlib.resources
import itertools
import math
import random

import pytest
import torch

import app
import beam_search
import hanzi
import names
import roles
import suggestions
from conftest import context_free_model, make_tiny_model, ranked_model, read_corpus


@pytest.fixture(scope="module")
def counts():
    with importlib.resources.files("ngender").joinpath("charfreq.csv").open(encoding="utf-8") as f:
        return {r["char"]: (int(r["male"]), int(r["female"])) for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    texts = [r["text"] for r in read_corpus()] + ["的们皺設閾子思宇涵琪轩杰婷军飚强"]
    return AutoTokenizer.from_pretrained(
        make_tiny_model(tmp_path_factory.mktemp("names") / "m", texts)
    )


# ---- statistics, lean, filter -------------------------------------------------------------
def test_statistics_come_from_the_installed_package(counts):
    assert names.name_counts() == counts
    assert len(counts) == 9442 and sum(b + g for b, g in counts.values()) == 32_067_566


def test_lean_is_naive_bayes_over_the_characters_with_even_priors(counts):
    boys = sum(b for b, _ in counts.values())
    girls = sum(g for _, g in counts.values())

    def share(given):  # P(boy | given), written out the long way
        pb = math.prod((counts[c][0] + 1) / boys for c in given)
        pg = math.prod((counts[c][1] + 1) / girls for c in given)
        return pb / (pb + pg)

    for given in ("涛", "婷", "子涵", "子轩", "思"):
        assert names.boy_share(given) == pytest.approx(share(given), rel=1e-12)
    # 涛: 173682 boys, 12330 girls -> 88% boys; 婷: 8977 / 113910 -> 96% girls.
    assert names.lean("涛") == "男 88%" and names.lean("婷") == "女 96%"
    assert names.lean("子涵") == f"女 {1 - share('子涵'):.0%}"
    assert names.lean("，") == "-"  # nothing known: no lean shown
    assert (
        names.fits_gender("涛", "boy")
        and not names.fits_gender("涛", "girl")
        and names.fits_gender("婷", "girl")
    )


def test_filter_keeps_real_given_name_characters_only(counts):
    for char in "的叫们皺設歲閾了是我":  # function words, traditional forms, absent characters
        assert not names.is_name_char(char), char
    for char in "涛伟婷鹏子涵轩思宇欣怡梓":
        assert names.is_name_char(char), char
    kept = [c for c, (b, g) in counts.items() if b + g >= names.MIN_NAME_COUNT]
    assert sum(map(names.is_name_char, counts)) == len(kept) == 1312  # the README's figure
    coverage = sum(sum(counts[c]) for c in kept) / sum(b + g for b, g in counts.values())
    assert round(coverage, 3) == 0.980


def test_quality_counts_rows_that_fit_and_rows_that_are_real():
    # 的 is no name character, but its few counts lean boy (558 boys, 214 girls): 3 of 4 fit.
    assert names.quality(["涛", "婷", "伟", "的"], "boy") == {
        "gender_fit": 0.75,
        "name_realism": 0.75,
        "registrable": 1.0,
    }
    assert names.quality(["婷", "娜"], "girl") == {
        "gender_fit": 1.0,
        "name_realism": 1.0,
        "registrable": 1.0,
    }
    # no gender asked, none scored
    assert names.quality(["涛"], "any") == {"name_realism": 1.0, "registrable": 1.0}
    # 飚: not in the 2013 table
    assert names.quality(["飚", "涛"], "any") == {"name_realism": 1.0, "registrable": 0.5}


# ---- pinyin -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "surname, given, expected",
    [
        ("单", "伟", "shàn wěi"),  # pypinyin alone: dān
        ("曾", "子涵", "zēng zǐ hán"),  # pypinyin alone: céng zi hán (the neutral zi of 儿子)
        ("解", "涛", "xiè tāo"),  # jiě
        ("仇", "婷", "qiú tíng"),
        ("区", "娜", "ōu nà"),
        ("朴", "明", "piáo míng"),
        ("查", "伟", "zhā wěi"),
        ("欧阳", "娜", "ōu yáng nà"),
        ("尉迟", "杰", "yù chí jié"),  # a double surname read as a unit, not wèi chí
        ("张", "子轩", "zhāng zǐ xuān"),
    ],
)
def test_names_read_with_surname_readings_and_full_tones(surname, given, expected):
    assert names.name_pinyin(surname, given) == expected


def test_raw_tokens_read_as_their_characters_or_not_at_all():
    assert names.name_pinyin("", "##瞎") == "xiā"
    assert names.name_pinyin("", "##ting") == names.name_pinyin("", "，") == "-"
    assert names.name_pinyin("张", "[UNK]") == "zhāng -"


@pytest.mark.parametrize(
    "surname, given, tones, flat",
    [
        ("李", "子涵", [3, 3, 2], False),  # lǐ zǐ hán
        ("张", "天骄", [1, 1, 1], True),  # zhāng tiān jiāo: three of one tone reads flat
        ("曾", "涛", [1, 1], True),  # zēng tāo
        ("欧阳", "娜", [1, 2, 4], False),
        ("", "，", [], False),  # no Han characters: no tones
    ],
)
def test_tones_of_the_full_name_and_when_it_reads_flat(surname, given, tones, flat):
    assert names.tones(surname, given) == (tones, flat)


def test_tone_numbers_come_from_the_marks():
    assert [names.tone(s) for s in ("tāo", "hán", "zǐ", "wèi", "zi", "lǜ", "lǘ")] == [
        1,
        2,
        3,
        4,
        5,
        4,
        2,
    ]


def test_pypinyin_alone_reads_these_wrongly():
    """Why the surname table and the full-tone rule exist."""
    import pypinyin

    assert pypinyin.lazy_pinyin("单曾解", style=pypinyin.Style.TONE) == ["dān", "céng", "jiě"]
    assert pypinyin.pinyin("子", style=pypinyin.Style.TONE)[0][0] == "zi"


# ---- the search ---------------------------------------------------------------------------
def _bias_model(tokenizer, favourite):
    """Logits that ignore the context: each favourite token its value, all others far below
    (-10)."""
    return context_free_model(tokenizer, favourite, torch.full((len(tokenizer),), -10.0))


def test_filter_applies_to_every_position(tokenizer):
    model, _ = _bias_model(
        tokenizer, {"的": 9, "们": 8.5, "皺": 8, "設": 7.5, "閾": 7, "涛": 1, "婷": 0.5, "军": 0}
    )
    for prompt in ("小孩的名字叫张[MASK]", "小孩的名字叫张[MASK][MASK]"):
        found = beam_search.suggest_names(model, tokenizer, prompt, top_k=3)
        assert found and all(names.is_name_char(c) for given, _ in found for c in given), found
    raw = beam_search.suggest_names(
        model, tokenizer, "小孩的名字叫张[MASK]", top_k=3, names_only=False
    )
    # --raw_predictions still shows the model's own top
    assert [t for t, _ in raw] == ["的", "们", "皺"]


def test_gender_is_a_hard_rule_and_the_gender_term_orders_what_fits(tokenizer):
    """婷 is the model's favourite by 0.5 nats; the statistics say 婷 is 96% girls and 涛 88% boys.
    With --gender boy no weight lets 婷 in, and with girl none lets 涛 in; --gender any lists both,
    the model's order.

    Among names that fit, the weighted term orders: 宇 (67% boys) is the favourite by 0.2 nats over
    涛 (88%); boy, weight 1: 涛 scores log p(涛) + log 0.88, 宇 log p(宇) + log 0.67: 涛 wins by
    ~0.07 nats (the frequency prior, which would add 0.1 for 涛, is off here).
    """
    model, logp = _bias_model(tokenizer, {"婷": 5.5, "涛": 5.0, "宇": 5.2})
    prompt = "小孩的名字叫张[MASK]"
    ids = dict(zip("婷涛宇", tokenizer.convert_tokens_to_ids(list("婷涛宇")), strict=True))
    found = beam_search.suggest_names(model, tokenizer, prompt, top_k=3, gender="any")
    assert [g for g, _ in found] == ["婷", "宇", "涛"]
    for gender, weight, first, never in (
        ("boy", 0.0, "宇", "婷"),
        ("boy", 2.0, "涛", "婷"),
        ("girl", 0.0, "婷", "涛"),
        ("girl", 2.0, "婷", "涛"),
    ):
        found = beam_search.suggest_names(
            model, tokenizer, prompt, top_k=5, gender=gender, gender_weight=weight
        )
        assert found[0][0] == first and never not in [g for g, _ in found], (gender, weight, found)
    for weight, order in ((0.0, ["宇", "涛"]), (1.0, ["涛", "宇"])):
        found = beam_search.suggest_names(
            model,
            tokenizer,
            prompt,
            top_k=2,
            gender="boy",
            gender_weight=weight,
            frequency_weight=0,
        )
        assert [g for g, _ in found] == order, weight
        # The printed score is still the model's own log-probability.
        assert dict(found) == pytest.approx({c: logp[ids[c]].item() for c in "涛宇"}, abs=1e-5)
    key = {c: logp[ids[c]].item() + math.log(names.boy_share(c)) for c in "涛宇"}
    assert key["涛"] - key["宇"] == pytest.approx(0.07, abs=0.03)


def test_the_surname_is_not_repeated_in_the_given_name(tokenizer):
    model, _ = _bias_model(tokenizer, {"张": 9, "涛": 5, "婷": 4})
    assert [
        g
        for g, _ in beam_search.suggest_names(
            model, tokenizer, "小孩的名字叫张[MASK]", 2, exclude="张"
        )
    ] == ["涛", "婷"]


def test_avoided_characters_are_never_suggested_in_any_position(tokenizer):
    model, _ = _bias_model(tokenizer, {"涛": 9, "伟": 8.8, "婷": 8, "军": 7, "杰": 6, "鹏": 5})
    for prompt in ("小孩的名字叫张[MASK]", "小孩的名字叫张[MASK][MASK]"):
        found = beam_search.suggest_names(
            model, tokenizer, prompt, 5, exclude="张伟涛", frequency_weight=0
        )
        assert len(found) == 5 and not {"张", "伟", "涛"} & set("".join(g for g, _ in found)), found
    found = beam_search.suggest_names(
        model, tokenizer, "小孩的名字叫张[MASK]", 2, frequency_weight=0
    )
    assert found[0][0] == "涛"  # the favourite


def test_registrable_only_keeps_to_the_2013_table(tokenizer):
    """飚 is a given-name character (10,000+ in the statistics), but the 2013 table has 飙
    instead."""
    model, _ = _bias_model(tokenizer, {"飚": 9, "涛": 8, "婷": 7})
    assert names.is_name_char("飚") and not hanzi.is_registrable("飚")
    assert [
        g
        for g, _ in beam_search.suggest_names(
            model, tokenizer, "小孩的名字叫张[MASK]", 2, frequency_weight=0
        )
    ] == ["飚", "涛"]
    only = beam_search.suggest_names(
        model, tokenizer, "小孩的名字叫张[MASK][MASK]", 4, registrable_only=True, frequency_weight=0
    )
    assert len(only) == 4 and "飚" not in "".join(g for g, _ in only)
    size = len(tokenizer)
    assert (
        int(beam_search.candidates(tokenizer, size).sum())
        - int(beam_search.candidates(tokenizer, size, registrable_only=True).sum())
        == 1
    )


@pytest.mark.parametrize(
    "pattern, prompt",
    [
        ("子_", "小孩的名字叫张子[MASK]"),
        ("_涵", "小孩的名字叫张[MASK]涵"),
        ("__", "小孩的名字叫张[MASK][MASK]"),
        ("_", "小孩的名字叫张[MASK]"),
    ],
)
def test_a_pattern_puts_its_fixed_characters_in_the_prompt(pattern, prompt):
    assert names.prompt("张", "any", 1, pattern) == prompt
    assert names.fill_pattern(pattern, ["X"] * pattern.count("_")) == pattern.replace("_", "X")


@pytest.mark.parametrize(
    "pattern, words",
    [
        ("子", "at least one position free"),
        ("子子", "at least one position free"),
        ("a_", "Chinese character"),
        ("__子", "one or two positions"),
        ("", "one or two positions"),
        ("_ ", "Chinese character"),
    ],
)
def test_bad_patterns_are_named(pattern, words):
    assert words in names.pattern_problem(pattern)
    assert names.pattern_problem("子_") is None and names.pattern_problem("_轩") is None


def test_a_pattern_conditions_on_its_fixed_character_where_it_stands(tokenizer):
    """PairModel: after 子 comes 涵 (logit 8); the first position prefers 子 > 思 > 宇."""
    model = PairModel(tokenizer)
    ids = tokenizer.convert_tokens_to_ids
    # 思_: the fixed 思 stands at the first position, so the second mask's favourite is 思's
    # partner, 琪.
    found = beam_search.suggest_names(
        model, tokenizer, names.prompt("张", "any", 2, "思_"), 3, pattern="思_"
    )
    assert found[0][0] == "思琪" and all(g.startswith("思") and len(g) == 2 for g, _ in found)
    assert found[0][1] == pytest.approx(
        model.logits_at(ids("思"), 1).log_softmax(0)[ids("琪")].item(), abs=1e-5
    )
    # _涵: the free first position, scored by the model at that position, the second character
    # stays 涵.
    found = beam_search.suggest_names(
        model, tokenizer, names.prompt("张", "any", 2, "_涵"), 3, pattern="_涵"
    )
    assert [g for g, _ in found] == ["子涵", "思涵", "宇涵"]
    assert found[0][1] == pytest.approx(
        model.logits_at(0, 0).log_softmax(0)[ids("子")].item(), abs=1e-5
    )


def test_the_all_free_pattern_is_the_plain_two_character_search(tokenizer):
    model = PairModel(tokenizer)
    plain = beam_search.suggest_names(model, tokenizer, names.prompt("张", "any", 2), 5)
    assert (
        beam_search.suggest_names(
            model, tokenizer, names.prompt("张", "any", 1, "__"), 5, pattern="__"
        )
        == plain
    )


@pytest.mark.parametrize("pattern", ["婷_", "_婷"])
def test_the_fixed_character_counts_in_the_gender_rule(tokenizer, pattern):
    """伟 and 强 both lean boy, and alone they make a boy's list. Beside a fixed 婷 (96% girls)
    伟婷 is 13% boy and 强婷 43%: no name of the pattern leans boy, so a boy's list of it is empty
    (the run says so in one line).
    """
    model, _ = _bias_model(tokenizer, {"伟": 6.0, "强": 5.0})
    alone = beam_search.suggest_names(
        model, tokenizer, "男孩的名字叫张[MASK]", 2, gender="boy", frequency_weight=0
    )
    assert [g for g, _ in alone] == ["伟", "强"]
    found = beam_search.suggest_names(
        model,
        tokenizer,
        names.prompt("张", "boy", 2, pattern),
        2,
        gender="boy",
        pattern=pattern,
        frequency_weight=0,
    )
    assert found == []
    anyone = beam_search.suggest_names(
        model,
        tokenizer,
        names.prompt("张", "any", 2, pattern),
        2,
        pattern=pattern,
        frequency_weight=0,
    )
    assert [g for g, _ in anyone] == [pattern.replace("_", "伟"), pattern.replace("_", "强")]


def test_variety_rule_spreads_two_character_names(tokenizer):
    """A context-free model that likes a few characters most: without the rule its top 20 is their
    permutations (子涵 子轩 思涵 ...); with it, every position uses at least 10 characters."""
    liked = "子思宇涵琪轩杰婷军伟涛鹏明雪"
    model, _ = _bias_model(tokenizer, {c: 6 - 0.3 * i for i, c in enumerate(liked)})
    prompt = "小孩的名字叫张[MASK][MASK]"
    # The frequency prior off: this is about the rule alone, so the lists keep the model's order.
    free = beam_search.suggest_names(
        model, tokenizer, prompt, top_k=20, max_per_character=0, frequency_weight=0
    )
    spread = beam_search.suggest_names(model, tokenizer, prompt, top_k=20, frequency_weight=0)
    for found, at_least, at_most in ((free, 1, 6), (spread, 10, 20)):
        assert len(found) == 20
        for pos in (0, 1):
            assert at_least <= len({g[pos] for g, _ in found}) <= at_most
    for pos in (0, 1):
        assert max(sum(g[pos] == c for g, _ in spread) for c in liked) <= names.MAX_PER_CHARACTER
    # still by joint log-probability
    assert [s for _, s in spread] == sorted((s for _, s in spread), reverse=True)


def test_capped_selection_equals_greedy_over_every_candidate():
    """_select looks at a few continuations per beam; a greedy pass over all of them must agree."""
    rng = random.Random(0)
    for trial in range(20):
        n, vocab, keep, cap = (
            rng.randint(1, 12),
            rng.randint(5, 40),
            rng.randint(1, 20),
            rng.randint(1, 3),
        )
        key = torch.randn(n, vocab, generator=torch.Generator().manual_seed(trial))
        key[key < -1.5] = float("-inf")
        beams = torch.randint(0, 4, (n, 1))  # few distinct first characters: the cap bites
        # half the trials with some rows exempt (the corpus's own names)
        exempt = frozenset(
            (rng.randint(0, 3), rng.randrange(vocab)) for _ in range(8 * (trial % 2))
        )
        b, t = beam_search._select(key, beams, keep, cap, exempt)
        counts = [dict(), dict()]
        want = []
        for flat in key.flatten().argsort(descending=True).tolist():
            i, j = divmod(flat, vocab)
            if len(want) == keep or not math.isfinite(key[i, j]):
                break
            chars = (int(beams[i, 0]), j)
            if chars in exempt or all(counts[p].get(c, 0) < cap for p, c in enumerate(chars)):
                for p, c in enumerate(chars):
                    counts[p][c] = counts[p].get(c, 0) + 1
                want.append((i, j))
        assert list(zip(b.tolist(), t.tolist(), strict=True)) == want


def test_the_corpus_names_a_model_is_sure_of_pass_the_variety_rule(tokenizer):
    """A model sure of its corpus's 子轩, 宇轩 and 明轩 lists all three: the variety rule (at most 2
    rows with 轩 second) is for the names a model makes up, and the corpus's own are exempt (they
    still count towards it: 思轩, which the corpus lacks, stays out)."""
    model, _ = ranked_model(tokenizer, ["子", "宇", "明", "轩", "思"])
    corpus = roles.CorpusRoles(
        in_names={c: 3 for c in "子宇明轩"}, given_names={"子轩": 1, "宇轩": 1, "明轩": 1}
    )
    found = [
        g
        for g, _ in beam_search.suggest_names(
            model, tokenizer, "小孩的名字叫张[MASK][MASK]", 20, roles=corpus, frequency_weight=0
        )
    ]
    assert {"子轩", "宇轩", "明轩"} <= set(found) and "思轩" not in found, found
    assert sum(g[1] == "轩" for g in found) == 3
    # Without the corpus, the rule holds as before.
    plain = beam_search.suggest_names(
        model, tokenizer, "小孩的名字叫张[MASK][MASK]", 20, frequency_weight=0
    )
    assert sum(g[1] == "轩" for g, _ in plain) == 2


def test_exempt_rows_pass_the_cap_and_still_count():
    """cap 1: beam 0's best (token 1) is taken; beam 1's best is token 1 too, over the cap, taken
    only because (8, 1) is exempt, and it counts: beam 1 (its first character 8) gives no more."""
    key = torch.tensor([[0.0, 5.0, 4.0, 3.0], [0.0, 4.5, 3.5, 2.5]])
    beams = torch.tensor([[7], [8]])

    def rows(exempt):
        b, t = beam_search._select(key, beams, 3, 1, exempt=exempt)
        return list(zip(b.tolist(), t.tolist(), strict=True))

    assert rows(frozenset({(8, 1)})) == [(0, 1), (1, 1)]
    assert rows(frozenset()) == [(0, 1), (1, 2)]


class PairModel(torch.nn.Module):
    """A model whose second character depends on the first: after 子 comes 涵, after 思 琪, after
    宇 轩.

    First mask: 子 > 思 > 宇 (logits 3, 2, 1). Second mask: the first character's partner gets
    logit 8; while the first mask is still [MASK], 军 gets it instead. So a search that forgets to
    fill in the first character pairs everything with 军.
    """

    PAIRS = {"子": "涵", "思": "琪", "宇": "轩"}

    def __init__(self, tokenizer):
        super().__init__()
        self.tok = tokenizer
        self.config = type("Config", (), {"vocab_size": len(tokenizer)})()
        self.device = torch.device("cpu")

    def logits_at(self, first_token: int, position: int) -> torch.Tensor:
        ids = self.tok.convert_tokens_to_ids
        logits = torch.zeros(self.config.vocab_size)
        if position == 0:
            logits[ids(list("子思宇"))] = torch.tensor([3.0, 2.0, 1.0])
        else:
            partner = self.PAIRS.get(self.tok.convert_ids_to_tokens(first_token), "军")
            logits[ids(partner)] = 8.0
        return logits

    def forward(self, input_ids, attention_mask=None):
        p1, p2 = 8, 9  # [CLS] 小 孩 的 名 字 叫 张 [MASK] [MASK] [SEP]
        out = torch.zeros(*input_ids.shape, self.config.vocab_size)
        for i, row in enumerate(input_ids):
            out[i, p1] = self.logits_at(int(row[p1]), 0)
            out[i, p2] = self.logits_at(int(row[p1]), 1)
        return type("Output", (), {"logits": out})()


def test_beam_search_conditions_on_the_characters_it_filled(tokenizer):
    model = PairModel(tokenizer)
    found = beam_search.suggest_names(
        model,
        tokenizer,
        "小孩的名字叫张[MASK][MASK]",
        top_k=3,
        max_per_character=0,
        frequency_weight=0,
    )
    assert [g for g, _ in found] == ["子涵", "思琪", "宇轩"]
    ids = tokenizer.convert_tokens_to_ids
    for given, score in found:
        first = model.logits_at(0, 0).log_softmax(0)[ids(given[0])]
        second = model.logits_at(ids(given[0]), 1).log_softmax(0)[ids(given[1])]
        assert score == pytest.approx((first + second).item(), abs=1e-5)
    # An unconditioned search would score 子涵 about 8 nats lower: far outside any tolerance.
    unconditioned = (
        model.logits_at(ids("子"), 0).log_softmax(0)[ids("子")]
        + model.logits_at(tokenizer.mask_token_id, 1).log_softmax(0)[ids("涵")]
    )
    assert found[0][1] - unconditioned.item() > 7


# ---- names, suggestions on models whose probabilities the test sets -----------------------------
@pytest.mark.parametrize(
    "full, expected",
    [
        ("张涛", ("张", "涛")),
        ("张子涵", ("张", "子涵")),
        ("欧阳娜", ("欧阳", "娜")),
        ("欧阳子涵", ("欧阳", "子涵")),
        ("司马杰", ("司马", "杰")),
    ],
)
def test_split_name(full, expected):
    assert names.split_name(full) == expected


def test_names_only_drops_punctuation_digits_latin_and_pieces(tokenizer):
    model, logp = ranked_model(tokenizer, ["，", "1", "a", "##涛", "[SEP]", "涛", "伟"])
    raw = beam_search.suggest_names(
        model, tokenizer, "小孩的名字叫张[MASK]", top_k=7, names_only=False
    )
    assert [t for t, _ in raw] == ["，", "1", "a", "##涛", "[SEP]", "涛", "伟"]
    found = beam_search.suggest_names(model, tokenizer, "小孩的名字叫张[MASK]", top_k=3)
    assert [t for t, _ in found][:2] == ["涛", "伟"]
    assert all(names.HAN_CHAR.fullmatch(t) for t, _ in found)
    # Probabilities are the model's own (over the whole vocabulary), not renormalised.
    涛 = tokenizer.convert_tokens_to_ids("涛")
    assert found[0][1] == pytest.approx(logp[涛].item(), abs=1e-5)


def test_beam_search_scores_are_the_chain_rule_and_match_brute_force(tiny_model, tiny_tokenizer):
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    prompt = "女孩的名字叫李[MASK][MASK]"
    found = beam_search.suggest_names(
        model,
        tiny_tokenizer,
        prompt,
        top_k=5,
        beam_width=len(tiny_tokenizer),
        max_per_character=0,
        frequency_weight=0,
    )
    allowed, _ = beam_search.vocab_tables(tiny_tokenizer, len(tiny_tokenizer))
    ids = tiny_tokenizer(prompt, return_tensors="pt")["input_ids"][0]
    p1, p2 = (ids == tiny_tokenizer.mask_token_id).nonzero().flatten().tolist()
    with torch.no_grad():
        first = model(input_ids=ids[None]).logits[0, p1].log_softmax(-1)
        # Every first character, filled in: the second mask's distribution conditioned on it.
        batch = ids.repeat(len(tiny_tokenizer), 1)
        batch[:, p1] = torch.arange(len(tiny_tokenizer))
        second = model(input_ids=batch).logits[:, p2].log_softmax(-1)
    joint = first[:, None] + second
    joint[~allowed] = float("-inf")
    joint[:, ~allowed] = float("-inf")
    for c1, seconds in beam_search.word_pairs(
        tiny_tokenizer, len(tiny_tokenizer)
    ).items():  # everyday words: no names
        joint[c1, seconds] = float("-inf")
    best = joint.flatten().topk(5)
    expected = [
        (
            "".join(
                tiny_tokenizer.convert_ids_to_tokens(
                    [i // len(tiny_tokenizer), i % len(tiny_tokenizer)]
                )
            ),
            s,
        )
        for i, s in zip(best.indices.tolist(), best.values.tolist(), strict=True)
    ]
    assert [n for n, _ in found] == [n for n, _ in expected]
    for (name, score), (_, want) in zip(found, expected, strict=True):
        c1, c2 = tiny_tokenizer.convert_tokens_to_ids(list(name))
        assert (
            score
            == pytest.approx(first[c1].item() + second[c1, c2].item(), abs=1e-4)
            == pytest.approx(want, abs=1e-4)
        )
    assert len({n for n, _ in found}) == 5 and all(len(n) == 2 for n, _ in found)
    # The default beam (top_k wide) finds the same best name here.
    assert (
        beam_search.suggest_names(
            model, tiny_tokenizer, prompt, top_k=5, max_per_character=0, frequency_weight=0
        )[0][0]
        == found[0][0]
    )


def test_two_masks_under_a_context_free_model_pair_the_two_best_characters(tokenizer):
    model, logp = ranked_model(tokenizer, ["涛", "伟", "，"])
    found = beam_search.suggest_names(
        model, tokenizer, "小孩的名字叫张[MASK][MASK]", top_k=3, max_per_character=0
    )
    涛, 伟 = tokenizer.convert_tokens_to_ids(["涛", "伟"])
    # 涛涛 would be first, but a character never repeats (beam_search.word_pairs); the first two
    # tie.
    assert {found[0][0], found[1][0]} == {"涛伟", "伟涛"} and "涛涛" not in {g for g, _ in found}
    assert found[0][1] == found[1][1] == pytest.approx((logp[涛] + logp[伟]).item(), abs=1e-5)


# ---- the Done-when bar of the naming tool, on a tiny model trained on train.json ------------
@pytest.fixture(scope="module")
def trained_tiny(tmp_path_factory):
    """The tiny BERT from random weights, trained as the issue describes: lr 2e-3, 60 epochs, batch
    16 (~20 s)."""
    work = tmp_path_factory.mktemp("trained")
    model = make_tiny_model(work / "scratch", [r["text"] for r in read_corpus()])
    assert (
        app.main(
            [
                "--model_name_or_path",
                str(model),
                "--output_dir",
                str(work / "out"),
                "--result_file",
                str(work / "result.txt"),
                "--learning_rate",
                "2e-3",
                "--num_train_epochs",
                "60",
                "--per_device_train_batch_size",
                "16",
            ]
        )
        == 0
    )
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    return (
        AutoModelForMaskedLM.from_pretrained(work / "out").eval(),
        AutoTokenizer.from_pretrained(work / "out"),
        roles.load(work / "out"),
    )


def test_trained_lists_fit_the_gender_are_real_and_vary(trained_tiny):
    model, tokenizer, _ = trained_tiny
    lists = {}
    for surname, gender, length in itertools.chain(
        itertools.product(["张"], ["boy", "girl"], [1, 2]), [("欧阳", "girl", 2)]
    ):
        options = app.SuggestArguments(surname=surname, gender=gender, name_length=length)
        givens = [g for g, _ in suggestions.suggest(model, tokenizer, options)]
        lists[surname, gender, length] = givens
        q = names.quality(givens, gender)
        print(surname, gender, length, q, " ".join(givens))
        assert len(givens) == 20 and all(len(g) == length for g in givens)
        assert q["gender_fit"] >= 0.8
        assert q["name_realism"] * 20 >= 15
        assert all(
            len(names.name_pinyin(surname, g).split()) == len(surname) + length for g in givens
        )
        for pos in range(length if length == 2 else 0):
            assert len({g[pos] for g in givens}) >= 10
    assert len(set(lists["张", "boy", 1]) & set(lists["张", "girl", 1])) <= 5


def test_a_strongly_trained_model_keeps_its_corpus_names(trained_tiny):
    """The frequency prior and the filters do not drown a model that has learned its corpus: the
    issue's four lists from the tiny BERT trained long on train.json hold its given names (涛 霞 婷
    ..., 思远 雨桐 梓萱 ...) about as often as the model's own ranking does (frequency weight 0).
    (Measured: 1-character lists hold 17-20 corpus names of 20 either way; 2-character ones 10 and
    6, against 10 and 7; 3 and 4 while the variety rule held the corpus's names too.)
    """
    model, tokenizer, corpus_roles = trained_tiny
    assert corpus_roles is not None and corpus_roles.given_names["子涵"] == 5
    for surname, gender, length in [
        ("王", "boy", 2),
        ("欧阳", "girl", 2),
        ("陈", "any", 1),
        ("李", "girl", 1),
    ]:
        options = app.SuggestArguments(surname=surname, gender=gender, name_length=length)
        givens = [g for g, _ in suggestions.suggest(model, tokenizer, options, corpus_roles)]

        def ranked_with(weight, options=options, gender=gender, surname=surname):
            return [
                g
                for g, _ in beam_search.suggest_names(
                    model,
                    tokenizer,
                    options.resolved_prompt(),
                    20,
                    gender=gender,
                    exclude=surname,
                    frequency_weight=weight,
                    roles=corpus_roles,
                )
            ]

        kept = [g for g in givens if g in corpus_roles.given_names]
        own = [g for g in ranked_with(0.0) if g in corpus_roles.given_names]
        print(surname, gender, length, len(kept), len(own), " ".join(givens))
        assert len(givens) == 20 and len(kept) >= len(own) - 3 and kept, (surname, gender, givens)
        assert length == 2 or len(kept) >= 15
        assert length == 1 or len(kept) >= 5, (surname, gender, givens)


# ---- double surnames: the 百家姓's, traditional forms included ---------------------------
def test_traditional_and_rarer_double_surnames_split_as_one(tiny_tokenizer):
    """歐陽傑 split as 歐 + 陽傑 (and 司馬婷, 钟离娜 alike): 陽 was masked and recorded as a
    given-name character. Now only 傑 婷 娜 明 強 浩 are; a label that gives its own split is
    followed."""
    import datasets

    import corpus
    import roles

    people = {"歐陽傑": "小孩取名叫", "司馬婷": "女孩的名字叫", "钟离娜": "给孩子起名叫"}
    people |= {"歐陽明": "男孩的名字叫", "司馬強": "小孩取名叫", "钟离浩": "男孩取名叫"}
    rows = datasets.Dataset.from_list([{"text": p + n, "label": n} for n, p in people.items()])
    found = roles.count_roles(rows)
    assert sorted(found.given_names) == sorted("傑婷娜明強浩")
    assert set(found.in_names) == set("傑婷娜明強浩")
    assert {
        "歐陽",
        "司馬",
        "諸葛",
        "鍾離",
        "钟离",
        "闾丘",
        "第五",
        "獨孤",
    } <= names.double_surnames()
    assert (
        len({s for s in names.double_surnames() if all("\u4e00" <= c < "\u9000" for c in s)}) > 60
    )
    # the label's own split decides: 乐正 is a double surname, but this label says 乐 + 正宇
    assert names.split_name("乐正宇") == ("乐正", "宇")
    assert names.split_name("乐 正宇") == ("乐", "正宇") == names.split_name("乐·正宇")
    assert corpus.given_name_span("小孩取名叫乐正宇", "乐 正宇") == (6, 8)


def test_the_double_surnames_file_is_what_the_tool_builds(tmp_path):
    """data/double_surnames.tsv: the 百家姓's 60 double surnames and their forms from the installed
    Unihan (CI installs unicode-data; without it the test fails, it does not skip)."""
    import subprocess
    import sys
    from pathlib import Path

    from conftest import REPO

    if not list(Path("/usr/share/unicode").glob("Unihan_Variants.txt*")):
        pytest.fail(
            "Unihan is not installed in /usr/share/unicode: sudo apt-get install unicode-data"
        )
    out = tmp_path / "double_surnames.tsv"
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_double_surnames.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.read_bytes() == names.DOUBLE_SURNAMES_FILE.read_bytes(), (
        "run python tools/build_double_surnames.py and commit the file"
    )
    table = out.read_text(encoding="utf-8")
    assert "Unihan, version" in table and "PERMISSION NOTICE" in table
    assert "\n欧阳\t" in table and "歐陽" in table.split("\n欧阳\t")[1].split("\n")[0]
    assert len(table.split("surname\ttraditional_forms\n")[1].splitlines()) == 60


def test_a_batch_of_searches_finds_what_each_finds_alone(tiny_model, tiny_tokenizer):
    """suggest_many (the page's batches): prompts of two lengths (欧阳), one and two masks,
    genders, a pattern, characters to avoid and a repeated request, searched together, each give
    the names and scores that suggest_names gives for them one by one."""
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    requests = [
        dict(prompt="女孩的名字叫李[MASK][MASK]", top_k=8, gender="girl"),
        dict(prompt="男孩的名字叫欧阳[MASK][MASK]", top_k=5, gender="boy", exclude="欧阳伟"),
        dict(prompt="小孩的名字叫张[MASK]", top_k=6),
        dict(prompt="小孩的名字叫王子[MASK]", top_k=4, pattern="子_", registrable_only=True),
        dict(prompt="女孩的名字叫李[MASK][MASK]", top_k=8, gender="girl"),
        dict(prompt="小孩的名字叫张[MASK][MASK]", top_k=10, max_per_character=1),
    ]
    together = beam_search.suggest_many(model, tiny_tokenizer, requests)
    alone = [beam_search.suggest_names(model, tiny_tokenizer, **r) for r in requests]
    assert [len(found) for found in together] == [8, 5, 6, 4, 8, 10]
    for found, want in zip(together, alone, strict=True):
        assert [n for n, _ in found] == [n for n, _ in want]
        # the same rows in a larger matrix product: equal up to the sum's rounding
        assert [s for _, s in found] == pytest.approx([s for _, s in want], abs=1e-5)
    assert together[1] != together[0] and all(len(n) == 2 for n, _ in together[1])
    assert all(n.startswith("子") and len(n) == 2 for n, _ in together[3])


def test_a_search_whose_candidates_all_fall_away_finds_nothing(tiny_model, tiny_tokenizer):
    """--source pairs the vocabulary lacks leave no beam after the first step: no name, no crash
    (torch.cat of no rows), alone and in a batch beside a search that finds names."""
    from transformers import AutoModelForMaskedLM

    model = AutoModelForMaskedLM.from_pretrained(tiny_model).eval()
    prompt = names.prompt("王", "any", 2)
    assert (
        beam_search.suggest_names(model, tiny_tokenizer, prompt, 8, only_pairs=[("鑫", "鑫")]) == []
    )
    both = beam_search.suggest_many(
        model,
        tiny_tokenizer,
        [dict(prompt=prompt, top_k=8, only_pairs=[("鑫", "鑫")]), dict(prompt=prompt, top_k=3)],
    )
    assert both[0] == [] and len(both[1]) == 3


def test_a_name_left_out_for_its_sound_takes_no_row_and_no_share_of_the_variety_limit(
    tiny_tokenizer, monkeypatch
):
    """With the surname known, a name whose sound is marked (here: every name starting with 子) is
    no candidate: the next names fill the rows, and it does not use up the limit of one row per
    character and position (涛 second still shows, after 子涛 is out)."""
    import beam_search
    import name_words
    from conftest import ranked_model

    model, _ = ranked_model(tiny_tokenizer, ["子", "涛", "明", "华", "杰", "强", "伟"])
    search = dict(exclude="刘", max_per_character=1)
    prompt = "小孩的名字叫刘[MASK][MASK]"
    plain = [g for g, _ in beam_search.suggest_names(model, tiny_tokenizer, prompt, 5, **search)]
    assert plain[0] == "子涛"
    monkeypatch.setattr(
        name_words, "embarrassing_word", lambda surname, given: "x" if given[0] == "子" else None
    )
    found = beam_search.suggest_names(model, tiny_tokenizer, prompt, 5, surname="刘", **search)
    given = [g for g, _ in found]
    assert len(given) == 5 and not any(g[0] == "子" for g in given)
    assert any(g[1] == "涛" for g in given), given
    # without a surname (a prompt of the user's) nothing is left out
    unknown = beam_search.suggest_names(model, tiny_tokenizer, prompt, 5, **search)
    assert [g for g, _ in unknown] == plain
