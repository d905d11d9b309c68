// Faults (issue 16, item 5): extension files Lambda treats in its own way. A script whose line-1
// interpreter is missing fails with ENOENT on its own (existing) path: the record and the CLI's
// pre-flight say it is the interpreter that is missing. A folder in extensions/ is skipped, as
// RAPID lists only files, with a one-line warning.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { EXTENSIONS, PYTHON, ROOT, fn, startSandbox, NO_BWRAP } from '../helpers.js'
import { symlinkSync } from 'node:fs'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')
const MISSING = '/usr/bin/python3-no-such-interpreter'

function tempExtensions(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-ext-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function missingInterpreter(t: Test): string {
  const dir = tempExtensions(t)
  writeFileSync(path.join(dir, 'needs-python'), `#!${MISSING} -u\nprint("never")\n`, { mode: 0o755 })
  return dir
}

for (const isolation of ['bwrap', 'none'] as const) {
  t.test(`${isolation}: an extension whose line-1 interpreter is missing is a launch error that names the interpreter`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
    const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: missingInterpreter(t), isolation })
    const record = sandbox.record
    t.equal(record.init?.status, 'error')
    t.equal(record.init?.errorType, 'Extension.LaunchError')
    const fatal = record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('fatal: Extension.LaunchError'))
    t.match(fatal, { process: 'needs-python', detail: /NotFound: .*the interpreter in line 1 \(#!\/usr\/bin\/python3-no-such-interpreter\) is missing/ })
  })

  t.test(`${isolation}: a folder in extensions/ is skipped with a one-line warning; the files beside it run`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
    const dir = tempExtensions(t)
    mkdirSync(path.join(dir, 'a-folder'))
    symlinkSync(path.join(EXTENSIONS, 'well-behaved'), path.join(dir, 'well-behaved'))
    const warnings: string[] = []
    const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: dir, isolation }, { warn: (message) => warnings.push(message) })
    t.equal(sandbox.record.init?.status, 'success')
    t.same(sandbox.record.processes.map((p) => p.name).sort(), ['runtime', 'well-behaved'], 'the folder is not started')
    const warning = `extension ${path.join(dir, 'a-folder')} is a folder: skipped, as Lambda starts only the files in extensions/`
    t.ok(warnings.includes(warning), 'warned as it happened')
    t.ok(sandbox.record.warnings.includes(warning), 'and in the record')
    t.notOk(warning.includes('\n'), 'one line')
  })
}

t.test('bwrap: an extension that links out of its folder to a path the sandbox does not see is a launch error that says so', { skip: NO_BWRAP }, async (t) => {
  const elsewhere = tempExtensions(t)
  const real = path.join(elsewhere, 'linked-out')
  writeFileSync(real, '#!/bin/sh\nexit 0\n', { mode: 0o755 })
  const dir = tempExtensions(t)
  symlinkSync(real, path.join(dir, 'linked-out'))
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: dir, isolation: 'bwrap' })
  t.equal(sandbox.record.init?.errorType, 'Extension.LaunchError')
  const fatal = sandbox.record.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('fatal: Extension.LaunchError'))
  t.match(fatal?.detail, /NotFound: .*: it links to ".*linked-out", which is not in the sandbox \(its \/tmp is its own/)
  t.notMatch(fatal?.detail, /interpreter/, 'not blamed on /bin/sh, which is there')
})

t.test('CLI pre-flight: a missing line-1 interpreter is bad input (exit 2) naming the interpreter, nothing started', async (t) => {
  const result = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--extensions', missingInterpreter(t)], {
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
  })
  t.equal(result.exitCode, 2)
  t.match(String(result.stderr), /^lambda-harness: extension "needs-python": the interpreter in line 1 \(#!\/usr\/bin\/python3-no-such-interpreter\) is missing \(Lambda would fail Init with Extension\.LaunchError\)$/)
  t.equal(String(result.stdout), '', 'no report: nothing started')
})

/** A layer whose extension is a link to /opt/bin/<name>: valid on Lambda, where the layer is /opt. */
function optLinkedLayer(t: Test): string {
  const layer = tempExtensions(t)
  mkdirSync(path.join(layer, 'extensions'))
  mkdirSync(path.join(layer, 'bin'))
  copyFileSync(path.join(ROOT, 'extensions', 'minimal-node', 'extensions', 'minimal-node'), path.join(layer, 'bin', 'minimal-node'))
  symlinkSync('/opt/bin/minimal-node', path.join(layer, 'extensions', 'minimal-node'))
  return layer
}

t.test('bwrap: an extension that links to /opt/... in its layer runs, from run (the pre-flight lets it by) and check', { skip: NO_BWRAP }, async (t) => {
  const layer = optLinkedLayer(t)
  const run = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, '--layer', layer, '--json', '-', '--quiet'], { reject: false, timeout: 60_000, stdin: 'ignore' })
  t.equal(run.exitCode, 0, String(run.stderr))
  const record = JSON.parse(String(run.stdout || '{}')) as { init?: { status: string }; processes?: { name: string }[] }
  t.equal(record.init?.status, 'success')
  t.ok(record.processes?.some((p) => p.name === 'minimal-node'), 'the extension ran')
  const check = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, 'check', layer, '--only', 'registers', '--python', PYTHON], { reject: false, timeout: 60_000, stdin: 'ignore' })
  t.equal(check.exitCode, 0, `${String(check.stderr)}${String(check.stdout).split('\n').filter((line) => line.includes('✗')).join('; ')}`)
})
