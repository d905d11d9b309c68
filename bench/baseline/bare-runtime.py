"""The invoke baseline's runtime: a bare loop of the Runtime API's two calls, GET next and POST
response (echoing the event), on one keep-alive connection. No handler, context or logging."""
import http.client
import os

conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    response = conn.getresponse()
    body = response.read()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    conn.request("POST", "/2018-06-01/runtime/invocation/%s/response" % request_id, body)
    conn.getresponse().read()
