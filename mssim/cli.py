"""The ``mssim`` command line.

Subcommands are plugged in through the ``mssim.commands`` entry-point group:
each entry point names a function ``register(subparsers)`` that adds one
subparser and sets ``func=callable(args) -> int``.  That keeps this package
ignorant of the components that provide the commands (``device``, ``run``,
``validate``, ``sweep``, ``plot``).

A user's mistake (any :class:`~mssim.errors.MssimError`) prints one line on
stderr and exits with status 2; only a bug shows a traceback.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from . import __version__
from .errors import MssimError


def _load_commands(subparsers) -> list[str]:
    names = []
    for ep in sorted(entry_points(group="mssim.commands"), key=lambda e: e.name):
        register = ep.load()
        register(subparsers)
        names.append(ep.name)
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every installed subcommand."""
    parser = argparse.ArgumentParser(
        prog="mssim",
        description="Discrete-event mixed-signal simulator of memristor neural networks trained on-chip by "
        "weight simultaneous perturbation (WSP).",
    )
    parser.add_argument("--version", action="version", version=f"mssim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _load_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script.  Returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except MssimError as exc:
        print(f"mssim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:  # a path the user gave does not exist
        print(f"mssim {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mssim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
