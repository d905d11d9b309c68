// Bad input to `lambda-harness run` (issue 7, Hardening 2), the gaps test/cli.test.ts,
// test/config/* and test/layers/* leave: each case is one clear line on stderr naming what is
// wrong, exit 2, nothing started (a canary extension never runs, no process carries the run's
// token), and nothing left in the temp folder (each CLI gets a private, empty TMPDIR).
//
// The handler, extension-file and runtime-command cases are the CLI's pre-flight (`preflight:
// true`); the library's boot() keeps Lambda's behaviour and fails Init instead (last test).
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { boot } from '../../harness/index.js'
import { PYTHON, ROOT, canaryExtension, fn, startSandbox } from '../helpers.js'
import { buildZip } from '../layers/zip-writer.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')
const MB = 1024 * 1024

function scratch(t: Test, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Pids of live processes whose environment holds `token` (every process a run starts gets it through --env). */
function carrying(token: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`).includes(token)
      } catch {
        return false
      }
    })
    .map(Number)
}

interface Run {
  readonly exitCode: number | undefined
  readonly stdout: string
  readonly stderr: string
  readonly left: string[]
}

/** One CLI run with its own empty TMPDIR; resolves with what a shell saw and what the run left there. */
async function cli(t: Test, args: readonly string[]): Promise<Run> {
  const temp = scratch(t, 'lh-bad-input-tmp-')
  const result = await execa(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
    // Without tap's instrumentation, as a user's shell runs it.
    env: { TMPDIR: temp, NODE_OPTIONS: '' },
  })
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), left: readdirSync(temp) }
}

// Each case is a CLI process (mostly Node's start-up); on a loaded machine that adds up.
t.test('bad options, files and layers: exit 2, one line naming the problem, nothing started, nothing left', { timeout: 110_000 }, async (t) => {
  const work = scratch(t, 'lh-bad-input-')
  const dir = (name: string) => {
    const made = path.join(work, name)
    mkdirSync(made, { recursive: true })
    return made
  }
  const extensions = dir('extensions')
  // It behaves once it has told the test, so the control run below is clean.
  const started = await canaryExtension(t, extensions, true)
  const notExecutable = dir('not-executable')
  const startedBesidePlain = await canaryExtension(t, notExecutable)
  writeFileSync(path.join(notExecutable, 'plain'), '#!/bin/sh\nexit 0\n', { mode: 0o644 })
  const dangling = dir('dangling')
  const startedBesideGhost = await canaryExtension(t, dangling)
  symlinkSync(path.join(work, 'nowhere'), path.join(dangling, 'ghost'))
  const zip = (name: string, entries: Parameters<typeof buildZip>[0]) => {
    const file = path.join(work, name)
    writeFileSync(file, buildZip(entries))
    return file
  }
  const layers = {
    corrupt: path.join(work, 'corrupt.zip'),
    notZip: path.join(work, 'layer.txt'),
    traversal: zip('traversal.zip', [{ name: 'python/ok.py', data: 'X = 1\n' }, { name: '../../escaped.py', data: 'evil' }]),
    symlink: zip('symlink.zip', [{ name: 'python/passwd', data: '/etc/passwd', mode: 0o120777 }]),
    // A bomb as its headers announce it: 300 MB from a few bytes (test/layers has the honest, slow-to-build one).
    bomb: zip('bomb.zip', [{ name: 'python/zeros.bin', data: Buffer.alloc(1000), method: 'deflated', declaredSize: 300 * MB }]),
    // Valid layers after a bad one: the good one's unpacked folder must be removed too.
    good: zip('good.zip', [{ name: 'python/layer_mod.py', data: 'X = 1\n' }]),
  }
  writeFileSync(layers.corrupt, Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(200, 7)]))
  writeFileSync(layers.notZip, 'not a layer')
  const event = dir('event-is-a-folder')
  const token = `lh-token-${randomUUID()}`
  const echo = fn('echo')
  const hostPorts = [started, startedBesidePlain, startedBesideGhost].flatMap((canary) => ['--host-port', String(canary.port)])
  const base = ['--extensions', extensions, '--python', PYTHON, '--env', `LH_RUN_TOKEN=${token}`, ...hostPorts]
  const run = (...extra: string[]) => ['run', echo, '--handler', 'app.handler', ...base, ...extra]
  const cases: [string, string[], RegExp][] = [
    ['--timeout not a number', run('--timeout', 'soon'), /^option --timeout: expected a number, got "soon"$/],
    ['--shutdown-reason later', run('--shutdown-reason', 'later'), /^option --shutdown-reason: expected spindown \| timeout \| failure, got "later"$/],
    ['--event a folder', run('--event', event), /^option --event: cannot read ".*event-is-a-folder" \(EISDIR\)$/],
    ['--layer missing', run('--layer', path.join(work, 'missing.zip')), /missing\.zip.*(does not exist|ENOENT)/],
    ['--layer not a zip or folder', run('--layer', layers.notZip), /layer\.txt.*(zip|folder)/],
    ['--layer corrupt zip', run('--layer', layers.corrupt), /corrupt\.zip.*(not a zip archive|corrupt)/],
    ['--layer path traversal', run('--layer', layers.good, '--layer', layers.traversal), /traversal\.zip.*unsafe path: it has a "\.\." component/],
    ['--layer symlink out', run('--layer', layers.good, '--layer', layers.symlink), /symlink\.zip.*unsafe symlink: .* is absolute/],
    ['--layer zip bomb', run('--layer', layers.good, '--layer', layers.bomb), /bomb\.zip.*unpacks to more than \d+ bytes/],
    ['--handler with no module', ['run', echo, '--handler', 'missing_module.handler', ...base], /^option --handler: no module "missing_module" for handler "missing_module\.handler" in .*fixtures\/functions\/echo or on the interpreter's sys\.path \(Lambda would fail Init with Runtime\.ImportModuleError\)$/],
    ['--handler with no module (dotted, layers searched)', ['run', echo, '--handler', 'pkg/sub.mod.handler', ...base, '--layer', layers.good], /^option --handler: no module "pkg\/sub\.mod" for handler .* in .*echo, .*lambda-harness-layer-[^,]*\/python or on the interpreter's sys\.path \(/],
    ['an extension that is not executable', ['run', echo, '--handler', 'app.handler', '--python', PYTHON, '--env', `LH_RUN_TOKEN=${token}`, '--extensions', notExecutable], /^extension "plain": .*plain is not an executable file \(Lambda would fail Init with Extension\.LaunchError\)$/],
    ['an extension link to nothing', ['run', echo, '--handler', 'app.handler', '--python', PYTHON, '--env', `LH_RUN_TOKEN=${token}`, '--extensions', dangling], /^extension "ghost": .*ghost links to ".*nowhere", which does not exist$/],
    ['--runtime-command not executable', run('--runtime-command', path.join(notExecutable, 'plain')), /^option --runtime-command: ".*plain" is not an executable file$/],
    ['--python missing', ['run', echo, '--handler', 'app.handler', ...base.slice(0, 2), '--python', path.join(work, 'python9'), ...base.slice(4)], /^option --python: expected a Python interpreter, got ".*python9" \(not found\)$/],
  ]
  const results: Run[] = []
  let next = 0
  await Promise.all(
    Array.from({ length: 3 }, async () => {
      while (next < cases.length) {
        const index = next++
        results[index] = await cli(t, cases[index]![1])
      }
    }),
  )
  cases.forEach(([name, , message], index) => {
    const result = results[index]!
    t.equal(result.exitCode, 2, `${name}: exit 2`)
    const lines = result.stderr.split('\n').filter((line) => line !== '' && !line.includes('warning:'))
    t.equal(lines.length, 1, `${name}: one line on stderr`)
    t.match(lines[0]?.replace(/^lambda-harness: /, ''), message, `${name}: ${lines[0]}`)
    t.equal(result.stdout, '', `${name}: nothing on stdout`)
    t.same(result.left, [], `${name}: nothing left in TMPDIR`)
  })
  t.equal(started() + startedBesidePlain() + startedBesideGhost(), 0, 'no canary extension ever ran')
  t.same(carrying(token), [], 'no process of any of these runs is alive')

  // The control: the same flags, with the handler in a layer's python/ folder, pass the pre-flight.
  const layered = zip('handler-layer.zip', [{ name: 'python/layer_handler.py', data: 'def handler(event, context):\n    return "from the layer"\n' }])
  const control = await cli(t, ['run', echo, '--handler', 'layer_handler.handler', '--layer', layered, ...base, '--json', '-'])
  t.equal(control.exitCode, 0, `a handler found in a layer runs: ${control.stderr}`)
  t.match(JSON.parse(control.stdout), { invocations: [{ status: 'success', response: '"from the layer"' }] })
  t.same(control.left, [], 'and its unpacked layer is gone afterwards')
  t.equal(started(), 1, 'the canary ran once in the control')
})

t.test('the library keeps Lambda\'s behaviour: Init fails; with preflight it refuses before starting', async (t) => {
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), handler: 'missing_module.handler' })
  t.match(sandbox.record.init, { status: 'error', errorType: 'Runtime.ImportModuleError' }, 'boot(): Runtime.ImportModuleError at Init')

  const dangling = scratch(t, 'lh-bad-input-ext-')
  symlinkSync(path.join(dangling, 'nowhere'), path.join(dangling, 'ghost'))
  const launch = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: dangling })
  t.match(launch.record.init, { status: 'error', errorType: 'Extension.LaunchError' }, 'a link to nothing in /opt/extensions is an extension that cannot start, not a file to skip')

  await t.rejects(boot({ functionDir: fn('echo'), handler: 'missing_module.handler', python: PYTHON, preflight: true }), {
    code: 'ERR_FILE_NOT_FOUND',
    message: /^option handler: no module "missing_module"/,
  })
  await t.rejects(boot({ functionDir: fn('echo'), handler: 'app.handler', python: PYTHON, preflight: 'yes' as unknown as boolean }), { code: 'ERR_INVALID_OPTION', message: /^option preflight: expected true or false, got "yes"$/ })
})
