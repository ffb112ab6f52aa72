"""The command line: ``fastlogistic`` (the console script) or ``python -m
fastlogistic``, with the subcommands ``bench`` and ``config``."""
import argparse
import os
import sys


def _prog():
    """How the user ran us: the console script's own name, else ``python -m
    fastlogistic``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if name.startswith("fastlogistic") and not name.endswith(".py"):
        return os.path.splitext(name)[0]          # fastlogistic, fastlogistic.exe
    return "python -m fastlogistic"


def build_parser(prog=None):
    from ._version import __version__
    from . import bench as _bench

    prog = prog or _prog()
    p = argparse.ArgumentParser(
        prog=prog,
        description="fastlogistic: the logistic sigmoid and cross-entropy for NumPy arrays. "
                    f"Run '{prog} COMMAND --help' for the options of a command.")
    p.add_argument("--version", action="version", version=f"fastlogistic {__version__}",
                   help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    bench = sub.add_parser("bench", help="time fastlogistic against the libraries installed",
                           description=_bench.DESCRIPTION)
    _bench.add_arguments(bench)
    config = sub.add_parser("config", help="print the build and run-time configuration "
                                           "(version, compiler, OpenMP, SIMD level, threads)",
                            description="Print the build and run-time configuration "
                                        "(fastlogistic.show_config()).")
    config.add_argument("--json", action="store_true", help="print it as JSON instead")
    return p, bench


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, bench_parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "config":
        if args.json:
            import json

            from ._config import config
            print(json.dumps(config(), indent=1))
        else:
            from . import show_config
            show_config()
        return 0
    from . import bench as _bench
    _bench.check_args(bench_parser, args)
    return _bench.main(argv[1:], args=args, command=f"{parser.prog} bench")


if __name__ == "__main__":
    sys.exit(main())
