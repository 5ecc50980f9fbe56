"""crmkit: a reusable customer relationship management domain library.

The names most hosts need are re-exported here; everything else lives in its
bounded context (`crmkit.parties`, `crmkit.activities`, `crmkit.sales`,
`crmkit.service` ...), the shared
kernel (`crmkit.kernel`), the ports (`crmkit.ports`) and the adapters
(`crmkit.adapters`). Importing crmkit has no side effects.
"""

from importlib.metadata import PackageNotFoundError, version

from crmkit.activities.activity import Activity, ActivityKind, ActivityStatus, Direction, RecordRef
from crmkit.activities.timeline import TimelineEntry
from crmkit.app.crm import Crm, open
from crmkit.app.dispatcher import Dispatcher, DispatchReport
from crmkit.app.leads import Conversion, LeadImport, OnDuplicate
from crmkit.app.notifier import Refusal, Template
from crmkit.app.paging import Page
from crmkit.app.policies import Policies
from crmkit.app.service_desk import TickReport
from crmkit.app.service_settings import ServiceSettings
from crmkit.app.settings import ContractDefaults, SalesSettings
from crmkit.app.unit_of_work import UnitOfWork
from crmkit.kernel.clock import Clock, FakeClock, FixedClock, SystemClock
from crmkit.kernel.errors import (
    ConcurrencyConflict,
    CrmError,
    DuplicateRecord,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    SchemaError,
    StorageError,
    ValidationError,
)
from crmkit.kernel.events import DomainEvent, Stamp
from crmkit.kernel.ids import SequentialIds, Uuid7Ids
from crmkit.kernel.lifecycle import Lifecycle, Transition
from crmkit.kernel.money import Money
from crmkit.kernel.principal import ActorKind, Principal
from crmkit.parties.account import Account
from crmkit.parties.consent import Channel, ConsentRecord, ConsentStatus, Purpose
from crmkit.parties.contact import AccountRole, Contact
from crmkit.parties.dedupe import find_duplicates
from crmkit.parties.matching import Candidate
from crmkit.parties.merge_record import MergeRecord
from crmkit.parties.scoring import DedupeConfig
from crmkit.parties.values import Address, ContactPointKind, Email, Phone
from crmkit.ports.notify import Message, PermanentFailure, TemporaryFailure
from crmkit.ports.query import Eq, In, Order, Range
from crmkit.sales.capture import LeadInput
from crmkit.sales.catalog import PriceList
from crmkit.sales.contract import Contract, ContractStatus
from crmkit.sales.lead import Lead
from crmkit.sales.lead_values import LeadSource, LeadStatus
from crmkit.sales.naive_bayes import NaiveBayesModel, NaiveBayesScorer
from crmkit.sales.opportunity import Opportunity, OpportunityStatus
from crmkit.sales.pipeline import ForecastCategory, Pipeline, Stage
from crmkit.sales.pricing import Line, TaxRate, Totals
from crmkit.sales.product import Product
from crmkit.sales.qualification import QualificationCriteria
from crmkit.sales.quote import Quote
from crmkit.sales.quote_policy import ApprovalPolicy, QuoteStatus
from crmkit.sales.scoring import LeadScorer, PointsRule, RuleScorer, Score
from crmkit.sales.terms import BillingPeriod, RenewalMode, Term
from crmkit.service.calendar import BusinessCalendar, Shift, WeeklyHours
from crmkit.service.case import CaseStatus, ServiceCase
from crmkit.service.case_values import Csat
from crmkit.service.complaint import Complaint, ComplaintStatus
from crmkit.service.complaint_events import IntakeChannel, Resolution, ResolutionType, RootCause
from crmkit.service.knowledge import KnowledgeArticle
from crmkit.service.routing import Queue
from crmkit.service.sla import SlaClock
from crmkit.service.sla_policy import (
    Priority,
    Severity,
    SlaMetric,
    SlaPolicies,
    SlaPolicy,
    SlaTarget,
)

try:
    __version__ = version("crmkit")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

__all__ = [
    "Account",
    "AccountRole",
    "Activity",
    "ActivityKind",
    "ActivityStatus",
    "ActorKind",
    "Address",
    "ApprovalPolicy",
    "BillingPeriod",
    "BusinessCalendar",
    "Candidate",
    "CaseStatus",
    "Channel",
    "Clock",
    "Complaint",
    "ComplaintStatus",
    "ConcurrencyConflict",
    "ConsentRecord",
    "ConsentStatus",
    "Contact",
    "ContactPointKind",
    "Contract",
    "ContractDefaults",
    "ContractStatus",
    "Conversion",
    "Crm",
    "CrmError",
    "Csat",
    "DedupeConfig",
    "Direction",
    "DispatchReport",
    "Dispatcher",
    "DomainEvent",
    "DuplicateRecord",
    "Email",
    "Eq",
    "FakeClock",
    "FixedClock",
    "ForecastCategory",
    "In",
    "IntakeChannel",
    "InvalidTransition",
    "KnowledgeArticle",
    "Lead",
    "LeadImport",
    "LeadInput",
    "LeadScorer",
    "LeadSource",
    "LeadStatus",
    "Lifecycle",
    "Line",
    "MergeRecord",
    "Message",
    "Money",
    "NaiveBayesModel",
    "NaiveBayesScorer",
    "NotFound",
    "OnDuplicate",
    "Opportunity",
    "OpportunityStatus",
    "Order",
    "Page",
    "PermanentFailure",
    "PermissionDenied",
    "Phone",
    "Pipeline",
    "PointsRule",
    "Policies",
    "PriceList",
    "Principal",
    "Priority",
    "Product",
    "Purpose",
    "QualificationCriteria",
    "Queue",
    "Quote",
    "QuoteStatus",
    "Range",
    "RecordRef",
    "Refusal",
    "RenewalMode",
    "Resolution",
    "ResolutionType",
    "RootCause",
    "RuleScorer",
    "SalesSettings",
    "SchemaError",
    "Score",
    "SequentialIds",
    "ServiceCase",
    "ServiceSettings",
    "Severity",
    "Shift",
    "SlaClock",
    "SlaMetric",
    "SlaPolicies",
    "SlaPolicy",
    "SlaTarget",
    "Stage",
    "Stamp",
    "StorageError",
    "SystemClock",
    "TaxRate",
    "Template",
    "TemporaryFailure",
    "Term",
    "TickReport",
    "TimelineEntry",
    "Totals",
    "Transition",
    "UnitOfWork",
    "Uuid7Ids",
    "ValidationError",
    "WeeklyHours",
    "__version__",
    "find_duplicates",
    "open",
]
