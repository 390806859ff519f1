"""The settings every command starts from: `settings_from(args)`.

A level below `indexer.cli`, so the subcommand modules that `cli.py` registers import this and
never `cli.py` itself (which imports them): the command line has no import circle.
"""

from __future__ import annotations

import argparse
import sys

from indexer.settings import Settings, SettingsError, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    """Load the settings named by `--config` (and the environment); exit 2 on a bad value.

    Also sets up logging from them, so every command logs the same way (to standard error).
    """
    from indexer.log import configure_logging

    try:
        settings = load_settings(args.config)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log)
    return settings
