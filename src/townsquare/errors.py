"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class UserError(Exception):
    """Bad input: a scenario key, a value, a file. ``str()`` is the one-line message."""
