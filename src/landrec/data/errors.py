"""The one base of every error a user can cause (a bad path, option, file or model name).

It lives in the bottom layer so that every layer can raise it; the CLI matches it with one
`isinstance` and prints its message with `exit_code` instead of a traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: the message says what and where; no traceback is due."""

    exit_code = 2  # the CLI's exit status for it: a usage or configuration error


class InputNotFoundError(UserError, FileNotFoundError):
    """A path the user named does not exist (or is not the kind of file asked for)."""
