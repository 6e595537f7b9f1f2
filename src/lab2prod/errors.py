"""Errors raised by lab2prod.

The tree::

    Lab2ProdError                   every error lab2prod raises on purpose

Each error says what failed, the offending value and the fix, and carries structured fields for
programs that handle it.
"""

from __future__ import annotations


class Lab2ProdError(Exception):
    """Base class of every error lab2prod raises on purpose."""
