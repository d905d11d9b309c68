"""The invoke baseline's extension: register for INVOKE and SHUTDOWN, then a bare loop of
GET event/next on one keep-alive connection; exit at SHUTDOWN."""
import http.client
import json
import os
import sys

conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
conn.request(
    "POST",
    "/2020-01-01/extension/register",
    json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
    {"Lambda-Extension-Name": sys.argv[1] if len(sys.argv) > 1 else "bare-extension"},
)
response = conn.getresponse()
response.read()
headers = {"Lambda-Extension-Identifier": response.getheader("Lambda-Extension-Identifier")}
while True:
    conn.request("GET", "/2020-01-01/extension/event/next", headers=headers)
    event = json.loads(conn.getresponse().read())
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
