"""Actions of automation rules, and the subject templates they carry.

Actions are data: the application executes them. Subjects are
`string.Template` text whose placeholders name fact paths in braces,
``${record.name}``; ``$$`` is a literal dollar, and any other ``$`` is refused
when the rule is built. `render` puts text and numbers in as they are,
``true``/``false`` for booleans and nothing for null; a path that is missing,
or names an object or list, raises `ValidationError` naming the rule and the
placeholder. Rendered subjects are one line (white space in values
collapses) cut to ``LINE_MAX`` characters.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from crmkit.extension import _rule_codec as codec
from crmkit.extension.rule_conditions import Field, Scalar, check_path, check_scalar
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import LINE_MAX, clean_line, clean_token

MAX_DUE_DAYS: Final = 3650
"""Latest due date of a created task, in days after the event."""

PATH_PREFIXES: Final = ("event.", "record.")
"""How a `CreateTask` owner that is a fact path (not a literal user id) starts."""
_RECORD_FIELD = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class _Template(string.Template):
    # Placeholders must be braced dotted paths: "$name" and "${bad path}" match "invalid".
    idpattern = r"(?!)"
    braceidpattern = r"[A-Za-z0-9_.]+"
    flags = re.NOFLAG


def _subject(value: str) -> str:
    return clean_line(value, "subject")


def _kind(value: str) -> str:
    return clean_token(value, "kind")


def _command(value: str) -> str:
    return clean_token(value, "command")


def _channel(value: str) -> str:
    return clean_token(value, "channel")


def _purpose(value: str) -> str:
    return clean_token(value, "purpose")


def _template_key(value: str) -> str:
    return check_id(value, "template_key")


def _due(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DUE_DAYS:
        raise ValidationError("due_in_days", f"must be an integer from 0 to {MAX_DUE_DAYS}", value)
    return value


def _owner(value: str) -> str:
    if isinstance(value, str) and value.startswith(PATH_PREFIXES):
        return check_path(value, "owner")
    return check_id(value, "owner")


def _owner_id(value: str | None) -> str | None:
    return None if value is None else check_id(value, "owner_id")


def _round_robin(values: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise ValidationError("round_robin", "must be a list of user ids", values)
    ids = tuple(check_id(v, f"round_robin[{i}]") for i, v in enumerate(values))
    if len(set(ids)) != len(ids):
        raise ValidationError("round_robin", "must not repeat a user id", values)
    return ids


def _record_field(value: str) -> str:
    if not isinstance(value, str) or len(value) > 200 or not _RECORD_FIELD.fullmatch(value):
        raise ValidationError("field", "must be a dotted record field like custom.tier", value)
    return value


def _scalar(value: Scalar) -> Scalar:
    return check_scalar(value, "value")


def _to(value: Field | str) -> Field:
    return value if isinstance(value, Field) else Field(check_path(value, "to"))


@attrs.frozen
class CreateTask:
    """Create a follow-up task on the record.

    Attributes:
        subject: The task's subject template, like ``"Call ${record.name}"``.
        due_in_days: Days after the event when the task is due (0 to `MAX_DUE_DAYS`).
        owner: A fact path (starting ``record.`` or ``event.``) holding the owner's
            user id, or a literal user id.
    """

    subject: str = attrs.field(converter=_subject)
    due_in_days: int = attrs.field(default=0, converter=_due)
    owner: str = attrs.field(default="record.owner_id", converter=_owner)


@attrs.frozen
class LogActivity:
    """Log an activity (a note, a call ...) on the record's timeline.

    Attributes:
        kind: The activity kind, a machine name like ``note``.
        subject: The activity's subject template.
    """

    kind: str = attrs.field(converter=_kind)
    subject: str = attrs.field(converter=_subject)


@attrs.frozen
class AssignOwner:
    """Give the record an owner: a fixed user, or the next user of a round robin.

    Attributes:
        owner_id: The new owner's user id, or None for a round robin.
        round_robin: The users taking turns (the executor keeps the turn), or empty.
    """

    owner_id: str | None = attrs.field(default=None, converter=_owner_id)
    round_robin: tuple[str, ...] = attrs.field(default=(), converter=_round_robin)

    def __attrs_post_init__(self) -> None:
        if (self.owner_id is None) == (not self.round_robin):
            raise ValidationError("owner_id", "give exactly one of owner_id and round_robin")


@attrs.frozen
class SetField:
    """Set a field of the record (``rating``, ``custom.tier`` ...) to a literal value.

    Attributes:
        field: The record field, dotted names in lower case.
        value: The new value (a JSON-safe literal; text is not a template).
    """

    field: str = attrs.field(converter=_record_field)
    value: Scalar = attrs.field(converter=_scalar)


@attrs.frozen
class Transition:
    """Run a lifecycle command on the record, like ``qualify`` or ``close_won``.

    Attributes:
        command: The command's name in the record's lifecycle table.
    """

    command: str = attrs.field(converter=_command)


@attrs.frozen
class Notify:
    """Queue a message to a party (consent is checked when queued and when sent).

    Attributes:
        channel: The channel, like ``email``.
        purpose: The purpose consent is asked for, like ``transactional``.
        template_key: The host's message template.
        to: The fact path holding the recipient party's id, like ``record.contact_id``.
    """

    channel: str = attrs.field(converter=_channel)
    purpose: str = attrs.field(converter=_purpose)
    template_key: str = attrs.field(converter=_template_key)
    to: Field = attrs.field(converter=_to)


Action = CreateTask | LogActivity | AssignOwner | SetField | Transition | Notify
"""Any rule action."""
ACTIONS: Final = (CreateTask, LogActivity, AssignOwner, SetField, Transition, Notify)
"""Every action class."""

ACTION_SPECS: Final[Mapping[type, codec.Spec]] = {
    CreateTask: (
        "create_task",
        (
            ("subject", "subject", "str"),
            ("due_in_days", "due_in_days", "int"),
            ("owner", "owner", "str"),
        ),
    ),
    LogActivity: ("log_activity", (("kind", "kind", "str"), ("subject", "subject", "str"))),
    AssignOwner: (
        "assign_owner",
        (("owner_id", "owner_id", "str?"), ("round_robin", "round_robin", "strs")),
    ),
    SetField: ("set_field", (("field", "field", "str"), ("value", "value", "scalar"))),
    Transition: ("transition", (("command", "command", "str"),)),
    Notify: (
        "notify",
        tuple(
            (name, name, "field" if name == "to" else "str")
            for name in ("channel", "purpose", "template_key", "to")
        ),
    ),
}
"""The wire form of every action class."""


def check_template(value: str, field: str) -> str:
    """Validate a subject template: every ``$`` is ``$$`` or a braced fact path ``${record.x}``."""
    for match in _Template.pattern.finditer(value):
        braced = match.group("braced")
        if braced is not None:
            check_path(braced, field)
        elif match.group("escaped") is None:
            raise ValidationError(field, "must write $ as $$ or ${event.x} / ${record.x}", value)
    return value


def render(template: str, facts: Mapping[str, object], rule_id: str, field: str = "subject") -> str:
    """Fill ``template``'s ``${path}`` placeholders from ``facts`` (see the module notes)."""

    def fill(match: re.Match[str]) -> str:
        path = match.group("braced")
        if path is None:
            return "$"
        found, value = Field(path).lookup(facts)
        if not found or isinstance(value, Mapping | list | tuple):
            what = "is missing from the facts" if not found else "must name text or a number"
            raise ValidationError(field, f"rule {rule_id!r}: placeholder ${{{path}}} {what}")
        text = (
            "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        )
        return " ".join(_UNSAFE.sub(" ", text).split())

    text = _Template.pattern.sub(fill, check_template(template, field))
    return clean_line(text[:LINE_MAX], field, allow_empty=True)
