"""The ``nrbench`` console script.

Each sub-command lives in its own module under ``benchmark.commands`` and
exposes ``HELP`` (one line), ``DESCRIPTION`` (the ``--help`` text),
``add_arguments(parser)`` and ``run(args) -> int``.  Command modules must be
cheap to import: torch, bpy and dask are imported inside ``run``.

Exit codes (DESIGN.md, and :data:`EXIT_STATUS` in ``nrbench --help``): 0 ok; 1 a
failure, data errors included (a missing, corrupt or altered file, a checksum
mismatch: ``OSError`` and :class:`generators.dataset.DataFileError`); 2 a usage
error (argparse errors, and ``ValueError`` from bad arguments, parameters or
environment variables).  Errors print one line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import warnings
from collections.abc import Sequence

from benchmark.termination import EXIT_TERMINATED, Terminated

COMMANDS: dict[str, str] = {
    "list": "benchmark.commands.list_cmd",
    "generate": "benchmark.commands.generate",
    "render": "benchmark.commands.render",
    "run": "benchmark.commands.run",
    "report": "benchmark.commands.report",
    "plot": "benchmark.commands.plot",
    "cache": "benchmark.commands.cache",
}

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
#: The exit statuses, as ``nrbench --help`` prints them.
EXIT_STATUS = (
    "exit status: 0 done; 1 a failure: a fit or task failed, or a data error (a missing, corrupt or altered "
    "file, a checksum mismatch); 2 a usage error: a bad argument, parameter or environment variable; "
    "130 interrupted (Ctrl-C); 143 terminated (SIGTERM); 141 the reader of the output went away."
)
#: A process killed by SIGPIPE exits 128 + 13 in the shell; nrbench returns the same when its reader goes away.
EXIT_SIGPIPE = 141


class _VersionAction(argparse.Action):
    """``--version``: the release and git commit that every stored row records as ``code_version``."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        from benchmark.store import code_version

        print(code_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="nrbench",
        description=(
            "nrbench: a benchmark suite for non-redundant and deep embedded clustering. "
            "Generate the data sets, run the papers' comparison protocol (ENRC, ACe/DeC, DCN, "
            "DEC/IDEC and the classical baselines), and write NMI/VI tables and figures. "
            "Caches live in $NRBENCH_HOME; raw data is looked up in $NRBENCH_DATA."
        ),
        epilog=EXIT_STATUS,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.add_argument("--version", action=_VersionAction,
                        help="print the release and git commit (what every stored row records) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, modname in COMMANDS.items():
        mod = importlib.import_module(modname)
        p = sub.add_parser(
            name,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show full tracebacks on errors")
        p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                       help="no progress bars")
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      line: str | None = None) -> str:
    """``nrbench: warning: <message>`` (the CLI's format; Python's adds the file, line and source).

    A category with a ``cli_label`` (``reports.source.Note``: "note") is printed with that word instead.
    """
    return f"nrbench: {getattr(category, 'cli_label', 'warning')}: {message}\n"


def _is_data_error(exc: ValueError) -> bool:
    """Whether a ``ValueError`` is about a data file's contents (exit 1) rather than a bad argument (exit 2).

    Looked up in ``sys.modules``, not imported: the class lives beside numpy, this module must stay cheap
    to import, and an instance exists only once its module has been imported.
    """
    module = sys.modules.get("generators.dataset")
    return module is not None and isinstance(exc, module.DataFileError)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nrbench`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        # one line per warning, as nrbench's own messages; the source line with --debug.  Restored
        # afterwards by hand: catch_warnings() does not restore formatwarning
        before = warnings.formatwarning
        if not args.debug:
            warnings.formatwarning = _one_line_warning
        try:
            rc = int(args._module.run(args) or 0)
        finally:
            warnings.formatwarning = before
        sys.stdout.flush()  # buffered output meets a closed pipe here, inside the handler below
        return rc
    except Terminated:
        print("nrbench: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("nrbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`nrbench list suites | head -3`): stop quietly, as cat and grep do;
        # stdout goes to /dev/null so that the interpreter's final flush does not raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_SIGPIPE
    except ValueError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"nrbench {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE if _is_data_error(exc) else EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - one clear line, traceback with --debug
        if args.debug:
            traceback.print_exc()
        print(f"nrbench {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
