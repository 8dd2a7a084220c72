"""The engine's rows move here from ``casehub.transfers`` without touching the database.

The tables keep their names (``db_table``), so an existing database keeps every transfer,
transition log row and approval: this migration only tells Django's model state that the models now
belong to ``workflows`` (``SeparateDatabaseAndState`` with no database operation), and renames the
three content types so permissions and anything else keyed on them follow the models.
``transfers.0003`` removes the models from the old app's state.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("transfer", "transitionlog", "approvalrequest")


def move_content_types(apps, schema_editor, old: str = "transfers", new: str = "workflows") -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in MOVED:
        if ContentType.objects.using(db).filter(app_label=new, model=model).exists():
            continue
        ContentType.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def move_content_types_back(apps, schema_editor) -> None:
    move_content_types(apps, schema_editor, old="workflows", new="transfers")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('agencies', '0001_initial'),
        ('cases', '0001_initial'),
        ('dossier', '0001_initial'),
        ('transfers', '0002_transfer_documents_transfer_volumes'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name='ApprovalRequest',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('transition', models.CharField(max_length=60, verbose_name='流程节点')),
                        ('source_stage', models.CharField(max_length=40)),
                        ('inputs', models.JSONField(blank=True, default=dict)),
                        ('requested_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('status', models.CharField(choices=[('pending', '待审批'), ('approved', '已批准'), ('rejected', '未批准'), ('cancelled', '已撤销')], default='pending', max_length=10)),
                        ('decided_at', models.DateTimeField(blank=True, null=True)),
                        ('comment', models.TextField(blank=True, verbose_name='审批意见')),
                        ('agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agencies.agency')),
                        ('case', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='approval_requests', to='cases.case')),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('requested_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': '内部审批',
                        'verbose_name_plural': '内部审批',
                        'db_table': 'transfers_approvalrequest',
                        'ordering': ['-requested_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='Transfer',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('kind', models.CharField(choices=[('arrest_request', '提请批准逮捕'), ('arrest_decision', '审查逮捕决定'), ('review_transfer', '移送审查起诉'), ('supplementary_return', '退回补充侦查'), ('non_prosecution', '不起诉决定'), ('indictment', '提起公诉'), ('indictment_return', '退回起诉'), ('judgment', '判决送达')], max_length=30, verbose_name='移送类别')),
                        ('mode', models.CharField(choices=[('online', '网上流转'), ('paper', '纸质移送（登记）')], default='online', max_length=10, verbose_name='方式')),
                        ('transition', models.CharField(blank=True, max_length=60, verbose_name='流程节点')),
                        ('requires_acceptance', models.BooleanField(default=True, verbose_name='需接收审查')),
                        ('sender_stage', models.CharField(blank=True, max_length=40, verbose_name='移送时阶段')),
                        ('status', models.CharField(choices=[('sent', '已送达，待接收'), ('delivered', '已送达'), ('accepted', '已接收'), ('rejected', '已退回'), ('withdrawn', '已撤回')], default='sent', max_length=12, verbose_name='状态')),
                        ('sent_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='移送时间')),
                        ('manifest', models.JSONField(blank=True, default=dict, verbose_name='移送清单')),
                        ('manifest_bytes', models.BinaryField(default=b'')),
                        ('manifest_sha256', models.CharField(blank=True, max_length=64)),
                        ('manifest_signature', models.BinaryField(default=b'')),
                        ('document_count', models.PositiveIntegerField(default=0, verbose_name='文书数')),
                        ('volume_count', models.PositiveIntegerField(default=0, verbose_name='卷数')),
                        ('page_count', models.PositiveIntegerField(default=0, verbose_name='页数')),
                        ('total_bytes', models.BigIntegerField(default=0)),
                        ('dossier_complete', models.BooleanField(default=False, verbose_name='卷宗齐全')),
                        ('electronic', models.BooleanField(default=True, verbose_name='电子卷宗')),
                        ('verification_status', models.CharField(choices=[('pending', '待校验'), ('running', '校验中'), ('passed', '校验通过'), ('failed', '校验失败')], default='pending', max_length=10, verbose_name='校验状态')),
                        ('verification_progress', models.PositiveSmallIntegerField(default=0)),
                        ('verification_errors', models.JSONField(blank=True, default=list)),
                        ('verification_report', models.JSONField(blank=True, default=dict)),
                        ('verified_at', models.DateTimeField(blank=True, null=True)),
                        ('decided_at', models.DateTimeField(blank=True, null=True, verbose_name='接收/退回时间')),
                        ('decision_reason', models.TextField(blank=True, verbose_name='理由')),
                        ('receipt', models.JSONField(blank=True, default=dict, verbose_name='回执')),
                        ('receipt_bytes', models.BinaryField(default=b'')),
                        ('receipt_sha256', models.CharField(blank=True, max_length=64)),
                        ('receipt_signature', models.BinaryField(default=b'')),
                        ('paper_received_on', models.DateField(blank=True, null=True, verbose_name='纸质卷宗接收日期')),
                        ('paper_volumes', models.PositiveIntegerField(blank=True, null=True, verbose_name='接收卷数')),
                        ('paper_pages', models.PositiveIntegerField(blank=True, null=True, verbose_name='接收页数')),
                        ('external_reference', models.CharField(blank=True, max_length=200, verbose_name='案件名称或文号')),
                        ('case', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='transfers', to='cases.case', verbose_name='案件')),
                        ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('documents', models.ManyToManyField(blank=True, related_name='transfers', to='dossier.document')),
                        ('from_agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='transfers_sent', to='agencies.agency', verbose_name='移送机关')),
                        ('sent_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='移送人')),
                        ('to_agency', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='transfers_received', to='agencies.agency', verbose_name='接收机关')),
                        ('volumes', models.ManyToManyField(blank=True, related_name='transfers', to='dossier.volume')),
                    ],
                    options={
                        'verbose_name': '移送',
                        'verbose_name_plural': '移送',
                        'db_table': 'transfers_transfer',
                        'ordering': ['-sent_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='TransitionLog',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('transition', models.CharField(db_index=True, max_length=60, verbose_name='流程节点')),
                        ('source', models.CharField(blank=True, max_length=40, verbose_name='原阶段')),
                        ('target', models.CharField(max_length=40, verbose_name='新阶段')),
                        ('occurred_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='时间')),
                        ('reason', models.TextField(blank=True, verbose_name='理由')),
                        ('inputs', models.JSONField(blank=True, default=dict)),
                        ('case_version', models.PositiveIntegerField(default=0)),
                        ('actor', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='操作人')),
                        ('actor_agency', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agencies.agency', verbose_name='操作机关')),
                        ('approval', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='workflows.approvalrequest')),
                        ('approved_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='审批人')),
                        ('case', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='transition_log', to='cases.case')),
                        ('from_agency', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agencies.agency', verbose_name='原承办机关')),
                        ('to_agency', models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='agencies.agency', verbose_name='新承办机关')),
                        ('transfer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='workflows.transfer')),
                    ],
                    options={
                        'verbose_name': '流转记录',
                        'verbose_name_plural': '流转记录',
                        'db_table': 'transfers_transitionlog',
                        'ordering': ['occurred_at', 'id'],
                    },
                ),
                migrations.AddConstraint(
                    model_name='approvalrequest',
                    constraint=models.UniqueConstraint(condition=models.Q(('status', 'pending')), fields=('case',), name='one_pending_approval_per_case'),
                ),
                migrations.AddIndex(
                    model_name='transfer',
                    index=models.Index(fields=['to_agency', 'status'], name='transfers_t_to_agen_7f77f4_idx'),
                ),
                migrations.AddIndex(
                    model_name='transfer',
                    index=models.Index(fields=['from_agency', 'status'], name='transfers_t_from_ag_23e6bd_idx'),
                ),
                migrations.AddIndex(
                    model_name='transfer',
                    index=models.Index(fields=['case', 'status'], name='transfers_t_case_id_7ef728_idx'),
                ),
                migrations.AddIndex(
                    model_name='transitionlog',
                    index=models.Index(fields=['case', 'transition'], name='transfers_t_case_id_452ebd_idx'),
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
