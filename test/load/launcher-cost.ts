// Not a test: measures what plain mode's launcher costs per process start. Starts /bin/true
// through the supervisor directly (as plain mode did before), through the compiled launcher and
// through enter.py, interleaved, and prints the median and p90 time from spawn to the exit.
//   node dist/test/load/launcher-cost.js [starts per kind, default 60]
import { ENTER_BINARY, ENTER_SCRIPT, enterLauncher } from '../../harness/isolation/launcher.js'
import { SupervisedProcess, type Launcher } from '../../harness/supervisor/supervisor.js'
import { PYTHON } from '../helpers.js'

const starts = Number(process.argv[2] ?? 60)
const kinds: [string, Launcher | undefined][] = [
  ['direct (no launcher)', undefined],
  ['enter (compiled)', enterLauncher({ file: ENTER_BINARY, args: [] }, undefined)],
  ['enter.py', enterLauncher({ file: PYTHON, args: ['-I', '-S', ENTER_SCRIPT] }, undefined)],
]

async function once(launcher: Launcher | undefined): Promise<{ launchedMs: number; exitedMs: number }> {
  const startedAt = performance.now()
  const child = new SupervisedProcess(
    { name: 'p', kind: 'extension', file: '/bin/true', args: [], cwd: '/', env: { PATH: '/usr/bin:/bin' }, ...(launcher === undefined ? {} : { launcher }) },
    { now: () => performance.now(), onLine: () => undefined, onExit: () => undefined },
  )
  const failure = await child.launched
  if (failure !== undefined) {
    throw new Error(failure.message)
  }
  const launchedMs = performance.now() - startedAt
  await child.exited
  const exitedMs = performance.now() - startedAt
  child.destroy()
  return { launchedMs, exitedMs }
}

const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))]!
const samples = new Map(kinds.map(([name]) => [name, [] as { launchedMs: number; exitedMs: number }[]]))
for (let i = 0; i < starts; i++) {
  for (const [name, launcher] of kinds) {
    samples.get(name)!.push(await once(launcher))
  }
}
for (const [name, values] of samples) {
  const launched = values.map((v) => v.launchedMs)
  const exited = values.map((v) => v.exitedMs)
  console.log(
    `${name.padEnd(22)} pid known: median ${quantile(launched, 0.5).toFixed(1)} ms, p90 ${quantile(launched, 0.9).toFixed(1)} ms; ` +
      `spawn to exit: median ${quantile(exited, 0.5).toFixed(1)} ms, p90 ${quantile(exited, 0.9).toFixed(1)} ms (${values.length} starts)`,
  )
}
