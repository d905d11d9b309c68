// What starts each process: inside a sandbox the sandbox's holder (hold.c), in plain mode the
// launcher (enter.c), both through the supervisor as the sandbox uses them: the record sees the
// real process (host pid, own group, its exit code or signal), never the launcher, and group
// signals never reach it.
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { statFields } from '../../harness/supervisor/process-groups.js'
import { ENTER_BINARY, HOLDER_BINARY } from '../../harness/isolation/launcher.js'
import { PlainHost } from '../../harness/isolation/plain-host.js'
import { groupMembers, fn, until, NO_BWRAP } from '../helpers.js'
import { parentOf } from './processes.js'
import { namespace, start } from './starting.js'

function statusField(pid: number, field: string): string | undefined {
  return new RegExp(`^${field}:\\s*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
}

for (const [label, holder] of [['hold (compiled)', HOLDER_BINARY]]) {
  t.test(label, { skip: NO_BWRAP }, async (t) => {
    const ns = await namespace(t, holder)

    t.test('the record sees the real process: host pid, its own group, inside the sandbox, no capabilities', async (t) => {
      const inside = start(t, ns, '/bin/sh', ['-c', 'echo inside $$ $(pwd); exec sleep 100'])
      const { process } = inside
      t.equal(await process.launched, undefined, 'started')
      const pid = process.pid!
      t.ok(pid > 0)
      const line = await inside.line(/^inside /)
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const pgid = Number(statFields(stat)[2])
      t.equal(pgid, pid, 'it leads its own process group')
      const nspid = statusField(pid, 'NSpid')?.split(/\s+/)
      t.equal(nspid?.length, 2, `it lives in a nested PID namespace (NSpid ${nspid?.join(' ')})`)
      t.equal(line, `inside ${nspid?.[1]} /var/task`, 'it sees its sandbox pid and runs in /var/task')
      t.equal(statusField(pid, 'CapEff'), '0000000000000000', 'no effective capabilities')
      t.equal(statusField(pid, 'CapBnd'), '0000000000000000', 'none to gain by exec either')
      // The shell execs sleep right after its echo: the pid becomes sleep, never the launcher.
      t.ok(await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000100\u0000'), 'the pid is the command, not the launcher')
      process.signal('SIGKILL')
      t.same((({ code, signal }) => ({ code, signal }))(await process.exited), { code: null, signal: 'SIGKILL' })
    })

    t.test('exit codes and signals are the process\'s own; a group SIGTERM never reaches the launcher', async (t) => {
      const exits = start(t, ns, '/bin/sh', ['-c', 'exit 3'])
      t.match(await exits.process.exited, { code: 3, signal: null }, 'exit 3')

      const killed = start(t, ns, 'sleep', ['100'])
      await killed.process.launched
      killed.process.signal('SIGTERM')
      t.match(await killed.process.exited, { code: null, signal: 'SIGTERM' }, 'killed by SIGTERM')

      // If SIGTERM reached the launcher, it would die of it before the trap's exit 0.
      const traps = start(t, ns, '/bin/sh', ['-c', 'trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.05; done'])
      t.equal(await traps.line(/^ready$/), 'ready', 'its trap is installed')
      traps.process.signal('SIGTERM')
      t.match(await traps.process.exited, { code: 0, signal: null }, 'the handler ran and the process exited 0')
      // The exit report and the output come on different pipes: the line may still be in its pipe.
      await traps.process.outputEnded
      t.ok(traps.lines.includes('got TERM'))
    })

    t.test('freeze and thaw stop and continue the process group', async (t) => {
      const { process, line } = start(t, ns, '/bin/sh', ['-c', 'echo ready; exec sleep 100'])
      await line(/^ready$/)
      process.freeze()
      t.ok(await until(() => statusField(process.pid!, 'State')?.startsWith('T') === true), 'stopped')
      process.thaw()
      process.destroy()
      t.match(await process.exited, { signal: 'SIGKILL' })
    })

    t.test('a file that cannot run is a launch failure with its errno, as for a plain process', async (t) => {
      const missing = start(t, ns, '/opt/extensions/missing', [])
      t.match(await missing.process.launched, { code: 'ENOENT', message: /\/opt\/extensions\/missing: No such file or directory/ })
      t.match(await missing.process.exited, { code: 127, signal: null })
      t.equal(missing.process.pid, undefined, 'no pid')
      const notExecutable = start(t, ns, '/var/task/data.txt', [])
      t.match(await notExecutable.process.launched, { code: 'EACCES' })
    })
  })
}

// Plain mode (isolation "none"): the launcher adopts whatever the process forks out of its tree,
// so a harness's death can reach it (see harness-killed-plain.test.ts for that death itself).
for (const [label, launcher] of [['enter (compiled)', ENTER_BINARY]]) {
  t.test(`${label}, plain mode`, async (t) => {
    const plain = { host: new PlainHost(launcher) }
    const functionDir = fn('touches-files')

    t.test('the record sees the real process: host pid, its own group, the host\'s view, capabilities untouched', async (t) => {
      const host = start(t, plain, '/bin/sh', ['-c', 'echo host $$ $(pwd); exec sleep 100'], functionDir)
      const { process } = host
      t.equal(await process.launched, undefined, 'started')
      const pid = process.pid!
      t.equal(await host.line(/^host /), `host ${pid} ${functionDir}`, 'its pid is the host pid and it runs in its cwd')
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      t.equal(Number(statFields(stat)[2]), pid, 'it leads its own process group')
      t.equal(statusField(pid, 'NSpid')?.split(/\s+/).length, 1, 'no nested PID namespace')
      t.equal(statusField(pid, 'NoNewPrivs'), '0', 'no_new_privs is not set, as for any host process')
      t.ok(await until(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8') === 'sleep\u0000100\u0000'), 'the pid is the command, not the launcher')
      process.signal('SIGKILL')
      t.same((({ code, signal }) => ({ code, signal }))(await process.exited), { code: null, signal: 'SIGKILL' })
    })

    t.test('exit codes and signals are the process\'s own; a group SIGTERM never reaches the launcher', async (t) => {
      t.match(await start(t, plain, '/bin/sh', ['-c', 'exit 3'], functionDir).process.exited, { code: 3, signal: null }, 'exit 3')
      const killed = start(t, plain, 'sleep', ['100'], functionDir)
      await killed.process.launched
      killed.process.signal('SIGTERM')
      t.match(await killed.process.exited, { code: null, signal: 'SIGTERM' }, 'killed by SIGTERM')
      const traps = start(t, plain, '/bin/sh', ['-c', 'trap "echo got TERM; exit 0" TERM; echo ready; while :; do sleep 0.05; done'], functionDir)
      t.equal(await traps.line(/^ready$/), 'ready', 'its trap is installed')
      traps.process.signal('SIGTERM')
      t.match(await traps.process.exited, { code: 0, signal: null }, 'the handler ran and the process exited 0')
    })

    t.test('a daemon forked out of the group is adopted by the launcher and outlives the process, as in a sandbox, until the launcher is told the sandbox is over', async (t) => {
      const own = { host: new PlainHost(launcher) }
      const forks = start(t, own, '/bin/sh', ['-c', 'setsid -f sh -c \'echo daemon $$; exec sleep 100\'; sleep 100 & echo child $!; exec sleep 100'], functionDir)
      const daemon = Number((await forks.line(/^daemon /))?.split(' ')[1])
      const child = Number((await forks.line(/^child /))?.split(' ')[1])
      t.teardown(() => {
        for (const pid of [daemon, child]) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // Already gone.
          }
        }
      })
      const pid = forks.process.pid!
      const holder = parentOf(pid)!
      t.ok(await until(() => parentOf(daemon) === holder), `the daemon's parent is the launcher ${holder}, not init`)
      t.same(groupMembers(pid).sort(), [pid, child].sort(), 'the daemon is out of the process group the harness signals')
      // Only the process itself, not its group: the same-group child outlives it.
      process.kill(pid, 'SIGKILL')
      t.match(await forks.process.exited, { code: null, signal: 'SIGKILL' }, 'the exit is the process\'s own, reported while the launcher stays')
      t.same([...own.host.holders()], [[holder, 'p']], 'the launcher still runs, holding what the process left')
      t.equal(parentOf(daemon), holder, 'the daemon lives on under it')
      t.same(groupMembers(pid), [child], 'its group\'s leftover is still there, for the harness to reap and record')
      own.host.end()
      t.ok(await until(() => [holder, daemon, child].every((p) => parentOf(p) === undefined)), 'told the sandbox is over, the launcher kills the daemon and the leftover and ends')
    })

    t.test('when the harness dies (SIGKILL), the process and the daemon it adopted die too', async (t) => {
      // A stand-in harness: a Node process that starts the launcher with its own pid, then is SIGKILLed.
      const harness = spawn(
        process.execPath,
        [
          '-e',
          "require('node:child_process').spawn(process.argv[1], process.argv.slice(2).map((a) => (a === 'HARNESS' ? String(process.pid) : a)), { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] }); setInterval(() => {}, 1e6)",
          launcher,
          'HARNESS',
          functionDir,
          '/bin/sh',
          '-c',
          "setsid -f sh -c 'echo daemon $$; exec sleep 100'; echo process $$; exec sleep 100",
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      let out = ''
      harness.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
      const said = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(out)?.[1] ?? 0)
      const pids = () => [said('process'), said('daemon')]
      t.teardown(() => {
        for (const pid of [harness.pid!, ...pids()].filter((pid) => pid > 0)) {
          try {
            process.kill(pid, 'SIGKILL')
          } catch {
            // Already gone.
          }
        }
      })
      t.ok(await until(() => pids().every((pid) => pid > 0), 10_000), `the process and its daemon said their pids: ${out.trim()}`)
      const enter = parentOf(said('process'))!
      t.equal(parentOf(enter), harness.pid, 'the launcher is the stand-in harness\'s child')
      t.ok(await until(() => parentOf(said('daemon')) === enter), 'the daemon was adopted by the launcher')
      harness.kill('SIGKILL')
      t.ok(await until(() => [enter, ...pids()].every((pid) => parentOf(pid) === undefined)), 'the launcher, the process and the daemon are gone')
    })

    t.test('a file that cannot run is a launch failure with its errno', async (t) => {
      const missing = start(t, plain, path.join(functionDir, 'missing'), [], functionDir)
      t.match(await missing.process.launched, { code: 'ENOENT', message: /missing: No such file or directory/ })
      t.match(await missing.process.exited, { code: 127, signal: null })
      t.equal(missing.process.pid, undefined, 'no pid')
      t.match(await start(t, plain, path.join(functionDir, 'data.txt'), [], functionDir).process.launched, { code: 'EACCES' })
    })
  })
}
