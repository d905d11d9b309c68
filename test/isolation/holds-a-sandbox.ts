// Not a test: a harness process for harness-killed.test.ts to SIGKILL. It boots an isolated
// sandbox with the extensions folder it is given, invokes once, prints the record's pids as one
// JSON line and then waits forever.
import { boot } from '../../harness/index.js'
import { PYTHON, fn } from '../helpers.js'

const [extensionsDir] = process.argv.slice(2)
const sandbox = await boot({ functionDir: fn('echo'), handler: 'app.handler', python: PYTHON, isolation: 'bwrap', ...(extensionsDir === undefined ? {} : { extensionsDir }) })
await sandbox.invoke({})
const pids = Object.fromEntries(sandbox.record.processes.map((p) => [p.name, p.pid]))
process.stdout.write(`${JSON.stringify(pids)}\n`)
setInterval(() => undefined, 60_000)
