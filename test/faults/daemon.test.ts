// Faults (issue 7 "Hardening", item 3): a process that double-forks a daemon out of its process
// group. Whether the runtime or an extension forked it, with bwrap isolation (the PID namespace ends
// with the sandbox) or plain processes (found by the AWS_LAMBDA_RUNTIME_API they inherited), the
// final Shutdown kills the daemon and reports it as an orphan of the sandbox.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { statFields } from '../../harness/supervisor/process-groups.js'
import { formatReport, type BootOptions, type RunRecord } from '../../harness/index.js'
import { extensionsDir, fn, startSandbox, until, NO_BWRAP } from '../helpers.js'
import { membersOf, pidNamespaceOf } from '../isolation/processes.js'

t.jobs = 2

interface Cell {
  readonly isolation: NonNullable<BootOptions['isolation']>
  /** Who forks the daemon: the runtime (fixtures/functions/forks-daemon) or an extension. */
  readonly forker: 'runtime' | 'double-forks-daemon'
}

const cells: Cell[] = [
  { isolation: 'auto', forker: 'runtime' },
  { isolation: 'auto', forker: 'double-forks-daemon' },
  { isolation: 'none', forker: 'runtime' },
  { isolation: 'none', forker: 'double-forks-daemon' },
]

for (const { isolation, forker } of cells) {
  const mode = isolation === 'none' ? 'plain processes' : 'isolated (default)'
  t.test(`${mode}: a daemon the ${forker === 'runtime' ? 'runtime' : 'extension'} double-forks is killed and reported at Shutdown`, { buffered: true, skip: isolation !== 'none' && NO_BWRAP }, async (t) => {
    const sandbox = await startSandbox(t, {
      functionDir: fn(forker === 'runtime' ? 'forks-daemon' : 'echo'),
      extensionsDir: extensionsDir(t, forker === 'runtime' ? ['well-behaved'] : ['double-forks-daemon']),
      isolation,
    })
    t.equal(sandboxMode(sandbox.record), isolation === 'none' ? 'plain' : 'bwrap', `the processes run as ${mode}`)
    t.equal((await sandbox.invoke({})).status, 'success')
    const prefix = forker === 'runtime' ? 'daemon ' : 'double-forks-daemon daemon '
    // Printed before the invoke ends, but a pipe and a socket race: wait for the line itself.
    t.ok(await until(() => daemonLine(sandbox.record, forker, prefix) !== undefined), 'the forker printed its daemon\'s pid')
    const printed = Number(daemonLine(sandbox.record, forker, prefix)!.slice(prefix.length))
    const forkerPid = sandbox.record.processes.find((p) => p.name === forker)!.pid!
    // Looked for in the forker's PID namespace only: the other isolated cell runs beside this one,
    // and its daemon can have the same pid inside its own sandbox.
    const namespace = pidNamespaceOf(forkerPid)
    // The daemon's pid is printed before it has exec'd `sleep`: wait for the exec.
    await until(() => hostPidOf(printed, namespace) !== undefined)
    const daemon = hostPidOf(printed, namespace)
    t.ok(daemon !== undefined, `the daemon (pid ${printed} as the sandbox sees it) runs as host pid ${daemon}`)
    t.not(processGroupOf(daemon!), forkerPid, 'it left the forker\'s process group')

    const shutdown = await sandbox.shutdown()
    const record = sandbox.record
    t.match(shutdown.runtime, { exit: { code: null, signal: 'SIGTERM' } }, 'the runtime ended on SIGTERM at Shutdown')
    t.match(shutdown.extensions, [{ exit: { code: 0, signal: null }, state: 'Exited' }], 'the extension exited 0 on SHUTDOWN')
    t.same(shutdown.orphans, [{ group: 'sandbox', pids: [daemon] }], 'the daemon is an orphan of the sandbox')
    t.match(record.verdict.problems, [{ code: 'orphan-processes', process: 'sandbox', message: new RegExp(`pids ${daemon}\\b`) }])
    t.ok(record.timeline.some((e) => e.kind === 'signal' && e.process === 'sandbox' && e.detail.startsWith('SIGKILL to 1 process(es) left in the sandbox')))
    t.ok(await until(() => !alive(daemon!), 2000), `daemon ${daemon} is dead (gone, or a zombie waiting for its new parent)`)
    for (const process of record.processes) {
      t.ok(process.exit !== null, `${process.name} has its exit`)
    }
    t.same(JSON.parse(JSON.stringify(record)), record, 'the record survives JSON')
    t.match(formatReport(record), /✗ 1 process\(es\) started by `sandbox` outlived it/)
  })
}

function sandboxMode(record: RunRecord): 'bwrap' | 'plain' | undefined {
  const description = record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('Sandbox: '))?.detail
  return description?.startsWith('Sandbox: bwrap') === true ? 'bwrap' : description?.startsWith('Sandbox: plain') === true ? 'plain' : undefined
}

function daemonLine(record: RunRecord, process: string, prefix: string): string | undefined {
  return record.timeline.find((e) => e.kind === 'output' && e.process === process && e.detail.startsWith(prefix))?.detail
}

/** The host pid of the `sleep` whose pid in `namespace` (NSpid's last field) is `pid`. */
function hostPidOf(pid: number, namespace: string | undefined): number | undefined {
  return (namespace === undefined ? [] : membersOf(namespace)).find((entry) => {
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8')
      return /^Name:\s+sleep$/m.test(status) && /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/).at(-1) === String(pid)
    } catch {
      return false // Gone meanwhile.
    }
  })
}

function stat(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return statFields(text)
  } catch {
    return undefined
  }
}

function processGroupOf(pid: number): number | undefined {
  const fields = stat(pid)
  return fields === undefined ? undefined : Number(fields[2])
}

function alive(pid: number): boolean {
  const state = stat(pid)?.[0]
  return state !== undefined && state !== 'Z' && state !== 'X'
}
