// `run`'s output as a user sees it: each warning once (in the report, or on stderr when there is
// no report on stdout), and `run --watch` re-running on a real file change.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { ignoredChange } from '../harness/watch.js'
import { CLI, cli, tempDir } from './cli-process.js'
import { PYTHON, fn, until } from './helpers.js'

const PROFILE_WARNING = /profile python3\.12 runs on \S+ \(Python 3\.11[^)]*\)/g

t.test('the profile warning is printed once: in the report, or on stderr with --quiet or --json -', async (t) => {
  for (const extra of [[], ['--quiet'], ['--json', '-']]) {
    const run = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, ...extra])
    t.equal(run.exitCode, 0, run.stderr)
    // With --json - stdout is the record (its warnings[] keeps it); the user reads stderr.
    const shown = extra[0] === '--json' ? 0 : (run.stdout.match(PROFILE_WARNING)?.length ?? 0)
    t.equal(shown + (run.stderr.match(PROFILE_WARNING)?.length ?? 0), 1, `once with ${extra.join(' ') || 'the report'}`)
  }
})

/** `run --watch` (plain mode) on a function folder holding `app`; its output as it comes, SIGKILLed at teardown. */
function watchRun(t: Test, app: string, extra: readonly string[] = []) {
  const functionDir = path.join(tempDir(t, 'lh-watch-'), 'fn')
  mkdirSync(functionDir)
  writeFileSync(path.join(functionDir, 'app.py'), app)
  const child = execa(process.execPath, [CLI, 'run', functionDir, '--handler', 'app.handler', '--python', PYTHON, '--watch', '--no-isolation', ...extra], {
    env: { NODE_OPTIONS: undefined },
    reject: false,
    stdin: 'ignore',
    buffer: true,
  })
  t.teardown(() => child.kill('SIGKILL'))
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()))
  return { child, functionDir, output }
}

t.test('run --watch: runs, re-runs on a real change of the function, ends cleanly on Ctrl-C', async (t) => {
  const { child, functionDir, output } = watchRun(t, 'def handler(event, context):\n    return "version-1"\n')
  const count = (pattern: RegExp) => output.stdout.match(pattern)?.length ?? 0
  t.ok(await until(() => /for changes \(Ctrl-C to stop\)/.test(output.stderr), 30_000), 'the first run ended and the watch began')
  t.equal(count(/"version-1"/g), 1)
  t.equal(count(/^Verdict: clean$/gm), 1)
  writeFileSync(path.join(functionDir, 'app.py'), 'def handler(event, context):\n    return "version-2"\n')
  t.ok(await until(() => count(/"version-2"/g) === 1 && count(/^Verdict: clean$/gm) === 2, 30_000), 'a re-run with the new code')
  t.match(output.stdout, /^lambda-harness: changed: .*app\.py$/m)
  const waits = () => output.stderr.match(/for changes/g)?.length ?? 0
  t.ok(await until(() => waits() === 2, 10_000))
  child.kill('SIGINT')
  const result = await child
  // What ended it otherwise (a signal's name) and its last words: a rare failure here once gave exitCode undefined.
  t.equal(result.exitCode, 0, `Ctrl-C ends it with exit 0 (signal ${String(result.signal)}; stderr: ${output.stderr.slice(-600)})`)
  t.equal(count(/^Verdict: /gm), 2)
})

t.test('run --watch: Ctrl-C during a run ends it after that run, with exit 0', async (t) => {
  const marker = path.join(tempDir(t, 'lh-watch-mark-'), 'invoked')
  // The invoke leaves a mark, then works 1 s: the Ctrl-C lands while the run's processes are alive.
  const app = `import time\ndef handler(event, context):\n    open(${JSON.stringify(marker)}, "w").close()\n    time.sleep(1)\n    return "done"\n`
  const { child, output } = watchRun(t, app, ['--timeout', '10'])
  t.ok(await until(() => existsSync(marker), 30_000), 'the invoke is running')
  child.kill('SIGINT')
  const result = await child
  t.equal(result.exitCode, 0, `exit 0 after the run (signal ${String(result.signal)}; stderr: ${output.stderr.slice(-600)})`)
  t.match(output.stdout, /"done"/, 'the run in progress finished and was reported')
  t.equal(output.stdout.match(/^Verdict: /gm)?.length, 1, 'and no run after it')
})

t.test('--watch ignores bytecode and editors scratch files', async (t) => {
  for (const name of ['/f/__pycache__/app.cpython-311.pyc', '/f/app.pyc', '/f/app.py~', '/f/.app.py.swp', '/f/.#app.py', '/f/4913']) {
    t.equal(ignoredChange(name), true, name)
  }
  for (const name of ['/f/app.py', '/opt/layer/extensions/ext', '/f/lib/swap.py', '/f/pycache.py']) {
    t.equal(ignoredChange(name), false, name)
  }
})
