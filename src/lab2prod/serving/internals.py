"""Every use lab2prod makes of BentoML's private API (``bentoml._internal``), in one place.

BentoML's public API has no way to do these; a minor release may move any of them. Each is
imported inside the function that needs it, so importing this module (or the serving modules
that use it) never fails on a BentoML that moved one: the function using it does, by name.
``tests/lab2prod/serving/test_internals.py`` pins the BentoML version these were written for to
the one ``bentofile.yaml`` packs, and exercises each.
"""

from __future__ import annotations

from typing import Any

BENTOML_VERSION = "1.4.40"
"""The BentoML release every function here was checked against (``bentofile.yaml`` pins it)."""


def configured_workers(service: Any) -> int | str:
    """The worker count ``bentoml serve`` starts for ``service``: its ``workers=`` as
    overridden by ``BENTOML_CONFIG``, an integer or ``"cpu_count"``."""
    from bentoml._internal.configuration.containers import BentoMLContainer

    services = BentoMLContainer.config.services
    try:
        config = services[service.name].get()
    except KeyError:  # outside `bentoml serve`, nothing loaded the configuration yet
        service.inject_config()
        config = services[service.name].get()
    return (config or {}).get("workers") or service.config.get("workers") or 1
