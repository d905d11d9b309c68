// The floor of `lambda-harness check`: the waits its scenarios cannot avoid, on the critical path
// of the scenario pool at the default parallelism. Per scenario, read from its own record:
// - the built-in function's work: WORK_MS per invoke that it answered (harness/conformance/
//   scenarios.ts), and the function timeout of an invoke that timed out;
// - the freeze scenario's frozen gaps: FROZEN_MS between its invokes (scenarios.ts, FROZEN_MS);
// - the SHUTDOWN each extension was sent (final or a reset), from the event to its exit: the
//   extension's own time to finish, which no harness can shorten.
// Boots, interpreter starts and the harness's own work are not in it: that is what it measures.
// The scenarios then run as the runner's pool runs them (runner.ts: in scenarios.ts's startOrder,
// the longest waits first, each taking the first free one of `jobs` slots), and the floor is when
// the last slot ends. The floor follows the runner's order: a runner that started the long
// scenarios last would have a higher floor, and the row would not show what that order costs.
import { DEFAULT_MANY_INVOKES } from '../harness/conformance/options.js'
import { FROZEN_MS, SCENARIOS, startOrder, WORK_MS } from '../harness/conformance/scenarios.js'
import type { ProcessRecord, RunRecord, ShutdownRecord } from '../harness/record/run-record.js'

export interface ScenarioRun {
  readonly name: string
  readonly record: RunRecord
}

/** From SHUTDOWN's delivery to the process's exit, for each extension that got one; 0 if none did. */
function shutdownWaitMs(shutdown: ShutdownRecord | null): number {
  const waits = (shutdown?.extensions ?? []).map((extension: ProcessRecord) => {
    const event = extension.events.find((e) => e.eventType === 'SHUTDOWN')
    return event === undefined || extension.exitedAtMs === null ? 0 : Math.max(0, extension.exitedAtMs - event.atMs)
  })
  return Math.max(0, ...waits)
}

/** What one scenario must wait, whoever runs it. */
export function unavoidableMs(run: ScenarioRun): number {
  const { record } = run
  let ms = 0
  for (const invocation of record.invocations) {
    if (invocation.status === 'success') {
      ms += WORK_MS
    } else if (invocation.status === 'timeout') {
      ms += record.function.timeoutMs
    }
  }
  if (run.name === 'freeze') {
    ms += Math.max(0, record.invocations.length - 1) * FROZEN_MS
  }
  for (const shutdown of [...record.resets, record.shutdown]) {
    ms += shutdownWaitMs(shutdown)
  }
  return ms
}

/** When the last of `jobs` slots ends, the durations taken in order, each by the first free slot. */
export function poolMakespan(durations: readonly number[], jobs: number): number {
  const slots = new Array<number>(Math.max(1, jobs)).fill(0)
  for (const duration of durations) {
    const first = slots.indexOf(Math.min(...slots))
    slots[first] = (slots[first] ?? 0) + duration
  }
  return Math.max(...slots)
}

/** The scenarios of a report (in its order) in the order the runner started them. */
export function runnerOrder<T extends ScenarioRun>(scenarios: readonly T[], manyInvokes = DEFAULT_MANY_INVOKES): T[] {
  const specs = scenarios.map((run) => SCENARIOS.find((spec) => spec.name === run.name)!)
  return startOrder(specs, manyInvokes).map((index) => scenarios[index]!)
}

export function checkFloorMs(scenarios: readonly ScenarioRun[], jobs: number, manyInvokes = DEFAULT_MANY_INVOKES): number {
  return poolMakespan(runnerOrder(scenarios, manyInvokes).map(unavoidableMs), jobs)
}
