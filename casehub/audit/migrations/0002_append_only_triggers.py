"""Make the audit trail append-only in the database itself (see casehub/audit/db.py)."""

from django.db import migrations


def install(apps, schema_editor):
    from casehub.audit.db import install_triggers

    install_triggers(schema_editor.connection, ("audit_auditevent",))


def drop(apps, schema_editor):
    from casehub.audit.db import drop_triggers

    drop_triggers(schema_editor.connection, ("audit_auditevent",))


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(install, drop),
    ]
