// verdict() on hand-built RunRecords: one case per problem code and the clean case, no processes.
import t from 'tap'
import { PROBLEM_CODES, type ProcessRecord, type RunRecord, type ShutdownRecord, type SignalSent, type TelemetrySubscriberRecord } from '../../harness/record/run-record.js'
import { Recorder } from '../../harness/record/recorder.js'
import { datedProblems, verdict } from '../../harness/record/verdict.js'

/** A record as the Recorder starts it, after an Init that succeeded. */
/** A plain record to edit by hand: the recorder's own keeps invocations, timeline and logs in its stores. */
function baseRecord(): RunRecord {
  const record = new Recorder({
    version: '0.0.0',
    warnings: [],
    runtime: { profile: 'python3.12', executionEnv: 'AWS_Lambda_python3.12', os: 'al2023', command: ['python3'], python: null },
    function: { dir: '/f', handler: 'app.handler', name: 'f', timeoutMs: 3000, memoryMB: 128 },
  }).snapshot()
  record.init = { status: 'success', phase: 'init', durationMs: 10, startedAtMs: 0, extensions: [] }
  return record
}

function proc(name: string, kind: 'runtime' | 'extension', extra: Partial<ProcessRecord> = {}): ProcessRecord {
  return {
    name,
    kind,
    generation: 0,
    pid: 100,
    startedAtMs: 0,
    state: 'Exited',
    signals: [],
    events: [],
    exit: { code: 0, signal: null },
    exitedAtMs: 120,
    killed: false,
    ...extra,
  }
}

function shutdownOf(extra: Partial<ShutdownRecord> = {}): ShutdownRecord {
  return {
    reason: 'spindown',
    final: true,
    startedAtMs: 100,
    durationMs: 50,
    windowMs: 2000,
    runtimeShareMs: 500,
    deadlineEpochMs: 1_700_000_002_100,
    deadlineAtMs: 2100,
    runtime: null,
    extensions: [],
    orphans: [],
    ...extra,
  }
}

function signal(name: NodeJS.Signals, atMs: number, reason: SignalSent['reason']): SignalSent {
  return { signal: name, atMs, reason, why: reason }
}

function subscriber(extra: Partial<TelemetrySubscriberRecord>): TelemetrySubscriberRecord {
  return {
    name: 'ext',
    api: 'telemetry',
    external: true,
    generation: 0,
    types: ['platform'],
    destination: 'HTTP http://sandbox.localdomain:4243/',
    buffering: { maxItems: 1000, maxBytes: 262144, timeoutMs: 1000 },
    subscribedAtMs: 5,
    records: 10,
    delivered: 10,
    batches: 1,
    retries: 0,
    dropped: 0,
    lost: 0,
    unsentAtExit: 0,
    endedAtMs: 130,
    end: { by: 'exit', code: 0, signal: null },
    ...extra,
  }
}

/** Each case: a change to a clean record, and the problems it must give (code, process, message). */
const CASES: { name: string; change: (r: RunRecord) => void; problems: { code: string; process?: string; message: string | RegExp }[] }[] = [
  {
    name: 'interrupted',
    change: (r) => {
      r.interrupted = true
      r.platformFaults = [{ kind: 'interrupted', atMs: 50, detail: 'SIGINT' }]
    },
    problems: [{ code: 'interrupted', message: 'the run was interrupted (SIGINT) before it finished' }],
  },
  {
    name: 'init-failed, in the first Init and in a suppressed one',
    change: (r) => {
      r.init = { status: 'error', phase: 'init', errorType: 'Runtime.ExitError', durationMs: 10, startedAtMs: 0, extensions: [] }
      r.invocations.push({
        requestId: 'r1',
        status: 'timeout',
        response: '',
        contentType: 'application/json',
        durationMs: 3000,
        startedAtMs: 500,
        init: { status: 'timeout', phase: 'invoke', durationMs: 3000, startedAtMs: 500, extensions: [] },
      })
    },
    problems: [
      { code: 'init-failed', message: 'Init (phase init) ended with status error (Runtime.ExitError)' },
      { code: 'init-failed', message: 'Init (phase invoke) ended with status timeout' },
    ],
  },
  {
    name: 'reset, with its cause',
    change: (r) => {
      r.resets.push(shutdownOf({ reason: 'failure', final: false, cause: 'Extension.Crash: ext exited' }))
    },
    problems: [{ code: 'reset', message: 'the sandbox was reset with reason failure: Extension.Crash: ext exited' }],
  },
  {
    name: 'runtime-overran-share (a handler that could run)',
    change: (r) => {
      const runtime = proc('runtime', 'runtime', { sigtermHandler: true, waitingForNext: true, signals: [signal('SIGTERM', 101, 'shutdown'), signal('SIGKILL', 601, 'runtime-share-over')], exit: { code: null, signal: 'SIGKILL' }, killed: true })
      r.shutdown = shutdownOf({ runtime })
    },
    problems: [{ code: 'runtime-overran-share', process: 'runtime', message: 'the runtime has a SIGTERM handler but did not exit within its 500 ms share of Shutdown and was killed' }],
  },
  {
    name: 'no runtime-overran-share where a Python 3.11 client waits in /next (Lambda does the same)',
    change: (r) => {
      r.runtime.sigtermHandlerRunsInNext = false
      const runtime = proc('runtime', 'runtime', { sigtermHandler: true, waitingForNext: true, signals: [signal('SIGTERM', 101, 'shutdown'), signal('SIGKILL', 601, 'runtime-share-over')], exit: { code: null, signal: 'SIGKILL' }, killed: true })
      r.shutdown = shutdownOf({ runtime })
    },
    problems: [],
  },
  {
    name: 'killed-from-outside',
    change: (r) => {
      r.shutdown = shutdownOf({ runtime: proc('runtime', 'runtime', { exit: { code: null, signal: 'SIGSEGV' }, exitedAtMs: 110 }) })
    },
    problems: [{ code: 'killed-from-outside', process: 'runtime', message: 'the runtime died of SIGSEGV during Shutdown, a signal the harness did not send (the OOM killer, a user, another tool)' }],
  },
  {
    name: 'extension-killed-at-deadline, after SHUTDOWN',
    change: (r) => {
      const ext = proc('slow', 'extension', { events: [{ eventType: 'SHUTDOWN', atMs: 102 }], signals: [signal('SIGKILL', 2100, 'deadline')], exit: { code: null, signal: 'SIGKILL' }, killed: true })
      r.shutdown = shutdownOf({ extensions: [ext] })
    },
    problems: [{ code: 'extension-killed-at-deadline', process: 'slow', message: 'extension `slow` received SHUTDOWN but did not exit before the 2000 ms deadline and was killed' }],
  },
  {
    name: 'extension-killed-at-deadline, SHUTDOWN never taken',
    change: (r) => {
      const ext = proc('busy', 'extension', { signals: [signal('SIGKILL', 2100, 'deadline')], exit: { code: null, signal: 'SIGKILL' }, killed: true })
      r.shutdown = shutdownOf({ extensions: [ext] })
    },
    problems: [{ code: 'extension-killed-at-deadline', process: 'busy', message: 'extension `busy` did not exit before the 2000 ms deadline and was killed' }],
  },
  {
    name: 'no problem for an unsubscribed extension killed at once (Lambda does the same)',
    change: (r) => {
      const ext = proc('quiet', 'extension', { subscribed: ['INVOKE'], signals: [signal('SIGKILL', 100, 'not-subscribed')], exit: { code: null, signal: 'SIGKILL' }, killed: true })
      r.shutdown = shutdownOf({ extensions: [ext] })
    },
    problems: [],
  },
  {
    name: 'extension-shutdown-failed and extension-reported-error, in a reset',
    change: (r) => {
      const ext = proc('grumpy', 'extension', { events: [{ eventType: 'SHUTDOWN', atMs: 102 }], exit: { code: 3, signal: null }, reportedError: 'Extension.ExitError (Oops)' })
      r.resets.push(shutdownOf({ reason: 'failure', final: false, extensions: [ext], cause: 'Extension.ExitError' }))
    },
    problems: [
      { code: 'extension-shutdown-failed', process: 'grumpy', message: 'extension `grumpy` exited with code 3 during the reset (reason failure) (Lambda records ShutdownFailed)' },
      { code: 'extension-reported-error', process: 'grumpy', message: 'extension `grumpy` reported an error: Extension.ExitError (Oops)' },
      { code: 'reset', message: 'the sandbox was reset with reason failure: Extension.ExitError' },
    ],
  },
  {
    name: 'orphan-processes',
    change: (r) => {
      r.shutdown = shutdownOf({ orphans: [{ group: 'spawns-child', pids: [41, 42] }] })
    },
    problems: [{ code: 'orphan-processes', process: 'spawns-child', message: '2 process(es) started by `spawns-child` outlived it (pids 41, 42) and were killed' }],
  },
  {
    name: 'telemetry-lost and telemetry-dropped',
    change: (r) => {
      r.resources.telemetry = { subscribers: [subscriber({ delivered: 4, lost: 3, dropped: 3, retries: 2, end: { by: 'exit', code: null, signal: 'SIGKILL' } })] }
    },
    problems: [
      { code: 'telemetry-lost', process: 'ext', message: 'extension `ext` was killed (SIGKILL) with 3 Telemetry API record(s) still buffered or in flight for it (4 of 10 delivered)' },
      { code: 'telemetry-dropped', process: 'ext', message: '3 Telemetry API record(s) for extension `ext` were dropped after failed deliveries (2 retries; it was sent platform.logsDropped)' },
    ],
  },
  {
    name: 'telemetry-lost: how the subscription ended, in words',
    change: (r) => {
      r.resources.telemetry = {
        subscribers: [
          subscriber({ name: 'a', api: 'logs', lost: 1, endedAtMs: 10, end: { by: 'exit', code: 2, signal: null } }),
          subscriber({ name: 'b', lost: 1, endedAtMs: 20, end: { by: 'next-init' } }),
          subscriber({ name: 'c', lost: 1, endedAtMs: 30, end: { by: 'sandbox-end' } }),
          subscriber({ name: 'd', lost: 1, endedAtMs: null, end: undefined }),
        ],
      }
    },
    problems: [
      { code: 'telemetry-lost', process: 'a', message: /^extension `a` exited with code 2 with 1 Logs API record/ },
      { code: 'telemetry-lost', process: 'b', message: /^extension `b` was gone when the next Init started with 1 Telemetry API record/ },
      { code: 'telemetry-lost', process: 'c', message: /^extension `c` was still subscribed when the sandbox ended with 1 / },
    ],
  },
  {
    name: 'sandbox-holder-killed',
    change: (r) => {
      r.platformFaults = [{ kind: 'sandbox-holder-killed', atMs: 40, detail: "the sandbox's holder was killed (SIGKILL)" }]
    },
    problems: [{ code: 'sandbox-holder-killed', process: 'sandbox', message: "the sandbox's holder was killed (SIGKILL)" }],
  },
  {
    name: 'harness-out-of-fds, with and without the limit',
    change: (r) => {
      r.platformFaults = [
        { kind: 'harness-out-of-fds', atMs: 40, detail: 'accepting a connection: EMFILE', fdLimit: 64 },
        { kind: 'harness-out-of-fds', atMs: 41, detail: 'starting ext: EMFILE' },
      ]
    },
    problems: [
      {
        code: 'harness-out-of-fds',
        message:
          "the harness ran out of file descriptors (accepting a connection: EMFILE; its limit is 64): connections and processes it could not take were its failure, not the processes'; raise the harness's limit (ulimit -n) and run again",
      },
      { code: 'harness-out-of-fds', message: /^the harness ran out of file descriptors \(starting ext: EMFILE\): / },
    ],
  },
  {
    name: 'db-session-dropped and db-session-open',
    change: (r) => {
      r.shutdown = shutdownOf()
      r.resources.postgres = {
        closed: 1,
        dropped: 1,
        open: 1,
        sessions: [
          { process: 'ext', state: 'closed', backendPid: 1 },
          { process: 'runtime', state: 'dropped', backendPid: 2, reason: 'unexpected EOF on client connection' },
          { process: '', state: 'open', backendPid: 3 },
        ],
      }
    },
    problems: [
      { code: 'db-session-dropped', process: 'runtime', message: 'the database session of `runtime` (backend 2) was dropped, not closed: unexpected EOF on client connection' },
      { code: 'db-session-open', process: '', message: 'the database session of `?` (backend 3) was still open after the sandbox was gone (open)' },
    ],
  },
  {
    name: 'probe-failed',
    change: (r) => {
      r.platformFaults = [{ kind: 'probe-failed', atMs: 200, detail: 'connection refused' }]
    },
    problems: [{ code: 'probe-failed', message: 'the PostgreSQL probe failed: connection refused' }],
  },
]

t.test('a record with nothing wrong is clean', async (t) => {
  const record = baseRecord()
  record.shutdown = shutdownOf({ runtime: proc('runtime', 'runtime', { signals: [signal('SIGTERM', 101, 'shutdown')] }), extensions: [proc('ext', 'extension', { events: [{ eventType: 'SHUTDOWN', atMs: 102 }] })] })
  record.resources = { telemetry: { subscribers: [subscriber({})] }, postgres: { closed: 1, dropped: 0, open: 0, sessions: [{ process: 'ext', state: 'closed', backendPid: 7 }] } }
  t.same(verdict(record), { clean: true, problems: [] })
})

for (const { name, change, problems } of CASES) {
  t.test(name, async (t) => {
    const record = baseRecord()
    change(record)
    const before = JSON.stringify(record)
    const result = verdict(record)
    t.equal(result.clean, problems.length === 0)
    t.equal(result.problems.length, problems.length, JSON.stringify(result.problems))
    problems.forEach((expected, i) => {
      const actual = result.problems[i]
      t.same([actual?.code, actual?.process], [expected.code, expected.process], `problem ${i}: ${expected.code}`)
      if (typeof expected.message === 'string') {
        t.equal(actual?.message, expected.message)
      } else {
        t.match(actual?.message, expected.message)
      }
    })
    t.equal(JSON.stringify(record), before, 'the record is not changed')
  })
}

t.test('every problem code has a case', async (t) => {
  const covered = new Set(CASES.flatMap((c) => c.problems.map((p) => p.code)))
  t.same(PROBLEM_CODES.filter((code) => !covered.has(code)), [])
})

t.test('problems come in the time order of their facts', async (t) => {
  const record = baseRecord()
  record.init = { status: 'error', phase: 'init', errorType: 'Extension.Crash', durationMs: 10, startedAtMs: 0, extensions: [] }
  record.resets.push(shutdownOf({ reason: 'failure', final: false, startedAtMs: 12, durationMs: 8, cause: 'Extension.Crash' }))
  record.platformFaults = [{ kind: 'interrupted', atMs: 30, detail: 'SIGTERM' }]
  record.shutdown = shutdownOf({ startedAtMs: 40, durationMs: 10, orphans: [{ group: 'sandbox', pids: [9] }] })
  record.resources = {
    telemetry: { subscribers: [subscriber({ lost: 1, endedAtMs: 45 }), subscriber({ name: 'late', lost: 1, endedAtMs: 60, end: { by: 'sandbox-end' } })] },
    postgres: { closed: 0, dropped: 1, open: 0, sessions: [{ process: 'ext', state: 'dropped', backendPid: 5 }] },
  }
  t.same(
    datedProblems(record).map((d) => [d.atMs, d.problem.code]),
    [
      [10, 'init-failed'],
      [20, 'reset'],
      [30, 'interrupted'],
      [45, 'telemetry-lost'],
      [50, 'orphan-processes'],
      [50, 'db-session-dropped'],
      [60, 'telemetry-lost'],
    ],
  )
})

t.test('the recorder computes the verdict when the record is read, with each problem on the timeline', async (t) => {
  const recorder = new Recorder({ version: '0.0.0', warnings: [], runtime: baseRecord().runtime, function: baseRecord().function })
  t.same(recorder.snapshot().verdict, { clean: true, problems: [] })
  recorder.fault({ kind: 'interrupted', detail: 'SIGTERM' })
  const record = recorder.snapshot()
  t.same(record.verdict, { clean: false, problems: [{ code: 'interrupted', message: 'the run was interrupted (SIGTERM) before it finished' }] })
  t.same(
    record.timeline.filter((e) => e.kind === 'problem').map((e) => e.detail),
    ['the run was interrupted (SIGTERM) before it finished'],
  )
  t.same(record.platformFaults?.map((f) => f.kind), ['interrupted'])
})
