// The bench's direct baseline ends a boot whose runtime dies before its first poll with an error,
// rather than waiting on the trivial server for ever (a bench run once hung 23 minutes there).
import t from 'tap'
import { BaselineSandbox } from '../../bench/baseline/baseline-sandbox.js'
import { fn } from '../helpers.js'

t.test('a runtime that exits before its first poll fails the baseline boot', async (t) => {
  const deadline = AbortSignal.timeout(20_000)
  const boot = BaselineSandbox.boot({ python: '/bin/false', functionDir: fn('echo'), handler: 'app.handler', extensions: [], runtime: 'client' })
  const failed = await Promise.race([
    boot.then(() => 'booted', (error: Error) => error.message),
    new Promise<string>((resolve) => deadline.addEventListener('abort', () => resolve('still waiting after 20 s'))),
  ])
  t.match(failed, /^baseline: pid \d+ exited before its first poll$/)
})
