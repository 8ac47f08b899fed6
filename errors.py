"""How a run ends early: bad input said in one line (UserError), and SIGTERM (Terminated).

app.main() and demo.py print a UserError as `error: ...` and exit with status 2, with no traceback.
Every module raises it for what the user can fix (a file, an option, a folder, a missing model),
and the scripts' option parser turns argparse's errors into it; it is not for bugs, which keep
their traceback. Terminated turns SIGTERM into an exception that unwinds like Ctrl-C.
"""

import argparse
import sys
import unicodedata

from transformers import HfArgumentParser


class UserError(Exception):
    """Bad input: main() prints it as one line and exits with status 2, no traceback."""


class OneLineParser(HfArgumentParser):
    """HfArgumentParser whose errors (an unknown option, a value of the wrong type) are a
    UserError, one line: argparse would print its whole usage (hundreds of Trainer flags) before
    the line that matters.

    With group_options(), --help shows the script's own options in named groups and --help_all also
    the rest (the ~150 options of transformers.TrainingArguments, which all still work)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        # --num_train_epoch is a typo, not --num_train_epochs
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.rest = None  # the argument group --help leaves out
        self.show_all = False

    def error(self, message):
        raise UserError(f"{message} (python {self.prog} --help lists the options)")

    def parse_args_into_dataclasses(self, args=None, **kwargs):
        """HfArgumentParser's, but an argument no option takes is a one-line UserError that names
        it and the nearest option (HfArgumentParser raises a ValueError, a traceback)."""
        try:
            return super().parse_args_into_dataclasses(args=args, **kwargs)
        except ValueError as e:
            if not str(e).startswith("Some specified arguments are not used"):
                raise
            argv = sys.argv[1:] if args is None else list(args)
            raise UserError(self.unknown_options(argv) or self._stray(e)) from None

    def _stray(self, e: ValueError) -> str:
        leftover = str(e).split(":", 1)[-1].strip()
        return (
            f"unexpected argument(s) {leftover}: options start with --; "
            f"python {self.prog} --help lists them"
        )

    def unknown_options(self, argv: list[str]) -> str | None:
        """'unknown option --surnme (did you mean --surname?) ...' for the options of argv this
        parser lacks."""
        import difflib

        known = [o for a in self._actions for o in a.option_strings]
        unknown = [
            a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in known
        ]
        if not unknown:
            return None
        close = difflib.get_close_matches(unknown[0], known, n=1)
        guess = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown option {unknown[0]}{guess}: python {self.prog} --help lists the options"

    def group_options(self, groups: dict[str, list[str]], rest_title: str):
        """Show these options (by dest) under these titles, in this order; all others under
        rest_title, and only with --help_all. Metavars are short (N, X, TEXT) so that an option and
        its help share a line.
        """
        by_option = {option: a for a in self._actions for option in a.option_strings}
        for title, dests in groups.items():
            group = self.add_argument_group(title)
            for dest in dests:
                self._move(by_option[f"--{dest}"], group)
        self.rest = self.add_argument_group(rest_title)
        for action in list(self._actions):
            if not isinstance(action, argparse._HelpAction) and not self._grouped(action, groups):
                self._move(action, self.rest)
        self.add_argument(
            "--help_all", action=_HelpAll, help="also list the other options, then exit"
        )

    def _grouped(self, action, groups) -> bool:
        return any(action in g._group_actions for g in self._action_groups if g.title in groups)

    def _move(self, action, group):
        for g in self._action_groups:
            if action in g._group_actions:
                g._group_actions.remove(action)
        group._group_actions.append(action)
        if action.metavar is None and action.nargs != 0 and not action.choices:
            action.metavar = {int: "N", float: "X", str: "TEXT"}.get(
                action.type, "BOOL" if action.nargs == "?" else "TEXT"
            )

    def format_help(self):
        if self.rest is None or self.show_all:
            return super().format_help()
        groups, self._action_groups = (
            self._action_groups,
            [g for g in self._action_groups if g is not self.rest],
        )
        try:
            return super().format_help()
        finally:
            self._action_groups = groups


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """One spelling per option (--train_file; --train-file works too), its help on the same line
    where it fits, and no '(default: None)' where the help says what unset means."""

    def __init__(self, prog):
        super().__init__(prog, max_help_position=36)

    # argparse wraps by characters; a Han character takes two columns of a terminal.
    def _split_lines(self, text, width):
        return _wrap(text, width)

    def _fill_text(self, text, width, indent):
        return "\n".join(indent + line for line in _wrap(text, width - len(indent)))

    def _get_help_string(self, action):
        if action.default in (None, ""):  # nothing to show: the help says what unset means
            return action.help
        return super()._get_help_string(action)

    def _format_action_invocation(self, action):
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            return super()._format_action_invocation(action)
        first = action.option_strings[0]
        if action.nargs == 0:
            return first
        return (
            f"{first} {self._format_args(action, self._get_default_metavar_for_optional(action))}"
        )


def _wrap(text: str, width: int) -> list[str]:
    """text's words in lines of at most `width` terminal columns (a word wider stays whole)."""
    lines, line = [], ""
    for word in text.split():
        if line and _columns(f"{line} {word}") > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines


def _columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class _HelpAll(argparse.Action):
    def __init__(
        self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None
    ):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.show_all = True
        parser.print_help()
        parser.exit()


class Terminated(BaseException):
    """SIGTERM (schedulers, docker stop): unwinds like Ctrl-C, so nothing half-written is left in
    place. A BaseException, so that no library's `except Exception` swallows it."""


def on_sigterm(signum, frame):
    raise Terminated()
