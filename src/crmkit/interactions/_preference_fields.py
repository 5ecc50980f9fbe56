"""Field converters of `ChannelPreferences`: channel orders and the language tag (BCP 47).

Private to `crmkit.interactions.preferences`, whose `ChannelPreferences` they check.
"""

from __future__ import annotations

import re

from crmkit.kernel.checks import items, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.parties.consent import Channel

# Language, then subtags of up to 8 letters or digits (script, region, variants,
# extensions): the shape of BCP 47 without its registry.
_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*", re.ASCII)
_LANGUAGE_MAX = 35


def canonical_tag(tag: str) -> str:
    """BCP 47 case conventions: ``en``, ``zh-Hant-TW``; after a singleton all lower case."""
    first, *rest = tag.split("-")
    out = [first.lower()]
    extension = False
    for part in rest:
        extension = extension or len(part) == 1
        if not extension and len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif not extension and len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


def language_tag(value: object) -> str | None:
    """``value`` as a canonical BCP 47 tag, or None; `ValidationError` if it is not one."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _LANGUAGE_MAX or not _LANGUAGE.fullmatch(value):
        raise ValidationError("language", "must be a BCP 47 tag such as 'en' or 'de-AT'", value)
    return canonical_tag(value)


def _channel_order(value: object, field: str) -> tuple[Channel, ...]:
    found: list[Channel] = []
    for index, item in enumerate(items(value, field)):
        channel = to_enum(Channel, f"{field}[{index}]")(item)
        if channel in found:
            raise ValidationError(f"{field}[{index}]", "repeats a channel", channel.value)
        found.append(channel)
    return tuple(found)


def service_channels(value: object) -> tuple[Channel, ...]:
    """The ``service`` channels, checked: known channels, none repeated."""
    return _channel_order(value, "service")


def sales_channels(value: object) -> tuple[Channel, ...]:
    """The ``sales`` channels, checked: known channels, none repeated."""
    return _channel_order(value, "sales")


def marketing_channels(value: object) -> tuple[Channel, ...]:
    """The ``marketing`` channels, checked: known channels, none repeated."""
    return _channel_order(value, "marketing")


def billing_channels(value: object) -> tuple[Channel, ...]:
    """The ``billing`` channels, checked: known channels, none repeated."""
    return _channel_order(value, "billing")
