#!/usr/bin/env python3
"""A scripted client: one criminal case from the police to the court, through the public REST API only.

Each agency's own case system talks to casehub with its *system client* credential (registered by
that agency's administrator, acting as one role). This script plays all of them in turn:

    police investigator     registers the case with a detained suspect, uploads the dossier
                            (one file whole, one in resumable chunks), transfers it for review
    police supervisor       approves the outgoing transfer
    prosecutor              waits for the package to verify, accepts it, returns it once for
                            supplementary investigation, later indicts
    procuratorate supervisor approves the return and the indictment
    court clerk             accepts and dockets the case (court case number), delivers the judgment
                            (the appeal window then runs: the script ends there)
    judge                   announces the judgment

Usage::

    export CASEHUB_URL=https://casehub.example.gov.cn
    export CASEHUB_TOKEN_INVESTIGATOR=chk_…  CASEHUB_TOKEN_POLICE_SUPERVISOR=chk_…
    export CASEHUB_TOKEN_PROSECUTOR=chk_…    CASEHUB_TOKEN_PROCURATORATE_SUPERVISOR=chk_…
    export CASEHUB_TOKEN_COURT_CLERK=chk_…   CASEHUB_TOKEN_JUDGE=chk_…
    python examples/client_journey.py

It needs only ``httpx``. Every creating POST carries an ``Idempotency-Key``, so the script can be
re-run after a network failure without registering the case twice.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

ROLES = ("investigator", "police_supervisor", "prosecutor", "procuratorate_supervisor", "court_clerk", "judge")


class JourneyError(RuntimeError):
    pass


def minimal_pdf(text: str, pages: int = 1) -> bytes:
    """A small valid PDF (Helvetica text) built by hand, so the example needs no PDF library."""
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        stream = f"BT /F1 14 Tf 72 720 Td ({text} p{i + 1}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@dataclass
class Client:
    """One agency system: its base URL and bearer token."""

    name: str
    http: httpx.Client
    log: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), idempotent: bool = False,
             **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if idempotent:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.log.append(f"{self.name}: {method} {path} → {response.status_code}")
        if response.status_code not in expect:
            raise JourneyError(f"{self.name}: {method} {path} answered {response.status_code}: {response.text[:500]}")
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs).json()

    def post(self, path: str, json: Any = None, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        return self.call("POST", path, json=json, expect=expect, idempotent=True, **kwargs).json()

    def wait_task(self, location: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll a 202 task until it finishes; raise if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.get(location)
            if task["status"] == "succeeded":
                return task
            if task["status"] == "failed":
                raise JourneyError(f"{self.name}: task {task['kind']} failed: {task['error']}")
            if time.monotonic() > deadline:
                raise JourneyError(f"{self.name}: task {task['kind']} still {task['status']} after {timeout}s")
            time.sleep(0.5)

    def fire(self, case_id: int, transition: str, **inputs: Any) -> dict[str, Any]:
        """Fire a workflow action, after checking it is among those offered to this client now."""
        offered = self.get(f"/api/v1/cases/{case_id}/actions/")
        names = [t["name"] for t in offered["available"]]
        if transition not in names:
            blocked = {t["name"]: t["blocked_by"] for t in offered["blocked"]}
            raise JourneyError(f"{self.name}: {transition} not available (offered {names}, blocked {blocked})")
        return self.post(f"/api/v1/cases/{case_id}/actions/{transition}/",
                         {**inputs, "expected_version": offered["version"]}, expect=(200,))


def connect(base_url: str, tokens: dict[str, str], *, transport: httpx.BaseTransport | None = None) -> dict[str, Client]:
    clients = {}
    for role in ROLES:
        http = httpx.Client(base_url=base_url, timeout=60.0, transport=transport, headers={
            "Authorization": f"Bearer {tokens[role]}", "Accept-Language": "zh-hans"})
        clients[role] = Client(role, http)
    return clients


def approve_pending(supervisor: Client, case_id: int, transition: str) -> None:
    pending = supervisor.get(f"/api/v1/approvals/?status=pending&case={case_id}")["results"]
    match = [a for a in pending if a["transition"] == transition]
    if not match:
        raise JourneyError(f"{supervisor.name}: no pending approval for {transition}")
    supervisor.call("POST", f"/api/v1/approvals/{match[0]['id']}/decide/",
                    json={"approve": True, "comment": "同意"}, expect=(200,))


def fire_with_approval(officer: Client, supervisor: Client, case_id: int, transition: str, **inputs: Any) -> None:
    result = officer.fire(case_id, transition, **inputs)
    if result["outcome"] == "awaiting_approval":
        approve_pending(supervisor, case_id, transition)


def wait_incoming_verified(receiver: Client, case_id: int, timeout: float = 120.0) -> dict[str, Any]:
    """The receiving agency waits until the pending package has been verified."""
    deadline = time.monotonic() + timeout
    while True:
        incoming = receiver.get(f"/api/v1/transfers/?direction=incoming&status=sent&case={case_id}")["results"]
        if incoming and incoming[0]["verification_status"] == "passed":
            return incoming[0]
        if incoming and incoming[0]["verification_status"] == "failed":
            raise JourneyError(f"verification failed: {incoming[0]['verification_errors']}")
        if time.monotonic() > deadline:
            raise JourneyError("the package was not verified in time")
        time.sleep(0.5)


def upload_whole(client: Client, case_id: int, title: str, data: bytes) -> int:
    response = client.call("POST", f"/api/v1/cases/{case_id}/documents/", expect=(202,), idempotent=True,
                           data={"title": title, "category": "evidence"},
                           files={"file": (f"{title}.pdf", data, "application/pdf")})
    return client.wait_task(response.headers["Location"])["result"]["document"]


def upload_chunked(client: Client, case_id: int, title: str, data: bytes, chunk: int = 1024) -> int:
    """Resumable upload: declare the size, send chunks at the offset the server reports."""
    upload = client.post(f"/api/v1/cases/{case_id}/documents/uploads/", {"filename": f"{title}.pdf",
                                                                         "size": len(data)}, expect=(201,))
    url = f"/api/v1/uploads/{upload['id']}/"
    received = 0
    while received < len(data):
        piece = data[received:received + min(chunk, upload["chunk_bytes"])]
        response = client.call("PUT", url, params={"offset": received}, content=piece, expect=(200, 409),
                               headers={"Content-Type": "application/octet-stream"})
        # 409: the server has a different offset (a retry after a lost answer) — ask and resume.
        received = response.json()["received"] if response.status_code == 200 else client.get(url)["received"]
    done = client.call("POST", f"{url}complete/", json={"title": title, "category": "procedural"}, expect=(202,),
                       idempotent=True)
    return client.wait_task(done.headers["Location"])["result"]["document"]


def run_journey(base_url: str, tokens: dict[str, str], *, transport: httpx.BaseTransport | None = None,
                announced_on: str | None = None) -> dict[str, Any]:
    """Drive one case from registration to judgment; returns what a caller may want to check."""
    c = connect(base_url, tokens, transport=transport)
    police, psup = c["investigator"], c["police_supervisor"]
    prosecutor, jsup = c["prosecutor"], c["procuratorate_supervisor"]
    clerk, judge = c["court_clerk"], c["judge"]

    me = police.get("/api/v1/me/")
    region = me["agency"]["code"]
    detention = police.get("/api/v1/agencies/?kind=detention")["results"][0]
    procuratorate_id = prosecutor.get("/api/v1/me/")["agency"]["id"]
    court_id = clerk.get("/api/v1/me/")["agency"]["id"]

    # 1. Police: register the case with a detained suspect and build the dossier.
    case = police.post("/api/v1/cases/", {
        "title": "张三涉嫌盗窃案", "summary": "2026年11月18日夜入室盗窃笔记本电脑一台。",
        "occurred_on": "2026-11-18", "occurred_place": "深圳市龙岗区",
        "persons": [{"name": "张三", "sex": "M", "id_number": "440307199001011232", "custody_status": "detained",
                     "custody_since": "2026-11-20T10:00:00+08:00", "detention_centre": detention["id"]}],
    }, expect=(201,))
    case_id = case["id"]
    documents = [
        upload_whole(police, case_id, "现场勘验笔录", minimal_pdf("scene", 2)),
        upload_chunked(police, case_id, "讯问笔录", minimal_pdf("interview", 3)),
    ]

    # 2. Police → procuratorate: transfer for review and prosecution (CPL art. 162), approved internally.
    fire_with_approval(police, psup, case_id, "transfer_for_review", facts="2026年11月18日夜入室盗窃。",
                       evidence="现场勘验笔录\n讯问笔录", to_agency=procuratorate_id)
    wait_incoming_verified(prosecutor, case_id)
    prosecutor.fire(case_id, "accept_review_transfer")

    # 3. Procuratorate → police: one return for supplementary investigation (art. 175), and back.
    fire_with_approval(prosecutor, jsup, case_id, "return_for_supplementary", reason="补充调取监控录像")
    fire_with_approval(police, psup, case_id, "resubmit_for_review", reason="已补充监控录像")
    wait_incoming_verified(prosecutor, case_id)
    prosecutor.fire(case_id, "accept_review_transfer")

    # 4. Procuratorate → court: indictment (art. 176), approved internally.
    fire_with_approval(prosecutor, jsup, case_id, "indict", facts="经审查查明：张三入室盗窃。",
                       charges="盗窃罪，刑法第二百六十四条。", to_agency=court_id)
    wait_incoming_verified(clerk, case_id)
    clerk.fire(case_id, "docket_case", type_code="刑初")
    docketed = clerk.get(f"/api/v1/cases/{case_id}/")

    # 5. Court: judgment announced and delivered (art. 202). Delivery opens each defendant's appeal
    # window (10 days, art. 230); the case closes only after the judgment takes effect and is handed
    # over for execution, which an agency system does days later, not in this script.
    judge.fire(case_id, "announce_judgment", announced_on=announced_on or time.strftime("%Y-%m-%d"),
               verdict="被告人张三犯盗窃罪，判处有期徒刑一年。")
    clerk.fire(case_id, "deliver_judgment")
    final = clerk.get(f"/api/v1/cases/{case_id}/")

    receipts = [t for t in police.get(f"/api/v1/transfers/?direction=outgoing&case={case_id}")["results"]
                if t["status"] == "accepted"]
    return {
        "case": case_id, "region": region, "documents": documents, "final": final,
        "court_number": next((n["number"] for n in docketed["numbers"] if n["kind"] == "court_docket"), None),
        "accepted_outgoing_from_police": len(receipts),
        "log": [line for client in c.values() for line in client.log],
    }


def main() -> int:
    base_url = os.environ.get("CASEHUB_URL", "http://127.0.0.1:8000")
    missing = [r for r in ROLES if not os.environ.get(f"CASEHUB_TOKEN_{r.upper()}")]
    if missing:
        print("missing tokens: " + ", ".join(f"CASEHUB_TOKEN_{r.upper()}" for r in missing), file=sys.stderr)
        return 2
    result = run_journey(base_url, {r: os.environ[f"CASEHUB_TOKEN_{r.upper()}"] for r in ROLES})
    print(f"case {result['case']}: {result['final']['stage']} / {result['final']['status']}, "
          f"court number {result['court_number']}, {len(result['log'])} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
