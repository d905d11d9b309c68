// A bwrap sandbox's own network (issue 16, item 1): the APIs at 127.0.0.1:9001 inside as on
// Lambda, fixed ports that never collide between sandboxes, Telemetry delivered to a listener on
// the sandbox's own loopback, and no way from one sandbox to another's API or to the host.
import { setMaxListeners } from 'node:events'
import { readFileSync, readlinkSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { type BootOptions, type Sandbox } from '../../harness/index.js'
import { HOLDER_BINARY } from '../../harness/isolation/launcher.js'
import { canaryExtension, extensionsDir, fn, startSandbox, until, NO_BWRAP } from '../helpers.js'
import { namespace } from './starting.js'

/** A bwrap sandbox (no fallback to plain processes); an isolation warning fails the test. */
function bootIsolated(t: Test, options: Partial<BootOptions> & { functionDir: string }): Promise<Sandbox> {
  const warn = (message: string) => (message.startsWith('isolation') ? t.fail(`unexpected warning: ${message}`) : undefined)
  return startSandbox(t, { isolation: 'bwrap', ...options }, { warn })
}

function output(sandbox: Sandbox, process: string): string[] {
  return sandbox.record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}

t.test('two sandboxes whose extensions bind the same fixed ports (4243, 9009) run side by side', { skip: NO_BWRAP }, async (t) => {
  const boots = [0, 1].map(() => bootIsolated(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['binds-fixed-ports']) }))
  const sandboxes = await Promise.all(boots)
  for (const [i, sandbox] of sandboxes.entries()) {
    t.equal(sandbox.record.init?.status, 'success', `sandbox ${i}: Init succeeded (no EADDRINUSE)`)
    t.equal(sandbox.runtimeApi, '127.0.0.1:9001', `sandbox ${i}: the APIs are at 127.0.0.1:9001, as on Lambda`)
  }
  const invokes = await Promise.all(sandboxes.map((sandbox, i) => sandbox.invoke({ sandbox: i })))
  t.same(invokes.map((invoke) => [invoke.status, JSON.parse(invoke.response)]), [['success', { sandbox: 0 }], ['success', { sandbox: 1 }]])
  for (const [i, sandbox] of sandboxes.entries()) {
    await sandbox.shutdown()
    const lines = output(sandbox, 'binds-fixed-ports')
    t.ok(lines.includes('binds-fixed-ports listening on 4243 and 9009'), `sandbox ${i}: both ports bound`)
    t.ok(lines.includes('binds-fixed-ports received platform.start'), `sandbox ${i}: Telemetry reached its sandbox.localdomain:4243`)
    t.same(sandbox.record.verdict, { clean: true, problems: [] }, `sandbox ${i}: clean`)
  }
})

t.test('a function sees no other sandbox\'s API and reaches nothing on the host', { skip: NO_BWRAP }, async (t) => {
  const host = createServer((socket) => socket.destroy())
  await new Promise<void>((resolve) => host.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => host.close(() => resolve())))
  const hostPort = (host.address() as AddressInfo).port
  // The victim: an extension waiting in /event/next on its API, a runtime waiting in /next.
  const victim = await bootIsolated(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['well-behaved']) })
  t.equal(victim.record.init?.status, 'success')
  const scanner = await bootIsolated(t, { functionDir: fn('scans-loopback') })
  const scanned = await scanner.invoke({ ports: [hostPort] })
  t.equal(scanned.status, 'success', scanned.response)
  const { seen, own, answers } = JSON.parse(scanned.response) as { seen: number[]; own: number; answers: Record<string, string> }
  t.equal(own, 9001)
  t.same(seen, [9001], 'its /proc/net/tcp lists its own API listener only')
  t.same(answers, { [hostPort]: 'refused' }, 'a port listening on the host is out of reach')
  t.equal((await victim.invoke({ after: 'scan' })).response, '{"after": "scan"}', 'the victim\'s invoke is its own')
  await victim.shutdown()
  t.same(victim.record.verdict, { clean: true, problems: [] })
})

t.test('a reset serves the next generation at 127.0.0.1:9001 again; a host port named in hostPorts is reached', { skip: NO_BWRAP }, async (t) => {
  const dir = extensionsDir(t, [])
  const canary = await canaryExtension(t, dir, true)
  const sandbox = await bootIsolated(t, { functionDir: fn('exits-when-asked'), extensionsDir: dir, hostPorts: [canary.port] })
  t.equal(sandbox.record.init?.status, 'success')
  t.ok(await until(() => canary() === 1), 'the extension reached the host port relayed in')
  t.equal((await sandbox.invoke({ exit: 3 })).status, 'error', 'the crash')
  t.equal((await sandbox.invoke({})).status, 'success', 'the invoke after the reset')
  t.equal(sandbox.runtimeApi, '127.0.0.1:9001')
  t.ok(await until(() => canary() === 2), 'and again after the reset')
})

t.test('the holder\'s sockets: a port taken inside is refused with its errno, and a connect never blocks the harness', { skip: NO_BWRAP }, async (t) => {
  const ns = await namespace(t, HOLDER_BINARY)
  const network = ns.network
  const held = await network.listen(4243)
  t.teardown(() => (held as { close(): void }).close())
  await t.rejects(network.listen(4243), { code: 'EADDRINUSE', message: /listen on 127\.0\.0\.1:4243/ }, 'the second listener on 4243 is refused')
  await t.rejects(network.connect(4244), { code: 'ECONNREFUSED' }, 'nothing listens on 4244 inside')
  // A listener whose backlog is full never completes a connect: the abort must end it (this hung
  // the harness's event loop while the holder's sockets were blocking).
  const ticks = setInterval(() => undefined, 10)
  const started = Date.now()
  const listener = await network.listen(4245)
  t.teardown(() => (listener as { close(): void }).close())
  const controller = new AbortController()
  setMaxListeners(1000, controller.signal)
  const timer = setTimeout(() => controller.abort(new Error('deadline')), 300)
  const attempts = Array.from({ length: 600 }, () => network.connect(4245, controller.signal).then((socket) => socket.destroy(), (error: Error) => error.message))
  const outcomes = await Promise.all(attempts)
  clearTimeout(timer)
  clearInterval(ticks)
  t.ok(outcomes.includes('deadline'), 'a connect into a full backlog was aborted at its deadline')
  t.ok(Date.now() - started < 10_000, `and the harness kept running (${Date.now() - started} ms)`)
})

t.test('the holder names a connection inside by its ports, as the socket table does, without reading it', { skip: NO_BWRAP }, async (t) => {
  const ns = await namespace(t, HOLDER_BINARY)
  const network = ns.network
  const listener = await network.listen(4246)
  t.teardown(() => (listener as { close(): void }).close())
  const client = await network.connect(4246)
  t.teardown(() => client.destroy())
  const fd = (client as unknown as { _handle: { fd: number } })._handle.fd
  const own = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]
  t.ok(own !== undefined, 'the client socket has an inode')
  t.equal(await network.inodeOf(client.localPort!, 4246), own, 'the client end, by its local and remote port')
  const row = readFileSync(network.tcpTable, 'latin1')
    .split('\n')
    .find((line) => line.includes(` 0100007F:${client.localPort!.toString(16).toUpperCase().padStart(4, '0')} 0100007F:1096 `))
  t.equal(row?.trim().split(/\s+/)[9], own, 'the same inode as its row in the namespace\'s /proc/net/tcp')
  t.equal(await network.inodeOf(client.localPort!, 4247), undefined, 'no such connection: none')
  await ns.close()
  t.equal(await network.inodeOf(client.localPort!, 4246), undefined, 'a holder that is gone names none')
})
