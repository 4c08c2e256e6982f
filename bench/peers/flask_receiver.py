"""Flask receiver for bench/load.sh, run as `gunicorn -w 2 flask_receiver:app`.

The seeds' Homa receiver (shared/seeds/homa-webhooks.md, "Python Example"), made safe the way its
comments intend: HMAC-SHA256 of the raw body, hex, compared in constant time with
hmac.compare_digest, then request.get_json(). It answers 202 with a small JSON body, like
hookgate. The secret comes from the BENCH_SECRET environment variable. It does no dedup and
ignores X-Request-Id; nothing is printed per request (the seed's print() would only measure the
log pipe).
"""

import hashlib
import hmac
import os

from flask import Flask, request

SECRET = os.environ["BENCH_SECRET"].encode()

app = Flask(__name__)


@app.route("/hooks/homa", methods=["POST"])
def webhook():
    signature = request.headers.get("X-Webhook-Signature", "")
    payload = request.get_data()
    expected = hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.lower(), expected):
        return {"error": "invalid_signature"}, 401
    event = request.get_json()
    if not isinstance(event, dict) or "event" not in event:
        return {"error": "invalid_event"}, 422
    return {"status": "accepted"}, 202
