"""The `handoff` command line: `main` is the console script's entry point."""

from bot.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
