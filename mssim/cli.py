"""The ``mssim`` command line.

Subcommands are plugged in through the ``mssim.commands`` entry-point group:
each entry point names a function ``register(subparsers)`` that adds one
subparser and sets ``func=callable(args) -> int``.  That keeps this package
ignorant of the components that provide the commands (``device``, ``run``,
``resume``, ``validate``, ``sweep``, ``plot``).

Exit status: 0 done; 2 a user's mistake (any :class:`~mssim.errors.MssimError`,
a bad option, a file that cannot be read or written, not enough memory), always
as one line on stderr; 130 interrupted (SIGINT), 143 terminated (SIGTERM): both
unwind normally, so temporary folders are removed; 3 a bug in mssim, also one
line (``MSSIM_TRACEBACK=1`` shows the traceback).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from importlib.metadata import entry_points

from . import __version__
from .errors import MssimError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (``mssim run: error: ...``), exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's API
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that everything unwinds as for Ctrl-C."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _load_commands(subparsers) -> list[str]:
    names = []
    for ep in sorted(entry_points(group="mssim.commands"), key=lambda e: e.name):
        register = ep.load()
        register(subparsers)
        names.append(ep.name)
    return names


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every installed subcommand."""
    parser = _Parser(
        prog="mssim",
        description="Discrete-event mixed-signal simulator of memristor neural networks trained on-chip by "
        "weight simultaneous perturbation (WSP).",
    )
    parser.add_argument("--version", action="version", version=f"mssim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _load_commands(sub)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script.  Returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line usage error
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    name = f"mssim {args.command}"
    old = None
    try:
        old = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        old = None
    try:
        # Numerical warnings (overflow in a product, ...) would add lines to stderr; non-finite values
        # are caught where they matter and reported as one line naming the quantity.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(func(args) or 0)
    except MssimError as exc:
        print(f"{name}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # a path the user gave cannot be read or written
        what = exc.strerror or type(exc).__name__
        where = f": {exc.filename}" if exc.filename else ""
        print(f"{name}: error: {what}{where}; check the path and its permissions", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"{name}: error: out of memory ({_one_line(exc) or 'allocation failed'}); use a smaller network or "
              "fewer points, or a machine with more memory", file=sys.stderr)
        return 2
    except Terminated:
        print(f"{name}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line, the traceback on request
        if os.environ.get("MSSIM_TRACEBACK"):
            raise
        print(f"{name}: internal error: {type(exc).__name__}: {_one_line(exc)[:300]} (a bug in mssim; please report "
              "it, with MSSIM_TRACEBACK=1 for the traceback)", file=sys.stderr)
        return 3
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
