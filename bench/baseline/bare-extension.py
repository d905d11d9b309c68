"""The invoke suite's extension, on every side: register for INVOKE and SHUTDOWN, then a bare loop
of GET event/next on one keep-alive connection; exit at SHUTDOWN. Run as an executable copy whose
file name is its name, as the harness runs an extension (bench/workspace.ts)."""
import http.client
import json
import os
import sys

conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
conn.request(
    "POST",
    "/2020-01-01/extension/register",
    json.dumps({"events": ["INVOKE", "SHUTDOWN"]}),
    {"Lambda-Extension-Name": os.path.basename(sys.argv[0])},
)
response = conn.getresponse()
response.read()
headers = {"Lambda-Extension-Identifier": response.getheader("Lambda-Extension-Identifier")}
while True:
    conn.request("GET", "/2020-01-01/extension/event/next", headers=headers)
    event = json.loads(conn.getresponse().read())
    if event["eventType"] == "SHUTDOWN":
        sys.exit(0)
