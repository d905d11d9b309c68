// `lambda-harness init <dir>`: the newcomer's first step, as the Lambda console's new function.
// A function with a SIGTERM handler that closes its connection, a test event, and a layer with a
// copy of the reference extension; with an OS-only runtime (`--runtime provided.al2023`), a custom
// runtime's bootstrap and its function instead. Existing files are never overwritten.
import { chmodSync, copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { invalid } from './config/options.js'
import { DEFAULT_RUNTIME, RUNTIME_IDS, RUNTIME_PROFILES, isRuntimeId } from './config/profiles.js'
import { HarnessError } from './errors.js'
import { PACKAGE_ROOT } from './paths.js'

const LAMBDA_FUNCTION = `"""A new Lambda function with graceful shutdown.

Lambda sends SIGTERM to the runtime before it ends the sandbox (Python 3.12+ and at least one
extension registered). Close what you opened at init there: a database connection closed here is
\`closed\` in lambda-harness's report; one left open is \`dropped\`.
"""
import json
import os
import signal
import sys

connection = None
if os.environ.get("DATABASE_URL"):
    import psycopg2  # Debian: python3-psycopg2

    connection = psycopg2.connect(os.environ["DATABASE_URL"])


def on_sigterm(signum, frame):
    print("[runtime] SIGTERM received: cleaning up", flush=True)
    if connection is not None:
        connection.close()
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)


def lambda_handler(event, context):
    print(f"request {context.aws_request_id}: {json.dumps(event)}")
    if connection is not None:
        with connection.cursor() as cursor:
            cursor.execute("select 1")
    return {"statusCode": 200, "body": json.dumps("Hello from Lambda!")}
`

const TEST_EVENT = `${JSON.stringify({ key1: 'value1', key2: 'value2', key3: 'value3' }, null, 2)}\n`

function readme(dir: string): string {
  return `# ${path.basename(dir)}

Made by \`lambda-harness init\`. Run it with the reference extension and a throwaway PostgreSQL:

    lambda-harness run ${dir} --handler lambda_function.lambda_handler --layer ${path.join(dir, 'layer')} \\
      --event ${path.join(dir, 'events', 'test-event.json')} --invokes 3 --postgres --python /usr/bin/python3

The layer's \`extensions/pg-extension\` is a copy of the reference extension: it holds its own
connection and closes it on SHUTDOWN.
`
}

/** A custom runtime's bootstrap (bash, runtimes-custom.html's tasks) and its function, copied as they are. */
const CUSTOM_RUNTIME = path.join(PACKAGE_ROOT, 'harness', 'templates', 'custom-runtime')

function customRuntimeReadme(dir: string, runtime: string): string {
  return `# ${path.basename(dir)}

Made by \`lambda-harness init --runtime ${runtime}\`: a custom runtime. Lambda runs \`bootstrap\`, which
calls the shell function \`handler\` of \`function.sh\` for each event. Run it:

    lambda-harness run ${dir} --runtime ${runtime} --handler function.handler \\
      --event ${path.join(dir, 'events', 'test-event.json')} --invokes 3

Add an extension with \`--layer <dir>\` (its \`extensions/\` folder) or \`--extensions <dir>\`.
`
}

type ScaffoldFile = [string, string | { copy: string; mode: number }]

/** The files of a new function for `runtime` (default: the Python one). */
function scaffoldFiles(dir: string, runtime: string | undefined): ScaffoldFile[] {
  const id = runtime ?? DEFAULT_RUNTIME
  if (!isRuntimeId(id)) {
    throw invalid('--runtime', `one of ${RUNTIME_IDS.join(', ')}`, runtime)
  }
  if (RUNTIME_PROFILES[id].family === 'os-only') {
    return [
      ['bootstrap', { copy: path.join(CUSTOM_RUNTIME, 'bootstrap'), mode: 0o755 }],
      ['function.sh', { copy: path.join(CUSTOM_RUNTIME, 'function.sh'), mode: 0o644 }],
      [path.join('events', 'test-event.json'), TEST_EVENT],
      ['README.md', customRuntimeReadme(dir, id)],
    ]
  }
  return [
    ['lambda_function.py', LAMBDA_FUNCTION],
    [path.join('events', 'test-event.json'), TEST_EVENT],
    [path.join('layer', 'extensions', 'pg-extension'), { copy: path.join(PACKAGE_ROOT, 'extensions', 'pg-extension', 'extensions', 'pg-extension'), mode: 0o755 }],
    ['README.md', readme(dir)],
  ]
}

interface ScaffoldResult {
  readonly files: string[]
}

export function scaffold(dir: string, runtime?: string): ScaffoldResult {
  const root = path.resolve(dir)
  const files = scaffoldFiles(dir, runtime)
  const existing = files.map(([name]) => path.join(root, name)).filter((file) => existsSync(file))
  if (existing.length > 0) {
    throw new HarnessError('ERR_BAD_INPUT', `init: refusing to overwrite ${existing.join(', ')}`)
  }
  const written: string[] = []
  for (const [name, content] of files) {
    const file = path.join(root, name)
    mkdirSync(path.dirname(file), { recursive: true })
    if (typeof content === 'string') {
      writeFileSync(file, content, { flag: 'wx' })
    } else {
      copyFileSync(content.copy, file)
      chmodSync(file, content.mode)
    }
    written.push(file)
  }
  return { files: written }
}
