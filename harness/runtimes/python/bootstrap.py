"""lambda-harness's Python runtime interface client (standard library only).

Started by the harness as

    <python> /abs/path/harness/runtimes/python/bootstrap.py <module.function>

with cwd = the function folder (the task root) and the Lambda runtime environment variables
(AWS_LAMBDA_RUNTIME_API, LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV, AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*).

It behaves observably like AWS's awslambdaric (LAMBDA-SPEC.md section 7): the same Runtime API
calls, error bodies and fault types, context object, log line formats, Unicode switch, and the
same SIGTERM behaviour per runtime profile. It is a single file on purpose: the folder is removed
from sys.path before user code is imported, so nothing here can shadow a user module.
"""

import os
import sys

# Lambda puts the task root (/var/task) first on sys.path and the runtime's own code far behind
# it. Python put this file's folder first; drop it and put the task root in front, so the user's
# modules (even one named `bootstrap`) win and nothing of ours can shadow them.
_THIS_DIR = os.path.dirname(os.path.realpath(__file__))
sys.path[:] = [
    p for p in sys.path if os.path.realpath(p or os.curdir) != _THIS_DIR
]
_TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
sys.path.insert(0, _TASK_ROOT)
# /var/task is read-only on Lambda, so importing the function never writes __pycache__ there (and
# every cold start compiles what the package did not ship compiled). Keep the user's folder clean.
sys.dont_write_bytecode = True

import socket  # noqa: E402

_RUNTIME_API = os.environ.get("AWS_LAMBDA_RUNTIME_API") or "127.0.0.1:9001"


def _open_connection(address):
    """A TCP connection to `host:port`, Nagle off; OSError, or ValueError for a port that is no
    number."""
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host.strip("[]"), int(port)))
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass
    return sock


def _connect_early(address):
    """The Runtime API connection, opened before the imports below and the handler's, not at the
    first /next. No request is made, so nothing on the API changes; the harness learns early which
    socket is its own (and so reads no socket table to describe it before a SIGKILL). Any failure
    is left to the first request, which reports it as before."""
    try:
        return _open_connection(address)
    except (OSError, ValueError):
        return None


_EARLY_SOCKET = _connect_early(_RUNTIME_API)

import decimal  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

try:  # the C accessor returns plain ints for SIG_DFL/SIG_IGN: ~5x cheaper than signal.getsignal
    from _signal import getsignal as _getsignal
except ImportError:  # pragma: no cover - other implementations
    _getsignal = signal.getsignal

_RIC_VERSION = "lambda-harness"
_USER_AGENT = "aws-lambda-python/%d.%d.%d-%s" % (sys.version_info[:3] + (_RIC_VERSION,))

_EXECUTION_ENV = os.environ.get("AWS_EXECUTION_ENV")

# awslambdaric switches two behaviours on these exact AWS_EXECUTION_ENV values (LAMBDA-SPEC s7):
# raw UTF-8 in JSON (ensure_ascii=False) and waiting for /next where signal handlers can run.
_MODERN_EXECUTION_ENVS = frozenset(
    "AWS_Lambda_python3.%d" % minor for minor in (12, 13, 14, 15)
)
_RAW_UNICODE = _EXECUTION_ENV in _MODERN_EXECUTION_ENVS
_HANDLERS_RUN_DURING_NEXT = _EXECUTION_ENV in _MODERN_EXECUTION_ENVS

_LOG_FORMAT_JSON = (os.environ.get("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
_LOG_LEVEL = {None: "", "TRACE": "DEBUG"}.get(
    os.environ.get("AWS_LAMBDA_LOG_LEVEL"), os.environ.get("AWS_LAMBDA_LOG_LEVEL") or ""
).upper()

# awslambdaric would write framed logs to this fd; an emulator leaves it unset. If someone sets it
# anyway, drop it (as awslambdaric does) and keep logging to stdout.
os.environ.pop("_LAMBDA_TELEMETRY_LOG_FD", None)

_API_PREFIX = "/2018-06-01/runtime"
_NEXT_PATH = _API_PREFIX + "/invocation/next"
_INIT_ERROR_PATH = _API_PREFIX + "/init/error"
_XRAY_HEADER = "Lambda-Runtime-Function-XRay-Error-Cause"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_MAX_XRAY_CAUSE_BYTES = 1024 * 1024

_ERROR_LOG_LINE_TERMINATE = "\r"
_ERROR_LOG_INDENT = "\u00a0"  # NO-BREAK SPACE
_TEXT_LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n"
_TEXT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_JSON_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_LAMBDA_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this "
    "error by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html\r"
)

_GLOBAL_AWS_REQUEST_ID = None
_GLOBAL_TENANT_ID = None


class FaultException(Exception):
    """A runtime fault with a Lambda error type (Runtime.*)."""

    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    LAMBDA_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"
    LAMBDA_RUNTIME_CLIENT_ERROR = "Runtime.LambdaRuntimeClientError"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.msg = msg
        self.exception_type = exception_type
        self.trace = trace


# ---------------------------------------------------------------------------------------------
# JSON. awslambdaric uses simplejson: default separators, allow_nan, Decimal written as a raw
# number, and ensure_ascii=False only on the 3.12+ execution environments.

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


_json_encoder = json.JSONEncoder(ensure_ascii=not _RAW_UNICODE, default=_json_default)


def to_json(obj):
    seen = _decimals_seen[0]
    text = _json_encoder.encode(obj)
    if _decimals_seen[0] != seen:
        text = _DECIMAL_RE.sub(r"\1", text)
    return text


def _unmarshal_request(body, content_type):
    if content_type != "application/json":
        return body
    try:
        return json.loads(body)
    except Exception as e:
        raise FaultException(
            FaultException.UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)), None
        )


def _marshal_response(response):
    if isinstance(response, bytes):
        return response, "application/unknown"
    try:
        return to_json(response), "application/json"
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)), None
        )


# ---------------------------------------------------------------------------------------------
# The context object.


class LambdaContext(object):
    def __init__(
        self,
        invoke_id,
        client_context,
        cognito_identity,
        epoch_deadline_time_in_ms,
        invoked_function_arn=None,
        tenant_id=None,
    ):
        self.aws_request_id = invoke_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self._w3c_fields = _take_w3c(client_context)

        self.client_context = _make_obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _make_obj_from_dict(Client, self.client_context.client)

        self.identity = _make_obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")

        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        epoch_now_in_ms = int(time.time() * 1000)
        delta_ms = self._epoch_deadline_time_in_ms - epoch_now_in_ms
        return delta_ms if delta_ms > 0 else 0

    def w3c(self):
        """The W3C trace context (traceparent, tracestate, baggage) the invoke's client context carried."""
        return dict(self._w3c_fields)

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
            "])"
        )


class Client(object):
    __slots__ = [
        "installation_id",
        "app_title",
        "app_version_name",
        "app_version_code",
        "app_package_name",
    ]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}"
            "])"
        )


class ClientContext(object):
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"custom={self.custom},"
            f"env={self.env},"
            f"client={self.client}"
            "])"
        )


# awslambdaric 4.x: client context "w3c" is taken out of client_context and only these string
# fields are kept, for context.w3c().
_W3C_FIELDS = ("traceparent", "tracestate", "baggage")


def _take_w3c(client_context):
    given = client_context.pop("w3c", None) if isinstance(client_context, dict) else None
    if not isinstance(given, dict):
        return {}
    return {name: given[name] for name in _W3C_FIELDS if isinstance(given.get(name), str)}


def _make_obj_from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field, None))
    return obj


def _parse_json_header(header, name):
    try:
        return json.loads(header)
    except Exception as e:
        raise FaultException(
            FaultException.LAMBDA_CONTEXT_UNMARSHAL_ERROR,
            "Unable to parse {} JSON: {}".format(name, str(e)),
            None,
        )


def _create_lambda_context(invocation):
    client_context = None
    if invocation.client_context:
        client_context = _parse_json_header(invocation.client_context, "Client Context")
    cognito_identity = None
    if invocation.cognito_identity:
        cognito_identity = _parse_json_header(invocation.cognito_identity, "Cognito Identity")
    return LambdaContext(
        invocation.request_id,
        client_context,
        cognito_identity,
        invocation.deadline_ms,
        invocation.invoked_function_arn,
        invocation.tenant_id,
    )


# ---------------------------------------------------------------------------------------------
# Logging: stdout/stderr flushed on every write, a root handler in Lambda's text or JSON format,
# and the one-write unhandled-exception record.


class Unbuffered(object):
    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        pass

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        written = self.stream.write(msg)
        self.stream.flush()
        return written

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


class LambdaLoggerHandler(logging.Handler):
    def emit(self, record):
        sys.stdout.write(self.format(record))


class LambdaLoggerFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _GLOBAL_AWS_REQUEST_ID or ""
        record.tenant_id = _GLOBAL_TENANT_ID
        return True


_JSON_RESERVED_FIELDS = frozenset(
    (
        "name",
        "msg",
        "args",
        "levelname",
        "levelno",
        "pathname",
        "filename",
        "module",
        "exc_info",
        "exc_text",
        "stack_info",
        "lineno",
        "funcName",
        "created",
        "msecs",
        "relativeCreated",
        "thread",
        "threadName",
        "processName",
        "process",
        "aws_request_id",
        "tenant_id",
        "_frame_type",
    )
)
_encode_log_json = json.JSONEncoder(ensure_ascii=False).encode


class JsonFormatter(logging.Formatter):
    def __init__(self):
        super().__init__(datefmt=_JSON_DATE_FORMAT)

    def format(self, record):
        record.levelno = min(50, max(0, record.levelno)) // 10 * 10
        record.levelname = logging.getLevelName(record.levelno)
        exc_info = record.exc_info
        result = {
            "timestamp": self.formatTime(record, self.datefmt),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "stackTrace": traceback.format_tb(exc_info[2]) if exc_info else None,
            "errorType": exc_info[0].__name__ if exc_info else None,
            "errorMessage": str(exc_info[1]) if exc_info else None,
            "requestId": getattr(record, "aws_request_id", None),
            "location": (
                f"{record.pathname}:{record.funcName}:{record.lineno}" if exc_info else None
            ),
        }
        if getattr(record, "tenant_id", None) is not None:
            result["tenantId"] = record.tenant_id
        result.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _JSON_RESERVED_FIELDS and key not in result
        )
        result = {k: v for k, v in result.items() if v is not None}
        return _encode_log_json(result) + "\n"


def _setup_logging():
    logging.Formatter.converter = time.gmtime
    logger = logging.getLogger()
    handler = LambdaLoggerHandler()
    if _LOG_FORMAT_JSON:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(_TEXT_LOG_FORMAT, _TEXT_DATE_FORMAT))
    # The root level stays Python's default (WARNING) unless AWS_LAMBDA_LOG_LEVEL names a level.
    if _LOG_LEVEL in logging._nameToLevel:
        logger.setLevel(_LOG_LEVEL)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def _replace_line_indentation(line, indent_char, new_indent_char):
    count = 0
    for c in line:
        if c != indent_char:
            break
        count += 1
    return (new_indent_char * count) + line[count:]


def _log_error(error_result):
    if _LOG_FORMAT_JSON:
        record = {
            "timestamp": time.strftime(_JSON_DATE_FORMAT, time.gmtime(time.time())),
            "level": "ERROR",
            **error_result,
        }
        sys.stdout.write(to_json(record) + "\n")
        return

    description = "[ERROR]"
    error_type = error_result.get("errorType")
    if error_type:
        description += " " + error_type
    error_message = error_result.get("errorMessage")
    if error_message:
        if error_type:
            description += ":"
        description += " " + error_message

    lines = [description]
    stack_trace = error_result.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                for trace_line in element.splitlines():
                    lines.append(_replace_line_indentation(trace_line, " ", _ERROR_LOG_INDENT))
    # One write, lines joined with \r, so CloudWatch keeps it as one event.
    sys.stdout.write(_ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


def _log_runtime_error(message):
    """A diagnostic as aws-lambda-cpp's logging::log_error prints it: printf, so on stdout."""
    sys.stdout.write("[ERROR] [%d] LAMBDA_RUNTIME %s\n" % (int(time.time() * 1000), message))


# ---------------------------------------------------------------------------------------------
# Errors.


def _make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _extract_traceback(tb):
    """(filename, lineno, name, line) per frame, without the leading frames of this file."""
    tb_tuples = [
        (frame.filename, frame.lineno, frame.name, frame.line)
        for frame in traceback.extract_tb(tb)
    ]
    for i in range(len(tb_tuples)):
        if "/bootstrap.py" not in tb_tuples[i][0]:
            return tb_tuples[i:]
    return tb_tuples


def _build_fault_result(exc_info, msg):
    etype, value, tb = exc_info
    tb_tuples = _extract_traceback(tb)
    return _make_error(
        msg if msg else str(value), etype.__name__, traceback.format_list(tb_tuples)
    )


def _make_xray_fault(ex_type, ex_msg, working_dir, tb_tuples):
    stack = []
    files = set()
    for tb_file, tb_line, tb_method, _tb_code in tb_tuples:
        stack.append({"label": tb_method, "path": tb_file, "line": tb_line})
        files.add(tb_file)
    return {
        "working_directory": working_dir,
        "exceptions": [{"message": ex_msg, "type": ex_type, "stack": stack}],
        "paths": list(files),
    }


# ---------------------------------------------------------------------------------------------
# The Runtime API client: one persistent keep-alive HTTP/1.1 connection, written on the socket.
#
# awslambdaric makes these calls in C++ (aws-lambda-cpp over libcurl). This client used
# http.client before, whose email-based header parser and buffered file objects cost ~110 us of
# CPU per invoke here, more than everything else the client does (bench/findings.md). The
# requests are the bytes http.client wrote (request line, Host, User-Agent, the call's headers,
# Content-Length, body in one send); an answer is read by Content-Length, chunked, or to the end
# of the connection, as HTTP/1.1 allows.


class RuntimeApiError(Exception):
    """A Runtime API call failed at the HTTP or connection level."""


class _BadAnswer(Exception):
    """The server's bytes were not an HTTP/1.1 answer, or the connection ended inside one."""


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


class _Response(object):
    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> the first value, as message.get gave it
        self.body = body


_MAX_HEAD_BYTES = 64 * 1024
_RECV_BYTES = 64 * 1024
_NO_BODY_STATUSES = frozenset((204, 304))


def _header(headers, name):
    """A response header as the C client returns it: None when absent or empty. `headers` is a
    _Response's; `name` is lower-case."""
    return headers.get(name) or None


def _header_bytes(value):
    # http.client sends str values as latin-1 and refuses CR/LF in them (a ValueError that would
    # end the runtime); here such a value is sent with spaces instead.
    data = value if isinstance(value, bytes) else value.encode("latin-1", "replace")
    if b"\r" in data or b"\n" in data:
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return data


class _Connection(object):
    def __init__(self, address, sock=None):
        self._address = address
        host, _, port = address.rpartition(":")
        # Host as http.client writes it: the port left out when it is 80.
        self._host = _header_bytes(host if port == "80" else address)
        self.sock = sock
        self._buffer = b""  # bytes read past the end of the last answer

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer = b""

    def _connect(self):
        # A port that is no number is a ValueError, which _request reports like a refused connection.
        self.sock = _open_connection(self._address)
        self._buffer = b""

    def send(self, method, path, body, headers):
        if self.sock is None:
            self._connect()
        parts = [
            b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n"
            % (method.encode("ascii"), path.encode("utf-8"), self._host, _USER_AGENT_BYTES)
        ]
        for name, value in headers:
            parts.append(b"%s: %s\r\n" % (name.encode("ascii"), _header_bytes(value)))
        if body is not None:
            parts.append(b"Content-Length: %d\r\n" % len(body))
        parts.append(b"\r\n")
        if body is not None:
            parts.append(body)
        self.sock.sendall(b"".join(parts))

    @property
    def answer_waiting(self):
        """Whether bytes of the next answer were already read (nothing to wait for)."""
        return bool(self._buffer)

    def _more(self, data, what):
        chunk = self.sock.recv(_RECV_BYTES)
        if not chunk:
            raise _BadAnswer("Remote end closed connection %s" % what)
        return data + chunk

    def _exactly(self, data, count):
        """`count` bytes: those already in `data`, then straight from the socket."""
        if len(data) >= count:
            return data[:count], data[count:]
        out = bytearray(count)
        out[: len(data)] = data
        view = memoryview(out)
        got = len(data)
        while got < count:
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise _BadAnswer("Remote end closed connection inside a body")
            got += n
        return bytes(out), b""

    def _line(self, data):
        while True:
            end = data.find(b"\r\n")
            if end >= 0:
                return data[:end], data[end + 2 :]
            if len(data) > _MAX_HEAD_BYTES:
                raise _BadAnswer("chunk line too long")
            data = self._more(data, "inside a chunked body")

    def _chunked(self, data):
        pieces = []
        while True:
            line, data = self._line(data)
            try:
                size = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise _BadAnswer("bad chunk size %r" % line[:64]) from None
            if size == 0:
                while True:  # trailers, up to the empty line
                    line, data = self._line(data)
                    if not line:
                        return b"".join(pieces), data
            piece, data = self._exactly(data, size + 2)
            pieces.append(piece[:size])

    def read(self):
        data = self._buffer
        self._buffer = b""
        while True:
            end = data.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(data) > _MAX_HEAD_BYTES:
                raise _BadAnswer("answer head too long")
            data = self._more(data, "without response" if not data else "inside a head")
        lines = data[:end].decode("latin-1").split("\r\n")
        data = data[end + 4 :]
        status_line = lines[0].split(None, 2)
        try:
            if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
                raise ValueError
            status = int(status_line[1])
        except ValueError:
            raise _BadAnswer("bad status line %r" % lines[0][:64]) from None
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon:
                name = name.strip().lower()
                if name not in headers:
                    headers[name] = _utf8(value.strip())
        keep = headers.get("connection", "").lower() != "close" and status_line[0] != "HTTP/1.0"
        length = headers.get("content-length")
        if status in _NO_BODY_STATUSES or 100 <= status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body, data = self._chunked(data)
        elif length is not None:
            try:
                count = int(length)
            except ValueError:
                raise _BadAnswer("bad Content-Length %r" % length[:64]) from None
            body, data = self._exactly(data, count)
        else:
            pieces = [data]
            while True:
                chunk = self.sock.recv(_RECV_BYTES)
                if not chunk:
                    break
                pieces.append(chunk)
            body, data, keep = b"".join(pieces), b"", False
        if keep:
            self._buffer = data
        else:
            self.close()
        return _Response(status, headers, body)


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


def _utf8(value):
    # The head is decoded as latin-1, byte for byte; the C client hands Python the raw UTF-8.
    if value.isascii():
        return value
    return value.encode("latin-1").decode("utf-8", "replace")


_USER_AGENT_BYTES = _USER_AGENT.encode("latin-1")


def _dropped(conn, attempt, method, path, error):
    """A dropped keep-alive connection: closed, so the next attempt reconnects on a fresh socket;
    a second failure ends the request."""
    conn.close()
    if attempt == 2:
        raise RuntimeApiError(
            "%s %s failed: %s: %s" % (method, path, type(error).__name__, error)
        ) from error


class RuntimeApiClient(object):
    def __init__(self, address):
        # Blocking sockets whatever socket.setdefaulttimeout() user code sets: /next must never
        # time out.
        self._conn = _Connection(address, _EARLY_SOCKET if address == _RUNTIME_API else None)

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
            _log_runtime_error(
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
            _log_runtime_error(
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
            _log_runtime_error(
                "Request to Lambda Runtime '%s' endpoint failed. Reason: '%d'. Response body: '%s'"
                % (_INIT_ERROR_PATH, response.status, response.body.decode("utf-8", "replace").strip())
            )


# ---------------------------------------------------------------------------------------------
# Waiting for /next, and SIGTERM, by runtime profile.
#
# awslambdaric installs no signal handler. What decides whether a user's
# signal.signal(SIGTERM, handler) ever runs on Lambda is where the main thread waits for /next:
#
# - 3.12+ (AWS_EXECUTION_ENV in _MODERN_EXECUTION_ENVS): awslambdaric makes the blocking call in
#   a one-worker ThreadPoolExecutor and the main thread waits in future.result(), in Python, where
#   signals interrupt the wait and CPython runs the handler on the main thread; during Shutdown,
#   when /next is never answered, that is how a function shuts down gracefully. Here the main
#   thread itself waits, in poll() on the Runtime API socket and on a pipe that is the signal
#   wakeup fd (ours for the wait only), then reads the answer: handlers run during the wait as
#   there, a handler that calls sys.exit() ends the process at once as there, and between
#   invokes no thread of ours exists (awslambdaric's executor is shut down after each /next, so
#   a handler sees only the main thread there too). A worker thread per /next cost two
#   cross-core wake-ups per invoke (~0.1-0.25 ms of the invoke p50 here, bench/findings.md).
#   Why the wakeup pipe: a wait that only the signal's EINTR can end loses a signal that lands
#   just before the wait's syscall (CPython's C handler only flags it). On Lambda SHUTDOWN comes
#   long after /next, so that window is never hit; here Shutdown can follow the /next within a
#   millisecond, and under load 8% of SIGTERM handlers never ran (21 of 250, with the lock wait
#   the worker design used; test/runtimes/sigterm-race.test.ts). A signal, whenever it lands,
#   leaves a byte in the pipe that ends the poll; the handler runs at the next bytecode
#   boundary, and the wait goes on.
#
# - 3.10/3.11 (or AWS_EXECUTION_ENV unset): the main thread sits inside the C extension's next()
#   (libcurl, retrying on EINTR). CPython only runs Python handlers on the main thread between
#   bytecodes, so the handler is merely flagged and would run after next() returns, which during
#   Shutdown is never: SIGKILL comes first. Our /next is Python socket code, where EINTR would run
#   the handler at once, so we reproduce the C behaviour by blocking, in the main thread only,
#   every signal whose disposition is a Python callable for the duration of /next. The kernel then
#   leaves such a signal pending, or delivers it to another thread (threads the user started keep
#   their own mask), whose C-level handler just flags it for the main thread, exactly as on
#   Lambda. It runs when the mask is restored after an event arrived. Signals left at SIG_DFL are
#   never blocked, so a plain SIGTERM still kills the process (signal 15).

_SYNCHRONOUS_SIGNALS = frozenset(
    getattr(signal, name)
    for name in ("SIGKILL", "SIGSTOP", "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGTRAP", "SIGSYS")
    if hasattr(signal, name)
)
_ASYNC_SIGNALS = (
    tuple(int(s) for s in signal.valid_signals() if s not in _SYNCHRONOUS_SIGNALS)
    if hasattr(signal, "valid_signals")
    else ()
)
_CAN_MASK = hasattr(signal, "pthread_sigmask")


def _make_wait_next(client):
    if _HANDLERS_RUN_DURING_NEXT:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)  # required of a wakeup fd

        # poll, not select: select cannot take an fd past 1023, and the pipe is made after the
        # function's module has run (which may have opened any number of files).
        poller = select.poll()
        poller.register(wake_r, select.POLLIN)
        caught = []  # what drain() read during a wait, handed on when the wakeup fd goes back

        def drain():
            """The signals' numbers written since the last look (their handlers run next)."""
            try:
                return os.read(wake_r, 512)
            except BlockingIOError:
                return b""

        def readable(sock):
            fd = sock.fileno()
            poller.register(fd, select.POLLIN)
            try:
                while True:
                    for ready, _ in poller.poll():
                        if ready == fd:
                            return  # an answer, or a closed connection that the read reports
                        caught.append(drain())
            finally:
                poller.unregister(fd)

        def wait_next():
            # Ours for the wait only: a wakeup fd the function set (asyncio's add_signal_handler
            # does) stays its own while its code runs, and gets the numbers of the signals that
            # came during the wait, as it would have had them on Lambda.
            previous = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
            try:
                return client.next_invocation(wait=readable)
            finally:
                try:
                    signal.set_wakeup_fd(previous)
                except (ValueError, OSError):
                    signal.set_wakeup_fd(-1)  # The function closed its own fd meanwhile.
                    previous = -1
                if previous != -1:
                    caught.append(drain())
                    numbers = b"".join(caught)
                    if numbers:
                        try:
                            os.write(previous, numbers)
                        except OSError:
                            pass  # Full or closed: CPython's own write would drop them too.
                del caught[:]

        return wait_next

    def wait_next():
        if not _CAN_MASK:
            return client.next_invocation()
        handled = [s for s in _ASYNC_SIGNALS if callable(_getsignal(s))]
        if not handled:
            return client.next_invocation()
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
        try:
            return client.next_invocation()
        finally:
            # Pending handlers run here, after the event arrived (as after the C next() returns).
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)

    return wait_next


# ---------------------------------------------------------------------------------------------
# Handler loading and invocation.


def _get_handler(handler):
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e))
        )

    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise FaultException(
                FaultException.BUILT_IN_MODULE_CONFLICT,
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, str(e)),
        )
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, str(e)),
            trace,
        )

    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
            None,
        )


def _handle_event_request(client, request_handler, invocation):
    invoke_id = invocation.request_id
    error_result = None
    try:
        lambda_context = _create_lambda_context(invocation)
        event = _unmarshal_request(invocation.body, invocation.content_type)
        response = request_handler(event, lambda_context)
        result, result_content_type = _marshal_response(response)
    except FaultException as e:
        xray_fault = _make_xray_fault("LambdaValidationError", e.msg, os.getcwd(), [])
        error_result = _make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        tb_tuples = _extract_traceback(tb)
        del tb
        xray_fault = _make_xray_fault(etype.__name__, str(value), os.getcwd(), tb_tuples)
        error_result = _make_error(
            str(value), etype.__name__, traceback.format_list(tb_tuples), invoke_id
        )

    if error_result is not None:
        _log_error(error_result)
        client.post_invocation_error(invoke_id, to_json(error_result), to_json(xray_fault))
    else:
        client.post_invocation_result(invoke_id, result, result_content_type)


def _update_xray_env_variable(trace_id):
    if trace_id is not None:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)


def _ensure_utf8(stream):
    # Lambda's stdout/stderr are UTF-8 (LANG=en_US.UTF-8) whatever locale the harness inherited.
    encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if encoding != "utf8" and hasattr(stream, "reconfigure"):
        stream.reconfigure(encoding="utf-8")


def main():
    global _GLOBAL_AWS_REQUEST_ID, _GLOBAL_TENANT_ID

    handler = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER")
    if not handler:
        sys.stderr.write("usage: bootstrap.py <module.function> (or set _HANDLER)\n")
        sys.exit(2)

    _ensure_utf8(sys.stdout)
    _ensure_utf8(sys.stderr)
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)

    client = RuntimeApiClient(_RUNTIME_API)
    error_result = None
    try:
        _setup_logging()
        request_handler = _get_handler(handler)
    except FaultException as e:
        error_result = _make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        error_result = _build_fault_result(sys.exc_info(), None)

    if error_result is not None:
        # awslambdaric's order: warn, log the error, post /init/error, exit(1).
        logging.warning(_LAMBDA_WARNING)
        _log_error(error_result)
        try:
            client.post_init_error(error_result)
        except RuntimeApiError as e:
            _log_runtime_error(str(e))
        sys.exit(1)

    wait_next = _make_wait_next(client)
    while True:
        try:
            invocation = wait_next()
        except RuntimeApiError as e:
            # As awslambdaric: a failed /next (refused, 403, 500...) ends the runtime.
            _log_runtime_error(str(e))
            sys.exit(1)

        _GLOBAL_AWS_REQUEST_ID = invocation.request_id
        _GLOBAL_TENANT_ID = invocation.tenant_id
        _update_xray_env_variable(invocation.trace_id)

        try:
            _handle_event_request(client, request_handler, invocation)
        except RuntimeApiError as e:
            _log_runtime_error(str(e))
            sys.exit(1)


if __name__ == "__main__":
    main()
