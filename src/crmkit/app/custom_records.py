"""The stored copy of the custom field specs a store was last migrated to."""

from __future__ import annotations

from typing import Final

import attrs

from crmkit.app.record_type import RecordType
from crmkit.kernel.checks import of_type, version

SPECS_ID: Final = "custom-field-specs"
"""The id of the one specs record of a tenant."""


@attrs.frozen
class CustomSpecs:
    """The custom field specs of the last migration, as `dump_specs` JSON text.

    Attributes:
        id: Always `SPECS_ID`.
        version: Grows with every migration.
        specs: The specs (`crmkit.extension.custom_migration.dump_specs`).
    """

    id: str = attrs.field(validator=of_type(str))
    version: int = attrs.field(validator=version)
    specs: str = attrs.field(validator=of_type(str))


CUSTOM_SPECS: RecordType[CustomSpecs] = RecordType(
    "custom_field_specs", CustomSpecs, (), idempotent=False, audited=False
)
"""Where `crmkit.app.reindex.migrate_custom_fields` keeps the specs it migrated to."""
