// A function whose modules are named like the runtime client's own files (bootstrap.py and
// awslambdaric's module names, which our lambda_harness_ric package uses) gets its own modules:
// our client's folder is not on sys.path and none of its modules is in sys.modules under those names.
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { PYTHON_RUNTIME_DIR } from '../../harness/paths.js'
import { startSandbox, tempDir } from '../helpers.js'

const CLIENT_NAMES = [
  'lambda_context',
  'lambda_runtime_client',
  'lambda_runtime_exception',
  'lambda_runtime_http',
  'lambda_runtime_log_utils',
  'lambda_runtime_marshaller',
  'lambda_runtime_signals',
]

// The handler lives in the function's own bootstrap.py and imports the others by their bare names.
const HANDLER = `import os
import sys

${CLIENT_NAMES.map((name) => `import ${name}`).join('\n')}

MARK = "the function's bootstrap"


def handler(event, context):
    modules = [sys.modules[__name__]] + [sys.modules[name] for name in ${JSON.stringify(CLIENT_NAMES)}]
    return {
        "marks": {m.__name__: m.MARK for m in modules},
        "files": sorted(os.path.basename(m.__file__) for m in modules),
        "folders": sorted(set(os.path.dirname(m.__file__) for m in modules)),
        "sysPath": sys.path,
        "cwd": os.getcwd(),
    }
`

t.test('a function with modules named like the client\'s (bootstrap.py, lambda_context.py, ...) imports its own', async (t) => {
  const dir = tempDir(t, 'lh-client-names-')
  writeFileSync(path.join(dir, 'bootstrap.py'), HANDLER)
  for (const name of CLIENT_NAMES) {
    writeFileSync(path.join(dir, `${name}.py`), `MARK = "the function's ${name}"\n`)
  }
  const sandbox = await startSandbox(t, { functionDir: dir, handler: 'bootstrap.handler' })
  t.equal(sandbox.record.init?.status, 'success')
  const invocation = await sandbox.invoke({})
  t.equal(invocation.status, 'success', invocation.response)
  const seen = JSON.parse(invocation.response) as { marks: Record<string, string>; files: string[]; folders: string[]; sysPath: string[]; cwd: string }
  t.same(seen.marks, Object.fromEntries([['bootstrap', "the function's bootstrap"], ...CLIENT_NAMES.map((name) => [name, `the function's ${name}`])]))
  t.same(seen.files, ['bootstrap.py', ...CLIENT_NAMES.map((name) => `${name}.py`)].sort())
  t.same(seen.folders, [seen.cwd], 'every module comes from the task root')
  t.equal(seen.sysPath[0], seen.cwd, 'the task root is first on sys.path, as on Lambda')
  t.notOk(seen.sysPath.some((entry) => entry === PYTHON_RUNTIME_DIR || entry === '/var/runtime'), "the client's folder is not on sys.path")
})
