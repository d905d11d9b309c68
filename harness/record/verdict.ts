// What counts as a problem, in words a user understands: one pure function of the RunRecord.
// Lambda's own behaviour (an unsubscribed extension killed at once, a 3.11 runtime killed at the
// end of its share) is reported, not blamed.
import type { InitRecord, PlatformFault, PostgresSessionRecord, Problem, ProcessRecord, RunRecord, ShutdownRecord, TelemetrySubscriberRecord } from './run-record.js'
import { roundMs } from './ms.js'

/** A problem and when its fact happened, on the sandbox clock: the verdict lists them in time order. */
export interface DatedProblem {
  readonly atMs: number
  readonly problem: Problem
}

/** The verdict of a record: clean when nothing in it is a problem. */
export function verdict(record: RunRecord): RunRecord['verdict'] {
  const problems = datedProblems(record).map((dated) => dated.problem)
  return { clean: problems.length === 0, problems }
}

/** Every problem of the record with its time, in time order (a stable sort keeps a phase's own order). */
export function datedProblems(record: RunRecord): DatedProblem[] {
  const handlerRunsInNext = record.runtime.sigtermHandlerRunsInNext !== false
  const inits = [record.init, ...record.invocations.map((invocation) => invocation.init)].flatMap((init) => (init == null ? [] : [init]))
  const finalEndMs = record.shutdown === null ? 0 : endOf(record.shutdown)
  const dated = [
    ...(record.platformFaults ?? []).map((fault) => ({ atMs: fault.atMs, problem: faultProblem(fault) })),
    ...inits.flatMap((init) => dateAll(roundMs(init.startedAtMs + init.durationMs), [initProblem(init)].flatMap((p) => p ?? []))),
    ...record.resets.flatMap((reset) => dateAll(endOf(reset), [...shutdownProblems(reset, handlerRunsInNext), resetProblem(reset)])),
    ...(record.shutdown === null ? [] : dateAll(finalEndMs, shutdownProblems(record.shutdown, handlerRunsInNext))),
    // After the final Shutdown, when the probe reports.
    ...dateAll(finalEndMs, (record.resources.postgres?.sessions ?? []).flatMap(sessionProblem)),
    ...(record.resources.telemetry?.subscribers ?? []).flatMap((s) => (s.endedAtMs === null ? [] : dateAll(s.endedAtMs, telemetryProblems(s)))),
  ]
  return dated.sort((a, b) => a.atMs - b.atMs)
}

function dateAll(atMs: number, problems: Problem[]): DatedProblem[] {
  return problems.map((problem) => ({ atMs, problem }))
}

function endOf(shutdown: ShutdownRecord): number {
  return roundMs(shutdown.startedAtMs + shutdown.durationMs)
}

function faultProblem(fault: PlatformFault): Problem {
  switch (fault.kind) {
    case 'interrupted':
      return { code: 'interrupted', message: `the run was interrupted (${fault.detail}) before it finished` }
    case 'sandbox-holder-killed':
      return { code: 'sandbox-holder-killed', process: 'sandbox', message: fault.detail }
    case 'harness-out-of-fds':
      return {
        code: 'harness-out-of-fds',
        message:
          `the harness ran out of file descriptors (${fault.detail}${fault.fdLimit === undefined ? '' : `; its limit is ${fault.fdLimit}`}): ` +
          'connections and processes it could not take were its failure, not the processes\'; raise the harness\'s limit (ulimit -n) and run again',
      }
    case 'probe-failed':
      return { code: 'probe-failed', message: `the PostgreSQL probe failed: ${fault.detail}` }
  }
}

/** The problems of one Shutdown or reset: its runtime, then each extension, then what outlived its group. */
export function shutdownProblems(shutdown: ShutdownRecord, handlerRunsInNext: boolean): Problem[] {
  const what = shutdown.final ? 'Shutdown' : `the reset (reason ${shutdown.reason})`
  return [
    ...(shutdown.runtime !== null && shutdown.runtime.generation >= 0 ? runtimeProblems(shutdown.runtime, shutdown, what, handlerRunsInNext) : []),
    ...shutdown.extensions.flatMap((extension) => extensionProblems(extension, shutdown, what)),
    ...shutdown.orphans.map((orphan): Problem => ({
      code: 'orphan-processes',
      process: orphan.group,
      message: `${orphan.pids.length} process(es) started by \`${orphan.group}\` outlived it (pids ${orphan.pids.join(', ')}) and were killed`,
    })),
  ]
}

function runtimeProblems(runtime: ProcessRecord, shutdown: ShutdownRecord, what: string, handlerRunsInNext: boolean): Problem[] {
  const problems: Problem[] = []
  const sigterm = runtime.signals.find((s) => s.signal === 'SIGTERM' && s.atMs >= shutdown.startedAtMs)
  const killedAtShare = runtime.signals.some((s) => s.signal === 'SIGKILL' && s.atMs >= shutdown.startedAtMs && s.reason === 'runtime-share-over')
  // Up to 3.11 a Python client waits in /next in code that never returns to Python (LAMBDA-SPEC §3.3).
  const handlerCouldRun = handlerRunsInNext || runtime.waitingForNext !== true
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
  return problems
}

function extensionProblems(extension: ProcessRecord, shutdown: ShutdownRecord, what: string): Problem[] {
  const problems: Problem[] = []
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
    problems.push({ code: 'extension-reported-error', process: extension.name, message: `${name} reported an error: ${extension.reportedError}` })
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

function resetProblem(reset: ShutdownRecord): Problem {
  return { code: 'reset', message: `the sandbox was reset with reason ${reset.reason}: ${reset.cause ?? 'a failure'}` }
}

function initProblem(init: InitRecord): Problem | undefined {
  if (init.status === 'success') {
    return undefined
  }
  return {
    code: 'init-failed',
    message: `Init (phase ${init.phase}) ended with status ${init.status}${init.errorType === undefined ? '' : ` (${init.errorType})`}`,
  }
}

/** A database session the probe saw end without a Terminate, or still open after the sandbox was gone. */
function sessionProblem(session: PostgresSessionRecord): Problem[] {
  const who = `the database session of \`${session.process || '?'}\` (backend ${session.backendPid})`
  switch (session.state) {
    case 'closed':
      return []
    case 'dropped':
      return [{ code: 'db-session-dropped', process: session.process, message: `${who} was dropped, not closed: ${session.reason ?? 'the client vanished'}` }]
    case 'open':
      return [{ code: 'db-session-open', process: session.process, message: `${who} was still open after the sandbox was gone (${session.reason ?? 'open'})` }]
  }
}

/**
 * A subscription that ended owing records: `telemetry-lost` for records still buffered or in flight
 * when its process was killed or exited (before SHUTDOWN had gone out, or abnormally), and
 * `telemetry-dropped` for records given up on after failed deliveries while it was alive.
 */
function telemetryProblems(subscriber: TelemetrySubscriberRecord): Problem[] {
  const problems: Problem[] = []
  const name = `extension \`${subscriber.name}\``
  const api = subscriber.api === 'telemetry' ? 'Telemetry API' : 'Logs API'
  if (subscriber.lost > 0) {
    problems.push({
      code: 'telemetry-lost',
      process: subscriber.name,
      message: `${name} ${howEnded(subscriber)} with ${subscriber.lost} ${api} record(s) still buffered or in flight for it (${subscriber.delivered} of ${subscriber.records} delivered)`,
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

function howEnded(subscriber: TelemetrySubscriberRecord): string {
  const end = subscriber.end
  switch (end?.by) {
    case 'exit':
      return end.signal !== null ? `was killed (${end.signal})` : end.code !== 0 ? `exited with code ${end.code}` : 'exited'
    case 'next-init':
      return 'was gone when the next Init started'
    case 'sandbox-end':
    case undefined:
      return 'was still subscribed when the sandbox ended'
  }
}
