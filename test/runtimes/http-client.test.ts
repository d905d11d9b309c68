// The runtime client's HTTP, written on the socket (lambda_harness_ric/lambda_runtime_http.py): what
// it sends, and every way an HTTP/1.1 answer may come back. A scripted server answers each request
// with the next step's bytes, in pieces; the client runs as the package's module in a real interpreter.
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { PYTHON_RUNTIME_DIR } from '../../harness/paths.js'
import { pythonCommand } from '../helpers.js'

type Step = { readonly answer: readonly (string | Buffer)[]; readonly close?: boolean; readonly afterMs?: number } | { readonly drop: true }

interface Seen {
  readonly connection: number
  readonly head: string
  readonly body: Buffer
}

/** Answers the n-th request with steps[n]; keeps what each request was, and on which connection. */
async function scriptedServer(steps: readonly Step[]): Promise<{ address: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = []
  const sockets = new Set<Socket>()
  let connections = 0
  const server = createServer((socket) => {
    const connection = ++connections
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n')
        if (end < 0) {
          return
        }
        const head = buffered.subarray(0, end).toString('latin1')
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
        if (buffered.length < end + 4 + length) {
          return
        }
        seen.push({ connection, head, body: buffered.subarray(end + 4, end + 4 + length) })
        buffered = buffered.subarray(end + 4 + length)
        const step = steps[seen.length - 1]
        if (step === undefined || 'drop' in step) {
          socket.destroy()
          return
        }
        const answer = () => {
          // Each piece in its own write, so the client's reads end at odd places.
          for (const piece of step.answer) {
            socket.write(piece)
          }
          if (step.close === true) {
            socket.end()
          }
        }
        if (step.afterMs === undefined) {
          answer()
        } else {
          setTimeout(answer, step.afterMs)
        }
      }
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    address: `127.0.0.1:${port}`,
    seen,
    close: async () => {
      for (const socket of sockets) {
        socket.destroy()
      }
      server.close()
      await once(server, 'close')
    },
  }
}

// The client as the runtime uses it: each argument is a call, each printed line its outcome.
const DRIVER = `
import hashlib, json, os, sys
sys.dont_write_bytecode = True  # as the runtime imports it: no __pycache__ in the package
sys.path.insert(0, sys.argv[1])
from lambda_harness_ric import lambda_runtime_client as rt
client = rt.RuntimeApiClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
if os.environ.get("DEFAULT_TIMEOUT"):
    import socket  # as user code does at its import, after the client connected
    socket.setdefaulttimeout(float(os.environ["DEFAULT_TIMEOUT"]))
for call in sys.argv[2:]:
    try:
        if call == "next":
            inv = client.next_invocation()
            out = {"id": inv.request_id, "arn": inv.invoked_function_arn, "trace": inv.trace_id,
                   "deadline": inv.deadline_ms, "type": inv.content_type, "size": len(inv.body),
                   "sha": hashlib.sha256(inv.body).hexdigest(), "body": inv.body[:64].decode("latin-1")}
        else:
            getattr(client, "post_invocation_result")("req-1", b'{"ok":true}', "application/json")
            out = {"posted": True}
    except rt.RuntimeApiError as e:
        out = {"error": str(e)}
    print(json.dumps(out), flush=True)
`

async function drive(address: string, calls: readonly string[], env: Record<string, string> = {}): Promise<{ lines: Record<string, unknown>[]; stderr: string; code: number | null }> {
  const [command, args] = pythonCommand(['-c', DRIVER, PYTHON_RUNTIME_DIR, ...calls])
  const child = spawn(command, args, {
    env: { AWS_LAMBDA_RUNTIME_API: address, PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  // A client that hangs fails the test instead of the run.
  const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(deadline)
  const lines = stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
  return { lines, stderr, code }
}

const invokeHead = (id: string, extra = '') =>
  `HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: ${id}\r\nLambda-Runtime-Deadline-Ms: 1700000000000\r\n` +
  `Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\nContent-Type: application/json\r\n${extra}`
const ACCEPTED = 'HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{"status":"OK"}\n'

t.test('what the client sends: http.client\'s bytes, one connection for every call', async (t) => {
  const server = await scriptedServer([{ answer: [`${invokeHead('req-1')}Content-Length: 2\r\n\r\n{}`] }, { answer: [ACCEPTED] }])
  t.teardown(server.close)
  const { lines, code } = await drive(server.address, ['next', 'post'])
  t.equal(code, 0)
  t.same(lines, [{ id: 'req-1', arn: 'arn:aws:lambda:us-east-1:123456789012:function:f', trace: null, deadline: 1700000000000, type: 'application/json', size: 2, sha: createHash('sha256').update('{}').digest('hex'), body: '{}' }, { posted: true }])
  const [next, post] = server.seen
  t.match(next?.head, new RegExp(`^GET /2018-06-01/runtime/invocation/next HTTP/1\\.1\\r\\nHost: ${server.address}\\r\\nUser-Agent: aws-lambda-python/3\\.\\d+\\.\\d+-lambda-harness$`))
  t.equal(
    post?.head.replace(/User-Agent: [^\r]*/, 'User-Agent: UA'),
    `POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nHost: ${server.address}\r\nUser-Agent: UA\r\nContent-Type: application/json\r\nLambda-Runtime-Function-XRay-Error-Cause: \r\nContent-Length: 11`,
  )
  t.equal(post?.body.toString(), '{"ok":true}')
  // The early connection (opened at import) carries both calls.
  t.same(
    server.seen.map((s) => s.connection),
    [1, 1],
  )
})

t.test('answers in pieces: a head split mid-line, chunked bodies, first of a repeated header, UTF-8 values', async (t) => {
  const head = invokeHead('req-1', 'lambda-runtime-trace-id: Root=1-ü\r\nLambda-Runtime-Trace-Id: second\r\nTransfer-Encoding: chunked\r\n\r\n')
  const server = await scriptedServer([
    { answer: [head.slice(0, 17), Buffer.from(head.slice(17), 'utf8'), '5;ext=1\r\n{"a":', '\r\n', '3\r\n', '12}\r\n0\r\nTrailer: x\r\n\r\n'] },
    { answer: ['HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n', '10\r\n{"status":"OK"}\n\r\n0\r\n\r\n'] },
    { answer: [`${invokeHead('req-2')}Content-Length: 4\r\n\r\n`, 'null'] },
  ])
  t.teardown(server.close)
  const { lines, code, stderr } = await drive(server.address, ['next', 'post', 'next'])
  t.equal(code, 0, stderr)
  t.match(lines[0], { id: 'req-1', trace: 'Root=1-ü', body: '{"a":12}', size: 8 })
  t.same(lines[1], { posted: true })
  t.match(lines[2], { id: 'req-2', body: 'null' })
  t.same(
    server.seen.map((s) => s.connection),
    [1, 1, 1],
    'chunked answers keep the connection',
  )
})

t.test('a 6 MiB event arrives whole, however the reads fall', async (t) => {
  const payload = Buffer.alloc(6 * 1024 * 1024, 'x')
  payload.write('{"big":"', 0)
  payload.write('"}', payload.length - 2)
  const pieces = [`${invokeHead('req-1')}Content-Length: ${payload.length}\r\n\r\n`, payload.subarray(0, 1000), payload.subarray(1000, 4_000_001), payload.subarray(4_000_001)]
  const server = await scriptedServer([{ answer: pieces }])
  t.teardown(server.close)
  const { lines, code } = await drive(server.address, ['next'])
  t.equal(code, 0)
  t.match(lines[0], { id: 'req-1', size: payload.length, sha: createHash('sha256').update(payload).digest('hex') })
})

t.test('Connection: close and a body that ends with the connection: the next call reconnects', async (t) => {
  const server = await scriptedServer([
    { answer: [invokeHead('req-1', 'Connection: close\r\n\r\n'), '{"to":"eof"}'], close: true },
    { answer: [ACCEPTED] },
  ])
  t.teardown(server.close)
  const { lines, code } = await drive(server.address, ['next', 'post'])
  t.equal(code, 0)
  t.match(lines, [{ id: 'req-1', body: '{"to":"eof"}' }, { posted: true }])
  t.same(
    server.seen.map((s) => s.connection),
    [1, 2],
  )
})

t.test('a connection opened again after user code set socket.setdefaulttimeout() still waits as long as /next takes', async (t) => {
  const server = await scriptedServer([
    { answer: [invokeHead('req-1', 'Connection: close\r\n\r\n'), '{}'], close: true },
    // Far past the 50 ms default: the invoke comes when it comes.
    { answer: [`${invokeHead('req-2')}Content-Length: 2\r\n\r\n{}`], afterMs: 400 },
  ])
  t.teardown(server.close)
  const { lines, code } = await drive(server.address, ['next', 'next'], { DEFAULT_TIMEOUT: '0.05' })
  t.equal(code, 0)
  t.match(lines, [{ id: 'req-1' }, { id: 'req-2' }])
  t.same(
    server.seen.map((s) => s.connection),
    [1, 2],
    'one request on the new connection: no timeout, no retry',
  )
})

t.test('a dropped keep-alive connection is retried once on a fresh one; a second drop ends the call', async (t) => {
  const server = await scriptedServer([{ drop: true }, { answer: [`${invokeHead('req-1')}Content-Length: 2\r\n\r\n{}`] }, { drop: true }, { drop: true }])
  t.teardown(server.close)
  const { lines, code } = await drive(server.address, ['next', 'next'])
  t.equal(code, 0)
  t.match(lines[0], { id: 'req-1' })
  t.match(lines[1], { error: /^GET \/2018-06-01\/runtime\/invocation\/next failed: (_BadAnswer: Remote end closed connection without response|ConnectionResetError: .*)$/ })
  t.same(
    server.seen.map((s) => s.connection),
    [1, 2, 2, 3],
  )
})

t.test('bytes that are not HTTP end the call with an error, never a hang or a traceback', async (t) => {
  const server = await scriptedServer([
    { answer: ['SSH-2.0-OpenSSH\r\n\r\n'] },
    { answer: ['HTTP/1.1 abc\r\n\r\n'] },
    { answer: [`${invokeHead('req-1')}Transfer-Encoding: chunked\r\n\r\nzz\r\n`] },
    { answer: [`${invokeHead('req-1')}Transfer-Encoding: chunked\r\n\r\nzz\r\n`] },
  ])
  t.teardown(server.close)
  const { lines, code, stderr } = await drive(server.address, ['next', 'next'])
  t.equal(code, 0)
  t.equal(stderr, '')
  t.match(lines, [{ error: /failed: _BadAnswer: bad status line 'HTTP\/1\.1 abc'$/ }, { error: /failed: _BadAnswer: bad chunk size b'zz'$/ }])
})
