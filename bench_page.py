"""The page under many parents at once: demo.py served for real, asked by N clients together.

    python bench.py page                    # 30 clients, two-character lists, base-shaped model
    python bench.py page --clients 30 200   # one burst of each size, in one run
    python bench.py page --vocab bert-base-chinese-vocab.txt --mix same

It builds the bert-base-chinese-shaped stand-in (standin.build_base_model: random weights, the
real vocabulary with --vocab, else a synthetic one of the same layout), starts demo.py on it on
127.0.0.1 at a free port, and asks through gradio_client, as the page's button does:
- alone: one request at a time, --alone of them just before each burst and --alone just after
  (the median of these is that burst's yardstick: the load of others changes by the minute);
- a burst: N clients, each with its own connection made beforehand, all released at once; each
  client's latency runs from its submit to its answer. An answer is a table, the busy message
  (serving.BUSY, or Gradio's refusal when its queue is full, which the page shows as BUSY) or an
  error (any other exception or answer).
- afterwards: the requests alone must all get tables (the page is alive).
--mix varied (default) gives each client another surname and gender, so that no two clients ask the
same; --mix same gives every client the page's opening request (张, any, 20 names), what a link
shared in a group chat causes. Latencies are wall times on a shared machine: compare the ratio
max/alone within one run, and give the load (os.getloadavg) with it. It does not measure a browser.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import standin

HERE = Path(__file__).resolve().parent
# Common surnames (one and two characters) and the page's three genders: --mix varied's requests.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程"
)
COMPOUND = ["欧阳", "司马", "诸葛", "上官"]
GENDERS = ["不限 any", "男孩 boy", "女孩 girl"]


def requests(n: int, mix: str, how_many: int) -> list[tuple]:
    """n requests for two-character lists, in the page's input order (surname, gender, length, how
    many, fixed, position, avoid)."""
    if mix == "same":
        return [("张", "不限 any", "双字名 2", how_many, "", "第一个字 first", "")] * n
    pool = [*SURNAMES, *COMPOUND]
    return [
        (
            pool[i % len(pool)],
            GENDERS[(i // len(pool)) % len(GENDERS)],
            "双字名 2",
            how_many,
            "",
            "第一个字 first",
            "",
        )
        for i in range(n)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_page(model: Path, port: int) -> subprocess.Popen:
    """demo.py serving model on 127.0.0.1:port; returns once the page answers."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "demo.py"), "--model_name_or_path", str(model)]
        + ["--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600  # a bound for a broken start, not a guess at its length
    while not alive(port):
        if proc.poll() is not None:
            sys.exit(f"bench: demo.py ended at start:\n{proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            sys.exit("bench: demo.py did not answer in 600 s")
        time.sleep(0.2)
    return proc


def alive(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).status == 200
    except OSError:
        return False


def client(port: int):
    from gradio_client import Client

    return Client(f"http://127.0.0.1:{port}/", verbose=False)


def endpoint(c) -> dict:
    """How to call the button's event: by name where the page names it, else by its index (the
    page before issue 29 named none)."""
    names = c.view_api(print_info=False, return_format="dict")["named_endpoints"]
    return {"api_name": "/suggest"} if "/suggest" in names else {"fn_index": 0}


def verdict(answer) -> str:
    """'table', 'busy' or 'error' for what the page answered (table, quality, message, then each
    field's note on today's page)."""

    table, _, message, *_ = answer
    if "<table" in (table or ""):
        return "table"
    return "busy" if busy_words() in (message or "") else "error"


def busy_words() -> str:
    try:
        import serving
    except ImportError:  # the page before issue 29 (bench.py page measures it too) had none
        return "\0"
    return serving.BUSY_WORDS


def ask(c, how: dict, request: tuple, timeout: float) -> tuple[float, str]:
    """(seconds, verdict) for one request through client c."""
    from gradio_client.exceptions import AppError
    from gradio_client.utils import QueueError

    start = time.perf_counter()
    try:
        answer = c.submit(*request, **how).result(timeout=timeout)
        kind = verdict(answer)
    # Gradio's own queue is full (today's page answers serving.BUSY before that: the page before
    # it was refused here, and showed BUSY in the browser)
    except QueueError:
        kind = "busy"
    except AppError as e:
        kind = "busy" if busy_words() in str(e) else "error"
    except Exception as e:  # a timeout, a refused connection: counted, with the first one shown
        kind = f"error: {type(e).__name__}: {str(e)[:200]}"
    return time.perf_counter() - start, kind


def burst(port: int, batch: list[tuple], timeout: float) -> list[tuple[float, str]]:
    """All of batch at once, one client each (connected beforehand): (seconds, verdict) each."""
    clients = [None] * len(batch)

    def connect(i):
        clients[i] = client(port)

    run_threads(connect, len(batch), width=16)
    how = endpoint(clients[0])
    results = [None] * len(batch)
    go = threading.Barrier(len(batch))

    def one(i):
        go.wait()
        results[i] = ask(clients[i], how, batch[i], timeout)

    run_threads(one, len(batch), width=len(batch))
    for c in clients:
        c.close()
    return results


def run_threads(work, n: int, width: int):
    for start in range(0, n, width):
        threads = [
            threading.Thread(target=work, args=(i,)) for i in range(start, min(n, start + width))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile, nearest rank (p50 of 30 values is the 15th)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-len(ordered) * q // 100) - 1))]


def page(opts):
    work = Path(opts.work or tempfile.mkdtemp(prefix="bench-page-"))
    model = opts.model or standin.build_base_model(
        work / "base-model", HERE / "train.json", opts.vocab
    )
    port = free_port()
    proc = start_page(model, port)
    try:
        c = client(port)
        how = endpoint(c)
        ask(c, how, requests(1, "same", opts.how_many)[0], opts.timeout)  # warm: builds the tables
        print(
            f"page: {os.cpu_count()} CPU cores; {opts.how_many} two-character names a request, mix"
            f" {opts.mix}; alone: median of {opts.alone} requests just before and {opts.alone} just"
            " after each burst",
            flush=True,
        )
        rows = []
        for n in opts.clients:
            # The yardstick is measured around each burst: others' work on a shared machine
            # changes from one minute to the next.
            before = [
                ask(c, how, r, opts.timeout) for r in requests(opts.alone, opts.mix, opts.how_many)
            ]
            results = burst(port, requests(n, opts.mix, opts.how_many), opts.timeout)
            load = os.getloadavg()[0]
            after = [
                ask(c, how, r, opts.timeout) for r in requests(opts.alone, opts.mix, opts.how_many)
            ]
            one = statistics.median(seconds for seconds, _ in before + after)
            seconds = [s for s, _ in results]
            kinds = [k for _, k in results]
            errors = [k for k in kinds if k.startswith("error")]
            rows.append(
                (
                    n,
                    kinds.count("table"),
                    kinds.count("busy"),
                    len(errors),
                    one,
                    percentile(seconds, 50),
                    percentile(seconds, 95),
                    max(seconds),
                    max(seconds) / one,
                    # alive: the page answers, and every request after the burst got a table
                    all(kind == "table" for _, kind in after) and alive(port),
                    load,
                )
            )
            assert all(kind == "table" for _, kind in before), before
            if errors:
                print(f"first error of {n}: {errors[0]}", flush=True)
        c.close()
    finally:
        proc.terminate()
        proc.communicate(timeout=60)
    print(
        "\n| clients | tables | busy | errors | alone (s) | p50 (s) | p95 (s) | max (s) |"
        " max / alone | page alive after | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for n, tables, busy, errors, one, p50, p95, top, ratio, ok, load in rows:
        print(
            f"| {n} | {tables} | {busy} | {errors} | {one:.2f} | {p50:.2f} | {p95:.2f} |"
            f" {top:.2f} | {ratio:.1f}x | {'yes' if ok else 'NO'} | {load:.2f} |"
        )
