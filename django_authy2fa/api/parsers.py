"""A JSON parser that turns hostile bodies into a 400, never a 500."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(item) for item in value)
    return False


class SafeJSONParser(JSONParser):
    """DRF's parser, plus: deep nesting and lone surrogates are malformed input."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as err:
            raise ParseError(_("JSON nested too deeply.")) from err
        try:
            if _has_lone_surrogate(data):
                raise ParseError(_("JSON contains invalid characters."))
        except RecursionError as err:  # pragma: no cover - the parser bounds depth first
            raise ParseError(_("JSON nested too deeply.")) from err
        return data
