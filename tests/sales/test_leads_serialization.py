"""Leads, lead events and routing data survive the strict converter and the fast loaders."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from crmkit.kernel.directory import Directory
from crmkit.kernel.errors import ValidationError
from crmkit.kernel.events import DomainEvent, EventRegistry, Stamp
from crmkit.kernel.loading import Loaders
from crmkit.kernel.serialization import dumps, loads, make_converter, structure
from crmkit.sales.assignment import AssignmentRule, Territory
from crmkit.sales.capture import LeadInput
from crmkit.sales.lead import Lead
from crmkit.sales.lead_events import EVENTS, LeadCaptured
from crmkit.sales.qualification import BANT, QualificationCriteria
from crmkit.testing._strategies_leads import (
    directories,
    lead_events_of,
    lead_inputs,
    leads,
    qualification_criteria,
    territories,
)

CONV = make_converter()
STAMP = Stamp(datetime(2026, 3, 2, tzinfo=UTC), "u-1")
LOADERS = Loaders()


def round_trip(obj: Any, cls: type[Any]) -> None:
    data = CONV.unstructure(obj)
    assert structure(CONV, loads(dumps(data)), cls) == obj
    assert LOADERS.load(cls, json.loads(dumps(data))) == obj


@settings(max_examples=150)
@given(leads())
def test_leads_round_trip(lead: Lead) -> None:
    round_trip(lead, Lead)


@settings(max_examples=50)
@given(lead_inputs())
def test_lead_inputs_round_trip(data: LeadInput) -> None:
    round_trip(data, LeadInput)


@pytest.mark.parametrize("cls", EVENTS, ids=[cls.event_type for cls in EVENTS])
def test_every_lead_event_round_trips(cls: type[DomainEvent]) -> None:
    @settings(max_examples=40)
    @given(lead_events_of(cls))
    def check(event: DomainEvent) -> None:
        round_trip(event, cls)
        assert event.aggregate_kind == "lead"
        assert event.summary()
        assert event.aggregate_id in event.subjects()

    check()


@settings(max_examples=50)
@given(directories(), st.lists(territories(), max_size=3), qualification_criteria())
def test_routing_and_criteria_round_trip(
    directory: Directory, found: list[Territory], criteria: QualificationCriteria
) -> None:
    round_trip(directory, Directory)
    round_trip(AssignmentRule(tuple(found), skill="german"), AssignmentRule)
    round_trip(criteria, QualificationCriteria)


def test_event_types_are_unique_and_registrable() -> None:
    registry = EventRegistry(EVENTS)
    assert len({cls.event_type for cls in EVENTS}) == len(EVENTS)
    assert registry.lookup("lead_captured") is LeadCaptured
    assert structure(CONV, CONV.unstructure(BANT), QualificationCriteria) == BANT


def test_structure_refuses_bad_stored_leads_without_showing_personal_data() -> None:
    lead, _ = Lead.capture("l-1", LeadInput(company="Acme", email="anna@example.com"), STAMP)
    data = CONV.unstructure(lead)
    bad = {**data, "email": {"address": "anna.at.example", "kind": "work"}}
    with pytest.raises(ValidationError) as info:
        structure(CONV, bad, Lead)
    assert info.value.field.startswith("email")
    assert "anna" not in str(info.value)
    with pytest.raises(ValidationError, match="status"):
        structure(CONV, {**data, "status": "won"}, Lead)
    with pytest.raises(ValidationError, match="score"):
        structure(CONV, {**data, "score": 101}, Lead)
