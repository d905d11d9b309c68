"""The runtime loop, as awslambdaric's bootstrap: import the handler (or post /init/error), then
/next, call the handler, post its response or error, for ever."""

import importlib
import json
import logging
import os
import sys
import traceback

from .lambda_context import LambdaContext
from .lambda_runtime_client import RuntimeApiClient, RuntimeApiError
from .lambda_runtime_exception import (
    FaultException,
    build_fault_result,
    extract_traceback,
    make_error,
    make_xray_fault,
)
from .lambda_runtime_log_utils import (
    LAMBDA_WARNING,
    Unbuffered,
    log_error,
    log_runtime_error,
    set_request,
    setup_logging,
)
from .lambda_runtime_marshaller import marshal_response, to_json, unmarshal_request
from .lambda_runtime_signals import make_wait_next


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


def _handle_event_request(client, request_handler, invocation):
    invoke_id = invocation.request_id
    error_result = None
    try:
        lambda_context = _create_lambda_context(invocation)
        event = unmarshal_request(invocation.body, invocation.content_type)
        response = request_handler(event, lambda_context)
        result, result_content_type = marshal_response(response)
    except FaultException as e:
        xray_fault = make_xray_fault("LambdaValidationError", e.msg, os.getcwd(), [])
        error_result = make_error(e.msg, e.exception_type, e.trace, invoke_id)
    except Exception:
        etype, value, tb = sys.exc_info()
        tb_tuples = extract_traceback(tb)
        del tb
        xray_fault = make_xray_fault(etype.__name__, str(value), os.getcwd(), tb_tuples)
        error_result = make_error(
            str(value), etype.__name__, traceback.format_list(tb_tuples), invoke_id
        )

    if error_result is not None:
        log_error(error_result)
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


def main(runtime_api, early_socket=None):
    """Run the function named by argv[1] (or _HANDLER) against the Runtime API at `runtime_api`,
    on `early_socket` when the entry already connected to it."""
    handler = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER")
    if not handler:
        sys.stderr.write("usage: bootstrap.py <module.function> (or set _HANDLER)\n")
        sys.exit(2)

    _ensure_utf8(sys.stdout)
    _ensure_utf8(sys.stderr)
    sys.stdout = Unbuffered(sys.stdout)
    sys.stderr = Unbuffered(sys.stderr)

    client = RuntimeApiClient(runtime_api, early_socket)
    error_result = None
    try:
        setup_logging()
        request_handler = _get_handler(handler)
    except FaultException as e:
        error_result = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        error_result = build_fault_result(sys.exc_info(), None)

    if error_result is not None:
        # awslambdaric's order: warn, log the error, post /init/error, exit(1).
        logging.warning(LAMBDA_WARNING)
        log_error(error_result)
        try:
            client.post_init_error(error_result)
        except RuntimeApiError as e:
            log_runtime_error(str(e))
        sys.exit(1)

    wait_next = make_wait_next(client)
    while True:
        try:
            invocation = wait_next()
        except RuntimeApiError as e:
            # As awslambdaric: a failed /next (refused, 403, 500...) ends the runtime.
            log_runtime_error(str(e))
            sys.exit(1)

        set_request(invocation.request_id, invocation.tenant_id)
        _update_xray_env_variable(invocation.trace_id)

        try:
            _handle_event_request(client, request_handler, invocation)
        except RuntimeApiError as e:
            log_runtime_error(str(e))
            sys.exit(1)
