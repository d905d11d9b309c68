// An extension built against a newer glibc than its image's: the loader refuses it before main(),
// and Lambda reports the launch as failed. Built here with the host's compiler (Debian 12: glibc
// 2.36, so it needs GLIBC_2.34's __libc_start_main) and run in Debian bullseye's root (2.31).
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t from 'tap'
import { debianRoot, fn, missingRoot, startSandbox } from '../helpers.js'

const compiler = spawnSync('cc', ['--version']).status === 0 ? undefined : 'no C compiler (cc) on this machine'

t.test('a C extension built for a newer glibc fails Init with Extension.LaunchError and the loader\'s message', { skip: missingRoot('bullseye') ?? compiler ?? false }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lh-glibc-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(path.join(dir, 'layer', 'extensions'), { recursive: true })
  writeFileSync(path.join(dir, 'ext.c'), '#include <stdio.h>\nint main(void) { puts("started"); return 0; }\n')
  const built = spawnSync('cc', ['-O2', '-o', path.join(dir, 'layer', 'extensions', 'needs-new-glibc'), path.join(dir, 'ext.c')], { encoding: 'utf8' })
  t.equal(built.status, 0, built.stderr)
  const sandbox = await startSandbox(t, {
    functionDir: fn('echo'),
    image: debianRoot('bullseye'),
    // bullseye's minbase has no Python; Init fails at the extension, before any runtime starts.
    runtimeCommand: ['/bin/sh', '-c', 'exit 3'],
    layers: [path.join(dir, 'layer')],
  })
  t.match(sandbox.record.init, { status: 'error', errorType: 'Extension.LaunchError' })
  t.equal(sandbox.record.processes.find((p) => p.name === 'needs-new-glibc')?.state, 'LaunchError')
  const fatal = sandbox.record.timeline.find((e) => e.kind === 'phase' && e.process === 'needs-new-glibc' && e.detail.startsWith('fatal:'))
  t.match(fatal?.detail, /^fatal: Extension\.LaunchError \(UnknownError: \/opt\/extensions\/needs-new-glibc: .*libc\.so\.6: version `GLIBC_2\.3\d' not found \(required by \/opt\/extensions\/needs-new-glibc\)\)$/)
  t.notOk(sandbox.record.timeline.some((e) => e.process === 'needs-new-glibc' && e.detail === 'started'), 'its main() never ran')
})
