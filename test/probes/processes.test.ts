// The process probe against a real Python process: the TCP connections and files it holds, read
// from /proc, with our own API connections (learnt as they arrive) left out without a table read.
import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { OwnConnections } from '../../harness/probes/own-connections.js'
import { heldResources, pidMark, processesWithEnvironment } from '../../harness/probes/processes.js'
import { PYTHON, until } from '../helpers.js'

interface Holder {
  readonly child: ChildProcess
  readonly port: number
  readonly folder: string
  readonly accepted: Socket[]
}

/** A Python process with two TCP connections to us, a listener, a socketpair and an open file. */
async function holder(t: Test, own?: OwnConnections): Promise<Holder> {
  const folder = mkdtempSync(path.join(tmpdir(), 'lh-held-'))
  const accepted: Socket[] = []
  const server: Server = createServer((socket) => {
    accepted.push(socket)
    own?.accepted(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const script = [
    'import socket, sys',
    `a = socket.create_connection(("127.0.0.1", ${port}))`,
    `b = socket.create_connection(("127.0.0.1", ${port}))`,
    'l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()',
    'u = socket.socketpair()',
    `f = open(${JSON.stringify(path.join(folder, 'kept.txt'))}, "w")`,
    'print("ready", a.getsockname()[1], b.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n')
  const child = spawn(PYTHON, ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] })
  t.teardown(async () => {
    child.kill('SIGKILL')
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)))
    server.close()
    for (const socket of accepted) {
      socket.destroy()
    }
    rmSync(folder, { recursive: true, force: true })
  })
  await new Promise((resolve) => child.stdout!.once('data', resolve))
  // The client's connect returns before our accept callback runs: wait for both, not just for "ready".
  if (!(await until(() => accepted.length === 2))) {
    throw new Error(`the server accepted ${accepted.length} of the 2 connections`)
  }
  return { child, port, folder, accepted }
}

t.test('names TCP connections in fd order and files under the folders; no listener, no Unix socket', async (t) => {
  const { child, port, folder } = await holder(t)
  const held = heldResources([child.pid!], [folder])
  t.same(held.pids, [child.pid])
  t.equal(held.tcp.length, 2)
  for (const connection of held.tcp) {
    t.match(connection, { local: /^127\.0\.0\.1:\d+$/, remote: `127.0.0.1:${port}`, state: 'ESTABLISHED' })
  }
  t.not(held.tcp[0]!.local, held.tcp[1]!.local)
  t.same(held.files, [path.join(folder, 'kept.txt')])
  t.same(heldResources([child.pid!], []).files, [], 'files only under the folders given')
})

t.test('connections learnt by OwnConnections are left out; the rest are still named', async (t) => {
  const own = new OwnConnections()
  const { child, port, accepted } = await holder(t, own)
  t.ok(await until(() => own.inodes.size === 2), 'both client-side inodes learnt')
  t.same(heldResources([child.pid!], [], own.inodes).tcp, [], 'our own connections need no table')
  const kept = new Set(own.inodes)
  const [first] = [...kept]
  kept.delete(first!)
  t.match(heldResources([child.pid!], [], kept).tcp, [{ remote: `127.0.0.1:${port}`, state: 'ESTABLISHED' }])
  // A connection that closes is forgotten: its inode could name another socket one day.
  accepted[0]!.destroy()
  t.ok(await until(() => own.inodes.size === 1), 'a closed connection is forgotten')
})

t.test('a process that is gone holds nothing', async (t) => {
  const { child } = await holder(t)
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  t.same(heldResources([child.pid!], ['/tmp']), { pids: [child.pid], tcp: [], files: [] })
})

t.test('processes carrying an entry are found among the pids given out since the mark, and among all when the counter may have wrapped', async (t) => {
  const entry = `LH_PROBE_TEST=${process.pid}-${Date.now()}`
  const before = pidMark()
  t.ok(before !== undefined, 'a mark on Linux')
  const child = spawn(PYTHON, ['-c', 'import sys; sys.stdin.read()'], { stdio: ['pipe', 'ignore', 'inherit'], env: { ...process.env, [entry.split('=')[0]!]: entry.split('=')[1]! } })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    child.kill('SIGKILL')
    await exited
  })
  await new Promise((resolve) => child.once('spawn', resolve))
  const pid = child.pid!
  t.ok(processesWithEnvironment([{ entry, sinceTicks: 0, mark: before }]).includes(pid), 'started after the mark: found')
  t.ok(processesWithEnvironment([{ entry, sinceTicks: 0 }]).includes(pid), 'no mark: every pid is read')
  const after = pidMark()!
  t.notOk(processesWithEnvironment([{ entry, sinceTicks: 0, mark: { lastPid: pid, forks: after.forks } }]).includes(pid), 'pids up to the mark are not read')
  // As many forks as there are pids: the counter may have come round, so every pid is read again.
  t.ok(processesWithEnvironment([{ entry, sinceTicks: 0, mark: { lastPid: pid, forks: after.forks - 1_000_000_000 } }]).includes(pid), 'a possible wrap: found')
})

t.test('two sandboxes waiting on the same socket table both learn their connections from the shared reads', async (t) => {
  const folder = mkdtempSync(path.join(tmpdir(), 'lh-table-'))
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  const table = path.join(folder, 'tcp')
  // /proc/net/tcp's layout: the client's row has its address local and the server's remote; the inode is field 9.
  const row = (client: number, server: number, inode: number) =>
    `   0: 0100007F:${client.toString(16).toUpperCase().padStart(4, '0')} 0100007F:${server.toString(16).toUpperCase().padStart(4, '0')} 01 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`
  writeFileSync(table, `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n${Array.from({ length: 500 }, (_, i) => row(20000 + i, 443, 90000 + i)).join('')}${row(41001, 9001, 7001)}${row(41002, 9002, 7002)}`)
  const socket = (client: number, server: number) => Object.assign(new EventEmitter(), { localAddress: '127.0.0.1', remoteAddress: '127.0.0.1', localPort: server, remotePort: client, destroyed: false }) as unknown as Socket
  const first = new OwnConnections(() => table)
  const second = new OwnConnections(() => table)
  const a = socket(41001, 9001)
  const b = socket(41002, 9002)
  first.accepted(a)
  second.accepted(b)
  t.ok(await until(() => first.inodeOf(a) !== undefined && second.inodeOf(b) !== undefined), 'both learnt')
  t.equal(first.inodeOf(a), '7001')
  t.equal(second.inodeOf(b), '7002')
  t.same([...first.inodes], ['7001'], "each keeps only its own connection's inode")
  t.same([...second.inodes], ['7002'])
})

t.test("a kill path's read of the TCP table teaches the connections still waiting for the shared reader's pass", async (t) => {
  const { child, accepted } = await holder(t)
  const own = new OwnConnections()
  // Synchronously: the reader's pass has only just been asked for when the kill path reads the table.
  for (const socket of accepted) {
    own.accepted(socket)
  }
  t.equal(own.inodes.size, 0, 'nothing learnt yet')
  const held = heldResources([child.pid!], [], own.inodes, own.learnFrom)
  t.equal(held.tcp.length, 2, 'the kill path still names what it found')
  t.equal(own.inodes.size, 2, 'and both connections were learnt from the same rows, before any pass of the reader')
  t.same(heldResources([child.pid!], [], own.inodes).tcp, [], 'so the next kill path needs no table')
})
