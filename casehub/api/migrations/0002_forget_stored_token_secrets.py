"""Idempotency records written before secrets were withheld kept the token of a credential-creating
POST in ``response_body``: remove it, so the stored answers hold no secret (issue #18, F18.11)."""

from django.db import migrations


def forget_secrets(apps, schema_editor):
    IdempotencyRecord = apps.get_model("api", "IdempotencyRecord")
    for record in IdempotencyRecord.objects.exclude(response_body=None).iterator():
        body = record.response_body
        if isinstance(body, dict) and "token" in body:
            body.pop("token")
            record.response_body = body
            record.save(update_fields=["response_body"])


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]
    operations = [migrations.RunPython(forget_secrets, migrations.RunPython.noop)]
