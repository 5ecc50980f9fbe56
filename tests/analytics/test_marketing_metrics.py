"""Marketing metrics: hand-computed campaign funnel, cost per lead and acquisition, ROI
under each attribution model, the attribution comparison; empty and bad input; JSON."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from crmkit.analytics.marketing import (
    AttributionReport,
    CampaignMetricsReport,
    WonDeal,
    attribution_report,
    campaign_metrics,
)
from crmkit.analytics.report import to_json, to_rows
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import Stamp
from crmkit.kernel.money import Money
from crmkit.marketing.attribution import AttributionModel, Touch
from crmkit.marketing.campaign import Campaign, CampaignType
from crmkit.marketing.member import CampaignMember

S = Stamp(datetime(2026, 3, 2, 9, tzinfo=UTC), "u-1")
D = Decimal


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def campaign(cid: str, cost: str | None = None) -> Campaign:
    c = Campaign.plan(cid, cid.title(), CampaignType.EMAIL, "u-1", S, currency="EUR")[0]
    c = c.activate(S)[0]
    return c if cost is None else c.record_cost(eur(cost), S)[0]


def member(mid: str, cid: str, *steps: str) -> CampaignMember:
    m = CampaignMember.target(mid, cid, S, contact_id="c-" + mid)[0]
    for step in steps:
        if step == "send":
            m = m.send(S)[0]
        elif step == "respond":
            m = m.respond("email", S)[0]
        elif step == "bounce":
            m = m.bounce("hard", S)[0]
        else:
            m = m.convert(step, S)[0]
    return m


def campaigns() -> list[Campaign]:
    return [campaign("email", "300.00"), campaign("web"), campaign("event", "1000")]


def members() -> list[CampaignMember]:
    return [
        member("m1", "email", "send", "respond", "lead-1"),
        member("m2", "email", "send", "respond", "lead-2"),
        member("m3", "email", "send", "respond"),
        member("m4", "email", "send"),
        member("m5", "email", "send", "bounce"),
        member("m6", "email"),  # targeted only: not sent
        member("w1", "web", "send", "respond"),
    ]


def day(d: int) -> datetime:
    return datetime(2026, 3, d, tzinfo=UTC)


def deals() -> list[WonDeal]:
    web4 = Touch("web", day(4))
    return [
        WonDeal("d1", eur("1000.00"), (Touch("email", day(1)), Touch("web", day(5)))),
        WonDeal("d2", eur("500.00"), [Touch("web", day(2)), Touch("email", day(3)), web4]),
        WonDeal("d3", eur("90.00")),  # no touches: nobody's credit
        WonDeal("d4", eur("100.00"), (Touch("other", day(1)), Touch("email", day(2)))),
    ]  # fmt: skip


def test_campaign_metrics_linear() -> None:
    report = campaign_metrics(campaigns(), members(), deals())
    email, web, event = report.rows
    # email: sent m1..m5 = 5, delivered 5 - 1 bounce = 4, responded 3, converted 2
    assert (email.sent, email.delivered, email.responded, email.converted, email.leads) == (
        5, 4, 3, 2, 2,
    )  # fmt: skip
    assert email.response_rate == D("0.75")  # 3 / 4
    assert email.conversion_rate == D("0.6667")  # 2 / 3 = 0.66666...
    assert email.cost_per_lead == eur("150.00")  # 300 / 2
    # linear: d1 1000 / 2 = 500; d2 500 / 3 -> web 166.67, email 166.67, web 166.66 (first
    # touches get the spare cents); d4 100 / 2 = 50 ("other" is not a given campaign)
    assert email.revenue_won == eur("716.67")  # 500 + 166.67 + 50
    assert email.won_deals == 3  # d1, d2, d4
    assert email.cost_per_acquisition == eur("100.00")  # 300 / 3
    assert email.roi == D("1.3889")  # (716.67 - 300) / 300 = 1.38890
    assert web.revenue_won == eur("833.33")  # 500 + 166.67 + 166.66
    assert (web.won_deals, web.cost, web.cost_per_acquisition) == (2, eur("0"), eur("0"))
    assert (web.response_rate, web.conversion_rate, web.cost_per_lead, web.roi) == (
        D(1), D(0), None, None,  # 1 / 1, 0 / 1, no leads, zero cost
    )  # fmt: skip
    assert (event.sent, event.response_rate, event.conversion_rate) == (0, None, None)
    assert (event.won_deals, event.cost_per_acquisition) == (0, None)
    assert event.roi == D("-1")  # (0 - 1000) / 1000
    # totals: sent 5 + 1 = 6, delivered 5, responded 4, converted 2
    assert (report.sent, report.delivered, report.responded, report.converted) == (6, 5, 4, 2)
    assert (report.response_rate, report.conversion_rate) == (D("0.8"), D("0.5"))
    assert report.model is AttributionModel.LINEAR


def test_campaign_metrics_first_and_last_touch() -> None:
    first = campaign_metrics(campaigns(), members(), deals(), "first_touch")
    email, web, _ = first.rows
    # first touch: d1 -> email 1000, d2 -> web 500, d4 -> other (left out)
    assert (email.revenue_won, email.won_deals, email.cost_per_acquisition) == (
        eur("1000"), 1, eur("300"),
    )  # fmt: skip
    assert email.roi == D("2.3333")  # (1000 - 300) / 300
    assert (web.revenue_won, web.won_deals) == (eur("500"), 1)
    last = campaign_metrics(campaigns(), members(), iter(deals()), AttributionModel.LAST_TOUCH)
    email, web, _ = last.rows
    # last touch: d1 -> web 1000, d2 -> web 500, d4 -> email 100
    assert (email.revenue_won, email.won_deals, email.roi) == (eur("100"), 1, D("-0.6667"))
    assert (web.revenue_won, web.won_deals) == (eur("1500"), 2)


def test_campaign_metrics_empty_and_bad_input() -> None:
    empty = campaign_metrics([], [])
    assert empty == CampaignMetricsReport((), AttributionModel.LINEAR, 0, 0, 0, 0, None, None)
    quiet = campaign_metrics([campaign("quiet")], [])
    assert quiet.rows[0].sent == 0
    assert quiet.rows[0].revenue_won == eur("0")
    usd = WonDeal("d9", Money.of("10", "USD"), (Touch("web", day(1)),))
    for call, field in (
        (lambda: campaign_metrics(None, []), "campaigns"),  # type: ignore[arg-type]
        (lambda: campaign_metrics([campaign("a"), "b"], []), "campaigns[1]"),  # type: ignore[list-item]
        (lambda: campaign_metrics([campaign("a"), campaign("a")], []), "campaigns[1]"),
        (lambda: campaign_metrics([campaign("a")], [member("m1", "b")]), "members[0]"),
        (lambda: campaign_metrics([campaign("a")], [], [usd], "u_shaped"), "model"),
        (lambda: campaign_metrics(campaigns(), [], [usd]), "won_deals[0].revenue"),
        (lambda: campaign_metrics(campaigns(), [], [deals()[0], 3]), "won_deals[1]"),  # type: ignore[list-item]
        (lambda: campaign_metrics(campaigns(), [], "d1"), "won_deals"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field


def test_won_deal_checks_its_input() -> None:
    assert WonDeal("d1", eur("1"), [Touch("a", day(1))]).touches == (Touch("a", day(1)),)
    for make, field in (
        (lambda: WonDeal("", eur("1")), "deal_id"),
        (lambda: WonDeal("d1", eur("-1")), "revenue"),
        (lambda: WonDeal("d1", 5), "revenue"),  # type: ignore[arg-type]
        (lambda: WonDeal("d1", eur("1"), ["a"]), "touches[0]"),  # type: ignore[list-item]
        (lambda: WonDeal("d1", eur("1"), "a"), "touches"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValidationError) as info:
            make()
        assert info.value.field == field


def test_attribution_report_compares_the_models() -> None:
    usd = WonDeal("d5", Money.of("10.00", "USD"), (Touch("web", day(9)),))
    report = attribution_report([*deals(), usd])
    found = [
        (r.campaign_id, r.currency, r.deals, r.first_touch, r.last_touch, r.linear)
        for r in report.rows
    ]
    assert found == [
        # email touched d1, d2, d4: first d1 1000; last d4 100; linear 500 + 166.67 + 50
        ("email", "EUR", 3, eur("1000"), eur("100"), eur("716.67")),
        # other touched d4 only, first: 100; linear 100 / 2
        ("other", "EUR", 1, eur("100"), eur("0"), eur("50")),
        # web touched d1, d2: first d2 500; last d1 1000 + d2 500; linear 500 + 333.33
        ("web", "EUR", 2, eur("500"), eur("1500"), eur("833.33")),
        ("web", "USD", 1, Money.of("10", "USD"), Money.of("10", "USD"), Money.of("10", "USD")),
    ]  # fmt: skip
    # every model's EUR column adds up to the 1600 won with touches (d3's 90 has none)
    for column in ("first_touch", "last_touch", "linear"):
        assert sum((getattr(r, column).amount for r in report.rows[:3]), D(0)) == D(1600)
    assert (report.deals, report.unattributed) == (5, 1)


def test_attribution_report_empty_and_bad_input() -> None:
    assert attribution_report([]) == AttributionReport((), 0, 0)
    with pytest.raises(ValidationError) as info:
        attribution_report(5)  # type: ignore[arg-type]
    assert info.value.field == "won_deals"
    with pytest.raises(ValidationError) as info:
        attribution_report([deals()[0], "x"])  # type: ignore[list-item]
    assert info.value.field == "won_deals[1]"


def test_every_report_serialises() -> None:
    metrics = campaign_metrics(campaigns(), members(), deals())
    data = json.loads(to_json(metrics))
    assert data["model"] == "linear"
    assert data["rows"][0] == {
        "campaign_id": "email", "name": "Email", "sent": 5, "delivered": 4, "responded": 3,
        "converted": 2, "leads": 2, "won_deals": 3, "response_rate": "0.7500",
        "conversion_rate": "0.6667", "cost": {"amount": "300.00", "currency": "EUR"},
        "cost_per_lead": {"amount": "150.00", "currency": "EUR"},
        "cost_per_acquisition": {"amount": "100.00", "currency": "EUR"},
        "revenue_won": {"amount": "716.67", "currency": "EUR"}, "roi": "1.3889",
    }  # fmt: skip
    assert data["rows"][1]["roi"] is None
    attribution = attribution_report(deals())
    data = json.loads(to_json(attribution))
    assert data["rows"][1] == {
        "campaign_id": "other", "currency": "EUR", "deals": 1,
        "first_touch": {"amount": "100.00", "currency": "EUR"},
        "last_touch": {"amount": "0.00", "currency": "EUR"},
        "linear": {"amount": "50.00", "currency": "EUR"},
    }  # fmt: skip
    assert (data["deals"], data["unattributed"]) == (4, 1)
    assert to_rows(attribution)[0]["linear"] == eur("716.67")
