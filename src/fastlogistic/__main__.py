"""``python -m fastlogistic``: command-line entry (bench, config)."""
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m fastlogistic {bench,config} [options]")
        return 0
    if argv[0] == "config":
        from . import show_config
        show_config()
        return 0
    if argv[0] == "bench":
        from ._bench import main as bench_main
        return bench_main(argv[1:])
    print(f"unknown command {argv[0]!r}; expected 'bench' or 'config'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
