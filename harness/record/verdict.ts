// What counts as a problem, in words a user understands. Lambda's own behaviour (an unsubscribed
// extension killed at once, a 3.11 runtime killed at the end of its share) is reported, not blamed.
import type { InitRecord, Problem, ProcessRecord, ShutdownRecord, TelemetrySubscriberRecord } from './run-record.js'

export interface ShutdownVerdictInput {
  readonly shutdown: ShutdownRecord
  /** Whether the profile lets a Python SIGTERM handler run while the runtime waits in /next (3.12+). */
  readonly sigtermReachesPython: boolean
  /** A Python runtime client (ours or awslambdaric), not a command of the user's, whose language we do not know. */
  readonly pythonClient: boolean
}

export function shutdownProblems({ shutdown, sigtermReachesPython, pythonClient }: ShutdownVerdictInput): Problem[] {
  const problems: Problem[] = []
  const what = shutdown.final ? 'Shutdown' : `the reset (reason ${shutdown.reason})`
  const runtime = shutdown.runtime
  if (runtime !== null && runtime.generation >= 0) {
    const sigterm = runtime.signals.find((s) => s.signal === 'SIGTERM' && s.atMs >= shutdown.startedAtMs)
    const killedAtShare = runtime.signals.some((s) => s.signal === 'SIGKILL' && s.atMs >= shutdown.startedAtMs && s.reason === 'runtime-share-over')
    // Up to python3.11 any Python client waits for /next on the main thread in code that never
    // returns to Python, so the handler cannot run there (LAMBDA-SPEC §3.3); anywhere else it can.
    const handlerCouldRun = !pythonClient || sigtermReachesPython || runtime.waitingForNext !== true
    if (sigterm !== undefined && killedAtShare && runtime.sigtermHandler === true && handlerCouldRun) {
      problems.push({
        code: 'runtime-overran-share',
        process: 'runtime',
        message: `the runtime has a SIGTERM handler but did not exit within its ${shutdown.runtimeShareMs} ms share of ${what} and was killed`,
      })
    }
    const outside = signalFromOutside(runtime, shutdown)
    if (outside !== undefined) {
      problems.push({
        code: 'killed-from-outside',
        process: 'runtime',
        message: `the runtime died of ${outside} during ${what}, a signal the harness did not send (the OOM killer, a user, another tool)`,
      })
    }
  }
  for (const extension of shutdown.extensions) {
    const name = `extension \`${extension.name}\``
    const gotShutdown = extension.events.some((e) => e.eventType === 'SHUTDOWN' && e.atMs >= shutdown.startedAtMs)
    const killedAtDeadline = extension.signals.some((s) => s.signal === 'SIGKILL' && s.reason === 'deadline')
    if (killedAtDeadline) {
      problems.push({
        code: 'extension-killed-at-deadline',
        process: extension.name,
        message: gotShutdown
          ? `${name} received SHUTDOWN but did not exit before the ${shutdown.windowMs} ms deadline and was killed`
          : `${name} did not exit before the ${shutdown.windowMs} ms deadline and was killed`,
      })
    } else if ((gotShutdown || diedDuring(extension, shutdown)) && extension.exit !== null && (extension.exit.code !== 0 || extension.exit.signal !== null) && !extension.killed) {
      problems.push({
        code: 'extension-shutdown-failed',
        process: extension.name,
        message: `${name} exited with ${extension.exit.signal ?? `code ${extension.exit.code}`} during ${what} (Lambda records ShutdownFailed)`,
      })
    }
    if (extension.reportedError !== undefined) {
      problems.push({
        code: 'extension-reported-error',
        process: extension.name,
        message: `${name} reported an error: ${extension.reportedError}`,
      })
    }
  }
  for (const orphan of shutdown.orphans) {
    problems.push({
      code: 'orphan-processes',
      process: orphan.group,
      message: `${orphan.pids.length} process(es) started by \`${orphan.group}\` outlived it (pids ${orphan.pids.join(', ')}) and were killed`,
    })
  }
  return problems
}

/** Whether the process ended once this Shutdown (or reset) had begun, rather than before it. */
function diedDuring(process: ProcessRecord, shutdown: ShutdownRecord): boolean {
  return process.exitedAtMs !== null && process.exitedAtMs >= shutdown.startedAtMs
}

/** The signal a process died of during the Shutdown when the harness never sent it that signal. */
function signalFromOutside(process: ProcessRecord, shutdown: ShutdownRecord): NodeJS.Signals | undefined {
  const signal = process.exit?.signal ?? null
  if (signal === null || !diedDuring(process, shutdown) || process.signals.some((s) => s.signal === signal)) {
    return undefined
  }
  return signal
}

export function resetProblem(reset: ShutdownRecord, cause: string): Problem {
  return { code: 'reset', message: `the sandbox was reset with reason ${reset.reason}: ${cause}` }
}

export function initProblem(init: InitRecord): Problem | undefined {
  if (init.status === 'success') {
    return undefined
  }
  return {
    code: 'init-failed',
    message: `Init (phase ${init.phase}) ended with status ${init.status}${init.errorType === undefined ? '' : ` (${init.errorType})`}`,
  }
}

/**
 * A subscription that ended owing records: `telemetry-lost` for records still buffered or in flight
 * when its process was killed or exited (before SHUTDOWN had gone out, or abnormally), and
 * `telemetry-dropped` for records given up on after failed deliveries while it was alive.
 */
export function telemetryProblems(subscriber: TelemetrySubscriberRecord, how: string): Problem[] {
  const problems: Problem[] = []
  const name = `extension \`${subscriber.name}\``
  const api = subscriber.api === 'telemetry' ? 'Telemetry API' : 'Logs API'
  if (subscriber.lost > 0) {
    problems.push({
      code: 'telemetry-lost',
      process: subscriber.name,
      message: `${name} ${how} with ${subscriber.lost} ${api} record(s) still buffered or in flight for it (${subscriber.delivered} of ${subscriber.records} delivered)`,
    })
  }
  if (subscriber.dropped > 0) {
    problems.push({
      code: 'telemetry-dropped',
      process: subscriber.name,
      message: `${subscriber.dropped} ${api} record(s) for ${name} were dropped after failed deliveries (${subscriber.retries} retries; it was sent platform.logsDropped)`,
    })
  }
  return problems
}
