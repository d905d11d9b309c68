// The interpreter probe's answer is kept on disk, so a second `lambda-harness run` starts no probe.
// The cache folder's parent is shared with other caches (`make roots` makes it with the default
// umask): only the probe's own folder has to be private.
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { pythonInfo } from '../../harness/sandbox/python-info.js'
import { privateCacheHome, SYSTEM_PYTHON } from '../helpers.js'

t.test("the probe's answer is stored even when lambda-harness's cache folder is readable by others", async (t) => {
  const cache = privateCacheHome(t)
  const shared = path.join(cache, 'lambda-harness')
  mkdirSync(path.join(shared, 'roots'), { recursive: true })
  chmodSync(shared, 0o755)
  // A command string of its own: the in-process answer of another test is not reused.
  await pythonInfo(`${path.dirname(SYSTEM_PYTHON)}/./${path.basename(SYSTEM_PYTHON)}`)
  const stored = readdirSync(shared, { recursive: true, encoding: 'utf8' }).filter((file) => /python-[0-9a-f]+\.json$/.test(file))
  t.equal(stored.length, 1, `one stored answer (${stored.join(', ')})`)
  const folder = path.dirname(path.join(shared, stored[0] ?? ''))
  t.equal(statSync(folder).mode & 0o777, 0o700, 'in a folder only its owner can read')
  t.equal(statSync(shared).mode & 0o777, 0o755, 'the shared folder is left as it was')
})
