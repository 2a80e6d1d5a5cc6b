"""schemathesis hooks for scripts/fuzz-api.

An Idempotency-Key names one request: the service answers a key reused for a different request
with 422, as it should. The fuzzer reuses the values it generates across requests, so a valid
key is made unique per request here; an invalid one is sent as generated, to be refused.
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
