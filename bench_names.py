"""The naming benchmarks of bench.py: what the masking and the ranking rules do to the names.

    python bench.py names                  # name score with and without name masking; ~3 minutes
    python bench.py gender                 # gender fit, realism, variety by --gender_weight; ~1 min
    python bench.py lists --vocab PATH     # the four tables a parent reads, weak/strong; ~10 min

Each trains tiny BERT models from random weights (or takes folders app.py saved) and reads their
lists; none of them times anything (bench.py speed and scaling do) or needs the real checkpoint.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from standin import SPECIAL, build_base_model, build_model, corpus_chars

HERE = Path(__file__).resolve().parent


def run(cmd: list[str], env: dict):
    """Run one training (app.py) to the end, or stop the benchmark with the end of its errors."""
    proc = subprocess.run(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        failed = f"bench: {' '.join(cmd[:3])} failed with status {proc.returncode}"
        sys.exit(f"{failed}:\n{proc.stderr[-3000:]}")


def names(opts):
    """Name score of tiny models trained from scratch, with and without name-aware masking.

    The tiny vocabulary holds the corpus characters and 1000 Han characters the corpus never uses,
    so that the name score starts near zero and what the model learns shows.
    """
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    corpus = HERE / "train.json"
    used = corpus_chars(corpus)
    filler = [chr(c) for c in range(0x4E00, 0x9FA6) if chr(c) not in set(used)][:1000]
    model = build_model(
        work / "tiny-model",
        SPECIAL[:1] + SPECIAL[-4:] + used + filler,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "datasets-cache"))
    results = {}
    for p in opts.probabilities:
        for seed in opts.seeds:
            out = work / f"names-{p}-{seed}"
            cmd = [
                sys.executable,
                str(HERE / "app.py"),
                "--model_name_or_path",
                str(model),
                "--output_dir",
                str(out),
                "--result_file",
                str(out / "result.txt"),
                "--num_train_epochs",
                str(opts.epochs),
                "--learning_rate",
                "2e-3",
                "--per_device_train_batch_size",
                "32",
                "--seed",
                str(seed),
                "--name_mask_probability",
                str(p),
                "--disable_tqdm",
                "True",
            ]
            run(cmd, env)
            m = json.loads((out / "metrics.json").read_text())
            results.setdefault(p, []).append(m)
            print(
                f"name_mask_probability {p} seed {seed}: name_top1 {m['name_top1']:.3f}  name_top5"
                f" {m['name_top5']:.3f}  name_top20 {m['name_top20']:.3f}  eval_loss"
                f" {m['eval_loss']:.4f}",
                flush=True,
            )
    print(
        f"\nmean over seeds {opts.seeds}; tiny BERT (2 layers, hidden 64) from scratch,"
        f" {opts.epochs} epochs\n"
    )
    print(
        "| name_mask_probability | name_top1 | name_top5 | name_top20 | eval_loss (random 15%"
        " masks) |"
    )
    print("|---:|---:|---:|---:|---:|")
    for p, ms in results.items():
        mean = {
            k: statistics.mean(m[k] for m in ms)
            for k in ("name_top1", "name_top5", "name_top20", "eval_loss")
        }
        print(
            f"| {p} | {mean['name_top1']:.3f} | {mean['name_top5']:.3f} | {mean['name_top20']:.3f}"
            f" | {mean['eval_loss']:.4f} |"
        )


def gender(opts):
    """The suggestion lists' quality for each --gender_weight, on a tiny BERT trained from random
    weights on train.json (lr 2e-3, 60 epochs, batch 16): gender fit, realism, distinct characters
    per position, and how many names the one-character boy and girl lists share."""
    import itertools

    sys.path.insert(0, str(HERE))
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    import app
    import names as naming
    import suggestions

    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    corpus = HERE / "train.json"
    model_dir = build_model(
        work / "tiny-model",
        SPECIAL[:1] + SPECIAL[-4:] + corpus_chars(corpus),
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=128,
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "datasets-cache"))
    run(
        [
            sys.executable,
            str(HERE / "app.py"),
            "--model_name_or_path",
            str(model_dir),
            "--output_dir",
            str(work / "trained"),
            "--result_file",
            str(work / "result.txt"),
            "--learning_rate",
            "2e-3",
            "--num_train_epochs",
            "60",
            "--per_device_train_batch_size",
            "16",
            "--disable_tqdm",
            "True",
        ],
        env,
    )
    model = AutoModelForMaskedLM.from_pretrained(work / "trained").eval()
    tokenizer = AutoTokenizer.from_pretrained(work / "trained")
    cases = [*itertools.product(["张"], ["boy", "girl"], [1, 2]), ("欧阳", "girl", 2)]
    print("| gender_weight | list | gender_fit | name_realism | distinct per position | top 5 |")
    print("|---:|---|---:|---:|---|---|")
    for weight in opts.weights:
        lists = {}
        for surname, sex, length in cases:
            options = app.SuggestArguments(
                surname=surname, gender=sex, name_length=length, gender_weight=weight
            )
            givens = [g for g, _ in suggestions.suggest(model, tokenizer, options)]
            lists[surname, sex, length] = givens
            q = naming.quality(givens, sex)
            distinct = " / ".join(str(len({g[i] for g in givens})) for i in range(length))
            print(
                f"| {weight:g} | {surname} {sex} {length} | {q['gender_fit']:.2f} |"
                f" {q['name_realism']:.2f} | {distinct} |"
                f" {' '.join(surname + g for g in givens[:5])} |",
                flush=True,
            )
        shared = len(set(lists["张", "boy", 1]) & set(lists["张", "girl", 1]))
        print(f"| {weight:g} | one-character boy and girl lists share | {shared} of 20 | | | |")


# issue 19's four tables
LIST_CASES = [("王", "boy", 2), ("欧阳", "girl", 2), ("陈", "any", 1), ("李", "girl", 1)]


def lists(opts):
    """The four name tables a parent reads first (王 boy 2, 欧阳 girl 2, 陈 any 1, 李 girl 1), from
    a weakly trained model (app.py's defaults on bert-base-chinese's shape, random weights: --vocab
    for the real vocabulary) and a strongly trained one (the tiny BERT of `gender`, lr 2e-3, 60
    epochs), per --weights (names.FREQUENCY_WEIGHT). Per list: the share of names whose every
    character is among those real given names use most (names.is_common_char), the gender fit
    (names.fits_strictly), how many of the corpus's given names it holds, and how many names it
    shares with the list of the frequency prior alone (weight 1000: the model no longer matters).
    Then the rows themselves at the default weight. --weak/--strong reuse folders app.py saved."""
    sys.path.insert(0, str(HERE))
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    import beam_search
    import names as naming
    import roles

    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-"))
    corpus = HERE / "train.json"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(work / "datasets-cache"))
    weak, strong = opts.weak, opts.strong
    if weak is None:
        base = build_base_model(work / "base-model", corpus, opts.vocab)
        weak = work / "weak"
        print(f"training the weak model (app.py defaults) into {weak}", flush=True)
        run(
            [
                sys.executable,
                str(HERE / "app.py"),
                "--model_name_or_path",
                str(base),
                "--output_dir",
                str(weak),
                "--result_file",
                str(work / "weak-result.txt"),
                "--disable_tqdm",
                "True",
            ],
            env,
        )
    if strong is None:
        tiny = build_model(
            work / "tiny-model",
            SPECIAL[:1] + SPECIAL[-4:] + corpus_chars(corpus),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
            max_position_embeddings=128,
        )
        strong = work / "strong"
        print(
            f"training the strong model (tiny BERT, lr 2e-3, 60 epochs) into {strong}", flush=True
        )
        run(
            [
                sys.executable,
                str(HERE / "app.py"),
                "--model_name_or_path",
                str(tiny),
                "--output_dir",
                str(strong),
                "--result_file",
                str(work / "strong-result.txt"),
                "--learning_rate",
                "2e-3",
                "--num_train_epochs",
                "60",
                "--per_device_train_batch_size",
                "16",
                "--disable_tqdm",
                "True",
            ],
            env,
        )
    rows = {}
    print(
        "\n| model | frequency weight | list | common characters | gender fit | corpus names |"
        " shared with the prior alone | first 6 |\n|---|---:|---|---:|---:|---:|---:|---|"
    )
    for label, folder in (("weak", weak), ("strong", strong)):
        model = AutoModelForMaskedLM.from_pretrained(folder).eval()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        corpus_roles = roles.load(folder)
        corpus_names = corpus_roles.given_names if corpus_roles else {}

        def givens(
            surname, sex, length, weight, model=model, tokenizer=tokenizer, known=corpus_roles
        ):
            prompt = naming.prompt(surname, sex, length)
            return [
                g
                for g, _ in beam_search.suggest_names(
                    model,
                    tokenizer,
                    prompt,
                    20,
                    gender=sex,
                    exclude=surname,
                    frequency_weight=weight,
                    roles=known,
                )
            ]

        prior_alone = {case: givens(*case, 1000.0) for case in LIST_CASES}
        for weight in opts.weights:
            for case in LIST_CASES:
                found = givens(*case, weight)
                rows[label, weight, case] = found
                n = max(1, len(found))
                common = sum(all(map(naming.is_common_char, g)) for g in found) / n
                fit = sum(naming.fits_strictly(g, case[1]) for g in found) / n
                shared = len(set(found) & set(prior_alone[case]))
                print(
                    f"| {label} | {weight:g} | {case[0]} {case[1]} {case[2]} | {common:.2f} |"
                    f" {fit:.2f} | {sum(g in corpus_names for g in found)} | {shared} |"
                    f" {' '.join(case[0] + g for g in found[:6])} |",
                    flush=True,
                )
    for (label, weight, case), found in rows.items():
        if weight == naming.FREQUENCY_WEIGHT:
            print(
                f"\n{label} model, {case[0]} {case[1]} {case[2]} (weight {weight:g}):"
                f" {' '.join(case[0] + g for g in found)}"
            )
