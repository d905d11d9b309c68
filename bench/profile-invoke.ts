// Where one invoke's Node CPU goes: a V8 CPU profile of the invoke loop alone (boot and warm-up
// excluded, which `node --cpu-prof` cannot do), written as a .cpuprofile for Chrome DevTools, and
// the top functions by self time per invoke. Idle, GC and `writev` are left out of the shares:
// the sampler charts time spent preempted inside a syscall to that syscall (perf shows it is not
// work), and both sides make the same writes.
// Usage: node dist/bench/profile-invoke.js <harness|baseline> [invokes] [out.cpuprofile] [warm-up invokes, 300] [extensions, 0]
import { writeFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import type { Profiler } from 'node:inspector'
import { boot } from '../harness/index.js'
import { BaselineSandbox } from './baseline/baseline-sandbox.js'
import { Workspace } from './workspace.js'

const NOT_WORK = new Set(['(idle)', '(program)', '(garbage collector)', 'writev'])

/** Self time per function, in µs per invoke, busiest first. */
function selfTimes(profile: Profiler.Profile, invokes: number): { busyUs: number; top: [string, number][] } {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const byFunction = new Map<string, number>()
  let busyUs = 0
  profile.samples?.forEach((id, i) => {
    const frame = nodes.get(id)?.callFrame
    const deltaUs = profile.timeDeltas?.[i] ?? 0
    if (frame === undefined || NOT_WORK.has(frame.functionName)) {
      return
    }
    busyUs += deltaUs
    const where = frame.url === '' ? '(native)' : `${frame.url.replace(/^file:\/\/.*?\/dist\//, '')}:${frame.lineNumber + 1}`
    const key = `${frame.functionName || '(anonymous)'} ${where}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + deltaUs)
  })
  const top = [...byFunction].map(([key, us]): [string, number] => [key, us / invokes]).sort((a, b) => b[1] - a[1])
  return { busyUs: busyUs / invokes, top }
}

async function main(): Promise<void> {
  const [side = 'harness', invokesArg = '3000', out = `bench-invoke-${side}.cpuprofile`, warmupArg = '300', extensionsArg = '0'] = process.argv.slice(2)
  const invokes = Number(invokesArg)
  if ((side !== 'harness' && side !== 'baseline') || !Number.isInteger(invokes) || invokes < 1) {
    throw new Error('usage: node dist/bench/profile-invoke.js <harness|baseline> [invokes] [out.cpuprofile] [warm-up invokes, 300] [extensions, 0]')
  }
  const workspace = new Workspace()
  let invoke: () => Promise<unknown>
  let dispose: () => Promise<void>
  if (side === 'harness') {
    const sandbox = await boot(workspace.bootOptions('/usr/bin/python3', Number(extensionsArg), 'none'))
    invoke = () => sandbox.invoke({})
    dispose = () => workspace.disposeHarness(sandbox)
  } else {
    const sandbox = await BaselineSandbox.boot(workspace.baselineSpec('/usr/bin/python3', Number(extensionsArg)))
    invoke = () => sandbox.invoke()
    dispose = () => workspace.disposeBaseline(sandbox)
  }
  const session = new Session()
  try {
    for (let i = 0; i < Number(warmupArg); i++) {
      await invoke()
    }
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.setSamplingInterval', { interval: 100 })
    await session.post('Profiler.start')
    const cpuBefore = process.cpuUsage()
    for (let i = 0; i < invokes; i++) {
      await invoke()
    }
    const cpu = process.cpuUsage(cpuBefore)
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(out, JSON.stringify(profile))
    const { busyUs, top } = selfTimes(profile, invokes)
    process.stdout.write(
      `${side}: ${((cpu.user + cpu.system) / invokes).toFixed(0)} µs CPU per invoke (all threads), main thread busy ${busyUs.toFixed(0)} µs; profile in ${out}\n`,
    )
    for (const [key, us] of top.slice(0, 25)) {
      process.stdout.write(`${us.toFixed(1).padStart(8)} µs ${((100 * us) / busyUs).toFixed(1).padStart(5)}%  ${key}\n`)
    }
  } finally {
    session.disconnect()
    await dispose()
    workspace.removeFolders()
    if (workspace.leftovers.length > 0) {
      process.exitCode = 1
      process.stderr.write(`processes left alive and killed: ${workspace.leftovers.join(', ')}\n`)
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error)?.stack ?? String(error)}\n`)
  process.exitCode = 1
})
