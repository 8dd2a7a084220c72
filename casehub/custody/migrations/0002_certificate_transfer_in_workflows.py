"""``Transfer`` moved to the ``workflows`` app with its table unchanged: only Django's state moves."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('custody', '0001_initial'),
        ('workflows', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name='custodycertificate',
                    name='transfer',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                            related_name='custody_certificates', to='workflows.transfer'),
                ),
            ],
        ),
    ]
