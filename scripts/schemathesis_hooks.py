"""schemathesis hooks for scripts/fuzz-api.

An Idempotency-Key names one request: the service answers a key reused for a different request
with 422, as it should. The fuzzer reuses the values it generates across requests, so a valid
key is made unique per request here; an invalid one is sent as generated, to be refused.

A header value the fuzzer generates beyond Latin-1 cannot be sent by its HTTP client (it stops
the run with an encoding error, not a finding): such a value is sent as its UTF-8 bytes, which
is what a client that sends it at all puts on the wire.
"""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[\x21-\x7e]{1,128}")


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.fullmatch(key):
        headers["Idempotency-Key"] = f"{key[:95]}-{uuid.uuid4()}"
    for name, value in list(headers.items()):
        if isinstance(value, str):
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                headers[name] = value.encode("utf-8").decode("latin-1")
