"""`earnings-bot ...`: the command line. Each subcommand imports what it needs when it runs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import BotError, InputError

if TYPE_CHECKING:
    from bot.models import CompanyConfig


def _extract(args: argparse.Namespace) -> int:
    from bot.extract import extract
    from bot.extract.load import MAX_BYTES, load_bytes, load_path

    if args.path == "-":
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        document = load_bytes(data, name="<stdin>")
    else:
        path = Path(args.path)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        document = load_path(path)
    companies: Sequence[CompanyConfig] = ()
    if args.config:
        from bot.config import load_config

        companies = load_config(Path(args.config)).companies
    report = extract(document, companies=companies)
    if args.lang != "en" and not document.translation_language:
        raise InputError(f"{args.path}: the document carries no translation, so --lang {args.lang} is not available")
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    from bot.digest.build import build_digest
    from bot.platforms.console import print_digest

    print_digest(build_digest(report, lang=args.lang), width=args.width)
    return 0


def build_parser(*, extract_only: bool = False) -> argparse.ArgumentParser:
    """The argument parser; `extract_only` skips the service's subcommands (and their imports) for a fast start."""
    parser = argparse.ArgumentParser(prog="earnings-bot", description="Earnings alerts for Slack and Teams.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("extract", help="extract the figures and guidance of one document and print its digest")
    p.add_argument("path", help="a transcript or release (text, HTML, Markdown, JSON, PDF); '-' for stdin")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--lang", default="en", choices=["en", "zh"], help="quote the document's translation")
    p.add_argument("--width", type=int, default=None, help="terminal width")
    p.add_argument("--config", default=None, help="a config file whose companies extend the directory")
    p.set_defaults(func=_extract)
    if not extract_only:
        for add in _extensions():
            add(sub)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """The subcommands of the other parts (sources, service, Slack manifest), registered explicitly."""
    from bot import cli_service, cli_sources
    from bot.platforms import manifest

    return [cli_sources.add_commands, cli_service.add_commands, manifest.add_commands]


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(extract_only=bool(words) and words[0] == "extract")
    args = parser.parse_args(words)
    try:
        code: int = args.func(args)
    except BotError as exc:
        print(f"earnings-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
