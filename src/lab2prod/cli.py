"""``kedro`` commands added by lab2prod: thin click adapters over library functions.

Kedro loads this module for every command run inside a project, so it imports only click; each
command imports what it needs when it runs.
"""

from __future__ import annotations

import click


@click.group(name="lab2prod")
def commands() -> None:
    """Commands lab2prod adds to ``kedro`` inside a project."""
