// Checks on one Shutdown (the final spindown, or the reset after a timeout or a crash), LAMBDA-SPEC
// §3.3: SHUTDOWN arrives after the runtime's share, the extension exits 0 before deadlineMs, leaves
// nothing running, closes its database sessions and gets its telemetry out.
import type { ShutdownReason } from '../config/options.js'
import type { ShutdownRecord, TelemetrySubscriberRecord } from '../record/run-record.js'
import type { CheckSpec, ScenarioEvidence, SuiteFacts, Verdict } from './types.js'
import { describeExit, ms, shutdownBlock, shutdownFacts, shutdownFor, type Block } from './evidence.js'

const FIX_EXIT =
  'on SHUTDOWN, flush and close what it holds and exit 0 before deadlineMs (epoch ms in the event): budget every wait against it, and stop waiting on slow destinations a few hundred ms before it'

/** The Shutdown the scenario is about, or why the extension was not in it. */
function subject(
  evidence: ScenarioEvidence,
  extension: string,
  reason: ShutdownReason,
): { shutdown: ShutdownRecord; block: Block | undefined } | { shutdown: undefined; block: Block } {
  const { record } = evidence
  const shutdown = shutdownFor(record, reason)
  if (shutdown !== undefined) {
    return { shutdown, block: shutdownBlock(record, extension, shutdown) }
  }
  // The Shutdown never came with this reason: whatever ended the sandbox first explains it.
  const first = record.resets[0] ?? record.shutdown
  const block = first === undefined || first === null ? undefined : shutdownBlock(record, extension, first)
  return {
    shutdown: undefined,
    block: block ?? {
      owner: 'invoke/keeps-up',
      reason: `no ${reason} Shutdown happened${record.resets[0] === undefined ? '' : ` (the sandbox was reset with reason ${record.resets[0].reason} first)`}`,
      fix: 'see the other checks of this scenario',
    },
  }
}

function blockedVerdict(block: Block): Verdict {
  return { outcome: 'fail', summary: block.reason, fix: block.fix, blockedBy: block.owner }
}

function receivesShutdown(reason: ShutdownReason): CheckSpec {
  return {
    name: 'receives-shutdown',
    expected: `it is waiting in /event/next when Shutdown begins and receives SHUTDOWN with shutdownReason "${reason}" once the runtime is gone`,
    evaluate(evidence, extension) {
      const { shutdown, block } = subject(evidence, extension, reason)
      if (block !== undefined || shutdown === undefined) {
        return blockedVerdict(block!)
      }
      const facts = shutdownFacts(shutdown, extension)
      if (facts?.shutdownAtMs === undefined) {
        return { outcome: 'fail', summary: 'it was waiting for events but received no SHUTDOWN', fix: 'report this as a lambda-harness bug' }
      }
      if (facts.shutdownReason !== reason) {
        return { outcome: 'fail', summary: `SHUTDOWN came with reason ${facts.shutdownReason ?? '?'}, not ${reason}`, fix: 'report this as a lambda-harness bug' }
      }
      const afterMs = facts.shutdownAtMs - shutdown.startedAtMs
      return {
        outcome: 'pass',
        summary: `SHUTDOWN (${reason}) ${ms(afterMs)} after Shutdown began, ${ms(shutdown.deadlineAtMs - facts.shutdownAtMs)} before the deadline`,
        data: { afterShutdownBeganMs: afterMs, windowMs: shutdown.windowMs, runtimeShareMs: shutdown.runtimeShareMs },
      }
    },
  }
}

function exitsBeforeDeadline(reason: ShutdownReason): CheckSpec {
  return {
    name: 'exits-before-deadline',
    expected: 'after SHUTDOWN it exits by itself with code 0 before deadlineMs; whatever is still running at the deadline is SIGKILLed',
    evaluate(evidence, extension) {
      const { shutdown, block } = subject(evidence, extension, reason)
      if (block !== undefined || shutdown === undefined) {
        return { ...blockedVerdict(block!), blockedBy: `${evidence.scenario}/receives-shutdown` }
      }
      const facts = shutdownFacts(shutdown, extension)
      if (facts === undefined || facts.shutdownAtMs === undefined) {
        return { outcome: 'fail', summary: 'it received no SHUTDOWN', fix: FIX_EXIT, blockedBy: `${evidence.scenario}/receives-shutdown` }
      }
      const data = { tookMs: facts.tookMs ?? null, marginMs: facts.marginMs ?? null, windowMs: shutdown.windowMs }
      if (facts.killedAtDeadline) {
        return {
          outcome: 'fail',
          summary: `still running at the deadline (${ms(shutdown.windowMs)} window; SHUTDOWN came ${ms(facts.shutdownAtMs - shutdown.startedAtMs)} in): SIGKILLed`,
          happened: `it received SHUTDOWN (${reason}) ${ms(shutdown.deadlineAtMs - facts.shutdownAtMs)} before the deadline and had not exited when it passed, so Lambda SIGKILLed it: whatever it still buffered or held open is lost`,
          fix: FIX_EXIT,
          data,
        }
      }
      const exit = facts.process.exit
      if (exit === null || exit.code !== 0 || exit.signal !== null) {
        return {
          outcome: 'fail',
          summary: `exited with ${describeExit(exit)} ${facts.tookMs === undefined ? '' : `${ms(facts.tookMs)} after SHUTDOWN `}(Lambda records ShutdownFailed)`,
          fix: 'exit with code 0 after a clean shutdown; report problems in its log lines, not in the exit code',
          data,
        }
      }
      return {
        outcome: 'pass',
        summary: `exited ${ms(facts.tookMs ?? 0)} after SHUTDOWN, ${ms(facts.marginMs ?? 0)} before the deadline`,
        data,
      }
    },
  }
}

const noSigtermReliance: CheckSpec = {
  name: 'no-sigterm-reliance',
  expected: 'it does its cleanup on SHUTDOWN, not in a SIGTERM handler: Lambda sends SIGTERM only to the runtime, and an extension gets SIGKILL at the deadline',
  evaluate(evidence, extension) {
    const { shutdown, block } = subject(evidence, extension, 'spindown')
    if (block !== undefined || shutdown === undefined) {
      return { ...blockedVerdict(block!), blockedBy: `${evidence.scenario}/receives-shutdown` }
    }
    const handler = evidence.extensions[extension]?.sigtermHandler
    const facts = shutdownFacts(shutdown, extension)
    if (facts?.killedAtDeadline === true && handler === true) {
      return {
        outcome: 'fail',
        summary: 'it catches SIGTERM and was still running at the deadline, waiting for a signal Lambda never sends it',
        happened:
          'it has a SIGTERM handler installed (SigCgt in /proc) and did not exit after SHUTDOWN; Lambda never SIGTERMs an extension: after SHUTDOWN the next signal is SIGKILL at the deadline, so the handler never runs',
        fix: 'move the cleanup from the SIGTERM handler to the SHUTDOWN event, then exit 0',
      }
    }
    return {
      outcome: 'pass',
      summary: handler === true ? 'it catches SIGTERM but exits on SHUTDOWN without waiting for it' : handler === false ? 'no SIGTERM handler; it needs none' : 'it needs no SIGTERM',
      data: { sigtermHandler: handler ?? null },
    }
  },
}

const noOrphans: CheckSpec = {
  name: 'no-orphans',
  expected: 'nothing it started (child processes, daemons) is still running once it has exited',
  evaluate(evidence, extension) {
    const { record } = evidence
    const shutdowns = [...record.resets, ...(record.shutdown === null ? [] : [record.shutdown])]
    const commands = evidence.extensions[extension]?.commands ?? {}
    const orphans = shutdowns.flatMap((s) => s.orphans.filter((o) => o.group === extension || o.group === 'sandbox'))
    const pids = orphans.flatMap((o) => o.pids.map((pid) => `pid ${pid}${commands[pid] === undefined ? '' : ` (${commands[pid]})`}${o.group === 'sandbox' ? ' left in the sandbox' : ''}`))
    if (pids.length > 0) {
      return {
        outcome: 'fail',
        summary: `${pids.length} process(es) it started outlived it and were SIGKILLed: ${pids.join(', ')}`,
        happened: 'after it exited, processes of its process group were still running; Lambda freezes or kills them with the sandbox, in the middle of whatever they were doing',
        fix: 'stop every child process (terminate, then wait for it) before exiting on SHUTDOWN; do not leave daemons behind',
        data: { orphans: pids.length },
      }
    }
    return { outcome: 'pass', summary: 'nothing of its process group outlived it', data: { orphans: 0 } }
  },
}

const dbSessionsClosed: CheckSpec = {
  name: 'db-sessions-closed',
  expected: 'when it uses DATABASE_URL, it closes every database session (a clean Terminate) before it exits',
  evaluate(evidence, extension) {
    const report = evidence.record.resources.postgres
    if (report === undefined) {
      return { outcome: 'skip', summary: 'no PostgreSQL probe in this run (the extension does not mention DATABASE_URL; --postgres always forces one)' }
    }
    const sessions = report.sessions.filter((session) => session.process === extension)
    if (sessions.length === 0) {
      return { outcome: 'skip', summary: 'it opened no database session' }
    }
    const bad = sessions.filter((session) => session.state !== 'closed')
    const closed = sessions.length - bad.length
    const data = { sessions: sessions.length, closed, dropped: bad.filter((s) => s.state === 'dropped').length, open: bad.filter((s) => s.state === 'open').length }
    if (bad.length === 0) {
      return { outcome: 'pass', summary: `${closed} session(s) closed cleanly`, data }
    }
    const first = bad[0]!
    const killed = evidence.record.processes.some((p) => p.name === extension && p.killed)
    const how = first.state === 'dropped' ? `dropped (${first.reason ?? 'the client vanished'})` : `still open (${first.reason ?? 'open'}) after the sandbox was gone`
    return {
      outcome: 'fail',
      summary: `${bad.length} of ${sessions.length} session(s) not closed: backend ${first.backendPid} ${how}`,
      happened: 'the server saw the connection end without a Terminate message: a transaction in progress is rolled back and the server holds the slot until it notices',
      fix: 'close the connection (conn.close(), client.end()) when SHUTDOWN arrives, before exiting; exiting with os._exit() or being SIGKILLed drops it',
      data,
      ...(killed ? { blockedBy: `${evidence.scenario}/exits-before-deadline` } : {}),
    }
  },
}

const telemetryFlushed: CheckSpec = {
  name: 'telemetry-flushed',
  expected:
    'when it subscribes to the Telemetry (or Logs) API, it answers every delivery, and what it received before SHUTDOWN reaches its destination (SINK_URL here) before it exits',
  evaluate(evidence, extension, suite) {
    const subscriptions = (evidence.record.resources.telemetry?.subscribers ?? []).filter((s) => s.external && s.name === extension)
    if (subscriptions.length === 0) {
      return { outcome: 'skip', summary: 'it does not subscribe to the Telemetry or Logs API' }
    }
    const scenario = evidence.scenario
    const reason = scenario === 'shutdown-timeout' ? 'timeout' : scenario === 'shutdown-failure' ? 'failure' : 'spindown'
    const { shutdown, block } = subject(evidence, extension, reason)
    if (block !== undefined || shutdown === undefined) {
      return { ...blockedVerdict(block!), blockedBy: `${scenario}/receives-shutdown` }
    }
    const facts = shutdownFacts(shutdown, extension)
    const killed = facts?.killedAtDeadline === true
    const mine = subscriptions.filter((s) => s.generation === (facts?.process.generation ?? 0))
    const data = { ...sumCounts(mine), sinkRequests: evidence.sink.requests }
    const because = killed ? { blockedBy: `${scenario}/exits-before-deadline` } : {}
    if (data.dropped > 0) {
      return {
        outcome: 'fail',
        summary: `the platform gave up on ${data.dropped} record(s) after failed deliveries to its listener`,
        fix: 'answer every delivery at once (200 with an empty body): buffer the batch and forward it from another thread; a slow or failing listener gets retries, then platform.logsDropped',
        data,
      }
    }
    if (data.lost > 0) {
      return {
        outcome: 'fail',
        summary: `${data.lost} record(s) were still on their way to it when it ${killed ? 'was killed' : 'exited'} (${data.delivered} of ${data.records} delivered)`,
        fix: 'keep the listener up after SHUTDOWN until deliveries stop: on-demand Lambda sends SHUTDOWN once the runtime is gone and goes on delivering what it buffered, within buffering.timeoutMs',
        data,
        ...because,
      }
    }
    return sinkVerdict(evidence, suite, mine, data, because)
  },
}

type TelemetryCounts = { readonly records: number; readonly delivered: number; readonly lost: number; readonly dropped: number }

function sumCounts(subscriptions: readonly TelemetrySubscriberRecord[]): TelemetryCounts {
  const sum = (count: (s: TelemetrySubscriberRecord) => number) => subscriptions.reduce((n, s) => n + count(s), 0)
  return { records: sum((s) => s.records), delivered: sum((s) => s.delivered), lost: sum((s) => s.lost), dropped: sum((s) => s.dropped) }
}

/** Every record was delivered to it: whether each invoke's records went on to SINK_URL. */
function sinkVerdict(
  evidence: ScenarioEvidence,
  suite: SuiteFacts,
  mine: readonly TelemetrySubscriberRecord[],
  data: TelemetryCounts & { readonly sinkRequests: number },
  because: { blockedBy?: string },
): Verdict {
  const { delivered } = data
  if (suite.sinkRequests === 0) {
    return {
      outcome: 'skip',
      summary: `all ${delivered} record(s) were delivered to it, but it sent nothing to SINK_URL in any scenario, so where they went cannot be checked (point its destination at $SINK_URL)`,
      data,
    }
  }
  const types = new Set(mine.flatMap((s) => s.types))
  const reached = reachedSink(evidence.sink.bodies, types, evidence.builtinFunction)
  if (reached === undefined) {
    return { outcome: 'skip', summary: `all ${delivered} record(s) were delivered to it; its types [${[...types].join(', ')}] carry no request id to trace to SINK_URL`, data }
  }
  const invokes = evidence.record.invocations.map((i) => i.requestId)
  const missing = invokes.filter((requestId) => !reached(requestId))
  if (missing.length > 0) {
    return {
      outcome: 'fail',
      summary: `the records of ${missing.length} of ${invokes.length} invoke(s) never reached SINK_URL (${delivered} record(s) were delivered to it before SHUTDOWN)`,
      happened: `nothing that reached SINK_URL mentions request ${missing.join(', ')}: it exited with what it had buffered`,
      fix: 'on SHUTDOWN, wait until deliveries stop (a quiet spell longer than buffering.timeoutMs), then forward everything buffered before exiting, within deadlineMs',
      data,
      ...because,
    }
  }
  return {
    outcome: 'pass',
    summary: `${delivered} record(s) delivered to it; every invoke's records reached SINK_URL (${evidence.sink.requests} request(s)) before it exited`,
    data,
  }
}

/**
 * How to tell that an invoke's records reached the sink: its `platform.report` (the last record of
 * an invoke, emitted after the extension was ready again) or, from the built-in function, its marker
 * line. Bodies that are not Telemetry API events (a vendor's own format) are searched for the
 * request id. Undefined when the subscribed types carry nothing traceable.
 */
function reachedSink(bodies: readonly string[], types: ReadonlySet<string>, builtinFunction: boolean): ((requestId: string) => boolean) | undefined {
  const platform = types.has('platform')
  const markers = types.has('function') && builtinFunction
  if (!platform && !markers) {
    return undefined
  }
  const events = bodies.flatMap((body) => telemetryEvents(parseJson(body)))
  if (events.length === 0) {
    return (requestId) => bodies.some((body) => body.includes(requestId))
  }
  return (requestId) =>
    events.some(
      (event) =>
        (platform && event.type === 'platform.report' && requestIdOf(event.record) === requestId) ||
        (markers && event.type === 'function' && typeof event.record === 'string' && event.record.includes(`marker ${requestId}`)),
    )
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // NDJSON, or not JSON at all.
    return text.split('\n').flatMap((line): unknown[] => {
      try {
        return [JSON.parse(line)]
      } catch {
        return []
      }
    })
  }
}

/** Every object shaped like a Telemetry API event ({time, type, record}) anywhere in a value. */
function telemetryEvents(value: unknown, depth = 0): { type: string; record: unknown }[] {
  if (depth > 6 || value === null || typeof value !== 'object') {
    return []
  }
  if (Array.isArray(value)) {
    return value.flatMap((item) => telemetryEvents(item, depth + 1))
  }
  if ('type' in value && typeof value.type === 'string' && 'record' in value) {
    return [{ type: value.type, record: value.record }]
  }
  return Object.values(value).flatMap((item) => telemetryEvents(item, depth + 1))
}

/** A platform.report record's requestId, if it has one. */
function requestIdOf(record: unknown): unknown {
  return typeof record === 'object' && record !== null && 'requestId' in record ? record.requestId : undefined
}

/** The checks of one shutdown scenario. */
export function shutdownChecks(reason: ShutdownReason): CheckSpec[] {
  return [
    receivesShutdown(reason),
    exitsBeforeDeadline(reason),
    ...(reason === 'spindown' ? [noSigtermReliance] : []),
    noOrphans,
    dbSessionsClosed,
    telemetryFlushed,
  ]
}
