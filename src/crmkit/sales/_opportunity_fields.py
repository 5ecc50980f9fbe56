"""Field converters and checks of `crmkit.sales.opportunity` (private)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import attrs

from crmkit.kernel.checks import items, to_enum
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.ids import AccountId, ContactId, LeadId, OpportunityId, check_id
from crmkit.kernel.money import Money
from crmkit.kernel.text import clean_line, clean_token
from crmkit.kernel.time import require_aware
from crmkit.sales.pipeline import ForecastCategory, Pipeline, Stage, StageKind, check_probability
from crmkit.sales.pricing import Line


def _id(value: object) -> OpportunityId:
    return OpportunityId(check_id(value, "id"))


def _name(value: object) -> str:
    return clean_line(value, "name")


def _pipeline_id(value: object) -> str:
    return check_id(value, "pipeline_id")


def _stage(value: object) -> str:
    return clean_token(value, "stage")


def _probability(value: object) -> Decimal:
    return check_probability(value)


_to_category = to_enum(ForecastCategory, "forecast_category")


def _category(value: object) -> ForecastCategory:
    return _to_category(value)


def _check_amount(value: object) -> Money:
    if not isinstance(value, Money):
        raise ValidationError("amount", "must be Money", value)
    if value.amount < 0:
        raise ValidationError("amount", "must not be negative", value)
    return value


def _amount(instance: object, attribute: attrs.Attribute[Money], value: Money) -> None:
    _check_amount(value)


def _close_date(value: object) -> date:
    # A datetime is a date too, but a close date is a calendar day.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError("close_date", "must be a date", value)
    return value


def _account_id(value: object) -> AccountId | None:
    return None if value is None else AccountId(check_id(value, "account_id"))


def _contact_ids(value: object) -> tuple[ContactId, ...]:
    ids = tuple(ContactId(check_id(v, "contact_ids")) for v in items(value, "contact_ids"))
    if len(set(ids)) != len(ids):
        raise ValidationError("contact_ids", "must not repeat a contact", ids)
    return ids


def _lead_id(value: object) -> LeadId | None:
    return None if value is None else LeadId(check_id(value, "lead_id"))


def _owner_id(value: object) -> str | None:
    return None if value is None else check_id(value, "owner_id")


def _reason(value: object) -> str:
    return clean_line(value, "lost_reason", max_len=500)


def _lost_reason(value: object) -> str | None:
    return None if value is None else _reason(value)


def _lines(value: object) -> tuple[Line, ...]:
    return items(value, "lines")


def _check_pipeline(pipeline: object) -> Pipeline:
    if not isinstance(pipeline, Pipeline):
        raise ValidationError("pipeline", "must be a Pipeline", pipeline)
    return pipeline


def _open_stage(pipeline: Pipeline, key: object) -> Stage:
    stage = pipeline.stage(key) if isinstance(key, str) else None
    if stage is None or not stage.is_open:
        raise ValidationError("stage", f"must be an open stage of {pipeline.id!r}", key)
    return stage


def _check_stamp(stamp: object) -> Stamp:
    if not isinstance(stamp, Stamp):
        raise ValidationError("stamp", "must be a Stamp", stamp)
    require_aware(stamp.at, "at")
    return stamp


class _Current(Protocol):
    """What `_enter` reads of the opportunity."""

    @property
    def pipeline_id(self) -> str: ...

    @property
    def stage_history(self) -> tuple[Any, ...]: ...


def _won(pipeline: Pipeline) -> Stage:
    return pipeline.won_stage


def _first_lost(pipeline: Pipeline) -> Stage:
    return pipeline.lost_stages[0]


def _enter(
    given: object,
    current: _Current,
    stamp: object,
    key: object,
    kind: StageKind,
    default: Callable[[Pipeline], Stage] | None = None,
) -> Stage:
    """The stage to enter, checked against the pipeline, its kind and the stamp's time."""
    pipeline = _check_pipeline(given)
    if pipeline.id != current.pipeline_id:
        raise ValidationError("pipeline", f"must be {current.pipeline_id!r}", pipeline.id)
    if _check_stamp(stamp).at < current.stage_history[-1].entered_at:
        raise ValidationError("at", "must not be before the current stage was entered")
    if key is None and default is not None:
        return default(pipeline)
    stage = pipeline.stage(key) if isinstance(key, str) else None
    if stage is None or stage.kind is not kind:
        raise ValidationError("stage", f"must be a {kind} stage of {pipeline.id!r}", key)
    return stage
