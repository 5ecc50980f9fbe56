"""crmkit: a reusable customer relationship management domain library.

The names most hosts need are re-exported here; everything else lives in its
bounded context (`crmkit.parties`, `crmkit.activities`, ...), the shared
kernel (`crmkit.kernel`), the ports (`crmkit.ports`) and the adapters
(`crmkit.adapters`). Importing crmkit has no side effects.
"""

from importlib.metadata import PackageNotFoundError, version

from crmkit.activities.activity import Activity, ActivityKind, ActivityStatus, Direction, RecordRef
from crmkit.activities.timeline import TimelineEntry
from crmkit.app.crm import Crm, open
from crmkit.app.dispatcher import Dispatcher, DispatchReport
from crmkit.app.notifier import Refusal, Template
from crmkit.app.unit_of_work import Page, UnitOfWork
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
from crmkit.parties.values import Address, ContactPointKind, Email, Phone
from crmkit.ports.notify import Message, PermanentFailure, TemporaryFailure
from crmkit.ports.query import Eq, In, Order, Range

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
    "Channel",
    "Clock",
    "ConcurrencyConflict",
    "ConsentRecord",
    "ConsentStatus",
    "Contact",
    "ContactPointKind",
    "Crm",
    "CrmError",
    "Direction",
    "DispatchReport",
    "Dispatcher",
    "DomainEvent",
    "DuplicateRecord",
    "Email",
    "Eq",
    "FakeClock",
    "FixedClock",
    "In",
    "InvalidTransition",
    "Lifecycle",
    "Message",
    "Money",
    "NotFound",
    "Order",
    "Page",
    "PermanentFailure",
    "PermissionDenied",
    "Phone",
    "Principal",
    "Purpose",
    "Range",
    "RecordRef",
    "Refusal",
    "SchemaError",
    "SequentialIds",
    "Stamp",
    "StorageError",
    "SystemClock",
    "Template",
    "TemporaryFailure",
    "TimelineEntry",
    "Transition",
    "UnitOfWork",
    "Uuid7Ids",
    "ValidationError",
    "__version__",
    "open",
]
