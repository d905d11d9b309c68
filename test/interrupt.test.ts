// Ctrl-C and SIGTERM to `lambda-harness run` (issue 16, item 5): the first signal stops the run,
// a Shutdown still runs, the record (--json) keeps the finished invocations and says interrupted,
// the report is printed, and the exit is 130 or 143; a second Ctrl-C stops at once. Either way no
// process is left. Real CLI processes, signalled while the function's second invoke is running.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa, type ResultPromise } from 'execa'
import t, { type Test } from 'tap'
import type { CheckReport, RunRecord } from '../harness/index.js'
import { descendants, isLive } from '../harness/supervisor/process-groups.js'
import { PYTHON, ROOT, extensionsDir, until, NO_BWRAP } from './helpers.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')
/** The running invoke's marker: a `sleep` with this argument, found among the CLI's descendants. */
const MARK = '3600.25'
const OPTIONS = { reject: false, timeout: 60_000, stdin: 'ignore', cwd: ROOT } as const

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A function whose first invoke returns at once and whose later ones run `sleep 3600.25`. */
function secondInvokeSleeps(t: Test): string {
  const dir = tempDir(t, 'lh-fn-')
  writeFileSync(
    path.join(dir, 'app.py'),
    `import subprocess\ncount = 0\n\ndef handler(event, context):\n    global count\n    count += 1\n    if count >= 2:\n        subprocess.run(["sleep", "${MARK}"])\n    return {"count": count}\n`,
  )
  return dir
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return ''
  }
}

interface Started {
  readonly cli: ResultPromise<typeof OPTIONS>
  readonly json: string
  /** Every process under the CLI once the second invoke runs. */
  readonly processes: number[]
}

async function startRun(t: Test, isolation: 'bwrap' | 'none', extension: string): Promise<Started> {
  const json = path.join(tempDir(t, 'lh-json-'), 'record.json')
  const args = ['run', secondInvokeSleeps(t), '--handler', 'app.handler', '--python', PYTHON, '--invokes', '3', '--timeout', '900']
  args.push('--extensions', extensionsDir(t, [extension]), '--json', json, ...(isolation === 'none' ? ['--no-isolation'] : []))
  // As a user's shell runs it: without node-tap's NODE_OPTIONS.
  const cli = execa('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], OPTIONS)
  t.teardown(() => {
    cli.kill('SIGKILL')
  })
  const running = () => descendants(cli.pid!).some((pid) => cmdline(pid) === `sleep ${MARK}`)
  t.ok(await until(running, 30_000), 'the second invoke is running (its sleep is under the CLI)')
  return { cli, json, processes: descendants(cli.pid!).slice(1) }
}

for (const isolation of ['bwrap', 'none'] as const) {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    t.test(`${isolation}: ${signal} mid-run: Shutdown, the record with the finished invocation and interrupted, exit ${code}, nothing left`, async (t) => {
      const { cli, json, processes } = await startRun(t, isolation, 'well-behaved')
      process.kill(cli.pid!, signal)
      const result = await cli
      t.equal(result.exitCode, code, `exit ${code}`)
      t.ok(existsSync(json), '--json was written')
      const record = JSON.parse(readFileSync(json, 'utf8')) as RunRecord
      t.equal(record.interrupted, true, 'the record says interrupted')
      t.equal(record.invocations.length, 2, 'the third invoke never started')
      t.match(record.invocations[0], { status: 'success', response: '{"count": 1}' }, 'the finished invocation is kept')
      t.notOk('interrupted' in record.invocations[0]!, 'and it was not interrupted')
      t.match(record.invocations[1], { interrupted: true, status: 'failure' }, 'the one in progress is marked interrupted')
      t.match(record.shutdown, { reason: 'spindown', final: true }, 'the Shutdown ran with its planned reason')
      t.match(record.shutdown?.extensions, [{ name: 'well-behaved', exit: { code: 0, signal: null } }], 'the extension had its SHUTDOWN and exited')
      t.match(record.verdict.problems, [{ code: 'interrupted', message: `the run was interrupted (${signal}) before it finished` }])
      t.match(String(result.stdout), /^Interrupted: the run was stopped before it finished/m, 'the report is printed and says so')
      t.ok(await until(() => !processes.some(isLive), 5000), `no process is left of ${processes.join(', ')}`)
    })
  }

  t.test(`${isolation}: a second SIGINT while the run stops (its Shutdown waits on an extension) stops at once, leaving no process`, async (t) => {
    // An extension that ignores SHUTDOWN holds the Shutdown for its whole window.
    const { cli, processes } = await startRun(t, isolation, 'ignores-shutdown')
    let stderr = ''
    cli.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    process.kill(cli.pid!, 'SIGINT')
    t.ok(await until(() => stderr.includes('stopping the run'), 10_000), 'the first SIGINT is taken')
    process.kill(cli.pid!, 'SIGINT')
    const result = await cli
    t.equal(result.exitCode, 130, 'exit 130')
    t.match(String(result.stderr), /SIGINT again: stopping now/)
    t.notMatch(String(result.stdout), /Verdict/, 'no report')
    t.ok(await until(() => !processes.some(isLive), 5000), `no process is left of ${processes.join(', ')}`)
  })
}


for (const isolation of ['bwrap', 'none'] as const) {
  t.test(`${isolation}: SIGINT to check: the finished scenarios are reported and checked, the rest marked interrupted, exit 130`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
    const args = ['check', path.join(ROOT, 'fixtures', 'extensions', 'well-behaved'), '--python', PYTHON, '--jobs', '1', '--reporter', 'json', '--isolation', isolation]
    const cli = execa('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], OPTIONS)
    t.teardown(() => {
      cli.kill('SIGKILL')
    })
    let stderr = ''
    cli.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    t.ok(await until(() => / done in /.test(stderr), 60_000), 'the first scenario is done')
    const first = / check: (\S+) done in /.exec(stderr)![1]!
    const processes = descendants(cli.pid!).slice(1)
    process.kill(cli.pid!, 'SIGINT')
    const result = await cli
    t.equal(result.exitCode, 130, 'exit 130')
    const report = JSON.parse(String(result.stdout)) as CheckReport
    t.equal(report.interrupted?.signal, 'SIGINT', 'the report says interrupted')
    t.ok(report.scenarios.some((s) => s.name === first && s.interrupted === undefined), `the finished scenario ${first} is reported`)
    t.ok(report.checks.some((c) => c.scenario === first), 'and checked')
    t.notOk(report.interrupted?.unfinished.includes(first as never), 'it is not among the unfinished')
    t.ok((report.interrupted?.unfinished.length ?? 0) > 0, `the rest are unfinished: ${report.interrupted?.unfinished.join(', ')}`)
    t.notOk(report.checks.some((c) => report.interrupted?.unfinished.includes(c.scenario)), 'an unfinished scenario has no checks')
    t.equal(report.ok, false, 'not ok: the suite did not run')
    t.ok(await until(() => !processes.some(isLive), 5000), `no process is left of ${processes.join(', ')}`)
  })
}
