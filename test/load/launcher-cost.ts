// Not a test: measures what plain mode's launcher costs per process start. Starts /bin/true
// through plain mode's process host (the compiled launcher) and prints the median and p90 time
// from spawn to the exit.
//   node dist/test/load/launcher-cost.js [starts, default 60]
import { ENTER_BINARY } from '../../harness/isolation/launcher.js'
import { PlainHost } from '../../harness/isolation/plain-host.js'
import { SupervisedProcess, type ProcessHost } from '../../harness/supervisor/supervisor.js'

const starts = Number(process.argv[2] ?? 60)
const kinds: [string, ProcessHost][] = [['enter (compiled)', new PlainHost(ENTER_BINARY)]]

async function once(host: ProcessHost): Promise<{ launchedMs: number; exitedMs: number }> {
  const startedAt = performance.now()
  const child = new SupervisedProcess(
    { name: 'p', kind: 'extension', file: '/bin/true', args: [], cwd: '/', env: { PATH: '/usr/bin:/bin' } },
    host,
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
