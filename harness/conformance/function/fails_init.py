"""The built-in function's Init failure: importing this module raises, so the runtime posts
/runtime/init/error and Init ends with an error (a `failure` reset, as Lambda does)."""
raise RuntimeError("lambda-harness check: this function fails its Init on purpose")


def handler(event, context):
    return "unreachable"
