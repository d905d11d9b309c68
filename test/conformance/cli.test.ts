// `lambda-harness check` as a CI job runs it: a real `node dist/harness/cli.js` process. Exit 0
// when every check passes, 1 when one fails, 2 on bad usage; each reporter read back the way CI
// tools read it; an extension file, a layer folder and a layer .zip as targets; `run --html`.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import type { CheckReport } from '../../harness/index.js'
import { EXTENSIONS, PYTHON, ROOT, fn } from '../helpers.js'
import { buildZip } from '../layers/zip-writer.js'
import { checkCommand } from '../../harness/conformance/command.js'
import { parseJunit, parseTap } from './parse.js'
import { fixture, reference } from './suite.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')

async function cli(args: readonly string[]) {
  const result = await execa('node', [CLI, ...args], { cwd: ROOT, reject: false, timeout: 90_000, stdin: 'ignore' })
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) }
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-check-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('bad usage exits 2 with a message naming the option, and starts nothing', async (t) => {
  const run = await cli(['check'])
  t.equal(run.exitCode, 2)
  t.equal(run.stderr, 'lambda-harness: option check <target>: expected one or more extension files, layer folders or layer .zips, got nothing')
  t.equal(run.stdout, '', 'no report')
  // The same flags → options path in-process: each throws the user error the CLI turns into exit 2.
  const layerless = tempDir(t)
  const io = { stdout: () => t.fail('no report on bad usage'), stderr: () => undefined }
  const cases: [string[], RegExp][] = [
    [[fixture('well-behaved'), '--only', 'bogus'], /^option only: expected scenarios among registers, init, .*, got "bogus"$/],
    [[fixture('well-behaved'), '--reporter', 'xml'], /^option --reporter: expected text \| tap \| junit \| json, got "xml"$/],
    [[fixture('well-behaved'), '--function', fn('echo')], /^option --handler: expected --function <dir> and --handler <module\.fn> together/],
    [[fixture('well-behaved'), '--invokes', 'many'], /^option --invokes: expected a number, got "many"$/],
    [[fixture('well-behaved'), '--postgres', 'sometimes'], /^option --postgres: expected auto \| always \| never, got "sometimes"$/],
    [[path.join(layerless, 'missing')], /does not exist/],
    [[layerless], /is a folder without an extensions\/ folder/],
  ]
  for (const [argv, message] of cases) {
    await t.rejects(checkCommand(argv, io), { message, isUserError: true }, argv.slice(1).join(' ') || argv[0])
  }
})

t.test('--list names every scenario and check; --help the options', async (t) => {
  let list = ''
  let help = ''
  t.equal(await checkCommand(['--list'], { stdout: (text) => (list += text), stderr: () => undefined }), 0)
  t.equal(await checkCommand(['--help'], { stdout: (text) => (help += text), stderr: () => undefined }), 0)
  t.match(list, /^registers: .*\n {2}registers\/name: /)
  t.match(list, /\n {2}shutdown-timeout\/exits-before-deadline: /)
  t.match(list, /\n {2}freeze\/keeps-up: /)
  t.match(help, /--reporter <name> +text \| tap \| junit \| json/)
})

t.test('an extension file that passes: exit 0, TAP that tap-parser reads as all ok', async (t) => {
  const run = await cli(['check', fixture('well-behaved'), '--only', 'registers,shutdown-spindown', '--reporter', 'tap', '--python', PYTHON])
  t.equal(run.exitCode, 0, run.stderr)
  const tap = await parseTap(run.stdout)
  t.same(tap.extra, [])
  t.match(tap.final, { ok: true, count: 9, fail: 0, skip: 2 })
  t.match(run.stderr, /lambda-harness check: registers done in/, 'progress goes to stderr')
})

t.test('an extension file in a folder the sandbox hides (the private /tmp, the home folder) is checked as it is, its siblings found through its real path', async (t) => {
  // check puts a symlink to the file in a temporary layer; its target must be seen inside the sandbox.
  const home = mkdtempSync(path.join(homedir(), '.lh-check-home-'))
  t.teardown(() => rmSync(home, { recursive: true, force: true }))
  for (const dir of [tempDir(t), home]) {
    cpSync(fixture('well-behaved'), path.join(dir, 'well-behaved'))
    cpSync(fixture('lib'), path.join(dir, 'lib'), { recursive: true })
    const run = await cli(['check', path.join(dir, 'well-behaved'), '--only', 'registers,shutdown-spindown', '--reporter', 'tap', '--python', PYTHON])
    t.equal(run.exitCode, 0, `${dir}: ${run.stdout.split('\n').filter((line) => line.startsWith('not ok')).join('; ')}`)
    t.notMatch(run.stdout, /LaunchError/, `${dir}: Lambda would start it`)
  }
  // A link to the file (npm's node_modules/.bin/<name>): the layer links to the real file, not through a folder the sandbox hides.
  const links = tempDir(t)
  symlinkSync(path.join(home, 'well-behaved'), path.join(links, 'well-behaved'))
  const linked = await cli(['check', path.join(links, 'well-behaved'), '--only', 'registers', '--reporter', 'tap', '--python', PYTHON])
  t.equal(linked.exitCode, 0, `through a link: ${linked.stdout.split('\n').filter((line) => line.startsWith('not ok')).join('; ')}`)
  // Straight in /tmp or the home folder: the sandbox sees that file alone (its /tmp stays private, the home hidden).
  for (const folder of [tmpdir(), homedir()]) {
    const file = path.join(folder, `lh-check-minimal-node-${process.pid}`)
    cpSync(path.join(reference('minimal-node'), 'extensions', 'minimal-node'), file)
    t.teardown(() => rmSync(file, { force: true }))
    const alone = await cli(['check', file, '--only', 'registers,shutdown-spindown', '--reporter', 'tap', '--python', PYTHON])
    t.equal(alone.exitCode, 0, `${file}: ${alone.stdout.split('\n').filter((line) => line.startsWith('not ok')).join('; ')}`)
  }
})

t.test('a layer .zip that fails: exit 1, JUnit with the failure, the report and the timeline in files', async (t) => {
  const dir = tempDir(t)
  const zip = path.join(dir, 'layer.zip')
  writeFileSync(
    zip,
    buildZip([
      { name: 'extensions/', mode: 0o040755 },
      { name: 'extensions/ignores-shutdown', data: readFileSync(fixture('ignores-shutdown')), mode: 0o100755 },
      { name: 'extensions/lib/', mode: 0o040755 },
      { name: 'extensions/lib/extension_kit.py', data: readFileSync(path.join(EXTENSIONS, 'lib', 'extension_kit.py')) },
    ]),
  )
  const out = path.join(dir, 'junit.xml')
  const html = path.join(dir, 'timeline.html')
  const run = await cli(['check', zip, '--only', 'shutdown-spindown', '--reporter', 'junit', '--out', out, '--html', html])
  t.equal(run.exitCode, 1, run.stderr)
  t.equal(run.stdout, '', 'the report went to --out')
  const junit = await parseJunit(readFileSync(out, 'utf8'))
  t.match(junit.root.attrs, { tests: '6', failures: '1' })
  const failure = junit.cases.find((c) => c.outcome === 'fail')
  t.match(failure, { suite: 'shutdown-spindown', name: 'exits-before-deadline', message: /still running at the deadline/ })
  t.match(failure?.text, /\nfix: on SHUTDOWN, flush and close/)
  const page = readFileSync(html, 'utf8')
  t.match(page, /^<!doctype html>/)
  t.notMatch(page, /<(script|link|img)[^>]+(src|href)=/, 'self-contained: nothing loaded from elsewhere')
})

t.test('a layer folder with --function and --reporter json: the RunRecords of every scenario', async (t) => {
  const run = await cli(['check', reference('minimal-node'), '--only', 'invoke', '--function', fn('echo'), '--handler', 'app.handler', '--reporter', 'json'])
  t.equal(run.exitCode, 0, run.stderr)
  const report = JSON.parse(run.stdout) as CheckReport
  t.match(report, { ok: true, target: { kind: 'layer folder', extensions: ['minimal-node'] }, function: { builtin: false, handler: 'app.handler' } })
  t.equal(report.scenarios.length, 1)
  const record = report.scenarios[0]!.record
  t.equal(record.function.dir, fn('echo'))
  t.equal(record.invocations.length, 3)
  t.same(record.processes.map((p) => p.name).sort(), ['minimal-node', 'runtime'])
})

t.test('run --html writes the timeline of the run', async (t) => {
  const dir = tempDir(t)
  const extensions = path.join(dir, 'extensions')
  mkdirSync(extensions)
  writeFileSync(path.join(extensions, 'well-behaved'), readFileSync(fixture('well-behaved')), { mode: 0o755 })
  mkdirSync(path.join(extensions, 'lib'))
  writeFileSync(path.join(extensions, 'lib', 'extension_kit.py'), readFileSync(path.join(EXTENSIONS, 'lib', 'extension_kit.py')))
  const html = path.join(dir, 'run.html')
  const run = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--layer', dir, '--quiet', '--html', html])
  t.equal(run.exitCode, 0, run.stderr)
  const page = readFileSync(html, 'utf8')
  const data = JSON.parse(/<script type="application\/json" id="lh-data">(.*?)<\/script>/s.exec(page)?.[1] ?? '[]') as { processes: { name: string }[] }[]
  t.equal(data.length, 1, 'one section: the run')
  t.same(data[0]?.processes.map((p) => p.name).sort(), ['runtime', 'well-behaved'])
})
