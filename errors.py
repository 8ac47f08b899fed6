"""The one kind of error a user sees: bad input, said in one line.

app.main() and demo.py print a UserError as `error: ...` and exit with status 2, with no traceback. Every module
raises it for what the user can fix (a file, an option, a folder, a missing model), and the scripts' option
parser turns argparse's errors into it; it is not for bugs, which keep their traceback.
"""

from transformers import HfArgumentParser


class UserError(Exception):
    """Bad input: main() prints it as one line and exits with status 2, no traceback."""


class OneLineParser(HfArgumentParser):
    """HfArgumentParser whose errors (an unknown option, a value of the wrong type) are a UserError, one line:
    argparse would print its whole usage (hundreds of Trainer flags) before the line that matters."""

    def error(self, message):
        raise UserError(f"{message} (python {self.prog} --help lists the options)")

