// The pre-flight's search for a handler's module: the function folder, the layers' python/
// folders, then the interpreter's own sys.path (its standard library and site-packages, which the
// runtime imports from as Lambda's runtime imports from /var/runtime and /var/lang).
import path from 'node:path'
import t from 'tap'
import { preflight } from '../../harness/config/preflight.js'
import { validateOptions } from '../../harness/config/options.js'
import { pythonInfo } from '../../harness/sandbox/python-info.js'
import { PYTHON, fn } from '../helpers.js'

t.test('a handler module found only on the interpreter\'s sys.path passes; one found nowhere is refused, naming where it looked', async (t) => {
  const python = await pythonInfo(PYTHON)
  t.ok(python.sysPath.length > 0, `the interpreter's sys.path: ${python.sysPath.join(', ')}`)
  t.ok(python.sysPath.every((folder) => folder.startsWith('/')), 'folders, absolute')
  // `json` is in the standard library, not in the function folder.
  const stdlib = validateOptions({ functionDir: fn('echo'), handler: 'json.dumps', python: PYTHON })
  t.doesNotThrow(() => preflight(stdlib, [], python.sysPath), 'json.dumps: json is on the interpreter\'s sys.path')
  t.throws(() => preflight(stdlib, []), /no module "json"/, 'without the interpreter\'s sys.path it is not found')
  const missing = validateOptions({ functionDir: fn('echo'), handler: 'no_such_module_anywhere.handler', python: PYTHON })
  t.throws(() => preflight(missing, [], python.sysPath), /^option handler: no module "no_such_module_anywhere" for handler .* in .*echo or on the interpreter's sys\.path \(Lambda would fail Init with Runtime\.ImportModuleError\)$/)
})

t.test('the host\'s PYTHONPATH is not the sandbox\'s: its folders do not count', async (t) => {
  const saved = process.env.PYTHONPATH
  t.teardown(() => {
    if (saved === undefined) {
      delete process.env.PYTHONPATH
    } else {
      process.env.PYTHONPATH = saved
    }
  })
  process.env.PYTHONPATH = fn('returns-env')
  // A fresh command string, so the in-process answer of the test above is not reused.
  const python = await pythonInfo(`${path.dirname(PYTHON)}/./${path.basename(PYTHON)}`)
  t.notOk(python.sysPath.includes(fn('returns-env')), 'the PYTHONPATH folder is left out')
})
