"""Two processes signing for an agency for the first time at once get one certificate, not two."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from casehub.pki import services
from casehub.pki.models import CertificateAuthority, SigningCertificate


@pytest.mark.postgres  # four real transactions racing for row locks; SQLite would serialise them
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_use_issues_one_root_and_one_certificate(district):
    services.invalidate_cache()
    assert connection.vendor == "postgresql"
    threads_n = 4
    barrier = threading.Barrier(threads_n)
    results: list[str] = []
    errors: list[BaseException] = []

    def first_signature() -> None:
        try:
            barrier.wait(timeout=10)
            services.invalidate_cache()  # each thread behaves like its own process
            results.append(services.signer_for(district.procuratorate).fingerprint)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_signature) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(set(results)) == 1 and len(results) == threads_n
    assert CertificateAuthority.objects.filter(is_current=True).count() == 1
    assert SigningCertificate.objects.filter(holder=district.procuratorate.code).count() == 1
    services.invalidate_cache()
