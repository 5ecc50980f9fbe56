"""Qualification criteria: host-configured rules over a lead's answers, kept as data.

A host stores its criteria like any other record (they serialise with the
crmkit converter) and passes them to `Lead.qualify`, which refuses while any
rule is unmet.

>>> BANT.unmet({"budget": "25000", "authority": "decision_maker", "need": "CRM"})
("timeline: must be one of 'now', 'this_quarter', 'next_quarter' (not answered)",)
>>> BANT.unmet({"budget": "lots", "authority": "decision_maker", "need": "CRM",
...             "timeline": "now"})
('budget: must be a number of at least 1 (not a number)',)
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

import attrs

from crmkit.kernel.checks import of_type, to_enum, tuple_of
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.text import clean_line, clean_token


class RuleKind(StrEnum):
    """How a rule checks its answer."""

    REQUIRED = "required"
    """The question has a non-empty answer."""
    ONE_OF = "one_of"
    """The answer is one of the rule's values (compared case-insensitively)."""
    AT_LEAST = "at_least"
    """The answer is a number of at least the rule's threshold."""


_to_kind = to_enum(RuleKind, "kind")


def _answer(value: object) -> str:
    return clean_token(value, "answer")


def _kind(value: object) -> RuleKind:
    return _to_kind(value)


def _values(value: object) -> tuple[str, ...]:
    if not isinstance(value, tuple | list):
        raise ValidationError("values", "must be a list of answers", value)
    return tuple(clean_line(item, f"values[{i}]") for i, item in enumerate(value))


@attrs.frozen
class Rule:
    """One condition on one qualification answer.

    Attributes:
        answer: The question's name, for example ``budget``.
        kind: Required, one of, or at least.
        values: The accepted answers (``one_of`` only).
        threshold: The least accepted number (``at_least`` only).
    """

    answer: str = attrs.field(converter=_answer)
    kind: RuleKind = attrs.field(default=RuleKind.REQUIRED, converter=_kind)
    values: tuple[str, ...] = attrs.field(default=(), converter=_values)
    threshold: Decimal | None = attrs.field(default=None, validator=of_type(Decimal, optional=True))

    def __attrs_post_init__(self) -> None:
        if self.kind is RuleKind.ONE_OF and not self.values:
            raise ValidationError("values", "must name at least one answer for one_of")
        if self.kind is RuleKind.AT_LEAST and (
            self.threshold is None or not self.threshold.is_finite()
        ):
            raise ValidationError("threshold", "must be a finite number for at_least")

    def unmet(self, answers: Mapping[str, str]) -> str | None:
        """Why ``answers`` fail this rule, or None when they meet it."""
        given = answers.get(self.answer)
        text = given.strip() if isinstance(given, str) else ""
        if self.kind is RuleKind.REQUIRED:
            return None if text else f"{self.answer}: is required"
        if self.kind is RuleKind.ONE_OF:
            choices = ", ".join(repr(value) for value in self.values)
            rule = f"{self.answer}: must be one of {choices}"
            if not text:
                return f"{rule} (not answered)"
            folded = text.casefold()
            return None if any(folded == value.casefold() for value in self.values) else rule
        rule = f"{self.answer}: must be a number of at least {self.threshold}"
        if not text:
            return f"{rule} (not answered)"
        number = _number(text)
        if number is None:
            return f"{rule} (not a number)"
        assert self.threshold is not None  # checked when built
        return None if number >= self.threshold else rule


def _number(text: str) -> Decimal | None:
    """The answer as a finite number, allowing thousands separators (``25,000``)."""
    try:
        number = Decimal(text.replace(",", "").replace("_", "").replace(" ", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


@attrs.frozen
class QualificationCriteria:
    """Rules that a lead's answers must all meet before it may be qualified.

    Attributes:
        rules: The rules, checked in order.
    """

    rules: tuple[Rule, ...] = attrs.field(default=(), validator=tuple_of(Rule))

    def unmet(self, answers: Mapping[str, str]) -> tuple[str, ...]:
        """Why ``answers`` fail the criteria, one human-readable reason per unmet rule."""
        if not isinstance(answers, Mapping):
            raise ValidationError("answers", "must be a mapping of question to answer", answers)
        return tuple(r for r in (rule.unmet(answers) for rule in self.rules) if r is not None)

    def met(self, answers: Mapping[str, str]) -> bool:
        """Whether ``answers`` meet every rule."""
        return not self.unmet(answers)


BANT: Final = QualificationCriteria(
    (
        Rule("budget", RuleKind.AT_LEAST, threshold=Decimal(1)),
        Rule("authority", RuleKind.ONE_OF, ("decision_maker", "influencer")),
        Rule("need", RuleKind.REQUIRED),
        Rule("timeline", RuleKind.ONE_OF, ("now", "this_quarter", "next_quarter")),
    )
)
"""The classic BANT criteria, a documented default.

* **budget**: a number of at least 1 (the amount the buyer can spend);
* **authority**: ``decision_maker`` or ``influencer``;
* **need**: any non-empty answer (what problem the buyer wants solved);
* **timeline**: ``now``, ``this_quarter`` or ``next_quarter``.
"""

NO_CRITERIA: Final = QualificationCriteria()
"""Criteria that every lead meets (qualification is left to the user's judgement)."""
