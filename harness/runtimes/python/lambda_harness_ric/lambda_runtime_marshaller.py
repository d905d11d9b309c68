"""JSON as awslambdaric writes it with simplejson: default separators, allow_nan, Decimal written as
a raw number, and ensure_ascii=False only on the 3.12+ execution environments."""

import decimal
import json
import os
import re

from .lambda_runtime_exception import FaultException

# awslambdaric switches two behaviours on these exact AWS_EXECUTION_ENV values (LAMBDA-SPEC s7):
# raw UTF-8 in JSON (ensure_ascii=False) and waiting for /next where signal handlers can run.
MODERN_EXECUTION_ENVS = frozenset("AWS_Lambda_python3.%d" % minor for minor in (12, 13, 14, 15))
IS_MODERN_RUNTIME = os.environ.get("AWS_EXECUTION_ENV") in MODERN_EXECUTION_ENVS

_DECIMAL_MARK = "lhdec" + os.urandom(8).hex()
_DECIMAL_RE = re.compile('"%s(.*?)%s"' % (_DECIMAL_MARK, _DECIMAL_MARK))
_decimals_seen = [0]


def _json_default(obj):
    if isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return float("nan")
        # The C encoder cannot emit raw text; write a marked string and unquote it afterwards.
        _decimals_seen[0] += 1
        return _DECIMAL_MARK + str(obj) + _DECIMAL_MARK
    raise TypeError("Object of type %s is not JSON serializable" % obj.__class__.__name__)


_json_encoder = json.JSONEncoder(ensure_ascii=not IS_MODERN_RUNTIME, default=_json_default)


def to_json(obj):
    seen = _decimals_seen[0]
    text = _json_encoder.encode(obj)
    if _decimals_seen[0] != seen:
        text = _DECIMAL_RE.sub(r"\1", text)
    return text


def unmarshal_request(body, content_type):
    if content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(
            FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)), None
        )


def marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return to_json(response), "application/json"
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)), None
        )
