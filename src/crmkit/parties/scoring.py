"""Scoring a pair of candidates: the evidence (`Reason`), the `Match` and its `DedupeConfig`."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from itertools import permutations

import attrs

from crmkit.kernel.errors import ValidationError
from crmkit.parties.matching import (
    LEGAL_SUFFIXES,
    Candidate,
    jaro_winkler,
    name_tokens,
    normalise_company,
    normalise_email,
    phone_key,
)

_SCORE = Decimal("0.001")
_ONE = Decimal("1.000")


class Signal(StrEnum):
    """A kind of evidence that two records are one party."""

    EMAIL = "email"
    PHONE = "phone"
    NAME = "name"
    COMPANY = "company"


@attrs.frozen
class Reason:
    """One piece of evidence behind a `Match`.

    Attributes:
        signal: What was compared.
        similarity: 1 for an equal email, phone or company; Jaro-Winkler for names.
    """

    signal: Signal
    similarity: Decimal


@attrs.frozen
class Match:
    """A scored pair of records (``a_id < b_id``).

    Attributes:
        a_id: The smaller id of the pair.
        a_kind: Its kind.
        b_id: The other id.
        b_kind: Its kind.
        score: Evidence from 0 to 1, three places (see `DedupeConfig`).
        reasons: The evidence found, in `Signal` order.
    """

    a_id: str
    a_kind: str
    b_id: str
    b_kind: str
    score: Decimal
    reasons: tuple[Reason, ...]

    @property
    def ids(self) -> tuple[str, str]:
        """The pair's ids, smaller first."""
        return (self.a_id, self.b_id)


def _unit(field: str) -> Callable[[object, attrs.Attribute[Decimal], object], None]:
    def check(instance: object, attribute: attrs.Attribute[Decimal], value: object) -> None:
        if not isinstance(value, Decimal) or not Decimal(0) <= value <= _ONE:
            raise ValidationError(field, "must be a Decimal from 0 to 1", value)

    return check


def _max_block(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValidationError("max_block", "must be an integer >= 2", value)


@attrs.frozen
class DedupeConfig:
    """How pairs are scored and how large a block may be.

    A pair's score is ``1 - (1 - e)(1 - p)(1 - c)(1 - n)`` where ``e``, ``p`` and ``c``
    are the email, phone and company weights when that signal is equal (else 0) and
    ``n = name_weight * (s - name_floor) / (1 - name_floor)`` for a name similarity
    ``s`` above ``name_floor`` (else 0). Names below ``name_conflict`` halve the score
    (two people sharing ``info@``). Pairs whose normalised views are equal (with an
    email, phone or company) score 1. A pair is a duplicate at ``threshold`` or above.

    Attributes:
        threshold: The least score of a duplicate (default 0.85).
        email_weight: Evidence of an equal normalised email (default 0.90).
        phone_weight: Evidence of an equal phone key (default 0.75).
        company_weight: Evidence of an equal normalised company (default 0.30).
        name_weight: Evidence of equal names (default 0.80; must stay under ``threshold``
            so that a name alone is never a duplicate).
        name_floor: Name similarity that starts to count (default 0.80).
        name_conflict: Name similarity under which the score is halved (default 0.70).
        max_block: Blocks with more members are skipped as too common (default 500).
    """

    threshold: Decimal = attrs.field(default=Decimal("0.85"), validator=_unit("threshold"))
    email_weight: Decimal = attrs.field(default=Decimal("0.90"), validator=_unit("email_weight"))
    phone_weight: Decimal = attrs.field(default=Decimal("0.75"), validator=_unit("phone_weight"))
    company_weight: Decimal = attrs.field(
        default=Decimal("0.30"), validator=_unit("company_weight")
    )
    name_weight: Decimal = attrs.field(default=Decimal("0.80"), validator=_unit("name_weight"))
    name_floor: Decimal = attrs.field(default=Decimal("0.80"), validator=_unit("name_floor"))
    name_conflict: Decimal = attrs.field(default=Decimal("0.70"), validator=_unit("name_conflict"))
    max_block: int = attrs.field(default=500, validator=_max_block)

    def __attrs_post_init__(self) -> None:
        if self.name_weight >= self.threshold:
            raise ValidationError("name_weight", "must be below threshold", self.name_weight)
        if self.name_floor >= _ONE:
            raise ValidationError("name_floor", "must be below 1", self.name_floor)


class _View:
    """A candidate normalised once, for many comparisons."""

    __slots__ = ("company", "emails", "id", "kind", "name", "org", "phones", "tokens")

    def __init__(self, candidate: Candidate) -> None:
        self.id = candidate.id
        self.kind = candidate.kind
        self.tokens = name_tokens(candidate.name)
        self.name = " ".join(self.tokens)
        # Tuples, not sets: records have one or two of each, and a tuple of strings
        # leaves the garbage collector's view, which a million sets would not.
        self.emails = tuple(dict.fromkeys(normalise_email(e) for e in candidate.emails))
        self.phones = tuple(dict.fromkeys(phone_key(p) for p in candidate.phones))
        company = None if candidate.company is None else normalise_company(candidate.company)
        self.company = company or None  # punctuation alone is no company
        # An organisation's name is its company (Candidate.of_account): it blocks on it.
        self.org = False
        if self.company is not None:
            kept = [t for t in self.tokens if t not in LEGAL_SUFFIXES] or self.tokens
            self.org = " ".join(kept) == self.company


def _shared(mine: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    return any(item in theirs for item in mine)


def _view(candidate: object, field: str = "candidate") -> _View:
    if not isinstance(candidate, Candidate):
        raise ValidationError(field, "must be a Candidate", type(candidate).__name__)
    return _View(candidate)


def _name_similarity(x: _View, y: _View) -> float:
    if x.name == y.name:
        return 1.0
    best = jaro_winkler(x.name, y.name)
    # A typo can move a token in the sorted order ("anna berg" / "berg bnna"):
    # then another order of a short name compares better.
    if best < 0.95 and 1 < len(y.tokens) <= 3:
        for order in permutations(y.tokens):
            best = max(best, jaro_winkler(x.name, " ".join(order)))
    return best


def _score(x: _View, y: _View, config: DedupeConfig) -> Match:
    if y.id < x.id:  # one order for both calls: the score is symmetric by construction
        x, y = y, x
    email = _shared(x.emails, y.emails)
    phone = _shared(x.phones, y.phones)
    company = x.company is not None and x.company == y.company
    reasons: list[Reason] = []
    miss = 1.0
    if email:
        reasons.append(Reason(Signal.EMAIL, _ONE))
        miss *= 1 - float(config.email_weight)
    if phone:
        reasons.append(Reason(Signal.PHONE, _ONE))
        miss *= 1 - float(config.phone_weight)
    conflict = False
    if x.name and y.name:
        s = _name_similarity(x, y)
        reasons.append(Reason(Signal.NAME, Decimal(s).quantize(_SCORE, ROUND_HALF_EVEN)))
        floor = float(config.name_floor)
        if s > floor:
            miss *= 1 - float(config.name_weight) * (s - floor) / (1 - floor)
        conflict = s < float(config.name_conflict)
    if company:
        reasons.append(Reason(Signal.COMPANY, _ONE))
        miss *= 1 - float(config.company_weight)
    value = 1 - miss
    if conflict:
        value /= 2
    identical = (
        bool(x.name)
        and (email or phone or company)
        and (x.name, x.emails, x.phones, x.company) == (y.name, y.emails, y.phones, y.company)
    )
    score = _ONE if identical else Decimal(value).quantize(_SCORE, ROUND_HALF_EVEN)
    return Match(x.id, x.kind, y.id, y.kind, score, tuple(reasons))


def _config(config: object) -> DedupeConfig:
    if config is None:
        return DedupeConfig()
    if not isinstance(config, DedupeConfig):
        raise ValidationError("config", "must be a DedupeConfig", type(config).__name__)
    return config


def score(a: Candidate, b: Candidate, config: DedupeConfig | None = None) -> Match:
    """The scored comparison of two candidates, whatever the score (0 when nothing agrees)."""
    return _score(_view(a, "a"), _view(b, "b"), _config(config))


def similarity(a: Candidate, b: Candidate, config: DedupeConfig | None = None) -> Match | None:
    """The `Match` of two candidates if it reaches ``config.threshold``, else None."""
    config = _config(config)
    found = _score(_view(a, "a"), _view(b, "b"), config)
    return found if found.score >= config.threshold else None
