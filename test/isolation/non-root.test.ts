// The harness run by a user who is not root (an extension author on a CI runner): bwrap creates
// the user namespace unprivileged, and the sandbox is the same as under root: uid 993, Lambda's
// limits, the host's sysctls out of reach. The user is made for the test and removed after it.
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { execa } from 'execa'
import t from 'tap'
import type { RunRecord } from '../../harness/index.js'
import { ROOT, fn, NO_BWRAP } from '../helpers.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')

if (process.getuid?.() !== 0) {
  t.comment('not root: cannot create a user to run the harness as (the suite itself then runs the non-root path)')
} else {
  t.test('a harness that is not root runs the sandbox with Lambda\'s identity and limits', { skip: NO_BWRAP }, async (t) => {
    const user = `lhtest${randomBytes(3).toString('hex')}`
    await execa('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user])
    t.teardown(() => execa('userdel', [user]).catch(() => undefined))
    const run = async (event: object): Promise<RunRecord> => {
      const result = await execa(
        'runuser',
        ['-u', user, '--', 'env', '-u', 'NODE_OPTIONS', process.execPath, CLI, 'run', fn('touches-files'), '--handler', 'app.handler', '--python', '/usr/bin/python3', '--event-json', JSON.stringify(event), '--json', '-', '--quiet'],
        { reject: false, timeout: 60_000, cwd: '/' },
      )
      t.equal(result.exitCode, 0, `exit 0 (stderr: ${result.stderr.slice(-400)})`)
      return JSON.parse(result.stdout) as RunRecord
    }
    const identity = await run({ op: 'identity' })
    t.match(identity.timeline.find((e) => e.kind === 'phase' && e.detail.startsWith('Sandbox:'))?.detail, /^Sandbox: bwrap.*uid 993 gid 990 in a user namespace/)
    t.match(JSON.parse(identity.invocations[0]?.response ?? '{}'), { ok: true, uid: 993, gid: 990, hostname: /^169\.254\./ })
    const limits = await run({ op: 'limits' })
    t.same(JSON.parse(limits.invocations[0]?.response ?? '{}'), { ok: true, nofile: [1024, 1024], nproc: [1024, 1024], ulimitN: '1024' })
    const sysctl = await run({ op: 'open-for-writing', path: '/proc/sys/kernel/hostname' })
    t.match(JSON.parse(sysctl.invocations[0]?.response ?? '{}'), { ok: false, errno: /^(EROFS|EACCES)$/ })
    t.same(sysctl.verdict, { clean: true, problems: [] })
  })
}
