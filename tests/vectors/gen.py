#!/usr/bin/env python3
"""Signature vectors for hookgate, computed independently with Python's hmac and hashlib.

Each vector is what a genuine sender puts on the wire: a body, and the header it signs it with,
following the senders' own documentation (../shared/seeds). hookgate's tests check that it accepts
every vector and that its own signing produces the same header value.

Regenerate with:  python3 tests/vectors/gen.py > tests/vectors/signatures.json
A test re-runs this script and fails if the output differs from the checked-in file.
"""
import base64
import hashlib
import hmac
import json
import sys

SECRET = "my_webhook_secret_0123456789"
ROTATED = "an-older-secret-still-valid-42"

# Bodies exactly as the seeds document them (whitespace included: the signature covers bytes).
NINJAONE_ALERT = """{
  "eventType": "ALERT_TRIGGERED",
  "timestamp": "2024-01-15T10:30:00Z",
  "data": {
    "uid": "abc123",
    "deviceId": 12345,
    "severity": "CRITICAL",
    "message": "CPU usage above 95%",
    "sourceType": "CONDITION"
  }
}"""
NINJARMM_ACTIVITY = (
    '{"id":177210,"activityTime":1742391675.556,"deviceId":7,'
    '"seriesUid":"e6b0b0bd-5753-445d-9e4a-71c08983cbd5","activityType":"CONDITION",'
    '"statusCode":"TRIGGERED","status":"Triggered","type":"Condition"}'
)
WEBNET_JOB = """{
  "event_timestamp": "2025-12-02T01:00:00Z",
  "event_type": "job.completed",
  "actor": {"id": 1, "username": "admin"},
  "job": {"id": 123, "type": "config_backup", "status": "success"}
}"""
HOMA_TICKET = (
    '{"event":"ticket.created","timestamp":"2024-01-15T10:30:00Z","data":{"ticket_id":123,'
    '"title":"Login Issue","status":"new","priority":"medium"}}'
)
OPSCENTER_USER = (
    '{"event": "user.created", "timestamp": "2025-01-26T12:00:00Z", "data": {"user_id": 123, '
    '"email": "user@example.com"}, "webhook_id": "webhook-uuid"}'
)
UNICODE = '{"event":"ticket.created","timestamp":"2024-01-15T10:30:00Z","data":{"ticket_id":7,"title":"Überprüfung – 東京 ✓"}}'


def mac(secret, body, algorithm="sha256"):
    return hmac.new(secret.encode(), body.encode(), getattr(hashlib, algorithm)).digest()


def vector(name, profile, body, header, value, secrets=None, auth=None):
    v = {"name": name, "profile": profile, "secrets": secrets or [SECRET], "body": body,
         "header": header, "value": value}
    if auth:
        v["auth"] = auth
    return v


def main():
    vectors = [
        vector("ninjaone alert (seed example)", "ninjaone", NINJAONE_ALERT, "X-Ninja-Signature",
               "sha256=" + mac(SECRET, NINJAONE_ALERT).hex()),
        vector("ninjarmm activity, bearer token", "ninjarmm", NINJARMM_ACTIVITY, "Authorization",
               "Bearer " + SECRET),
        vector("webnet job.completed", "webnet", WEBNET_JOB, "X-Webhook-Signature",
               "sha256=" + mac(SECRET, WEBNET_JOB).hex()),
        vector("homa ticket.created (bare hex)", "homa", HOMA_TICKET, "X-Webhook-Signature",
               mac(SECRET, HOMA_TICKET).hex()),
        vector("opscenter user.created (bare hex)", "opscenter", OPSCENTER_USER,
               "X-Webhook-Signature", mac(SECRET, OPSCENTER_USER).hex()),
        vector("homa, non-ASCII body", "homa", UNICODE, "X-Webhook-Signature",
               mac(SECRET, UNICODE).hex()),
        vector("webnet signed with the second (rotated) secret", "webnet", WEBNET_JOB,
               "X-Webhook-Signature", "sha256=" + mac(ROTATED, WEBNET_JOB).hex(),
               secrets=[SECRET, ROTATED]),
        vector("generic sha1 hex", "generic", HOMA_TICKET, "X-Hub-Signature",
               "sha1=" + mac(SECRET, HOMA_TICKET, "sha1").hex(),
               auth={"header": "X-Hub-Signature", "prefix": "sha1=", "encoding": "hex",
                     "algorithm": "sha1"}),
        vector("generic sha512 base64", "generic", HOMA_TICKET, "X-Signature",
               base64.b64encode(mac(SECRET, HOMA_TICKET, "sha512")).decode(),
               auth={"header": "X-Signature", "prefix": "", "encoding": "base64",
                     "algorithm": "sha512"}),
        vector("generic sha256 base64url", "generic", UNICODE, "X-Sig",
               "v1=" + base64.urlsafe_b64encode(mac(SECRET, UNICODE)).decode(),
               auth={"header": "X-Sig", "prefix": "v1=", "encoding": "base64url",
                     "algorithm": "sha256"}),
    ]
    json.dump({"generator": "tests/vectors/gen.py", "vectors": vectors}, sys.stdout,
              indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
