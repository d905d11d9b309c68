// The Python runtime profiles of LAMBDA-SPEC §9, and the warnings a profile past AWS's dates
// gives: computed from a given day, and from today through boot().
import t from 'tap'
import { RUNTIME_IDS, RUNTIME_PROFILES, DEFAULT_RUNTIME } from '../../harness/index.js'
import { lifecycleWarnings } from '../../harness/config/profiles.js'
import { fn, startSandbox } from '../helpers.js'

const day = (iso: string) => new Date(`${iso}T12:00:00Z`)

t.test('the profiles: AWS’s table, and what each switches', async (t) => {
  t.same(RUNTIME_IDS, ['python3.14', 'python3.13', 'python3.12', 'python3.11', 'python3.10', 'provided.al2023', 'provided.al2'])
  t.equal(DEFAULT_RUNTIME, 'python3.12')
  const table = RUNTIME_IDS.map((id) => {
    const p = RUNTIME_PROFILES[id]
    return [p.id, p.family, p.os, p.deprecation, p.blockCreate, p.blockUpdate, p.executionEnv, p.rawUnicode, p.sigtermReachesPython]
  })
  t.same(table, [
    ['python3.14', 'python', 'Amazon Linux 2023', '2029-06-30', '2029-07-31', '2029-08-31', 'AWS_Lambda_python3.14', true, true],
    ['python3.13', 'python', 'Amazon Linux 2023', '2029-06-30', '2029-07-31', '2029-08-31', 'AWS_Lambda_python3.13', true, true],
    ['python3.12', 'python', 'Amazon Linux 2023', '2028-10-31', '2028-11-30', '2029-01-10', 'AWS_Lambda_python3.12', true, true],
    ['python3.11', 'python', 'Amazon Linux 2', '2026-06-30', '2026-07-31', '2026-08-31', 'AWS_Lambda_python3.11', false, false],
    ['python3.10', 'python', 'Amazon Linux 2', '2026-06-30', '2026-07-31', '2026-08-31', 'AWS_Lambda_python3.10', false, false],
    // The OS-only table (runtimes-provided.html): no AWS_EXECUTION_ENV.
    ['provided.al2023', 'os-only', 'Amazon Linux 2023', '2029-06-30', '2029-07-31', '2029-08-31', null, false, false],
    ['provided.al2', 'os-only', 'Amazon Linux 2', '2026-06-30', '2026-07-31', '2026-08-31', null, false, false],
  ])
})

t.test('deprecation warnings step with the dates', async (t) => {
  const p = RUNTIME_PROFILES['python3.11']
  t.same(lifecycleWarnings(p, day('2026-06-30')), [], 'none on the deprecation day itself')
  t.same(lifecycleWarnings(p, day('2026-07-01')), [
    'runtime python3.11 was deprecated on 2026-06-30; Lambda blocks creating functions on it from 2026-07-31',
  ])
  t.same(lifecycleWarnings(p, day('2026-08-01')), [
    'runtime python3.11 was deprecated on 2026-06-30; since 2026-07-31 Lambda refuses to create functions on it, and from 2026-08-31 to update them',
  ])
  t.same(lifecycleWarnings(p, day('2026-11-25')), [
    'runtime python3.11 was deprecated on 2026-06-30; since 2026-07-31 Lambda refuses to create and since 2026-08-31 to update functions on it',
  ])
  t.same(lifecycleWarnings(RUNTIME_PROFILES['python3.12'], day('2026-11-25')), [])
  t.equal(lifecycleWarnings(RUNTIME_PROFILES['python3.12'], day('2028-11-01')).length, 1, 'python3.12’s turn comes in 2028')
})

t.test('boot() warns about a deprecated profile, today', async (t) => {
  const today = new Date().toISOString().slice(0, 10)
  const deprecated = (warnings: readonly string[]) => warnings.filter((w) => w.includes('deprecated'))

  const warned: string[] = []
  const old = await startSandbox(t, { functionDir: fn('echo'), runtime: 'python3.11' }, { warn: (m) => warned.push(m) })
  t.ok(today > '2026-08-31', `today (${today}) is past python3.11’s dates`)
  t.same(deprecated(warned), lifecycleWarnings(RUNTIME_PROFILES['python3.11'], new Date()), 'through the warn hook')
  t.equal(deprecated(warned).length, 1)
  t.same(deprecated(old.record.warnings), deprecated(warned), 'and in the record')
  t.equal((await old.invoke({ still: 'runs' })).status, 'success', 'a warning, not a refusal')

  const none: string[] = []
  const current = await startSandbox(t, { functionDir: fn('echo'), runtime: 'python3.12' }, { warn: (m) => none.push(m) })
  t.same(deprecated(none), [], 'python3.12 is not deprecated')
  t.same(deprecated(current.record.warnings), [])
})
