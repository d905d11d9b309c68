// The sandbox's holder (hold.c, holder.ts): it starts each process inside the sandbox and the
// harness takes the process's pipes from the holder's fd table. What only the holder could get
// wrong: a process gone before the harness looked, what crosses its protocol (arguments, the
// environment, PATH), what the process inherits, output the harness had not taken yet, many
// starts at once, the sandbox ending under it, a holder that stops answering, and requests it
// cannot read.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { SandboxHolder } from '../../harness/isolation/holder.js'
import { HOLDER_BINARY } from '../../harness/isolation/launcher.js'
import { hostsFile, sandboxMountArgs } from '../../harness/isolation/mounts.js'
import { SandboxNamespace } from '../../harness/isolation/namespace.js'
import { PYTHON_RUNTIME_DIR } from '../../harness/paths.js'
import { fn, until, NO_BWRAP } from '../helpers.js'
import { namespace, start } from './starting.js'

/** Whether the stream gives another chunk within `ms`: a holder that goes silent fails the test, never hangs it. */
async function nextData(stream: NodeJS.ReadableStream, ms = 5000): Promise<boolean> {
  try {
    await once(stream, 'data', { signal: AbortSignal.timeout(ms) })
    return true
  } catch {
    return false
  }
}

if (!existsSync(HOLDER_BINARY)) {
  t.comment(`${HOLDER_BINARY} is not built (make build, needs a C compiler): nothing to test`)
} else {
  t.test('in a sandbox', { skip: NO_BWRAP }, async (t) => {
    const ns = await namespace(t, HOLDER_BINARY)

    t.test('a process that ends at once still has its host pid, all of its output and its exit code', async (t) => {
      for (let i = 0; i < 5; i++) {
        const quick = start(t, ns, '/bin/sh', ['-c', 'echo one; echo two >&2; exit 7'])
        t.equal(await quick.process.launched, undefined)
        t.ok((quick.process.pid ?? 0) > 0, `host pid ${quick.process.pid}`)
        t.match(await quick.process.exited, { code: 7, signal: null })
        await quick.process.outputEnded
        t.same(quick.lines.sort(), ['one', 'two'])
      }
    })

    t.test('arguments and the environment arrive byte for byte; PATH is the process\'s own', async (t) => {
      const env = { PATH: '/usr/bin:/bin', ODD: 'a b=c\nd\te ü €', EMPTY: '' }
      const echo = start(t, ns, '/usr/bin/python3', ['-c', 'import os, sys, json; print(json.dumps([sys.argv[1:], os.environ.get("ODD"), os.environ.get("EMPTY"), sorted(k for k in os.environ if k != "LC_CTYPE")]))', 'x y', '', 'z\nw', 'ü'], '/var/task', env)
      t.match(await echo.process.exited, { code: 0 })
      await echo.process.outputEnded
      // (Python itself may add LC_CTYPE: PEP 538's locale coercion.)
      t.same(JSON.parse(echo.lines[0]!), [['x y', '', 'z\nw', 'ü'], env.ODD, '', ['EMPTY', 'ODD', 'PATH']])
      // `sh` is found on this PATH only: the search uses the process's PATH, not the holder's.
      const found = start(t, ns, 'sh', ['-c', 'echo found'], '/var/task', { PATH: '/bin' })
      t.match(await found.process.exited, { code: 0 })
      const missing = start(t, ns, 'sh', [], '/var/task', { PATH: '/nowhere' })
      t.match(await missing.process.launched, { code: 'ENOENT' })
    })

    t.test('the process inherits stdin from /dev/null and no descriptor beyond 0, 1 and 2', async (t) => {
      const fds = start(t, ns, '/bin/sh', ['-c', 'ls /proc/self/fd | sort -n | tr "\\n" " "; echo; readlink /proc/self/fd/0'])
      t.match(await fds.process.exited, { code: 0 })
      await fds.process.outputEnded
      // ls's own directory fd is the 3.
      t.equal(fds.lines[0], '0 1 2 3 ')
      t.equal(fds.lines[1], '/dev/null')
    })

    t.test('output written before the harness took the pipes is all there, more than a pipe holds', async (t) => {
      const loud = start(t, ns, '/usr/bin/python3', ['-c', 'for i in range(20000): print("%05d" % i + "y" * 94)'])
      t.match(await loud.process.exited, { code: 0 })
      await loud.process.outputEnded
      t.equal(loud.lines.length, 20000, '2 MB of lines')
      t.equal(loud.lines[19999], '19999' + 'y'.repeat(94))
    })

    t.test('many starts at once each get their own pipes and exit', async (t) => {
      const many = Array.from({ length: 20 }, (_, i) => start(t, ns, '/bin/sh', ['-c', `echo ${i}; exit ${i}`]))
      const exits = await Promise.all(many.map((each) => each.process.exited))
      await Promise.all(many.map((each) => each.process.outputEnded))
      t.same(exits.map((exit) => exit.code), many.map((_, i) => i))
      t.same(many.map((each) => each.lines), many.map((_, i) => [String(i)]))
      t.equal(new Set(many.map((each) => each.process.pid)).size, 20, '20 different pids')
    })
  })

  t.test('it runs where its own file is hidden inside the sandbox (a harness installed under /tmp, /opt or /var/task)', { skip: NO_BWRAP }, async (t) => {
    const ns = await SandboxNamespace.start({
      bwrap: 'bwrap',
      mountArgs: [
        ...sandboxMountArgs({ functionDir: fn('touches-files'), runtimeDir: PYTHON_RUNTIME_DIR, layers: [], ephemeralStorageMB: 512 }, 4),
        '--tmpfs',
        path.dirname(HOLDER_BINARY),
      ],
      hostsData: hostsFile(''),
      holder: HOLDER_BINARY,
    })
    t.teardown(() => ns.close())
    const inside = start(t, ns, '/bin/sh', ['-c', `test -e ${HOLDER_BINARY} && echo visible || echo hidden`])
    t.match(await inside.process.exited, { code: 0 })
    await inside.process.outputEnded
    t.same(inside.lines, ['hidden'], 'its file is not there for the processes, and it started them all the same')
  })

  t.test('when the sandbox ends, its processes end SIGKILLed and nothing more starts', { skip: NO_BWRAP }, async (t) => {
    const ns = await namespace(t, HOLDER_BINARY)
    const running = start(t, ns, 'sleep', ['100'])
    t.equal(await running.process.launched, undefined)
    await ns.close()
    t.match(await running.process.exited, { code: null, signal: 'SIGKILL' })
    const late = start(t, ns, 'sleep', ['100'])
    t.match(await late.process.launched, { code: 'UNKNOWN', message: /holder is gone/ })
    t.match(await late.process.exited, { code: 127 })
  })

  t.test('requests it cannot read are refused, and it goes on', async (t) => {
    // The holder runs outside a sandbox too: it only forks. Here its protocol is spoken raw.
    const holder = spawn(HOLDER_BINARY, [], { stdio: ['pipe', 'pipe', 'pipe'] })
    t.teardown(() => holder.kill('SIGKILL'))
    let out = ''
    let err = ''
    holder.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
    holder.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    const answered = async (pattern: RegExp) => {
      while (!pattern.test(out) && (await nextData(holder.stdout))) {
        // Each chunk is appended to `out` by the listener above.
      }
      return pattern.test(out)
    }
    t.ok(await answered(/^ready \d+\n/), 'ready')
    holder.stdin.write('hello\n')
    // No NUL at the end, and an argc with no arguments.
    holder.stdin.write('spawn 1 3\nabc')
    const payload = '/\0/bin/true\x000\0'
    holder.stdin.write(`spawn 2 ${payload.length}\n${payload}`)
    const ok = '/\0/bin/sh\x003\0/bin/sh\0-c\0exit 4\0PATH=/bin\0'
    holder.stdin.write(`spawn 3 ${Buffer.byteLength(ok)}\n${ok}`)
    t.ok(await answered(/^error 1 EINVAL malformed spawn request$/m), 'a payload that is not NUL-terminated')
    t.ok(await answered(/^error 2 EINVAL malformed spawn request$/m), 'no arguments')
    t.ok(await answered(/^pid 3 \d+ \d+ \d+$/m), 'the next good request starts its process')
    holder.stdin.write('release 3\n')
    t.ok(await answered(/^exit 3 code 4$/m), 'and reports its exit')
    t.match(err, /unknown command: hello/)
    holder.stdin.end()
    const code = await new Promise<number | null>((resolve) => holder.once('exit', (exitCode) => resolve(exitCode)))
    t.equal(code, 0, 'EOF on stdin ends it')
  })

  t.test('a holder that does not answer (stopped from inside the sandbox) fails the start in bounded time; what it starts late is killed', async (t) => {
    // Outside a sandbox, over the holder's own pipes, with a short limit.
    const raw = spawn(HOLDER_BINARY, [], { stdio: ['pipe', 'pipe', 'inherit'] })
    t.teardown(() => raw.kill('SIGKILL'))
    t.ok(await nextData(raw.stdout), 'ready')
    const holder = new SandboxHolder(raw.stdin, raw.stdout, raw.pid!, 200)
    const children = () => readFileSync(`/proc/${raw.pid}/task/${raw.pid}/children`, 'utf8').trim()
    raw.kill('SIGSTOP')
    const spec = { name: 'p', kind: 'extension' as const, file: '/bin/sleep', args: ['100'], cwd: '/', env: {} }
    t.match(await holder.launch(spec), { code: 'ETIMEDOUT', message: 'the sandbox\'s holder did not start /bin/sleep within 200 ms' })
    raw.kill('SIGCONT')
    // It answers in order: by the time this start is answered, the late sleep's was handled too.
    const later = await holder.launch({ ...spec, file: '/bin/true', args: [] })
    t.ok('pid' in later, 'it starts processes again')
    if ('pid' in later) {
      t.same(await later.ended, { code: 0, signal: null })
    }
    t.ok(await until(() => children() === ''), 'the sleep it started once it went on was killed and reaped')
  })
}
