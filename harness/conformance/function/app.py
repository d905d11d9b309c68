"""The built-in function of `lambda-harness check`: small, quick and told what to do by its event.

Every invoke first prints one marker line naming its request id, so a check can follow that line
through the Telemetry API to the extension's destination. Then, by event:
  {"workMs": n}   sleep n ms before answering (a function that does some work; default 1)
  {"sleepMs": n}  sleep n ms: longer than the function timeout, the invoke times out
  {"crash": true} the runtime process exits mid-invoke (Runtime.ExitError, a `failure` reset)
"""
import os
import time


def handler(event, context):
    event = event if isinstance(event, dict) else {}
    print("lambda-harness-check marker %s" % context.aws_request_id, flush=True)
    if event.get("crash"):
        os._exit(1)
    time.sleep(float(event.get("sleepMs", event.get("workMs", 1))) / 1000)
    return {"requestId": context.aws_request_id}
