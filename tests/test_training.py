"""training.py: the name score, on a model whose ranking the test sets."""

from conftest import ranked_model

import training


def test_name_score_on_a_hand_made_case(tiny_tokenizer):
    """Ranks are fixed by the bias: 涛 1st, 伟 2nd, 婷 3rd, 鹏 4th, ..., 芳 7th; 强 is far down."""
    model, _ = ranked_model(tiny_tokenizer, ["涛", "伟", "婷", "鹏", "磊", "杰", "芳"])
    rows = {"input_ids": [], "name_mask": []}
    for text, label in [("小孩取名叫张涛", "张涛"), ("小孩取名叫张芳", "张芳"), ("小孩取名叫张强", "张强"),
                        ("小孩取名叫张伟", "张伟")]:
        enc = tiny_tokenizer(text)
        rows["input_ids"].append(enc["input_ids"])
        rows["name_mask"].append([0] * 7 + [1, 0])
    import datasets

    score = training.name_score(model, tiny_tokenizer, datasets.Dataset.from_dict(rows), ks=(1, 5, 20))
    # 涛 rank 1, 伟 rank 2, 芳 rank 7, 强 beyond 20 -> top1 1/4, top5 2/4, top20 3/4.
    assert score == {"name_top1": 0.25, "name_top5": 0.5, "name_top20": 0.75, "name_chars": 4}
