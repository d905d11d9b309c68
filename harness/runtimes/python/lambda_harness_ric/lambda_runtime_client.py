"""The Runtime API calls (/next, response, error, init error) as awslambdaric's C client makes them,
over our own HTTP (lambda_runtime_http)."""

from .lambda_runtime_http import Connection, _BadAnswer
from .lambda_runtime_log_utils import log_runtime_error
from .lambda_runtime_marshaller import to_json

_API_PREFIX = "/2018-06-01/runtime"
_NEXT_PATH = _API_PREFIX + "/invocation/next"
_INIT_ERROR_PATH = _API_PREFIX + "/init/error"
_XRAY_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_MAX_XRAY_CAUSE_BYTES = 1024 * 1024


class RuntimeApiError(Exception):
    """A Runtime API call failed at the HTTP or connection level."""


class Invocation(object):
    __slots__ = (
        "request_id",
        "deadline_ms",
        "invoked_function_arn",
        "trace_id",
        "client_context",
        "cognito_identity",
        "tenant_id",
        "content_type",
        "body",
    )


def _header(headers, name):
    """A response header as the C client returns it: None when absent or empty. `headers` is a
    Response's; `name` is lower-case."""
    return headers.get(name) or None


def _latin1_body(text):
    """awslambdaric posts /init/error through http.client with a str body, which http.client
    encodes as Latin-1: from python3.12 (raw Unicode in JSON) an "é" goes out as one byte, and a
    character beyond Latin-1 raises there, before anything is posted (the runtime exits 1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError as error:
        reason = "Body (%.20r) is not valid Latin-1. Use body.encode('utf-8') if you want to send it encoded in UTF-8." % (
            text[error.start:error.end],
        )
        raise UnicodeEncodeError(error.encoding, error.object, error.start, error.end, reason) from None


def _dropped(conn, attempt, method, path, error):
    """A dropped keep-alive connection: closed, so the next attempt reconnects on a fresh socket;
    a second failure ends the request."""
    conn.close()
    if attempt == 2:
        raise RuntimeApiError(
            "%s %s failed: %s: %s" % (method, path, type(error).__name__, error)
        ) from error


class RuntimeApiClient(object):
    def __init__(self, address, sock=None):
        # Blocking sockets whatever socket.setdefaulttimeout() user code sets: /next must never
        # time out.
        self._conn = Connection(address, sock)

    def _request(self, method, path, body=None, headers=(), wait=None):
        """`wait(sock)`, when given, runs once the request is sent and returns when the answer
        can be read. It runs outside the retry: what a signal handler raises in it is the
        handler's, not a dropped connection."""
        conn = self._conn
        for attempt in (1, 2):
            try:
                conn.send(method, path, body, headers)
            except (OSError, _BadAnswer, ValueError) as e:
                _dropped(conn, attempt, method, path, e)
                continue
            if wait is not None and not conn.answer_waiting:
                wait(conn.sock)
            try:
                return conn.read()
            except (OSError, _BadAnswer) as e:
                _dropped(conn, attempt, method, path, e)

    def next_invocation(self, wait=None):
        response = self._request("GET", _NEXT_PATH, wait=wait)
        body = response.body
        if response.status != 200:
            raise RuntimeApiError(
                "Failed to get next invocation. Http Response code: %d. Body: %r"
                % (response.status, body[:1024])
            )
        msg = response.headers
        request_id = _header(msg, "lambda-runtime-aws-request-id")
        if request_id is None:
            raise RuntimeApiError(
                "Failed to get next invocation: no Lambda-Runtime-Aws-Request-Id header"
            )
        invocation = Invocation()
        invocation.request_id = request_id
        try:
            invocation.deadline_ms = int(_header(msg, "lambda-runtime-deadline-ms") or 0)
        except ValueError:
            invocation.deadline_ms = 0
        invocation.invoked_function_arn = _header(msg, "lambda-runtime-invoked-function-arn") or ""
        invocation.trace_id = _header(msg, "lambda-runtime-trace-id")
        invocation.client_context = _header(msg, "lambda-runtime-client-context")
        invocation.cognito_identity = _header(msg, "lambda-runtime-cognito-identity")
        invocation.tenant_id = _header(msg, "lambda-runtime-aws-tenant-id")
        invocation.content_type = _header(msg, "content-type")
        invocation.body = body
        return invocation

    def post_invocation_result(self, invoke_id, result_data, content_type):
        body = result_data if isinstance(result_data, bytes) else result_data.encode("utf-8")
        response = self._request(
            "POST",
            "%s/invocation/%s/response" % (_API_PREFIX, invoke_id),
            body,
            (("Content-Type", content_type), (_XRAY_HEADER, "")),
        )
        if not 200 <= response.status < 300:
            # awslambdaric's C client logs this line with the body as it came (its newline
            # too), and raises: the runtime exits 1 (e.g. after 413 Function.ResponseSizeTooLarge).
            log_runtime_error(
                "Failed to post handler success response. Http response code: %d. %s"
                % (response.status, response.body.decode("utf-8", "replace"))
            )
            raise RuntimeError("Failed to post invocation response")

    def post_invocation_error(self, invoke_id, error_response_data, xray_fault):
        xray_bytes = xray_fault.encode("utf-8")
        if len(xray_bytes) >= _MAX_XRAY_CAUSE_BYTES:
            xray_bytes = b""
        # No Lambda-Runtime-Function-Error-Type header: awslambdaric's C client never sends one
        # on invocation errors, so the platform records Runtime.Unknown (LAMBDA-SPEC s7).
        response = self._request(
            "POST",
            "%s/invocation/%s/error" % (_API_PREFIX, invoke_id),
            error_response_data.encode("utf-8"),
            (("Content-Type", "application/json"), (_XRAY_HEADER, xray_bytes)),
        )
        if not 200 <= response.status < 300:
            log_runtime_error(
                "Failed to post handler error response. Http response code: %d. %s"
                % (response.status, response.body.decode("utf-8", "replace").strip())
            )

    def post_init_error(self, error_result):
        response = self._request(
            "POST",
            _INIT_ERROR_PATH,
            _latin1_body(to_json(error_result)),
            ((_ERROR_TYPE_HEADER, error_result["errorType"]),),
        )
        if response.status != 202:
            log_runtime_error(
                "Request to Lambda Runtime '%s' endpoint failed. Reason: '%d'. Response body: '%s'"
                % (_INIT_ERROR_PATH, response.status, response.body.decode("utf-8", "replace").strip())
            )
