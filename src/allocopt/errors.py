"""Named exceptions: the library raises these and never prints; the CLI turns them into messages and exit codes."""

from __future__ import annotations


class AllocoptError(Exception):
    """Base of every error allocopt raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code = 1


class DataError(AllocoptError, ValueError):
    """An input file, layer, row or field is missing or wrong; the message names where and how to fix it."""


class ScenarioError(AllocoptError, ValueError):
    """A scenario key is unknown or its value is out of range; the message names the key."""


class NetworkError(AllocoptError):
    """The road network cannot serve the request (no roads, nothing reachable)."""


class FontMissingError(AllocoptError):
    """The package that ships the Chinese (CJK) font for maps is not installed, or its font file is gone."""


class InfeasibleError(AllocoptError):
    """The scenario has no feasible plan; the message says which requirement cannot be met and by how much."""

    exit_code = 3


class SolverError(AllocoptError):
    """The solver is missing, crashed, or returned no usable plan."""

    exit_code = 4


class OutputError(AllocoptError, OSError):
    """Results could not be written (directory not writable, disk full); earlier results are left intact."""

    exit_code = 5


class AllocoptWarning(UserWarning):
    """Something the user should know that does not stop the run (a cache that cannot be written); the CLI shows
    it as one "Warning: ..." line."""
