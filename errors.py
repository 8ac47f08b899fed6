"""The one kind of error a user sees: bad input, said in one line.

app.main() prints a UserError as `error: ...` and exits with status 2, with no traceback. Every module raises
it for what the user can fix (a file, an option, a folder, a missing model); it is not for bugs, which keep
their traceback.
"""

class UserError(Exception):
    """Bad input: main() prints it as one line and exits with status 2, no traceback."""
