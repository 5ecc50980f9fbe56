"""Hypothesis strategies for pipelines and opportunities.

Every value is built through the public constructors and commands, so it is
valid exactly as crmkit would store it. `opportunity_histories` drives an
opportunity through random commands and yields it with its events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st

from crmkit.kernel.errors import CrmError
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.money import Money
from crmkit.sales.opportunity import Opportunity
from crmkit.sales.pipeline import (
    DEFAULT_PIPELINE,
    ForecastCategory,
    Pipeline,
    Stage,
    StageKind,
)
from crmkit.sales.pricing import Line, TaxRate

_History = tuple[Opportunity, tuple[DomainEvent, ...]]
_OPEN_CATEGORIES = tuple(c for c in ForecastCategory if c is not ForecastCategory.CLOSED)
_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)


@cache
def probabilities() -> st.SearchStrategy[Decimal]:
    """Win probabilities: fractions from 0 to 1 in whole percents (two decimal places)."""
    return st.integers(0, 100).map(lambda percent: Decimal(percent).scaleb(-2))


@st.composite
def _pipeline(draw: st.DrawFn) -> Pipeline:
    keys = draw(st.lists(_KEYS, min_size=3, max_size=8, unique=True))
    opened = draw(st.integers(1, len(keys) - 2))
    lost = draw(st.integers(1, len(keys) - opened - 1))
    categories = st.sampled_from(_OPEN_CATEGORIES)
    stages = [
        Stage(key, key.replace("_", " ").title(), draw(probabilities()), draw(categories))
        for key in keys[:opened]
    ]
    won_key, *lost_keys = keys[opened : opened + 1 + lost]
    closing = [Stage(won_key, "Won", 1, ForecastCategory.CLOSED, StageKind.WON)]
    closing += [Stage(k, "Lost", 0, ForecastCategory.OMITTED, StageKind.LOST) for k in lost_keys]
    # Closing stages may sit anywhere: a pipeline's order matters only for its open stages.
    for stage in draw(st.permutations(closing)):
        stages.insert(draw(st.integers(0, len(stages))), stage)
    name = draw(st.sampled_from(["Direct", "Partner", "Renewals"]))
    return Pipeline(draw(st.sampled_from(["p-1", "p-2", "sales"])), name, tuple(stages))


@cache
def pipelines() -> st.SearchStrategy[Pipeline]:
    """Valid custom pipelines: 1 or more open stages, one won stage, 1 or more lost stages."""
    return _pipeline()


@cache
def opportunity_lines(currency: str = "EUR") -> st.SearchStrategy[tuple[Line, ...]]:
    """Up to three product lines priced in ``currency``, some discounted, some taxed."""
    tax = st.sampled_from(
        [None, TaxRate("vat19", Decimal("0.19")), TaxRate("vat19_in", Decimal("0.19"), True)]
    )
    line = st.builds(
        Line,
        st.none() | st.sampled_from(["prod-1", "prod-2"]),
        st.sampled_from(["Licence", "Support", "Training"]),
        st.integers(1, 50).map(Decimal),
        st.integers(0, 500_000).map(lambda minor: Money.from_minor(minor, currency)),
        st.integers(0, 100).map(Decimal),
        tax,
    )
    return st.lists(line, max_size=3).map(tuple)


def _commands(pipeline: Pipeline) -> st.SearchStrategy[Callable[[Opportunity, Stamp], Any]]:
    keys = [stage.key for stage in pipeline.stages]
    return st.one_of(
        st.sampled_from(keys).map(lambda k: lambda o, s: o.move(k, pipeline, s)),
        st.just(lambda o, s: o.win(pipeline, s)),
        st.sampled_from(["price", "timing"]).map(lambda r: lambda o, s: o.lose(r, pipeline, s)),
        st.just(lambda o, s: o.reopen(pipeline, s)),
        probabilities().map(lambda p: lambda o, s: o.update(s, probability=p)),
        st.integers(0, 10**7).map(
            lambda m: lambda o, s: o.update(s, amount=Money.from_minor(m, o.amount.currency))
        ),
        st.sampled_from(["u-1", "u-2", None]).map(lambda u: lambda o, s: o.assign(u, s)),
        st.sampled_from(["a-1", "a-2"]).map(lambda a: lambda o, s: o.relink_account(a, s)),
        opportunity_lines().map(lambda rows: lambda o, s: o.set_lines(rows, s)),
    )


@st.composite
def _history(
    draw: st.DrawFn, pipeline: Pipeline | None
) -> tuple[Opportunity, tuple[DomainEvent, ...]]:
    chosen = draw(pipelines()) if pipeline is None else pipeline
    now = _START
    opp, event = Opportunity.open(
        draw(st.sampled_from(["o-1", "opp-42"])),
        draw(st.sampled_from(["ACME licences", "Globex renewal"])),
        chosen,
        Stamp(now, "u-1"),
        amount=Money.from_minor(draw(st.integers(0, 10**8)), "EUR"),
        close_date=date(2026, 3, 31),
        account_id=draw(st.none() | st.just("a-1")),
        contact_ids=draw(st.sampled_from([(), ("c-1",), ("c-1", "c-2")])),
        lead_id=draw(st.none() | st.just("l-1")),
        owner_id=draw(st.none() | st.just("u-1")),
    )
    events: list[DomainEvent] = [event]
    for command in draw(st.lists(_commands(chosen), max_size=8)):
        now += timedelta(minutes=draw(st.integers(0, 60 * 24 * 7)))
        try:
            opp, event = command(opp, Stamp(now, "u-2"))
        except CrmError:
            continue  # a refused command leaves the opportunity as it was
        events.append(event)
    return opp, tuple(events)


@cache
def opportunity_histories(
    pipeline: Pipeline | None = None,
) -> st.SearchStrategy[tuple[Opportunity, tuple[DomainEvent, ...]]]:
    """An opportunity after random commands, with every event it produced (oldest first).

    Over ``pipeline``, or over random custom pipelines when it is None.
    """
    return _history(pipeline)


@cache
def opportunities(pipeline: Pipeline | None = DEFAULT_PIPELINE) -> st.SearchStrategy[Opportunity]:
    """Opportunities after random commands over ``pipeline`` (random pipelines when None)."""
    return opportunity_histories(pipeline).map(lambda history: history[0])


@cache
def opportunity_events(pipeline: Pipeline | None = None) -> st.SearchStrategy[DomainEvent]:
    """Events that opportunities really produce, from `opportunity_histories`."""
    return opportunity_histories(pipeline).flatmap(lambda history: st.sampled_from(history[1]))
