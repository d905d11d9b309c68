// Runs the client tests of test/runtimes on a real interpreter inside a Debian root (`--image`),
// as the host's Python 3.11 runs them: each file is run whole with LH_TEST_IMAGE and
// LH_TEST_PYTHON set (test/helpers.ts), and must pass. Skips, saying why, where the root is missing.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { debianRoot, missingRoot } from '../helpers.js'

const HERE = path.dirname(fileURLToPath(import.meta.url))
/** The client tests; sigterm-race (~25 s) runs from a file of its own, to stay within tap's 120 s per file under load. */
export const CLIENT_TESTS = ['python-client', 'http-client', 'wakeup-fd', 'many-files'] as const

export function clientTestsOn(t: Test, suite: 'trixie' | 'sid', python: string, names: readonly string[]): void {
  const missing = missingRoot(suite)
  for (const name of names) {
    t.test(`${name}.test on ${python} (Debian ${suite})`, { skip: missing ?? false }, async (t) => {
      const child = spawn(process.execPath, [path.join(HERE, `${name}.test.js`)], {
        env: { ...process.env, LH_TEST_IMAGE: debianRoot(suite), LH_TEST_PYTHON: python, TAP: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let output = ''
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
      const deadline = setTimeout(() => child.kill('SIGKILL'), 100_000)
      const [code] = (await once(child, 'exit')) as [number | null]
      clearTimeout(deadline)
      const failures = output.split('\n').filter((line) => /^\s*not ok /.test(line))
      t.equal(code, 0, `${name}.test passes on ${python}`, { failures, tail: output.split('\n').slice(-30).join('\n') })
      t.match(output, /^1\.\.\d+/m, 'it ran its plan')
    })
  }
}
