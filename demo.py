"""A page for parents: type a surname, pick boy or girl, read the names.

    python demo.py                             # what app.py saved: outputs/bert-base-chinese-names
    python demo.py --model_name_or_path FOLDER # another saved model
    python demo.py --port 7861                 # another port (default 7860)
    python demo.py --host 0.0.0.0              # reachable from other machines (default: this one)
    python demo.py --share True                # a public gradio.live link (off unless asked)
    python demo.py --max_batch_size 8 --queue_size 32  # many parents at once (serving.py)

It serves, as a web page (Gradio), the name table that app.py prints: the same suggestion code
(beam_search.suggest_names, registrable characters only) and the same records
(name_table.suggestion_records: name, pinyin, tones, strokes, meaning, lean), from a model
folder that app.py saved, loaded once at start. A parent can fix a generation character (字辈) in
either place, list characters to avoid, take two-character names from a classic (出处, app.py's
--source) and look at a name they already have in mind (看一个名字, app.py's --check_name:
checks.py). What is wrong with an input is said right under it (page_inputs.py). The table folds
into one card per name on a phone, and shows each name's share of the list instead of the model's
raw probability. A panel says where the model came from and how its training went (metrics.json,
loss.png). Requests that arrive together are answered together; past a full queue a parent reads
that the page is busy (serving.py). Nothing leaves the machine: Gradio's analytics are off and
the page fetches no web fonts. It does not train a model.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import checks
import modeling
import name_sources
import name_table
import names
import outputs
import page_inputs
import page_table
import report
import roles
import serving
import suggestions
from errors import OneLineParser, UserError


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
    """The page's actions: a request's inputs in, the Answer out (serving.Answer: the table, the
    quality line, and each message under its field); and a full name in, its record out. With the
    corpus roles that app.py saved beside the model (roles.py), it lists what app.py --do_train
    False lists.
    """

    def __init__(self, model, tokenizer, corpus_roles=None):
        self.model, self.tokenizer, self.corpus_roles = model, tokenizer, corpus_roles

    def __call__(self, *inputs) -> serving.Answer:
        """The Answer for one request: a batch of one."""
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
        source_label: str = "不限 none",
    ) -> serving.Plan | serving.Answer:
        """The checked inputs as a search to run (finish turns its names into the answer), or, for
        bad input, the answer itself: an empty table and, under the field, what is wrong."""
        surname, fixed = (surname or "").strip(), (fixed or "").strip()
        avoid = "".join(c for c in avoid or "" if c not in page_inputs.AVOID_SEPARATORS)
        gender, length = page_inputs.GENDERS[gender_label], page_inputs.LENGTHS[length_label]
        source = page_inputs.SOURCES[source_label]
        problem = page_inputs.problem(
            self.model, self.tokenizer, surname, gender, length, how_many, fixed, avoid, source
        )
        if problem:
            field_name, message = problem
            return serving.Answer(**{field_name: message})
        pattern = None
        if fixed:
            first = page_inputs.POSITIONS[position_label] == 0
            pattern = fixed + names.FREE if first else names.FREE + fixed
        search = dict(
            prompt=names.prompt(surname, gender, length, pattern),
            top_k=int(how_many),
            surname=surname,  # no name that sounds embarrassing, as app.py
            gender=gender,
            exclude=surname + avoid,
            registrable_only=True,
            pattern=pattern,
            roles=self.corpus_roles,
        )
        if source:
            # what app.py --source searches (suggestions.suggest): the classic's pairs, wider beams
            search.update(
                only_pairs=name_sources.pairs(source), beam_width=suggestions.SOURCE_BEAM_WIDTH
            )
        return serving.Plan(search, surname, gender, int(how_many), source)

    def finish(self, plan: serving.Plan, found: list[tuple[str, float]]) -> serving.Answer:
        """The answer for the names a plan's search found."""
        records = name_table.suggestion_records(found, plan.surname, plan.source)
        return serving.Answer(
            page_table.table_html(records),
            page_table.summary(records, plan.gender),
            name_table.shortfall(len(found), plan.how_many, plan.gender) or "",
        )

    def look(self, full_name: str, gender_label: str = "不限 any") -> tuple[str, str]:
        """(the record's HTML, "") for a full name a parent has in mind (app.py --check_name's
        record, for the gender the page asks for), or ("", what is wrong with it)."""
        full_name = (full_name or "").strip()
        if problem := page_inputs.name_problem(self.tokenizer, full_name):
            return "", problem
        record = checks.look_at(
            self.model,
            self.tokenizer,
            full_name,
            page_inputs.GENDERS[gender_label],
            self.corpus_roles,
        )
        return page_table.check_html(record), ""


# The busy answers' events: their own group with no limit, so none waits behind the model.
BUSY_EVENT = dict(concurrency_id="busy", concurrency_limit=None, api_visibility="private")
BUSY_ROOM = 1000  # busy answers in flight at once before Gradio's own refusal (the browser's BUSY)


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
        # Each input that can be wrong has a note right under it (page_inputs.FIELDS), where a
        # parent looks, rather than one message line for all.
        with gr.Row():
            with gr.Column(min_width=160):
                surname = gr.Textbox(label="姓 surname", value="张", max_lines=1, elem_id="surname")
                surname_note = _note(gr, "surname-note")
            gender = gr.Radio(
                list(page_inputs.GENDERS), value="不限 any", label="性别 gender", elem_id="gender"
            )
            length = gr.Radio(
                list(page_inputs.LENGTHS),
                value="双字名 2",
                label="名字长度 length",
                elem_id="length",
            )
            with gr.Column(min_width=160):
                how_many = gr.Number(
                    value=20,
                    label=f"几个名字 how many (1-{page_inputs.MAX_NAMES})",
                    precision=0,
                    elem_id="how-many",
                )
                how_many_note = _note(gr, "how-many-note")
        with gr.Row():
            with gr.Column(min_width=160):
                fixed = gr.Textbox(
                    label="固定字（字辈） generation character",
                    max_lines=1,
                    placeholder="如 子",
                    elem_id="fixed",
                )
                fixed_note = _note(gr, "fixed-note")
            position = gr.Radio(
                list(page_inputs.POSITIONS),
                value="第一个字 first",
                label="固定字的位置 its place",
                elem_id="position",
            )
            with gr.Column(min_width=160):
                avoid = gr.Textbox(
                    label="避开的字 characters to avoid",
                    max_lines=1,
                    placeholder="如 伟强（长辈的名字）",
                    elem_id="avoid",
                )
                avoid_note = _note(gr, "avoid-note")
        with gr.Column():
            source = gr.Radio(
                list(page_inputs.SOURCES),
                value="不限 none",
                label="出处 / From a classic（只推荐这部经典里相邻的两个字）",
                elem_id="source",
            )
            source_note = _note(gr, "source-note")
        message = gr.Markdown(elem_id="message")
        go = gr.Button("起名 / Suggest names", variant="primary", elem_id="suggest")
        table = gr.HTML(elem_id="names")
        quality = gr.Markdown(elem_id="quality")
        gr.Markdown(page_table.HOW_TO_READ, elem_id="how-to-read")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=200):
                look_name = gr.Textbox(
                    label="看一个名字 / Look at a name（按上面选的性别）",
                    max_lines=1,
                    placeholder="如 王子衿",
                    elem_id="look-name",
                )
                look_note = _note(gr, "look-name-note")
            look = gr.Button("看看 / Look", elem_id="look", scale=1, min_width=100)
        looked = gr.HTML(elem_id="name-check")
        with gr.Accordion("关于模型 / About the model", open=False):
            gr.Markdown(page_table.about_model(folder), elem_id="about")
            loss_plot = Path(folder) / "loss.png"
            if loss_plot.is_file():
                gr.Image(str(loss_plot), label="训练损失 loss", show_label=True, interactive=False)
        inputs = [surname, gender, length, how_many, fixed, position, avoid, source]
        # serving.Answer's order
        results = [table, quality, message]
        results += [surname_note, how_many_note, fixed_note, avoid_note, source_note]
        # One event for every way of asking (the page's opening table at once, as an example), so
        # that Gradio batches them all together; one batch at a time (each uses every core), and
        # the look-up box waits its turn with them (one concurrency group).
        suggesting = gr.on(
            [go.click, surname.submit, fixed.submit, avoid.submit, page.load],
            serving.batched(suggest),
            inputs,
            results,
            batch=True,
            max_batch_size=max_batch_size,
            concurrency_limit=1,
            concurrency_id="model",
            api_name="suggest",
        )
        # Gradio refused it (past BUSY_ROOM): said by the browser itself, asking the server nothing
        suggesting.failure(None, None, message, js=f"() => {json.dumps(serving.BUSY)}")
        looking = gr.on(
            [look.click, look_name.submit],
            suggest.look,
            [look_name, gender],
            [looked, look_note],
            concurrency_limit=1,
            concurrency_id="model",
            api_name="look",
        )
        looking.failure(None, None, look_note, js=f"() => {json.dumps(serving.BUSY)}")
        # What a request past the queue runs instead (answer_busy_past_the_queue): the same
        # outputs, serving.BUSY at once, never waiting for the model.
        never = gr.Button(visible=False)
        busy_suggesting = never.click(
            lambda *_: serving.Answer(message=serving.BUSY), inputs, results, **BUSY_EVENT
        )
        busy_looking = never.click(
            lambda *_: ("", serving.BUSY), [look_name, gender], [looked, look_note], **BUSY_EVENT
        )
        busy = {suggesting["id"]: busy_suggesting["id"], looking["id"]: busy_looking["id"]}
    answer_busy_past_the_queue(page, queue_size, busy)
    return page


def answer_busy_past_the_queue(page, queue_size: int, busy_for: dict[int, int]):
    """Past queue_size requests waiting for the model, a new one is answered serving.BUSY at once
    (it runs busy_for[its event] instead), in the browser and through the API alike. Gradio's own
    refusal (its queue's max_size) is an HTTP 503 that gradio_client turns into QueueError("Queue
    is full! Please try again.") whatever the server says, and Gradio has no hook to answer
    instead: this wraps its queue's push (gradio 6.x, page._queue), where a request joins."""
    # Gradio's bound stays as the last guard: the busy answers take no model time and leave at once.
    page.queue(max_size=queue_size + BUSY_ROOM)
    queue, push = page._queue, page._queue.push

    async def push_or_busy(body, request, username):
        waiting = queue.event_queue_per_concurrency_id.get("model")
        if body.fn_index in busy_for and waiting is not None and len(waiting.queue) >= queue_size:
            body.fn_index = busy_for[body.fn_index]
        return await push(body=body, request=request, username=username)

    queue.push = push_or_busy


def _note(gr, elem_id: str):
    """The empty line under an input where what is wrong with it will stand."""
    return gr.Markdown(elem_id=elem_id, elem_classes="field-note")


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
