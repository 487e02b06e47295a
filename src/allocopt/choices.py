"""The names a user picks from, in a module that imports nothing: the command line offers them as choices
without loading the library, and the library modules that own them take them from here (`costs.DISTANCES`)."""

from __future__ import annotations

DISTANCES: tuple[str, ...] = ("euclidean", "great-circle")
"""Distances between points of a cost matrix: Euclidean in the coordinates' unit, great-circle in km."""
