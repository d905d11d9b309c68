// `lambda-harness check` wall time, a fresh process each run, from its spawn to its exit, against
// the floor of the waits its scenarios cannot avoid at the default parallelism (check-floor.ts),
// read from that run's own JSON report. Three extensions: the well-behaved fixture (tiny: it
// registers, answers every event and exits at SHUTDOWN), extensions/minimal-node and
// extensions/pg-extension (which starts a throwaway PostgreSQL: its start is in the wall time).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { DEFAULT_JOBS } from '../../harness/conformance/options.js'
import type { CheckReport } from '../../harness/conformance/runner.js'
import { PACKAGE_ROOT } from '../../harness/paths.js'
import { checkFloorMs } from '../check-floor.js'
import { absoluteTarget, figure, ratioTarget, type Figure, type Target } from '../figure.js'
import { WELL_BEHAVED } from '../workspace.js'
import { CLI, runToExit } from './cli.js'
import { timed, type SuiteContext } from './context.js'

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

export async function checkSuite(context: SuiteContext): Promise<Figure[]> {
  const { config } = context
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-bench-check-'))
  const figures: Figure[] = []
  try {
    // Tiny mode (the bench's own test) checks the tiny extension only: the others take the same path, slower.
    for (const subject of config.tiny ? SUBJECTS.slice(0, 1) : SUBJECTS) {
      const out = path.join(dir, 'report.json')
      const args = [CLI, 'check', subject.target, '--python', config.python, '--reporter', 'json', '--out', out, ...(config.isolation === undefined ? [] : ['--isolation', config.isolation])]
      const wall: number[] = []
      const floor: number[] = []
      const failed = new Set<string>()
      for (let run = 0; run < config.checkRuns; run++) {
        context.progress(`check ${subject.name}: run ${run + 1}/${config.checkRuns}`)
        // Exit 1 is a failed check: still a measured run, named in the note.
        const { ms } = await timed(() => runToExit(process.execPath, args, PACKAGE_ROOT, [0, 1]))
        const report = JSON.parse(readFileSync(out, 'utf8')) as CheckReport
        for (const check of report.checks.filter((c) => c.outcome === 'fail')) {
          failed.add(check.id)
        }
        wall.push(ms)
        floor.push(checkFloorMs(report.scenarios, DEFAULT_JOBS))
      }
      figures.push(
        figure({
          suite: 'check',
          name: `check ${subject.name}`,
          unit: 'ms',
          harness: wall,
          baseline: floor,
          ...(subject.limit === undefined ? {} : { target: subject.limit }),
          note: `${subject.note}; baseline: the unavoidable waits' critical path at --jobs ${DEFAULT_JOBS}${failed.size === 0 ? '' : `; failed checks: ${[...failed].join(', ')}`}`,
        }),
      )
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return figures
}
