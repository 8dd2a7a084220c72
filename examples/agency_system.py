#!/usr/bin/env python3
"""A reference agency system: keeps a local mirror of its agency's casehub events and inbox.

An agency's own case system (the police's, the procuratorate's, the court's) learns what happened
on the platform in two ways, and this client uses both:

* the **change feed** ``GET /api/v1/events/?after=<cursor>`` — read on start and whenever it likes;
  the cursor is stored with the mirror, so a system that was down for a week resumes where it
  stopped, with nothing lost and nothing twice;
* **webhooks** — the platform POSTs each event (CloudEvents JSON) to an HTTPS address the system
  registered, signed per the Standard Webhooks convention. The receiver checks the signature and
  the timestamp (a tampered body or a replay older than five minutes is refused with 401) and
  applies each ``webhook-id`` once (a redelivery after a worker restart is acknowledged, not
  applied again).

The mirror is a SQLite file: ``events`` (every event once, by id) and ``inbox`` (packages sent to
this agency and not yet answered), plus the feed cursor. Usage::

    export CASEHUB_URL=https://casehub.example.gov.cn CASEHUB_TOKEN=chk_… CASEHUB_WEBHOOK_SECRET=whsec_…
    python examples/agency_system.py --mirror mirror.sqlite3 --listen 0.0.0.0:8900

It needs ``httpx`` and ``standardwebhooks`` only.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SCHEMA = """
create table if not exists events (id text primary key, sequence integer not null, type text not null,
                                   case_id integer, data text not null, via text not null);
create table if not exists inbox (transfer_id integer primary key, case_id integer, kind text, from_agency text,
                                  status text not null);
create table if not exists cursor (one integer primary key check (one = 1), after integer not null);
"""


class Mirror:
    """The local copy. Applying an event is idempotent: the same id twice changes nothing."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.lock = threading.Lock()
        self.db.executescript(SCHEMA)

    @property
    def cursor(self) -> int:
        row = self.db.execute("select after from cursor").fetchone()
        return row[0] if row else 0

    def apply(self, event: dict[str, Any], *, via: str, advance_cursor: bool = False) -> bool:
        """Record one event and its effect on the inbox; False when it was already applied."""
        with self.lock:
            self.db.execute("begin immediate")
            try:
                seen = self.db.execute("select 1 from events where id = ?", (event["id"],)).fetchone()
                if not seen:
                    data = event.get("data") or {}
                    self.db.execute(
                        "insert into events (id, sequence, type, case_id, data, via) values (?, ?, ?, ?, ?, ?)",
                        (event["id"], event["sequence"], event["type"], (data.get("case") or {}).get("id"),
                         json.dumps(data, ensure_ascii=False), via))
                    self._inbox(event["type"], data)
                if advance_cursor:
                    self.db.execute("insert into cursor (one, after) values (1, ?) on conflict(one) do update "
                                    "set after = max(after, excluded.after)", (event["sequence"],))
                self.db.execute("commit")
            except BaseException:
                self.db.execute("rollback")
                raise
        return not seen

    def _inbox(self, type_: str, data: dict[str, Any]) -> None:
        transfer = data.get("transfer")
        if not transfer:
            return
        status = {"package.sent": "pending", "package.accepted": "accepted", "package.rejected": "rejected",
                  "package.withdrawn": "withdrawn", "package.delivered": "delivered",
                  "judgment.delivered": "delivered"}.get(type_)
        if status:
            self.db.execute(
                "insert into inbox (transfer_id, case_id, kind, from_agency, status) values (?, ?, ?, ?, ?) "
                "on conflict(transfer_id) do update set status = excluded.status",
                (transfer["id"], (data.get("case") or {}).get("id"), transfer["kind"], transfer["from_agency"], status))

    def inbox(self, status: str | None = None) -> list[dict[str, Any]]:
        sql = "select transfer_id, case_id, kind, from_agency, status from inbox"
        rows = self.db.execute(sql + (" where status = ?" if status else "") + " order by transfer_id",
                               (status,) if status else ()).fetchall()
        return [dict(zip(("transfer_id", "case_id", "kind", "from_agency", "status"), r, strict=True)) for r in rows]

    def events(self) -> list[dict[str, Any]]:
        rows = self.db.execute("select id, sequence, type, via from events order by sequence, id").fetchall()
        return [dict(zip(("id", "sequence", "type", "via"), r, strict=True)) for r in rows]


def sync_feed(base_url: str, token: str, mirror: Mirror, *, page: int = 200, client: httpx.Client | None = None) -> int:
    """Read the feed from the stored cursor to the end; returns how many new events were applied."""
    own = client is None
    client = client or httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    applied = 0
    try:
        while True:
            response = client.get("/api/v1/events/", params={"after": mirror.cursor, "limit": page})
            response.raise_for_status()
            body = response.json()
            for event in body["events"]:
                applied += mirror.apply(event, via="feed", advance_cursor=True)
            if not body["has_more"]:
                return applied
    finally:
        if own:
            client.close()


def event_from_cloudevent(body: dict[str, Any]) -> dict[str, Any]:
    return {"id": body["id"], "sequence": body["casehubsequence"], "type": body["type"].removeprefix("casehub."),
            "data": body.get("data") or {}}


def make_receiver(mirror: Mirror, secret: str) -> type[BaseHTTPRequestHandler]:
    verifier = Webhook(secret)

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            if length > 4 * 1024 * 1024:
                self._answer(413)
                return
            raw = self.rfile.read(length)
            try:
                body = verifier.verify(raw, {k: v for k, v in self.headers.items()})
            except WebhookVerificationError:
                self._answer(401)  # tampered, signed with another secret, or too old (a replay)
                return
            if body.get("casehubsequence") is None or body.get("id") != self.headers.get("webhook-id"):
                self._answer(400)
                return
            mirror.apply(event_from_cloudevent(body), via="webhook")
            self._answer(204)

        def _answer(self, code: int) -> None:
            self.send_response(code)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Receiver


def serve(mirror: Mirror, secret: str, host: str, port: int) -> ThreadingHTTPServer:
    """Start the webhook receiver in a background thread; returns the server (``.server_address``)."""
    server = ThreadingHTTPServer((host, port), make_receiver(mirror, secret))
    threading.Thread(target=server.serve_forever, name="agency-system-webhooks", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="agency-mirror.sqlite3")
    parser.add_argument("--listen", default="127.0.0.1:8900", help="host:port of the webhook receiver")
    args = parser.parse_args()
    url, token, secret = os.environ["CASEHUB_URL"], os.environ["CASEHUB_TOKEN"], os.environ["CASEHUB_WEBHOOK_SECRET"]
    mirror = Mirror(args.mirror)
    print(f"feed: {sync_feed(url, token, mirror)} new events; cursor {mirror.cursor}")
    host, port = args.listen.rsplit(":", 1)
    server = serve(mirror, secret, host, int(port))
    print(f"receiving webhooks on {server.server_address}; pending packages: {mirror.inbox('pending')}")
    threading.Event().wait()


if __name__ == "__main__":
    main()
