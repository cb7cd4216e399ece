"""One-line JSON for records, straight from CPython's C accelerator.

Importing the json package compiles six regular expressions in json.encoder and
json.decoder: about 5 M instructions, a millisecond of every command that reads a
record. The C encoder and scanner those modules wrap need none of them. Where
there is no `_json` (another Python), the json package does the work.
"""

from typing import Any

WHITESPACE = " \t\n\r"

try:
    from _json import encode_basestring_ascii, make_encoder, make_scanner
except ImportError:  # pragma: no cover - CPython always has it
    make_encoder = make_scanner = None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a record")


class _Options:
    """What the C scanner reads off json.JSONDecoder: strict JSON, plain dicts."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constants)


def dumps(value: Any) -> str:
    """`value` as compact one-line ASCII JSON, as json.dumps(value) writes it."""
    if make_encoder is not None:
        try:
            # No circular-reference markers, no default: records are plain trees of JSON types.
            encode = make_encoder(None, _unserializable, encode_basestring_ascii, None, ": ", ", ", False, False, False)
        except TypeError:  # pragma: no cover - a Python whose private signature changed
            pass
        else:
            return "".join(encode(value, 0))
    import json

    return json.dumps(value)


def loads(text: str) -> Any:
    """The one JSON value in `text`; ValueError (json.JSONDecodeError) if it is not that."""
    if make_scanner is None:
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(WHITESPACE))
    try:
        value, end = make_scanner(_Options)(text, start)
    except StopIteration as stop:
        raise ValueError(f"expecting a value at character {stop.value}") from None
    if text[end:].strip(WHITESPACE):
        raise ValueError(f"extra data at character {end}")
    return value


def _unserializable(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} cannot be written to a record")
