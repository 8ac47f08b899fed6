"""The search: the model fills a prompt's [MASK]s with given names, under the naming rules.

One mask is the model's distribution at it; several are a beam search, left to right, each
character conditioned on those already filled. At every step the candidates are only given-name
characters (names.is_name_char) for the asked gender, ranked by the model's log-probability plus a
real-name frequency prior and the gender statistics, with a variety rule (max_per_character).
It knows nothing of names itself: names.py holds that knowledge; this module only searches.
"""

from __future__ import annotations

import math
import weakref

import torch
import torch.nn.functional as F

import hanzi
import name_words
import names

_TABLES = weakref.WeakKeyDictionary()  # tokenizer -> {size: tables}: a run asks up to four times


def vocab_tables(tokenizer, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per token id, (size,) each: is it a given-name character (one Han character that passes
    names.is_name_char: no punctuation, digits, Latin, '##' pieces or special tokens), and its
    names.char_log_ratio (0 for anything else). Computed once per tokenizer; callers get copies
    they may change."""
    per_size = _TABLES.setdefault(tokenizer, {})
    if size not in per_size:
        per_size[size] = _vocab_tables(tokenizer, size)
    return tuple(t.clone() for t in per_size[size])


def _vocab_tables(tokenizer, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    counts = names.name_counts()
    # The statistics hold single Han characters only, so this also drops '##'
    # pieces, punctuation, Latin, ...
    known = [
        (idx, token)
        for token, idx in tokenizer.get_vocab().items()
        if idx < size and token in counts
    ]
    name = torch.zeros(size, dtype=torch.bool)
    ratio = torch.zeros(size)
    if known:
        ids = torch.tensor([idx for idx, _ in known])
        name[ids] = torch.tensor([names.is_name_char(token) for _, token in known])
        ratio[ids] = torch.tensor([names.char_log_ratio(token) for _, token in known])
    return name, ratio


def log_counts(tokenizer, size: int) -> torch.Tensor:
    """(size,): per token id, log of how often real given names use it (0 for tokens the statistics
    lack)."""
    per_size = _TABLES.setdefault(tokenizer, {})
    if ("log_counts", size) not in per_size:
        counts = names.name_counts()
        table = torch.zeros(size)
        for token, idx in tokenizer.get_vocab().items():
            if idx < size and token in counts and sum(counts[token]):
                table[idx] = math.log(sum(counts[token]))
        per_size["log_counts", size] = table
    return per_size["log_counts", size].clone()


def word_pairs(tokenizer, size: int, keep=()) -> dict[int, list[int]]:
    """First character's token id -> the second characters' ids that make an everyday word with it
    (names.everyday_words) or repeat it (子子), less the words in `keep` (the corpus's own given
    names)."""
    vocab, pairs = tokenizer.get_vocab(), {}
    doubled = (c + c for c, idx in vocab.items() if idx < size and names.is_name_char(c))
    for word in [*names.everyday_words(), *doubled]:
        first, second = vocab.get(word[0], size), vocab.get(word[1], size)
        if first < size and second < size and word not in keep:
            pairs.setdefault(first, []).append(second)
    return pairs


def candidates(
    tokenizer, size: int, exclude: str = "", registrable_only: bool = False, include: str = ""
) -> torch.Tensor:
    """(size,) bool: the tokens suggest_names may fill in, the given-name characters and those in
    `include` (the corpus's own), less those in `exclude`; with registrable_only, only those of
    the 2013 standard table (hanzi.is_registrable)."""
    name, _ = vocab_tables(tokenizer, size)
    vocab = tokenizer.get_vocab()
    name[[vocab[c] for c in include if c in vocab and vocab[c] < size]] = True
    name[[vocab[c] for c in exclude if c in vocab and vocab[c] < size]] = False
    if registrable_only:
        ids = name.nonzero().flatten().tolist()
        name[
            [
                i
                for i, token in zip(ids, tokenizer.convert_ids_to_tokens(ids), strict=True)
                if not hanzi.is_registrable(token)
            ]
        ] = False
    return name


def _select(
    key: torch.Tensor, beams: torch.Tensor, keep: int, cap: int, exempt=frozenset()
) -> tuple[torch.Tensor, torch.Tensor]:
    """(beam index, token) of the `keep` best entries of key (n_beams, vocab), best first, such
    that no character stands more than `cap` times in the same position (cap 0: no limit). A row
    whose token ids (earlier characters, then the new one) are in `exempt` (the corpus's own given
    names) may stand beyond the cap; it still counts towards it.

    Greedy in order of key. From one beam at most `cap` rows can be taken (they share its earlier
    characters) besides its exempt ones, and at most keep // cap characters fill up, so looking at
    the beam's best cap + keep // cap + 1 continuations and its exempt ones finds exactly what a
    greedy pass over all of them would.
    """
    keep = min(keep, int(torch.isfinite(key).sum()))
    if not cap:
        flat = key.flatten().topk(keep).indices
        return flat // key.shape[1], flat % key.shape[1]
    per_beam = min(key.shape[1], keep if beams.shape[1] == 0 else cap + keep // cap + 1)
    cand_key, cand_tok = key.topk(per_beam, dim=1)
    order = [
        (b, int(cand_tok[b, j]))
        for b, j in (
            divmod(flat, per_beam) for flat in cand_key.flatten().argsort(descending=True).tolist()
        )
    ]
    if exempt:
        rows = beams.tolist()
        looked = set(order)
        order += [
            (b, name[-1])
            for name in exempt
            for b, row in enumerate(rows)
            if tuple(row) == name[:-1] and name[-1] < key.shape[1] and (b, name[-1]) not in looked
        ]
        order.sort(key=lambda bt: -float(key[bt]))  # stable: ties keep topk's order
    counts = [dict() for _ in range(beams.shape[1] + 1)]  # per position: char id -> rows so far
    chosen_beam, chosen_tok = [], []
    for b, token in order:
        if not math.isfinite(key[b, token]) or len(chosen_beam) == keep:
            break
        chars = beams[b].tolist() + [token]
        if tuple(chars) in exempt or all(counts[p].get(c, 0) < cap for p, c in enumerate(chars)):
            for p, c in enumerate(chars):
                counts[p][c] = counts[p].get(c, 0) + 1
            chosen_beam.append(b)
            chosen_tok.append(token)
    return torch.tensor(chosen_beam, dtype=torch.long), torch.tensor(chosen_tok, dtype=torch.long)


@torch.inference_mode()
def suggest_names(model, tokenizer, prompt: str, top_k: int, **options) -> list[tuple[str, float]]:
    """Top-k fillings of the prompt's [MASK]s as (given name, joint log-probability), best first.
    The options are _Search's keyword arguments, their defaults in one place there: names_only
    (True), gender ('any'), gender_weight, max_per_character, frequency_weight (names.py's
    constants), beam_width (2 x top_k), exclude, roles, registrable_only, pattern, only_pairs,
    surname (all off).

    One mask: the model's distribution at it. Several: a beam search filling the masks left to
    right, each conditioned on those already filled, so a name's log-probability is
    log p(c1 | prompt) + log p(c2 | prompt, c1).

    With names_only, what a name may hold:
    - at every position a given-name character (names.is_name_char), not one in `exclude` (the
      surname: 张玲张) and, with `roles` (roles.CorpusRoles of the training corpus), not one that
      corpus uses mostly outside given names;
    - with gender boy or girl, no character leaning strongly the other way (names.leans_strongly),
      and a finished name that leans to the asked sex (names.fits_gender): fewer than top_k names
      come back where fewer qualify;
    - no two characters in a row that make an everyday word (names.everyday_words), nor the same
      character twice (子子, 宇宇: what a model that has learned little repeats), unless the corpus
      gives it as a name (婷婷);
    - with the surname (None for a prompt of the user's), no full name that sounds like a word
      marked embarrassing (name_words.embarrassing_word: 杨伟, 阳痿): it takes no row and no share
      of the variety limit.
    And candidates are ranked, at every step, by
        log-probability + frequency_weight * log(count of its characters in real given names)
                        + gender_weight * log P(gender | characters so far)   (gender boy or girl),
    with at most max_per_character rows sharing a character in one position, but for the corpus's
    own given names (`roles`): a model trained on them may list every one it is sure of, and they
    count towards the limit for the names it makes up. Without names_only it
    is the model's raw top-k: any token, no gender, no prior, no limit. The log-probability
    returned is the model's own over the whole vocabulary, not renormalised. With registrable_only,
    only characters of the 2013 standard table are filled in.
    With a pattern (子_, _轩: names.prompt puts its fixed characters in the prompt, in place), the
    [MASK]s are its free positions: the search is the same, conditioned on the fixed characters
    where they stand; they count in the gender term from the first step and in the everyday-word
    rule (子女 is out with 子_ too), and each returned name is the pattern filled in (子涵).
    With only_pairs (two-character names from a classic, name_sources.pairs), a name must also be
    one of those pairs: the first character starts one, the second completes it.
    """
    return _run(model, [_Search(model, tokenizer, prompt, top_k, **options)])[0]


@torch.inference_mode()
def suggest_many(model, tokenizer, requests: list[dict]) -> list[list[tuple[str, float]]]:
    """suggest_names for each request (a dict of its other arguments), with the model's forward
    passes shared: at each step the beams of all the searches still running go
    through the model together. One pass over many rows costs far less than many passes over a few
    (a CPU's matrix products run faster on larger ones; a GPU runs them at once). Each result is
    what suggest_names gives for that request alone (tests/test_names.py checks).
    """
    return _run(model, [_Search(model, tokenizer, **request) for request in requests])


MAX_ROWS = 2048  # rows per forward pass: bounds the activations' memory (bert-base: ~1.5 GB)


def _run(model, searches: list[_Search]) -> list[list[tuple[str, float]]]:
    """Every search to its end, a step at a time; the rows of searches whose prompts have one
    length go through the model in one pass (rows of another length would need padding, and so
    different numbers than alone)."""
    while running := [s for s in searches if not s.done]:
        by_length = {}
        for s in running:
            by_length.setdefault(len(s.ids), []).append(s)
        for group in by_length.values():
            batches = [s.rows() for s in group]
            input_ids = torch.cat([rows for rows, _ in batches])
            positions = torch.cat(
                [torch.full((len(rows),), pos, device=rows.device) for rows, pos in batches]
            )
            logits = torch.cat(
                [
                    _logits_at(model, input_ids[i : i + MAX_ROWS], positions[i : i + MAX_ROWS])
                    for i in range(0, len(input_ids), MAX_ROWS)
                ]
            )
            for s, part in zip(
                group, logits.split([len(rows) for rows, _ in batches]), strict=True
            ):
                s.advance(part)
    return [s.result() for s in searches]


class _Search:
    """One request's beam search, a step at a time: rows() are the inputs its next step needs,
    advance() takes the model's logits for them. suggest_names documents the arguments."""

    def __init__(
        self,
        model,
        tokenizer,
        prompt: str,
        top_k: int,
        names_only: bool = True,
        gender: str = "any",
        gender_weight: float = names.GENDER_WEIGHT,
        max_per_character: int = names.MAX_PER_CHARACTER,
        beam_width: int | None = None,
        exclude: str = "",
        frequency_weight: float = names.FREQUENCY_WEIGHT,
        roles=None,
        registrable_only: bool = False,
        pattern: str | None = None,
        only_pairs=None,
        surname: str | None = None,
    ):
        self.tokenizer, self.pattern, self.top_k = tokenizer, pattern, top_k
        # the full name's surname, for its sound (None: a prompt of the user's, no surname known)
        self.surname = surname if names_only else None
        self.marked: dict[str, bool] = {}
        self.gender_weight = gender_weight
        ids = tokenizer(prompt, return_tensors="pt")["input_ids"][0].to(model.device)
        positions = (ids == tokenizer.mask_token_id).nonzero().flatten().tolist()
        self.ids, self.positions, self.step = ids, positions, 0
        size = model.config.vocab_size
        _, ratio = vocab_tables(tokenizer, size)
        fixed = [c for c in pattern or "" if c != names.FREE]
        assert not pattern or pattern.count(names.FREE) == len(positions), (
            f"{prompt!r} does not hold pattern {pattern!r}"
        )
        sign = {"boy": 1.0, "girl": -1.0}.get(gender, 0.0) if names_only else 0.0
        blocked, prior, pairs = None, torch.zeros(size), {}
        if names_only:
            allowed = candidates(
                tokenizer,
                size,
                exclude + (roles.not_given_name_chars() if roles else ""),
                registrable_only,
                include=roles.given_name_chars() if roles else "",
            )
            if sign:
                # leans_strongly, for the whole vocabulary at once
                allowed &= sign * ratio > -math.log(names.STRONG_LEAN)
            blocked = ~allowed.to(model.device)
            prior = frequency_weight * log_counts(tokenizer, size)
            pairs = word_pairs(tokenizer, size, keep=roles.given_names if roles else ())
        # With one character of a two-character name fixed (子_, _轩), the free one must not make a
        # word with it either.
        fixed_pairs = []
        if pairs and len(fixed) == 1 and len(pattern) == 2:
            fixed_id = tokenizer.convert_tokens_to_ids(fixed[0])
            fixed_pairs = (
                pairs.get(fixed_id, [])
                if pattern[1] == names.FREE
                else [first for first, seconds in pairs.items() if fixed_id in seconds]
            )
        self.sign, self.blocked, self.pairs, self.fixed_pairs = sign, blocked, pairs, fixed_pairs
        # only_pairs: the first character must start one of the pairs, the second complete it
        self.allowed_first, self.allowed_second = None, {}
        if only_pairs is not None:
            vocab = tokenizer.get_vocab()
            for pair in only_pairs:
                if pair[0] in vocab and pair[1] in vocab:
                    self.allowed_second.setdefault(vocab[pair[0]], []).append(vocab[pair[1]])
            self.allowed_first = torch.ones(size, dtype=torch.bool, device=model.device)
            # True: not the first character of any pair
            self.allowed_first[[i for i in self.allowed_second if i < size]] = False
        self.cap = max_per_character if names_only else 0
        # The variety rule is for the names a model makes up, not for those its corpus taught it:
        # a model trained hard on train.json ranks 子轩 second of all, and 宇轩 and 明轩 (also
        # the corpus's) had used up 轩 (README「名字表」).
        self.exempt = frozenset()
        if self.cap and roles and not fixed:
            vocab = tokenizer.get_vocab()
            self.exempt = frozenset(
                tuple(vocab[c] for c in given)
                for given in roles.given_names
                if len(given) == len(positions) and all(c in vocab for c in given)
            )
        self.ratio, self.prior = ratio.to(model.device), prior.to(model.device)
        self.width = max(beam_width or 2 * top_k, top_k)
        # (n_beams, filled so far)
        self.beams = torch.empty(1, 0, dtype=torch.long, device=model.device)
        self.scores = torch.zeros(1, device=model.device)  # joint log-probability of each beam
        # summed char_log_ratio of each beam's characters, a pattern's fixed ones included
        self.ratios = torch.zeros(1, device=model.device)
        self.ratios += sum(self.ratio[tokenizer.convert_tokens_to_ids(c)] for c in fixed)
        # summed frequency prior of each beam's characters
        self.priors = torch.zeros(1, device=model.device)

    @property
    def done(self) -> bool:
        # No beam left (every candidate ruled out, e.g. --source pairs the vocabulary lacks): no
        # name, and no rows for the model.
        return self.step == len(self.positions) or len(self.beams) == 0

    def rows(self) -> tuple[torch.Tensor, int]:
        """(n_beams, prompt length) input ids, the beams filled in, and the position to read."""
        batch = self.ids.repeat(len(self.beams), 1)
        batch[:, self.positions[: self.step]] = self.beams
        return batch, self.positions[self.step]

    def advance(self, logits: torch.Tensor):
        """One step: the logits (n_beams, vocab) at the next mask extend the beams."""
        step, beams = self.step, self.beams
        last = step == len(self.positions) - 1
        logp = logits.float().log_softmax(dim=-1)
        if self.blocked is not None:
            logp[:, self.blocked] = float("-inf")
            logp[:, self.fixed_pairs] = float("-inf")
            for row, previous in enumerate(beams[:, -1].tolist() if step else []):
                logp[row, self.pairs.get(previous, [])] = float("-inf")
        if self.allowed_first is not None:
            if step == 0:
                logp[:, self.allowed_first] = float("-inf")
            else:
                keep = torch.full_like(logp, float("-inf"))
                for row, previous in enumerate(beams[:, -1].tolist()):
                    seconds = self.allowed_second.get(previous, [])
                    keep[row, seconds] = logp[row, seconds]
                logp = keep
        total = self.scores[:, None] + logp
        new_ratio = self.ratios[:, None] + self.ratio[None, :]
        new_prior = self.priors[:, None] + self.prior[None, :]
        sign = self.sign
        key = total + new_prior
        if sign:
            key = key + self.gender_weight * F.logsigmoid(sign * new_ratio)
        if sign and last:
            # the finished name leans the other way
            key = key.masked_fill(sign * new_ratio <= 0, float("-inf"))
        key = key.cpu()
        while True:
            b, tok = _select(
                key, beams.cpu(), self.top_k if last else self.width, self.cap, self.exempt
            )
            # A finished name whose sound would embarrass a child (杨伟: 阳痿) is no candidate:
            # out, and the selection made again, so it takes no place and no share of the
            # variety cap. Few are marked, and only the chosen are looked at.
            marked = [
                (row, token)
                for row, token in zip(b.tolist(), tok.tolist(), strict=True)
                if last and self.embarrassing(beams[row].tolist() + [token])
            ]
            if not marked:
                break
            for row, token in marked:
                key[row, token] = float("-inf")
        b, tok = b.to(beams.device), tok.to(beams.device)
        self.beams = torch.cat([beams[b], tok[:, None]], dim=1)
        self.scores, self.ratios, self.priors = total[b, tok], new_ratio[b, tok], new_prior[b, tok]
        self.step += 1

    def embarrassing(self, ids: list[int]) -> bool:
        """Whether the full name of these filled ids sounds like a word marked embarrassing
        (name_words.embarrassing_word); never without a known surname."""
        if self.surname is None:
            return False
        tokens = self.tokenizer.convert_ids_to_tokens(ids)
        given = names.fill_pattern(self.pattern, tokens) if self.pattern else "".join(tokens)
        if given not in self.marked:
            self.marked[given] = name_words.embarrassing_word(self.surname, given) is not None
        return self.marked[given]

    def result(self) -> list[tuple[str, float]]:
        tokens = [self.tokenizer.convert_ids_to_tokens(row) for row in self.beams.tolist()]
        return [
            (names.fill_pattern(self.pattern, t) if self.pattern else "".join(t), s)
            for t, s in zip(tokens, self.scores.tolist(), strict=True)
        ]


@torch.inference_mode()
def score_name(model, tokenizer, prompt: str, given: str) -> float:
    """The joint log-probability suggest_names gives a given name for the prompt's [MASK]s:
    log p(c1 | prompt) + log p(c2 | prompt, c1), over the whole vocabulary."""
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"][0].to(model.device)
    positions = (ids == tokenizer.mask_token_id).nonzero().flatten().tolist()
    assert len(positions) == len(given), f"{prompt!r} has no place for {given!r}"
    total = 0.0
    for pos, char in zip(positions, given, strict=True):
        token = tokenizer.convert_tokens_to_ids(char)
        at = torch.tensor([pos], device=ids.device)
        total += float(_logits_at(model, ids[None], at).float().log_softmax(dim=-1)[0, token])
        ids[pos] = token  # the next character is conditioned on this one, as in the search
    return total


def _logits_at(model, input_ids, positions: torch.Tensor) -> torch.Tensor:
    """(rows, vocab) logits, each row's at its own position. For BERT the output layer runs there
    only (it is 21128 wide; the other positions' logits would be thrown away); any other masked-LM
    model runs whole."""
    attention_mask = torch.ones_like(input_ids)
    rows = torch.arange(len(input_ids), device=input_ids.device)
    if hasattr(model, "bert") and hasattr(model, "cls"):
        hidden = model.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return model.cls(hidden[rows, positions])
    return model(input_ids=input_ids, attention_mask=attention_mask).logits[rows, positions]
