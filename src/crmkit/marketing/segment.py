"""Segments: declarative, serialisable criteria over contacts, evaluated or pushed down.

A criterion reads a `Profile` (the facts about one contact and its account).
`matches` and `evaluate` run criteria in Python; `plan` splits a criterion into
storage conditions on the index fields of `INDEX_FIELDS` (filled by
`profile_index`) and a residual criterion run in Python on the rows fetched.
Filtering by the plan's conditions and then its residual selects exactly the
contacts that `evaluate` yields.

>>> from datetime import UTC, datetime
>>> seg = Segment("s1", "German VIPs", All((InCountry(("de",)), HasTags(("VIP",)))))
>>> people = [Profile("c1", country="DE", tags=("vip",)), Profile("c2", country="FR")]
>>> list(evaluate(seg, people, datetime(2026, 1, 1, tzinfo=UTC)))
['c1']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NewType

import attrs

from crmkit.extension.custom_fields import CustomFields
from crmkit.kernel.checks import to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.ids import check_id
from crmkit.kernel.text import clean_line
from crmkit.kernel.time import require_aware, to_micros
from crmkit.marketing._segment_codec import decode, encode, fields_of
from crmkit.marketing._segment_criteria import (
    CRITERIA,
    MAX_DAYS,
    AccountTag,
    ActiveWithin,
    All,
    Any,
    Consented,
    Criterion,
    HasTags,
    InactiveFor,
    InCity,
    InCountry,
    Industry,
    InRegion,
    Not,
    PurchasedWithin,
    RfmClass,
    SpendAtLeast,
    WithinRadius,
    as_criterion,
    many,
)
from crmkit.marketing._segment_custom import (
    CUSTOM_KIND,
    RANGE_TYPES,
    CustomBetween,
    CustomIs,
    CustomScalar,
    bind,
    conditions,
    custom_matches,
)
from crmkit.marketing._segment_eval import (
    EARTH_RADIUS_KM,
    INDEX_FIELDS,
    Profile,
    distance_km,
    fold,
    profile_index,
)
from crmkit.ports.query import Condition, Eq, In, Range

__all__ = [
    "CRITERIA",
    "CUSTOM_KIND",
    "EARTH_RADIUS_KM",
    "INDEX_FIELDS",
    "MAX_DAYS",
    "RANGE_TYPES",
    "AccountTag",
    "ActiveWithin",
    "All",
    "Any",
    "Consented",
    "Criterion",
    "CustomBetween",
    "CustomIs",
    "CustomScalar",
    "HasTags",
    "InCity",
    "InCountry",
    "InRegion",
    "InactiveFor",
    "Industry",
    "Not",
    "Plan",
    "Profile",
    "PurchasedWithin",
    "RfmClass",
    "Segment",
    "SegmentId",
    "SegmentKind",
    "SpendAtLeast",
    "WithinRadius",
    "bind_custom",
    "criterion_from_dict",
    "criterion_to_dict",
    "distance_km",
    "evaluate",
    "matches",
    "plan",
    "profile_index",
]

SegmentId = NewType("SegmentId", str)
"""The id of a `Segment`."""


class SegmentKind(StrEnum):
    """Whether membership is computed on demand or frozen."""

    DYNAMIC = "dynamic"
    STATIC = "static"


def _segment_id(value: object) -> SegmentId:
    return SegmentId(check_id(value, "id"))


_to_kind = to_enum(SegmentKind, "kind")


def _kind(value: object) -> SegmentKind:
    return _to_kind(value)


def _segment_name(value: object) -> str:
    return clean_line(value, "name")


def _members(value: object) -> tuple[str, ...]:
    raw = many(value, "members")
    ids = tuple(check_id(v, f"members[{i}]") for i, v in enumerate(raw))
    if len(set(ids)) != len(ids):
        raise ValidationError("members", "must not repeat a contact", ids)
    return ids


@attrs.frozen
class Segment:
    """A named set of contacts: dynamic (criteria, evaluated on demand) or a static snapshot.

    Attributes:
        id: The segment id.
        name: Its display name.
        criteria: What members satisfy (for a static segment, what they satisfied).
        kind: `SegmentKind.DYNAMIC` or `SegmentKind.STATIC`.
        members: The snapshot's contact ids; empty for a dynamic segment.
    """

    id: SegmentId = attrs.field(converter=_segment_id)
    name: str = attrs.field(converter=_segment_name)
    criteria: Criterion = attrs.field(converter=as_criterion)
    kind: SegmentKind = attrs.field(default=SegmentKind.DYNAMIC, converter=_kind)
    members: tuple[str, ...] = attrs.field(default=(), converter=_members)

    def __attrs_post_init__(self) -> None:
        if self.kind is SegmentKind.DYNAMIC and self.members:
            raise ValidationError("members", "a dynamic segment holds no snapshot")

    def snapshot(self, profiles: Iterable[Profile], as_of: datetime) -> Segment:
        """A static segment with the contacts that match the criteria at ``as_of``."""
        dynamic = attrs.evolve(self, kind=SegmentKind.DYNAMIC, members=())
        # A contact listed twice is one member; keep the order of first appearance.
        members = tuple(dict.fromkeys(evaluate(dynamic, profiles, as_of)))
        return attrs.evolve(self, kind=SegmentKind.STATIC, members=members)

    def to_dict(self) -> dict[str, object]:
        """The segment as JSON-ready data (see `from_dict`)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "criteria": encode(self.criteria),
            "members": list(self.members),
        }

    @classmethod
    def from_dict(cls, data: object) -> Segment:
        """Read `to_dict` data strictly: unknown types or fields raise `ValidationError`."""
        fields = fields_of(data, "", {"id", "name", "kind", "criteria", "members"}, {"members"})
        return cls(
            fields["id"],
            fields["name"],
            decode(fields["criteria"], "criteria"),
            fields["kind"],
            fields.get("members", []),
        )


def criterion_from_dict(data: object) -> Criterion:
    """Read a criterion written by `criterion_to_dict`; unknown types or fields are refused."""
    return decode(data, "criteria")


def criterion_to_dict(criterion: Criterion) -> dict[str, object]:
    """A criterion as JSON-ready data with a ``type`` discriminator (see `criterion_from_dict`)."""
    return encode(as_criterion(criterion))


@attrs.frozen
class Plan:
    """How to run a criterion on a store: conditions it filters by, then a Python residual.

    Attributes:
        conditions: Conditions on `INDEX_FIELDS` that must all hold.
        residual: What to check in Python on the rows fetched, or None.
    """

    conditions: tuple[Condition, ...]
    residual: Criterion | None


def _check(criterion: object, as_of: object) -> datetime:
    as_criterion(criterion)
    return require_aware(as_of, "as_of")


def matches(criterion: Criterion, profile: Profile, as_of: datetime) -> bool:
    """Whether ``profile`` satisfies ``criterion`` at instant ``as_of``."""
    if not isinstance(profile, Profile):
        raise ValidationError("profile", "must be a Profile", profile)
    return _match(criterion, profile, _check(criterion, as_of))


def evaluate(segment: Segment, profiles: Iterable[Profile], as_of: datetime) -> Iterator[str]:
    """Stream the ids of the contacts among ``profiles`` that belong to ``segment``.

    A dynamic segment tests its criteria; a static one yields the profiles whose
    contact is in its snapshot. ``profiles`` is read once, lazily, never stored.
    """
    if not isinstance(segment, Segment):
        raise ValidationError("segment", "must be a Segment", segment)
    require_aware(as_of, "as_of")
    if segment.kind is SegmentKind.STATIC:
        return _in_snapshot(frozenset(segment.members), profiles)
    return _matching(segment.criteria, profiles, as_of)


def _in_snapshot(members: frozenset[str], profiles: Iterable[Profile]) -> Iterator[str]:
    for profile in profiles:
        if profile.contact_id in members:
            yield profile.contact_id


def _matching(criterion: Criterion, profiles: Iterable[Profile], as_of: datetime) -> Iterator[str]:
    for profile in profiles:
        if _match(criterion, profile, as_of):
            yield profile.contact_id


def _start(as_of: datetime, days: int) -> datetime | None:
    # Near the start of the calendar the look-back runs off it: then every instant counts.
    try:
        return as_of - timedelta(days=days)
    except OverflowError:
        return None


def _since(profile_at: datetime | None, as_of: datetime, days: int) -> bool:
    start = _start(as_of, days)
    return profile_at is not None and (start is None or profile_at >= start)


def _tags_match(have: tuple[str, ...], want: tuple[str, ...], every: bool) -> bool:
    return all(t in have for t in want) if every else any(t in have for t in want)


def _folded(value: str | None) -> str | None:
    return None if value is None else fold(value, "value")


def _match(c: Criterion, p: Profile, as_of: datetime) -> bool:
    match c:
        case All(criteria=parts):
            return all(_match(part, p, as_of) for part in parts)
        case Any(criteria=parts):
            return any(_match(part, p, as_of) for part in parts)
        case Not(criterion=inner):
            return not _match(inner, p, as_of)
        case InCountry(codes=codes):
            return p.country in codes
        case InRegion(country=country, regions=regions):
            return p.country == country and _folded(p.region) in regions
        case InCity(names=names):
            return _folded(p.city) in names
        case WithinRadius(lat=lat, lon=lon, km=km):
            if p.latitude is None or p.longitude is None:
                return False
            return distance_km(lat, lon, p.latitude, p.longitude) <= km
        case HasTags(tags=tags, all=every):
            return _tags_match(p.tags, tags, every)
        case AccountTag(tags=tags, all=every):
            return _tags_match(p.account_tags, tags, every)
        case Industry(names=names):
            return _folded(p.account_industry) in names
        case ActiveWithin(days=days):
            return _since(p.last_activity_at, as_of, days)
        case InactiveFor(days=days):
            return not _since(p.last_activity_at, as_of, days)
        case PurchasedWithin(days=days):
            return _since(p.last_purchase_at, as_of, days)
        case SpendAtLeast(amount=amount):
            spend = p.total_spend
            return spend is not None and spend.currency == amount.currency and spend >= amount
        case RfmClass(classes=classes):
            return p.rfm_class in classes
        case Consented(channel=channel, purpose=purpose):
            return p.consent.get(f"{channel}:{purpose}") == "granted"
        case CustomIs() | CustomBetween():
            return custom_matches(c, p.custom)
    raise ValidationError("criterion", "must be a criterion", c)  # pragma: no cover


def bind_custom(criterion: Criterion, custom_fields: CustomFields) -> Criterion:
    """``criterion`` with its `CustomIs` and `CustomBetween` parts checked against the contact
    fields of ``custom_fields`` and their values put in the fields' normal form.

    Raises `ValidationError` naming ``custom.<name>`` for an unknown field, a
    value of the wrong type or a range on a field that does not order.
    """
    if not isinstance(custom_fields, CustomFields):
        raise ValidationError("custom_fields", "must be CustomFields", custom_fields)
    match as_criterion(criterion):
        case All(criteria=parts):
            return All(tuple(bind_custom(part, custom_fields) for part in parts))
        case Any(criteria=parts):
            return Any(tuple(bind_custom(part, custom_fields) for part in parts))
        case Not(criterion=inner):
            return Not(bind_custom(inner, custom_fields))
        case CustomIs() | CustomBetween() as custom:
            return bind(custom, custom_fields)
    return criterion


def plan(
    criterion: Criterion, as_of: datetime, *, custom_fields: CustomFields | None = None
) -> Plan:
    """Split ``criterion`` into index conditions (its pushable top-level AND parts) and a residual.

    Pushed down: `InCountry`, `InRegion`, `InCity`, `HasTags`, `AccountTag`,
    `Industry`, `ActiveWithin`, `PurchasedWithin`, `SpendAtLeast`, `RfmClass`,
    `Consented`, `CustomIs` and `CustomBetween` on an indexed contact field of
    ``custom_fields``, and `All` of them. Everything else (`Any`, `Not`,
    `WithinRadius`, `InactiveFor`, custom criteria on fields not indexed) stays
    in the residual. With ``custom_fields`` the criterion is first checked by
    `bind_custom`; without, no custom field counts as indexed.
    """
    as_of = _check(criterion, as_of)
    if custom_fields is not None:
        criterion = bind_custom(criterion, custom_fields)
    pushed: list[Condition] = []
    residual: list[Criterion] = []
    _split(criterion, as_of, pushed, residual, custom_fields)
    rest = None if not residual else residual[0] if len(residual) == 1 else All(tuple(residual))
    return Plan(tuple(pushed), rest)


def _cutoff(as_of: datetime, days: int) -> int | None:
    start = _start(as_of, days)
    return None if start is None else to_micros(start)


def _split(
    c: Criterion,
    as_of: datetime,
    out: list[Condition],
    rest: list[Criterion],
    fields: CustomFields | None,
) -> None:
    match c:
        case All(criteria=parts):
            for part in parts:
                _split(part, as_of, out, rest, fields)
        case InCountry(codes=codes):
            out.append(In("country", codes))
        case InRegion(country=country, regions=regions):
            out.extend((Eq("country", country), In("region", regions)))
        case InCity(names=names):
            out.append(In("city", names))
        case HasTags(tags=tags, all=every) | AccountTag(tags=tags, all=every):
            field = "tags" if isinstance(c, HasTags) else "account_tags"
            # On a multi-valued field Eq matches any value: one Eq per tag means "all of them".
            out.extend(Eq(field, t) for t in tags) if every else out.append(In(field, tags))
        case Industry(names=names):
            out.append(In("account_industry", names))
        case ActiveWithin(days=days):
            # A Range without bounds (look-back off the calendar) still means "not null".
            out.append(Range("last_activity_at", gte=_cutoff(as_of, days)))
        case PurchasedWithin(days=days):
            out.append(Range("last_purchase_at", gte=_cutoff(as_of, days)))
        case SpendAtLeast(amount=amount):
            out.append(Eq("total_spend_currency", amount.currency))
            out.append(Range("total_spend_minor", gte=amount.to_minor()))
        case RfmClass(classes=classes):
            out.append(In("rfm_class", classes))
        case Consented(channel=channel, purpose=purpose):
            out.append(Eq("consent_granted", f"{channel}:{purpose}"))
        case CustomIs() | CustomBetween() if fields is not None:
            pushed = conditions(c, fields)
            out.extend(pushed) if pushed is not None else rest.append(c)
        case _:
            rest.append(c)
