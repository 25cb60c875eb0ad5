"""Audit entries carry a label (that of what they describe) and the version of the hash that sealed them.

Additive: existing entries get the bottom label and hash version 1 (the hash without the label), so they verify as
before; a sealer of this release seals version 2, whose hash covers the label.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import BigInt
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T16:31:45:933622"
VERSION = "1.38.0"
DESCRIPTION = "label and hash version on chorus_audit_event"


async def forwards() -> MigrationManager:
    manager = MigrationManager(
        migration_id=ID, app_name="workspace", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="AuditEvent",
        tablename="chorus_audit_event",
        column_name="hash_version",
        db_column_name="hash_version",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 1,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AuditEvent",
        tablename="chorus_audit_event",
        column_name="label_level",
        db_column_name="label_level",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AuditEvent",
        tablename="chorus_audit_event",
        column_name="label_mask",
        db_column_name="label_mask",
        column_class_name="BigInt",
        column_class=BigInt,
        params={
            "default": 0,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
