"""lambda-harness's Python runtime interface client (standard library only), started as Lambda
starts its /var/runtime/bootstrap.py:

    <python> /abs/path/harness/runtimes/python/bootstrap.py <module.function>

with cwd = the function folder (the task root) and the Lambda runtime environment variables
(AWS_LAMBDA_RUNTIME_API, LAMBDA_TASK_ROOT, AWS_EXECUTION_ENV, AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*).

The client is the package lambda_harness_ric beside this file; it behaves observably like AWS's
awslambdaric (LAMBDA-SPEC.md section 7). Its unique name cannot collide with a function's module,
and this folder is on sys.path only while the package is imported, so nothing here can shadow one.
"""

import os
import sys

_THIS_DIR = os.path.dirname(os.path.realpath(__file__))
_TASK_ROOT = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
# Lambda puts the task root (/var/task) first on sys.path, so the user's modules (even one named
# `bootstrap`) win; this folder goes before it only until the package is imported.
sys.path[:] = [_THIS_DIR, _TASK_ROOT] + [
    p for p in sys.path if os.path.realpath(p or os.curdir) != _THIS_DIR
]
# /var/task is read-only on Lambda, so importing the function never writes __pycache__ there.
sys.dont_write_bytecode = True

from lambda_harness_ric.lambda_runtime_http import connect_early  # noqa: E402

_RUNTIME_API = os.environ.get("AWS_LAMBDA_RUNTIME_API") or "127.0.0.1:9001"
# Before the client's other imports, so the harness learns its socket early (connect_early).
_EARLY_SOCKET = connect_early(_RUNTIME_API)

from lambda_harness_ric.bootstrap import main  # noqa: E402

sys.path.remove(_THIS_DIR)

if __name__ == "__main__":
    main(_RUNTIME_API, _EARLY_SOCKET)
