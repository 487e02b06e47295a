"""`python -m allocopt`: the command line, as the `allocopt` script runs it."""

from allocopt.cli import main

main()
