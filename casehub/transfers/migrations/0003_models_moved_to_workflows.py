"""``Transfer``, ``TransitionLog`` and ``ApprovalRequest`` now belong to the ``workflows`` app.

State only: the tables stay where they are (``workflows.0001`` declares the same models with the
same ``db_table``); nothing is dropped.
"""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('transfers', '0002_transfer_documents_transfer_volumes'),
        ('workflows', '0001_initial'),
        ('custody', '0002_certificate_transfer_in_workflows'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name='TransitionLog'),
                migrations.DeleteModel(name='ApprovalRequest'),
                migrations.DeleteModel(name='Transfer'),
            ],
        ),
    ]
