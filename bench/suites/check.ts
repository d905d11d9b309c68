// `lambda-harness check` wall time, a fresh process each run, from its spawn to its exit, against
// the floor of the waits its scenarios cannot avoid at the default parallelism (check-floor.ts),
// read from that run's own JSON report. Three extensions: the well-behaved fixture (tiny: it
// registers, answers every event and exits at SHUTDOWN), extensions/minimal-node and
// extensions/pg-extension (which starts a throwaway PostgreSQL: its start is in the wall time).
// The tiny extension is also checked beside two CPU-bound busy processes (a CI runner's other
// jobs), alternating with its quiet runs, against the quiet median.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DEFAULT_JOBS } from '../../harness/conformance/options.js'
import type { CheckReport } from '../../harness/conformance/runner.js'
import { PACKAGE_ROOT } from '../../harness/paths.js'
import { DirectProcess } from '../baseline/direct-process.js'
import { checkFloorMs } from '../check-floor.js'
import type { BenchConfig } from '../config.js'
import { absoluteTarget, figure, ratioTarget, type Figure, type Target } from '../figure.js'
import { WELL_BEHAVED } from '../workspace.js'
import { CLI, runToExit } from './cli.js'
import { paired, timed, type SuiteContext } from './context.js'

interface Subject {
  readonly name: string
  readonly target: string
  readonly limit: ((h: number, b: number) => Target) | undefined
  readonly note: string
}

const SUBJECTS: readonly Subject[] = [
  { name: 'tiny well-behaved extension', target: WELL_BEHAVED, limit: ratioTarget(1.3), note: 'fixtures/extensions/well-behaved' },
  { name: 'extensions/minimal-node', target: path.join(PACKAGE_ROOT, 'extensions', 'minimal-node'), limit: undefined, note: 'no target of its own in issue #20' },
  { name: 'extensions/pg-extension', target: path.join(PACKAGE_ROOT, 'extensions', 'pg-extension'), limit: absoluteTarget(3000, 'ms'), note: 'its PostgreSQL start included' },
]

/** CPU-bound processes beside the busy runs, and what each runs (a loop that never sleeps). */
const BUSY_JOBS = 2
const BUSY_LOOP = 'for (;;) {}'

/** The runs of one subject (quiet, or beside the busy jobs): wall times, floors, failed checks. */
class Runs {
  readonly wall: number[] = []
  readonly floor: number[] = []
  readonly failed = new Set<string>()

  failedNote(): string {
    return this.failed.size === 0 ? '' : `; failed checks: ${[...this.failed].join(', ')}`
  }
}

/** One `check` of `subject`, spawn to exit, its JSON report read for the floor and failed checks. */
async function measure(config: BenchConfig, subject: Subject, out: string, runs: Runs): Promise<void> {
  const args = [CLI, 'check', subject.target, '--python', config.python, '--reporter', 'json', '--out', out, ...(config.isolation === undefined ? [] : ['--isolation', config.isolation])]
  // Exit 1 is a failed check: still a measured run, named in the note.
  const { ms } = await timed(() => runToExit(process.execPath, args, PACKAGE_ROOT, [0, 1]))
  const report = JSON.parse(readFileSync(out, 'utf8')) as CheckReport
  for (const check of report.checks.filter((c) => c.outcome === 'fail')) {
    runs.failed.add(check.id)
  }
  runs.wall.push(ms)
  runs.floor.push(checkFloorMs(report.scenarios, DEFAULT_JOBS))
}

/** Runs `work` with BUSY_JOBS busy loops beside it, started before and killed after it (also when it throws). */
async function besideBusyJobs(context: SuiteContext, work: () => Promise<void>): Promise<void> {
  const busy: DirectProcess[] = []
  try {
    for (let i = 0; i < BUSY_JOBS; i++) {
      busy.push(await DirectProcess.start({ file: process.execPath, args: ['-e', BUSY_LOOP], cwd: PACKAGE_ROOT, env: {} }))
    }
    await work()
  } finally {
    await Promise.all(busy.map((job) => job.kill()))
    context.workspace.assertGone(busy.map((job) => job.pid))
  }
}

function floorNote(subject: Subject, runs: Runs): string {
  return `${subject.note}; baseline: the unavoidable waits' critical path at --jobs ${DEFAULT_JOBS}${runs.failedNote()}`
}

export async function checkSuite(context: SuiteContext): Promise<Figure[]> {
  const { config } = context
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-bench-check-'))
  const out = path.join(dir, 'report.json')
  const figures: Figure[] = []
  try {
    // Tiny mode (the bench's own test) checks the tiny extension only: the others take the same path, slower.
    for (const [index, subject] of (config.tiny ? SUBJECTS.slice(0, 1) : SUBJECTS).entries()) {
      const quiet = new Runs()
      // The tiny extension's quiet runs alternate with its busy ones, so load drift hits both alike.
      const busy = index === 0 ? new Runs() : undefined
      for (let run = 0; run < config.checkRuns; run++) {
        context.progress(`check ${subject.name}: run ${run + 1}/${config.checkRuns}`)
        if (busy === undefined) {
          await measure(config, subject, out, quiet)
        } else {
          await paired(run, () => measure(config, subject, out, quiet), () => besideBusyJobs(context, () => measure(config, subject, out, busy)))
        }
      }
      const target = subject.limit === undefined ? {} : { target: subject.limit }
      figures.push(figure({ suite: 'check', name: `check ${subject.name}`, unit: 'ms', harness: quiet.wall, baseline: quiet.floor, ...target, note: floorNote(subject, quiet) }))
      if (busy !== undefined) {
        figures.push(
          figure({
            suite: 'check',
            name: `check ${subject.name}, beside ${BUSY_JOBS} busy jobs`,
            unit: 'ms',
            harness: busy.wall,
            baseline: quiet.wall,
            target: ratioTarget(2),
            note: `baseline: the quiet runs of the row above (alternating with these); ${BUSY_JOBS} CPU-bound processes (\`node -e '${BUSY_LOOP}'\`) run beside each check, started before its spawn and killed after its exit${busy.failedNote()}`,
          }),
        )
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return figures
}
