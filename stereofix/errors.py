"""Exceptions the library raises; the CLI maps each to one line on stderr and exit code 2."""


class StereofixError(Exception):
    """Base class: anything the user can act on (bad input, unwritable output, missing weights)."""


class InputError(StereofixError):
    """The input file is missing, unreadable, not media, or lacks a stream the command needs."""


class OutputError(StereofixError):
    """The output cannot be written (exists without --overwrite, permission denied, disk full)."""


class WeightsError(StereofixError):
    """Model weights are missing, corrupt, or fail their checksum."""
