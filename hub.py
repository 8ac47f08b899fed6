"""Where the model comes from: a local folder, the Hugging Face cache, or the hub (or the mirror
that HF_ENDPOINT names), and the one-line message when none of them has it.

It imports only the standard library and huggingface_hub (under a second), not torch or
transformers (several seconds), so that app.py can tell a user who has neither network nor a cached
model in one line before its heavy imports (model_unavailable_early). It does not load the model
(modeling.py does, and says the same line where loading fails later).
"""

from __future__ import annotations

import functools
import json
import os
import sys

# The hub answers a HEAD in well under a second where there is network; 3 s also covers a slow
# mirror.
HUB_PROBE_SECONDS = 3.0
# app.ModelArguments' default: the pretrained Chinese BERT that the whole recipe is for.
DEFAULT_MODEL = "bert-base-chinese"
OFF = ("0", "false", "f", "no", "n")  # what HfArgumentParser reads as False (string_to_bool)


def hub_offline() -> bool:
    """HF_HUB_OFFLINE=1 (or TRANSFORMERS_OFFLINE=1): the cache and local folders only."""
    return any(
        os.environ.get(v, "0").lower() in ("1", "true", "yes", "on")
        for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_endpoint() -> str:
    """The hub, or the mirror that HF_ENDPOINT names."""
    from huggingface_hub import constants

    return constants.ENDPOINT


@functools.cache
def hub_reachable(timeout: float = HUB_PROBE_SECONDS) -> bool:
    """One request to the hub (or HF_ENDPOINT's mirror) with a short timeout and no retry; any
    answer counts."""
    from huggingface_hub import get_session

    try:
        get_session().head(hub_endpoint(), timeout=timeout)
    except Exception:  # no route, refused, DNS failure, timeout, proxy error
        return False
    return True


def in_cache(name: str, cache_dir: str | None = None) -> bool:
    """The hub model `name` has a config.json in the Hugging Face cache (False for a name that is
    no repository id)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(name, "config.json", cache_dir=cache_dir), str)
    except Exception:  # not a valid repository id ('../model'): not in the cache either
        return False


def unavailable(name: str, for_training: bool) -> str:
    """What to say when `name` is neither a folder nor in the cache and cannot be downloaded."""
    if not for_training and not os.path.isdir(name):
        return (
            f"model folder '{name}' does not exist: train one first (python app.py --output_dir"
            f" {name}) or pass --model_name_or_path a saved model folder"
        )
    if hub_offline():
        why = "HF_HUB_OFFLINE=1 and it is not in the Hugging Face cache"
    else:
        why = f"it is not in the Hugging Face cache and {hub_endpoint()} cannot be reached"
    return (
        f"cannot load model '{name}' ({why}): pre-download it where there is network (hf"
        f" download {name}), use a mirror (HF_ENDPOINT=https://your-mirror), or pass"
        " --model_name_or_path a local model folder"
    )


def model_unavailable_early(argv: list[str], cache_dir: str | None = None) -> str | None:
    """For app.py's command line, before torch is imported: the line modeling.py would say after
    the imports, where the model is surely not to be had (no folder, not cached, offline or the
    hub unreachable); None where it may load, or where the command line is not plain enough to
    tell (help, a config file that cannot be read): the full run decides those."""
    options = _read_options(argv)
    if options is None:
        return None
    name = str(options.get("model_name_or_path", DEFAULT_MODEL))
    for_training = str(options.get("do_train", True)).lower() not in OFF
    if os.path.exists(name) or in_cache(name, cache_dir):
        return None
    if not hub_offline() and hub_reachable():
        return None
    return unavailable(name, for_training)


def exit_if_unavailable(argv: list[str]):
    """app.py's first step as a script: its one error line (exit status 2, as main() gives every
    UserError) where model_unavailable_early finds the model cannot be had."""
    problem = model_unavailable_early(argv)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        raise SystemExit(2)


def _read_options(argv: list[str]) -> dict | None:
    """{option: value} of the two options that decide, from argv or the one JSON file it names;
    None for --help and a file that cannot be read."""
    if any(a in ("-h", "--help", "--help_all") for a in argv):
        return None
    if len(argv) == 1 and argv[0].endswith(".json"):
        try:
            with open(argv[0], encoding="utf-8") as f:
                options = json.load(f)
        except (OSError, ValueError):
            return None
        return options if isinstance(options, dict) else None
    options = {}
    for i, arg in enumerate(argv):
        flag, has_value, value = arg.partition("=")
        key = flag.lstrip("-").replace("-", "_")
        if not flag.startswith("--") or key not in ("model_name_or_path", "do_train"):
            continue
        if not has_value:  # the value is the next argument; --do_train alone means True
            following = argv[i + 1] if i + 1 < len(argv) else None
            if following is None or following.startswith("--"):
                if key == "model_name_or_path":
                    return None  # the parser's own error says it
                following = "True"
            value = following
        options[key] = value
    return options
