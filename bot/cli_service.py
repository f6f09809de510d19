"""`earnings-bot run` (the service) and `earnings-bot check-config` (what it would run, or what is wrong)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from bot.config import BotConfig, Settings, config_path, load_config, load_settings


def _load(args: argparse.Namespace) -> tuple[Settings, BotConfig, Path | None]:
    settings = load_settings()
    path = Path(args.config) if args.config else config_path(settings)
    return settings, load_config(path, inbox=settings.inbox_dir), path


def _run(args: argparse.Namespace) -> int:
    from bot.config import log_secrets
    from bot.logs import configure_logging
    from bot.service import run

    settings, config, path = _load(args)
    if args.port is not None:
        settings = settings.model_copy(update={"port": args.port})
    configure_logging(settings.log_level, log_secrets(settings, config))
    return run(settings, config, path)


def print_plan(settings: Settings, config: BotConfig, path: Path | None, out: TextIO) -> None:
    from bot.service import make_plan

    plan = make_plan(settings, config, path)
    lines = [
        f"config: {path if path is not None else 'none (embedded default: inbox source, console output)'}",
        f"database: {plan.database}",
        f"status page: {plan.status_url}",
        "sources:",
        *(f"  - {s}" for s in plan.sources),
        "routes:",
        *(f"  - {r}" for r in plan.routes),
        "companies:" + ("" if plan.companies else " none"),
        *(f"  - {c}" for c in plan.companies),
        f"extra metrics: {', '.join(m.key for m in config.metrics) or 'none'}",
        f"platforms: {', '.join(plan.sinks) or 'none'}{_commands(plan.slack, plan.teams_commands)}",
        f"secrets set (names only): {', '.join(plan.secrets_set) or 'none'}",
    ]
    if plan.inboxes:
        lines.append("drop files into: " + ", ".join(str(p) for p in plan.inboxes))
    out.write("\n".join(lines) + "\nconfig OK\n")


def _commands(slack: str, teams: bool) -> str:
    modes = {"socket": "; Slack commands over Socket Mode", "http": "; Slack commands over HTTP"}
    return modes.get(slack, "") + ("; Teams @mentions" if teams else "")


def _check(args: argparse.Namespace) -> int:
    settings, config, path = _load(args)
    print_plan(settings, config, path, sys.stdout)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `run` and `check-config` on the CLI's subparsers."""
    config_help = "config file (default: BOT_CONFIG, else ./config/bot.yaml, else the embedded default)"
    p = sub.add_parser("run", help="run the service: sources, outbox, endpoints, status page (stop: SIGTERM)")
    p.add_argument("--config", default=None, help=config_help)
    p.add_argument("--port", type=int, default=None, help="listening port (default: PORT, 8080)")
    p.set_defaults(func=_run)
    p = sub.add_parser("check-config", help="validate config and environment; show what `run` starts")
    p.add_argument("--config", default=None, help=config_help)
    p.set_defaults(func=_check)
