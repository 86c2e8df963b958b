"""Entry point of the `kizuna` console script. Each subcommand lives in its own module."""

import argparse
import sys

from kizuna import backtest, importer, replay, scorecards, stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kizuna", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stack.add_parser(commands)
    replay.add_parser(commands)
    importer.add_parser(commands)
    health = commands.add_parser("health", help="health scores: scorecards, backtest on churn")
    actions = health.add_subparsers(dest="action", required=True, metavar="ACTION")
    scorecards.add_parser(actions)
    backtest.add_parser(actions)

    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
