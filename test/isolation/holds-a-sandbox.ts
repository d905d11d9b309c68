// Not a test: a harness process for harness-killed*.test.ts to SIGKILL. It boots a sandbox with
// the extensions folder it is given (isolated unless told "none"; the function's environment
// gets LH_TEST_MARKER=<marker> when one is given), invokes once, prints the record's pids and the
// pid a `... daemon <pid>` line named as one JSON line, and then waits forever.
import type { IsolationMode } from '../../harness/config/options.js'
import { boot } from '../../harness/index.js'
import { PYTHON, fn, until } from '../helpers.js'

const [extensionsDir, isolation = 'bwrap', marker] = process.argv.slice(2)
const sandbox = await boot({
  functionDir: fn('echo'),
  handler: 'app.handler',
  python: PYTHON,
  isolation: isolation as IsolationMode,
  ...(extensionsDir === undefined || extensionsDir === '' ? {} : { extensionsDir }),
  ...(marker === undefined ? {} : { env: { LH_TEST_MARKER: marker } }),
})
await sandbox.invoke({})
const pids: Record<string, number | null> = Object.fromEntries(sandbox.record.processes.map((p) => [p.name, p.pid]))
const daemonLine = () => sandbox.record.timeline.map((entry) => / daemon (\d+)$/.exec(entry.detail)?.[1]).find((pid) => pid !== undefined)
// The extension prints it before its first /event/next, but its pipe may be read after the invoke.
if (extensionsDir !== undefined && extensionsDir !== '' && (await until(() => daemonLine() !== undefined, 5000))) {
  pids.daemon = Number(daemonLine())
}
process.stdout.write(`${JSON.stringify(pids)}\n`)
setInterval(() => undefined, 60_000)
