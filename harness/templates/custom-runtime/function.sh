# The function: bootstrap sources this file and calls `handler <event JSON>`. What it prints on
# stdout is the response; what it prints on stderr goes to the log.
handler() {
  echo "[function] event: $1" >&2
  echo '{"statusCode":200,"body":"Hello from a custom runtime"}'
}
