// Nothing escapes (issue 7, Hardening 6): the servers listen on loopback only, extension
// identifiers are fresh v4 UUIDs, one extension cannot act as another (by name, by a made-up
// identifier, or by one from another sandbox), telemetry goes to loopback only, the host's
// environment reaches the sandbox only when passed on purpose, and the harness's temp folders are
// private and gone after dispose.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { PYTHON, ROOT, extensionsDir, fn, startSandbox, until } from '../helpers.js'
import { bootDriven, type Driver, type Reply } from '../api/driver.js'
import { buildZip } from '../layers/zip-writer.js'
import type { TelemetryResources } from '../../harness/record/run-record.js'

const EXT = '/2020-01-01/extension'
const NEXT = '/2018-06-01/runtime/invocation/next'
const TELEMETRY = '/2022-07-01/telemetry'
const LOGS = '/2020-08-15/logs'
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** This machine's first non-loopback IPv4 address, if it has one. */
const OUTSIDE = Object.values(networkInterfaces())
  .flat()
  .find((address) => address !== undefined && address.family === 'IPv4' && !address.internal)?.address

/** The LISTEN sockets on `port` as /proc/net/tcp{,6} has them: local addresses in kernel hex. */
/** Listening sockets on `port` in the network `pid` is in (a bwrap sandbox's own, or the host's). */
function listeners(port: number, pid: number | string = 'self'): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  return [`/proc/${pid}/net/tcp`, `/proc/${pid}/net/tcp6`].flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[3] === '0A' && fields[1]?.endsWith(`:${hexPort}`))
      .map((fields) => `${path.basename(file)} ${fields[1]}`),
  )
}

/** Resolves with the connect error code, or 'connected'. */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, host)
    socket.once('connect', () => {
      socket.destroy()
      resolve('connected')
    })
    socket.once('error', (error) => resolve((error as NodeJS.ErrnoException).code ?? 'error'))
  })
}

t.test('every server listens on 127.0.0.1 only', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('returns-env'), sink: true })
  const env = JSON.parse((await sandbox.invoke({})).response) as Record<string, string>
  const servers = { 'the API server': env.AWS_LAMBDA_RUNTIME_API ?? '', 'the sink probe': new URL(env.SINK_URL ?? 'http://x').host }
  // As the function sees them: in its sandbox's own network, if it has one.
  const runtimePid = sandbox.record.processes.find((p) => p.name === 'runtime')?.pid ?? 'self'
  for (const [name, address] of Object.entries(servers)) {
    const [host, port] = address.split(':')
    t.equal(host, '127.0.0.1', `${name} is handed out as 127.0.0.1`)
    // 0100007F is 127.0.0.1 in /proc/net/tcp's byte order; 00000000 would be every address.
    t.same(listeners(Number(port), runtimePid), [`tcp 0100007F:${Number(port).toString(16).toUpperCase().padStart(4, '0')}`], `${name} has one listening socket, on 127.0.0.1`)
    if (OUTSIDE !== undefined) {
      t.equal(await tryConnect(OUTSIDE, Number(port)), 'ECONNREFUSED', `${name} refuses a connection to ${OUTSIDE}`)
    }
  }
  if (OUTSIDE === undefined) {
    t.comment('this machine has no non-loopback IPv4 address: only /proc/net/tcp was checked')
  }
})

interface Played {
  ids: Record<string, string>
  refused: Record<string, Reply>
  pending: Record<string, Promise<Reply>>
}

function registerAs(d: Driver, name: string, events: string[]): Promise<Reply> {
  return d.call('POST', `${EXT}/register`, { headers: { 'lambda-extension-name': name }, body: JSON.stringify({ events }) })
}

/** Every call that takes an identifier, made with `id`: each must be refused. */
async function actAs(d: Driver, id: string, subscription: string): Promise<Record<string, Reply>> {
  const headers = { 'lambda-extension-identifier': id, 'lambda-extension-function-error-type': 'Extension.Impostor' }
  return {
    next: await d.call('GET', `${EXT}/event/next`, { headers }),
    initError: await d.call('POST', `${EXT}/init/error`, { headers }),
    exitError: await d.call('POST', `${EXT}/exit/error`, { headers }),
    telemetry: await d.call('PUT', TELEMETRY, { headers, body: subscription }),
    logs: await d.call('PUT', LOGS, { headers, body: subscription.replace('2022-12-13', '2021-03-18') }),
  }
}

/** A loopback HTTP collector that keeps who delivered and under which Host. */
async function collector(t: Test, host: string): Promise<{ port: number; seen: { remote: string; host: string; body: string }[] }> {
  const seen: { remote: string; host: string; body: string }[] = []
  const server = createHttpServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      seen.push({ remote: req.socket.remoteAddress ?? '', host: req.headers.host ?? '', body: Buffer.concat(chunks).toString() })
      res.end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, seen }
}

t.test('one extension cannot act as another, nor as one of another sandbox', async (t) => {
  const delivered = await collector(t, '127.0.0.1')
  const subscription = (port: number) =>
    JSON.stringify({ schemaVersion: '2022-12-13', types: ['platform', 'extension'], buffering: { timeoutMs: 25 }, destination: { protocol: 'HTTP', URI: `http://sandbox.localdomain:${port}/` } })

  // Another sandbox first: its identifiers are the foreign ones.
  const other: Played = { ids: {}, refused: {}, pending: {} }
  await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']) }, async (d) => {
    other.ids.idle = (await registerAs(d, 'idle', ['INVOKE', 'SHUTDOWN'])).headers['lambda-extension-identifier'] as string
    other.ids.helper = (await registerAs(d, 'helper', ['INVOKE'])).headers['lambda-extension-identifier'] as string
    for (const id of Object.values(other.ids)) {
      d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
    }
    d.pending('GET', NEXT)
  })

  const made = '3b241101-e2bb-4255-8caf-4136c566a962'
  const played: Played = { ids: {}, refused: {}, pending: {} }
  const impostors: Record<string, Record<string, Reply>> = {}
  const { sandbox, driver } = await bootDriven(t, { extensionsDir: extensionsDir(t, ['idle']) }, async (d) => {
    played.ids.idle = (await registerAs(d, 'idle', ['INVOKE', 'SHUTDOWN'])).headers['lambda-extension-identifier'] as string
    played.ids.helper = (await registerAs(d, 'helper', ['INVOKE'])).headers['lambda-extension-identifier'] as string
    // Taking a name that is already registered, external or internal.
    played.refused.idle = await registerAs(d, 'idle', ['INVOKE', 'SHUTDOWN'])
    played.refused.helper = await registerAs(d, 'helper', ['INVOKE'])
    impostors.madeUp = await actAs(d, made, subscription(delivered.port))
    impostors.foreign = await actAs(d, other.ids.idle!, subscription(delivered.port))
    impostors.foreignHelper = await actAs(d, other.ids.helper!, subscription(delivered.port))
    // The real idle extension subscribes in its own name, to a loopback collector.
    played.refused.subscribed = await d.call('PUT', TELEMETRY, { headers: { 'lambda-extension-identifier': played.ids.idle! }, body: subscription(delivered.port) })
    for (const [name, id] of Object.entries(played.ids)) {
      played.pending[name] = d.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
    }
    played.pending.runtime = d.pending('GET', NEXT)
  })

  const ids = [...Object.values(played.ids), ...Object.values(other.ids)]
  for (const id of ids) {
    t.match(id, UUID_V4, `${id} is a v4 UUID`)
  }
  t.equal(new Set(ids).size, ids.length, 'distinct across registrations and sandboxes')

  t.same(played.refused.idle?.json, {
    errorMessage: 'State transition from Registered to Registered failed for extension idle. Error: State transition is not allowed',
    errorType: 'Extension.InvalidExtensionState',
  }, 'a second registration under an external extension\'s name is refused')
  t.equal(played.refused.idle?.headers['lambda-extension-identifier'], undefined, 'and gets no identifier')
  t.same(played.refused.helper?.json, { errorMessage: 'Extension with this name already registered', errorType: 'Extension.InvalidExtensionState' })
  for (const [who, replies] of Object.entries(impostors)) {
    for (const [call, reply] of Object.entries(replies)) {
      t.equal(reply.status, 403, `${who} ${call}: 403`)
      t.equal((reply.json as { errorType?: string } | undefined)?.errorType, 'Extension.UnknownExtensionIdentifier', `${who} ${call}: Extension.UnknownExtensionIdentifier`)
    }
  }
  t.equal(played.refused.subscribed?.status, 200, 'the extension itself may subscribe')
  const subscribers = (sandbox.record.resources.telemetry as TelemetryResources | undefined)?.subscribers ?? []
  t.same(subscribers.map((s) => s.name), ['idle'], 'the only subscriber is the one that subscribed in its own name')
  t.notOk(sandbox.record.processes.some((p) => p.reportedError !== undefined), 'no init/error or exit/error was taken from an impostor')

  // The events still go to their owners only.
  const invoking = sandbox.invoke({})
  const runtimeEvent = await played.pending.runtime!
  const requestId = runtimeEvent.headers['lambda-runtime-aws-request-id'] as string
  t.match((await played.pending.idle!).json, { eventType: 'INVOKE', requestId }, 'the idle extension got its INVOKE')
  t.match((await played.pending.helper!).json, { eventType: 'INVOKE', requestId }, 'so did the helper')
  await driver.call('POST', `/2018-06-01/runtime/invocation/${requestId}/response`, { body: '1' })
  driver.pending('GET', NEXT)
  for (const id of Object.values(played.ids)) {
    driver.pending('GET', `${EXT}/event/next`, { 'lambda-extension-identifier': id })
  }
  t.equal((await invoking).status, 'success')

  // Telemetry reached the loopback collector, from loopback, addressed as sandbox.localdomain.
  t.ok(await until(() => delivered.seen.length > 0, 10_000), 'telemetry was delivered')
  t.same([...new Set(delivered.seen.map((s) => s.remote))], ['127.0.0.1'], 'from 127.0.0.1')
  t.same([...new Set(delivered.seen.map((s) => s.host))], [`sandbox.localdomain:${delivered.port}`], 'with the Host the extension named')
})

t.test('telemetry goes to loopback only: other hosts are refused, sandbox.localdomain is 127.0.0.1', async (t) => {
  const outside = OUTSIDE === undefined ? undefined : await collector(t, OUTSIDE)
  const replies: Record<string, Reply> = {}
  let helperId = ''
  const hosts = ['example.com', '10.0.0.1', '169.254.169.254', 'localhost', '127.0.0.1', '[::1]', 'sandbox.localdomain.example.com', ...(OUTSIDE === undefined ? [] : [OUTSIDE])]
  const { sandbox } = await bootDriven(t, {}, async (d) => {
    helperId = (await registerAs(d, 'helper', ['INVOKE'])).headers['lambda-extension-identifier'] as string
    const headers = { 'lambda-extension-identifier': helperId }
    for (const host of hosts) {
      const body = JSON.stringify({ schemaVersion: '2022-12-13', types: ['platform'], destination: { protocol: 'HTTP', URI: `http://${host}:${outside?.port ?? 8080}/` } })
      replies[host] = await d.call('PUT', TELEMETRY, { headers, body })
    }
    // The one accepted form: sandbox.localdomain, at the port the outside collector has. The
    // harness connects to 127.0.0.1 at that port, where nothing listens.
    replies.sandbox = await d.call('PUT', TELEMETRY, {
      headers,
      body: JSON.stringify({ schemaVersion: '2022-12-13', types: ['platform'], buffering: { timeoutMs: 25 }, destination: { protocol: 'HTTP', URI: `http://sandbox.localdomain:${outside?.port ?? 9}/` } }),
    })
    d.pending('GET', `${EXT}/event/next`, headers)
    d.pending('GET', NEXT)
  })
  for (const host of hosts) {
    t.equal(replies[host]?.status, 400, `${host}: 400`)
    t.match(replies[host]?.json, { errorType: 'ValidationError', errorMessage: /^URI host should be sandbox\.localdomain/ }, `${host}: refused, naming the host rule`)
  }
  t.equal(replies.sandbox?.status, 200, 'sandbox.localdomain is accepted')
  // Wait for the delivery to fail (an event on the timeline), then check where it went.
  const failed = () => sandbox.record.timeline.some((e) => e.process === 'helper' && e.detail.startsWith('telemetry: delivery failed'))
  t.ok(await until(failed, 10_000), 'the delivery was tried and failed')
  const detail = sandbox.record.timeline.find((e) => e.process === 'helper' && e.detail.startsWith('telemetry: delivery failed'))?.detail ?? ''
  t.match(detail, /127\.0\.0\.1/, `it went to 127.0.0.1 (${detail})`)
  if (outside !== undefined) {
    t.equal(outside.seen.length, 0, `nothing reached the same port on ${OUTSIDE}`)
  }
})

t.test('the CLI passes the host environment only on purpose', async (t) => {
  const secrets = { AWS_ACCESS_KEY_ID: 'AKIAHOSTONLY000000', AWS_SECRET_ACCESS_KEY: 'host-secret-escape-test', AWS_SESSION_TOKEN: 'host-token-escape-test', LH_HOST_ONLY: 'host-only-escape-test' }
  const cli = [path.join(ROOT, 'dist', 'harness', 'cli.js'), 'run', fn('returns-env'), '--handler', 'app.handler', '--python', PYTHON]
  const result = await execa(process.execPath, [...cli, '--env', 'ON_PURPOSE=passed', '--pass-env', 'LH_PASSED', '--json', '-'], {
    cwd: ROOT,
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
    // As a shell with those secrets exported runs it, without tap's instrumentation.
    env: { ...secrets, LH_PASSED: 'passed-from-host', NODE_OPTIONS: '' },
  })
  t.equal(result.exitCode, 0, String(result.stderr))
  const record = JSON.parse(String(result.stdout)) as { invocations: { response: string }[] }
  const env = JSON.parse(record.invocations[0]?.response ?? '{}') as Record<string, string>
  t.equal(env.ON_PURPOSE, 'passed', '--env reaches the function')
  t.equal(env.LH_PASSED, 'passed-from-host', '--pass-env copies the named host variable')
  for (const [key, value] of Object.entries(secrets)) {
    t.notOk(key in env, `${key} does not`)
    t.notOk(Object.values(env).includes(value), `nor its value under another name`)
  }
  // Passing a variable the host does not have is a usage error, not a silently empty value.
  const unset = await execa(process.execPath, [...cli, '--pass-env', 'LH_NOT_SET_ANYWHERE'], { cwd: ROOT, reject: false, timeout: 60_000, stdin: 'ignore', env: { NODE_OPTIONS: '' } })
  t.equal(unset.exitCode, 2, 'an unset --pass-env exits 2')
  t.match(String(unset.stderr), /option --pass-env: .*"LH_NOT_SET_ANYWHERE"/, String(unset.stderr))
})

t.test('the harness\'s temp folders are private and removed at dispose', async (t) => {
  // A private TMPDIR so the listing is ours alone (other tests share /tmp).
  const work = mkdtempSync(path.join(tmpdir(), 'lh-escape-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const temp = path.join(work, 'tmp')
  const zip = path.join(work, 'layer.zip')
  writeFileSync(zip, buildZip([{ name: 'python/layer_mod.py', data: 'X = 1\n' }, { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o100755 }]))
  const extensions = extensionsDir(t, ['well-behaved'])
  mkdirSync(temp, { mode: 0o700 })
  const saved = process.env.TMPDIR
  const restore = () => {
    if (saved === undefined) {
      delete process.env.TMPDIR
    } else {
      process.env.TMPDIR = saved
    }
  }
  t.teardown(restore)
  // os.tmpdir() reads TMPDIR at each call: only this boot sees the private one.
  process.env.TMPDIR = temp
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), layers: [zip], extensionsDir: extensions })
  restore()
  const during = readdirSync(temp)
  t.ok(during.length > 0, `the harness made temp folders: ${during.join(', ')}`)
  for (const name of during) {
    const stats = statSync(path.join(temp, name))
    t.ok(stats.isDirectory(), `${name} is a folder`)
    t.equal((stats.mode & 0o777).toString(8), '700', `${name} is private (0700)`)
    t.equal(stats.uid, process.getuid?.(), `${name} is ours`)
  }
  t.equal((await sandbox.invoke({ a: 1 })).status, 'success')
  await sandbox.dispose()
  t.same(readdirSync(temp), [], 'nothing is left after dispose')
})

