"""A page for parents: type a surname, pick boy or girl, read the names.

    python demo.py                             # what app.py saved: outputs/bert-base-chinese-names
    python demo.py --model_name_or_path FOLDER # another saved model
    python demo.py --port 7861                 # another port (default 7860)
    python demo.py --host 0.0.0.0              # reachable from other machines (default: this one)
    python demo.py --share True                # a public gradio.live link (off unless asked)
    python demo.py --max_batch_size 8 --queue_size 32  # many parents at once (serving.py)

It serves, as a web page (Gradio), the name table that app.py prints: the same suggestion code
(beam_search.suggest_names, registrable characters only) and the same records
(report.suggestion_records: name, pinyin, tones, strokes, meaning, lean), from a model folder that
app.py saved, loaded once at start. A parent can fix a generation character (字辈) in either place
and list characters to avoid. The table folds into one card per name on a phone, and shows each
name's share of the list instead of the model's raw probability. A panel says where the model came
from and how its training went (metrics.json, loss.png). Requests that arrive together are answered
together; past a full queue a parent reads that the page is busy (serving.py). Nothing leaves the
machine: Gradio's analytics are off and the page fetches no web fonts. It does not train a model.
"""

from __future__ import annotations

import errno
import json
import math
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import beam_search
import modeling
import names
import outputs
import page_table
import report
import roles
import serving
from errors import OneLineParser, UserError

GENDERS = {"不限 any": "any", "男孩 boy": "boy", "女孩 girl": "girl"}
LENGTHS = {"单字名 1": 1, "双字名 2": 2}
MAX_NAMES = 50  # a list a parent reads through; the search's cost grows with it
POSITIONS = {"第一个字 first": 0, "第二个字 second": 1}
# What a parent may put between the characters to avoid: 伟、强 or 伟 强 reads as 伟强.
AVOID_SEPARATORS = " ,，、;；/"


@dataclass
class DemoArguments:
    model_name_or_path: str = field(
        default=outputs.DEFAULT_OUTPUT_DIR, metadata={"help": "A model folder that app.py saved."}
    )
    host: str = field(
        default="127.0.0.1",
        metadata={"help": "127.0.0.1: this machine only; 0.0.0.0: the network."},
    )
    port: int = field(default=7860, metadata={"help": "The page's port (Gradio's usual one)."})
    share: bool = field(
        default=False, metadata={"help": "Also publish the page at a public gradio.live address."}
    )
    max_batch_size: int = field(
        default=serving.MAX_BATCH_SIZE, metadata={"help": "Requests per search."}
    )
    queue_size: int = field(
        default=serving.QUEUE_SIZE, metadata={"help": "Requests that may wait."}
    )


def main(argv: list[str] | None = None) -> int:
    try:
        (options,) = OneLineParser((DemoArguments,), prog="demo.py").parse_args_into_dataclasses(
            args=sys.argv[1:] if argv is None else argv
        )
        check_port(options.host, options.port)  # before the model's seconds of loading
        report.setup_logging(is_main=True)
        serve(
            build_page(
                load_suggester(options.model_name_or_path),
                options.model_name_or_path,
                options.max_batch_size,
                options.queue_size,
            ),
            options,
        )
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


def load_suggester(folder: str) -> Suggester:
    """The model, tokenizer and corpus roles (roles.py) that app.py saved in folder, loaded once."""
    model, tokenizer = modeling.load_model_and_tokenizer(folder, for_training=False)
    return Suggester(model.eval(), tokenizer, roles.load(folder))


class Suggester:
    """The page's one action: the checked inputs in, the table, the quality line and a message out.
    With the corpus roles that app.py saved beside the model (roles.py), it lists what app.py
    --do_train False lists.
    """

    def __init__(self, model, tokenizer, corpus_roles=None):
        self.model, self.tokenizer, self.corpus_roles = model, tokenizer, corpus_roles

    def __call__(self, *inputs) -> tuple[str, str, str]:
        """(table HTML, summary for parents, message) for one request: a batch of one."""
        return serving.serve_batch(self, [inputs])[0]

    def plan(
        self,
        surname: str,
        gender_label: str,
        length_label: str,
        how_many,
        fixed: str = "",
        position_label: str = "第一个字 first",
        avoid: str = "",
    ) -> serving.Plan | tuple[str, str, str]:
        """The checked inputs as a search to run (finish turns its names into the answer), or, for
        bad input, the answer itself: an empty table and a message saying why."""
        surname, fixed = (surname or "").strip(), (fixed or "").strip()
        avoid = "".join(c for c in avoid or "" if c not in AVOID_SEPARATORS)
        gender, length = GENDERS[gender_label], LENGTHS[length_label]
        problem = (
            input_problem(surname, how_many)
            or self.pattern_problem(fixed, length)
            or avoid_problem(avoid)
            or fixed_problem(fixed, surname, avoid, gender)
        )
        if problem:
            return "", "", problem
        pattern = (
            (fixed + names.FREE if POSITIONS[position_label] == 0 else names.FREE + fixed)
            if fixed
            else None
        )
        exclude = surname + avoid
        available = int(
            beam_search.candidates(
                self.tokenizer, self.model.config.vocab_size, exclude, True
            ).sum()
        )
        if available < how_many:
            return (
                "",
                "",
                (
                    f"避开的字太多了：只剩 {available} 个字可选，少于要的 {int(how_many)} 个名字。"
                    "请少避开几个字，或少要几个名字。"
                    f" Too many characters to avoid: {available} remain for {int(how_many)} names."
                ),
            )
        search = dict(
            prompt=names.prompt(surname, gender, length, pattern),
            top_k=int(how_many),
            gender=gender,
            exclude=exclude,
            registrable_only=True,
            pattern=pattern,
            roles=self.corpus_roles,
        )
        return serving.Plan(search, surname, gender, int(how_many))

    def finish(self, plan: serving.Plan, found: list[tuple[str, float]]) -> tuple[str, str, str]:
        """The answer for the names a plan's search found."""
        records = report.suggestion_records(found, plan.surname)
        return (
            page_table.table_html(records),
            page_table.summary(records, plan.gender),
            report.shortfall(len(found), plan.how_many, plan.gender) or "",
        )

    def pattern_problem(self, fixed: str, length: int) -> str | None:
        """What is wrong with the generation character, for a parent; None if nothing (or none is
        given)."""
        if not fixed:
            return None
        if len(fixed) > 1 or length == 1:
            return (
                "固定字只能有一个，而且要选双字名：两个位置都固定就没有可推荐的字了。 Fix one"
                " character of a two-character name: with both positions fixed there is nothing to"
                " suggest."
            )
        if not names.HAN_CHAR.fullmatch(fixed):
            return (
                f"固定字要是一个汉字（现在是「{fixed}」）。 The generation character must be a"
                " Chinese character."
            )
        if names.unknown_chars(self.tokenizer, fixed):
            return (
                f"模型不认识「{fixed}」，请换一个字。 The model does not know this character: pick"
                " another."
            )
        return None


def input_problem(surname: str, how_many) -> str | None:
    """What is wrong with the inputs, said for a parent (Chinese first); None if nothing."""
    if not surname:
        return "请输入姓，如 张、欧阳。 Please type a surname, such as 张 or 欧阳."
    if not names.is_surname(surname):
        return (
            f"姓要是一到两个汉字，如 张、欧阳（现在是「{surname}」）。 The surname must be one or"
            " two Chinese characters."
        )
    if (
        how_many is None
        or not isinstance(how_many, (int, float))
        or not math.isfinite(how_many)
        or how_many != int(how_many)
        or not 1 <= how_many <= MAX_NAMES
    ):
        return (
            f"名字个数要在 1 到 {MAX_NAMES} 之间。 The number of names must be a whole number from"
            f" 1 to {MAX_NAMES}."
        )
    return None


def fixed_problem(fixed: str, surname: str, avoid: str, gender: str) -> str | None:
    """A generation character the name rules would never let in (names.fixed_char_problem), said
    for a parent."""
    if not fixed or not names.fixed_char_problem(fixed, surname, avoid, gender):
        return None
    if fixed in surname:
        return (
            f"固定字「{fixed}」就是姓里的字，名字里不再用它。请换一个字。 The generation character"
            " is the surname's own."
        )
    if fixed in avoid:
        return (
            f"固定字「{fixed}」也在要避开的字里，请去掉其中一个。 The generation character is also"
            " to be avoided."
        )
    sex = "男孩" if gender == "girl" else "女孩"
    return (
        f"「{fixed}」多用在{sex}的名字里，不适合{'女孩' if gender == 'girl' else '男孩'}。"
        "请换一个字，或选「不限」。"
        " This character is given mostly to the other sex: pick another, or choose any."
    )


def avoid_problem(avoid: str) -> str | None:
    bad = [c for c in avoid if not names.HAN_CHAR.fullmatch(c)]
    if bad:
        return (
            f"避开的字要是汉字，如 伟强 或 伟、强（「{bad[0]}」不是）。"
            " The characters to avoid must be Chinese characters, such as 伟强."
        )
    return None


def build_page(
    suggest: Suggester,
    folder: str,
    max_batch_size: int = serving.MAX_BATCH_SIZE,
    queue_size: int = serving.QUEUE_SIZE,
):
    serving.check_limits(max_batch_size, queue_size)
    # Before gradio is imported: it reads this when it loads, and would otherwise send usage
    # analytics.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    import gradio as gr

    with gr.Blocks(title="给孩子取名 · Chinese given names", analytics_enabled=False) as page:
        gr.Markdown(
            "# 给孩子取名 / Names for your child\n输入姓，选择男孩或女孩，看看模型推荐的名字。"
            " Type a surname, pick boy or girl, and read the names the model suggests."
        )
        with gr.Row():
            surname = gr.Textbox(label="姓 surname", value="张", max_lines=1, elem_id="surname")
            gender = gr.Radio(
                list(GENDERS), value="不限 any", label="性别 gender", elem_id="gender"
            )
            length = gr.Radio(
                list(LENGTHS), value="双字名 2", label="名字长度 length", elem_id="length"
            )
            how_many = gr.Number(
                value=20,
                label=f"几个名字 how many (1-{MAX_NAMES})",
                precision=0,
                elem_id="how-many",
            )
        with gr.Row():
            fixed = gr.Textbox(
                label="固定字（字辈） generation character",
                max_lines=1,
                placeholder="如 子",
                elem_id="fixed",
            )
            position = gr.Radio(
                list(POSITIONS),
                value="第一个字 first",
                label="固定字的位置 its place",
                elem_id="position",
            )
            avoid = gr.Textbox(
                label="避开的字 characters to avoid",
                max_lines=1,
                placeholder="如 伟强（长辈的名字）",
                elem_id="avoid",
            )
        message = gr.Markdown(elem_id="message")
        go = gr.Button("起名 / Suggest names", variant="primary", elem_id="suggest")
        table = gr.HTML(elem_id="names")
        quality = gr.Markdown(elem_id="quality")
        gr.Markdown(
            "名次按模型的概率、真实名字里这些字有多常用和性别统计一起排，占比只看模型，"
            "所以不一定逐行变小；占比是这个名字在整张表里所占的分量；"
            "倾向是真实名字里用这些字的男女比例；声调后的「同调」表示每个字声调相同，"
            "读起来平；含义先是带这个字的词和成语，再是 Unicode 汉字库（Unihan）的英文释义；"
            "谐音是叫这个名字时听得到的日常词，加粗带 ! 的会让孩子难堪；"
            "出处是经典里按顺序含这两个字的一句。"
            " Ranked by the model together"
            " with how often real names use the characters and their gender statistics; the share"
            " is the model's alone, the name's part of the whole list; the lean is how real names"
            " with these characters split between boys and girls; 同调 marks a name whose syllables"
            " all have one tone; meanings are Chinese words first, then Unihan's English; sound"
            " lists the words the name is heard as (bold with ! where they would embarrass a"
            " child); source is a classic's line holding both characters in order.",
            elem_id="how-to-read",
        )
        with gr.Accordion("关于模型 / About the model", open=False):
            gr.Markdown(page_table.about_model(folder), elem_id="about")
            loss_plot = Path(folder) / "loss.png"
            if loss_plot.is_file():
                gr.Image(str(loss_plot), label="训练损失 loss", show_label=True, interactive=False)
        inputs, results = (
            [surname, gender, length, how_many, fixed, position, avoid],
            [table, quality, message],
        )
        # One event for every way of asking (the page's opening table at once, as an example), so
        # that Gradio batches them all together; one batch at a time (each uses every core).
        gr.on(
            [go.click, surname.submit, fixed.submit, avoid.submit, page.load],
            serving.batched(suggest),
            inputs,
            results,
            batch=True,
            max_batch_size=max_batch_size,
            concurrency_limit=1,
            api_name="suggest",
        ).failure(
            # Gradio refused it (queue full): said by the browser itself, asking the server nothing
            None,
            None,
            message,
            js=f"() => {json.dumps(serving.BUSY)}",
        )
    # Past queue_size waiting requests Gradio turns new ones away at once, not after minutes.
    return page.queue(max_size=queue_size)


def check_port(host: str, port: int):
    """A UserError, one line, unless the page can listen on host:port now. Binds as uvicorn does
    (SO_REUSEADDR, so a page just stopped does not count as busy) and lets go at once."""
    if not 1 <= port <= 65535:
        raise UserError(f"--port must be from 1 to 65535, got {port}: pass --port 7861, say")
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.create_server((host, port), family=family):
            pass
    except OSError as e:
        other = f"pass another --port, such as --port {port + 1 if port < 65535 else 7861}"
        fix = {
            errno.EADDRINUSE: f"it is in use (another demo.py?): {other}",
            errno.EACCES: f"ports below 1024 need root: {other}",
        }.get(
            e.errno,
            f"{e.strerror or e}: check --host (127.0.0.1: this machine; 0.0.0.0: the network)",
        )
        raise UserError(f"cannot serve the page on {host}:{port}: {fix}") from None


def serve(page, options: DemoArguments):
    import gradio as gr

    # Again, just before the address is printed: the port may have been taken while the model
    # loaded, and a page that cannot start must not show an address first.
    check_port(options.host, options.port)
    print(f"网页 page: http://{options.host}:{options.port}  (Ctrl-C stops it)", flush=True)
    try:
        page.launch(
            server_name=options.host,
            server_port=options.port,
            share=options.share,
            quiet=True,
            ssr_mode=False,
            show_error=False,
            footer_links=[],
            # System fonts: the default theme would fetch Google's web fonts.
            theme=gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["monospace"]),
            css=page_table.CSS,
        )
    except OSError as e:
        raise UserError(
            f"cannot serve the page on {options.host}:{options.port} ({e}): pass another --port"
        ) from None


if __name__ == "__main__":
    sys.exit(main())
