"""Names Databricks accepts: a serving endpoint named after its model (the ``-sr`` rule) and the
served entity named after the model version.

The ``-sr`` rule: the model's own name (the last part of a Unity Catalog ``catalog.schema.model``
name), lower-cased, every run of characters other than letters and digits turned into one ``-``,
cut to leave room for the suffix, then ``-sr`` ("serving") appended unless it is already there.
Endpoint names allow letters, digits, ``-`` and ``_``, at most 63 characters.
"""

from __future__ import annotations

import re

_MAX = 63
SUFFIX = "-sr"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def is_unity_catalog(model_name: str) -> bool:
    """A three-level ``catalog.schema.model`` name (Unity Catalog's registry)."""
    parts = model_name.split(".")
    return len(parts) == 3 and all(parts)


def endpoint_name(model_name: str) -> str:
    """The serving endpoint for ``model_name`` by the ``-sr`` rule, e.g. ``main.risk.dai_model``
    -> ``dai-model-sr``."""
    slug = _slug(model_name.rsplit(".", maxsplit=1)[-1]) or "model"
    if slug.endswith(SUFFIX):
        return slug[:_MAX]
    return slug[: _MAX - len(SUFFIX)].rstrip("-") + SUFFIX


def served_entity_name(model_name: str, version: str) -> str:
    """The served entity's name: the model's slug and its version, e.g. ``dai-model-3``."""
    slug = _slug(model_name.rsplit(".", maxsplit=1)[-1]) or "model"
    tail = f"-{version}"
    return slug[: _MAX - len(tail)].rstrip("-") + tail
