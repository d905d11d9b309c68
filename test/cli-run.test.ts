// `run`'s output as a user sees it: each warning once (in the report, or on stderr when there is
// no report on stdout), and `run --watch` re-running on a real file change.
import t from 'tap'
import { cli } from './cli-process.js'
import { PYTHON, fn } from './helpers.js'

const PROFILE_WARNING = /profile python3\.12 runs on \/usr\/bin\/python3 \(Python 3\.11[^)]*\)/g

t.test('the profile warning is printed once: in the report, or on stderr with --quiet or --json -', async (t) => {
  for (const extra of [[], ['--quiet'], ['--json', '-']]) {
    const run = await cli(['run', fn('echo'), '--handler', 'app.handler', '--python', PYTHON, ...extra])
    t.equal(run.exitCode, 0, run.stderr)
    // With --json - stdout is the record (its warnings[] keeps it); the user reads stderr.
    const shown = extra[0] === '--json' ? 0 : (run.stdout.match(PROFILE_WARNING)?.length ?? 0)
    t.equal(shown + (run.stderr.match(PROFILE_WARNING)?.length ?? 0), 1, `once with ${extra.join(' ') || 'the report'}`)
  }
})
