// `run --template` and `check --template` as a user runs them: a SAM template and CDK's output boot
// and invoke the function with its local layer's extension; a value that needs a deployed stack is
// exit 2 with the property and the way out, before anything starts.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t, { type Test } from 'tap'
import type { RunRecord } from '../harness/index.js'
import { cli, tempDir } from './cli-process.js'
import { PYTHON } from './helpers.js'


async function runTemplate(t: Test, args: readonly string[]): Promise<{ record: RunRecord; stdout: string; stderr: string; exitCode: number | undefined }> {
  const json = path.join(tempDir(t, 'lh-template-'), 'record.json')
  const result = await cli(['run', ...args, '--python', PYTHON, '--json', json])
  t.equal(result.exitCode, 0, result.stderr)
  return { record: JSON.parse(readFileSync(json, 'utf8')) as RunRecord, stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode }
}

t.test('a SAM template boots and invokes its function, with the local layer and its extension', async (t) => {
  const { record, stdout } = await runTemplate(t, ['--template', 'fixtures/templates/sam/template.yaml', '--parameter-overrides', 'Stage=prod'])
  t.equal(record.init?.status, 'success')
  t.same(record.init?.extensions.map((e) => e.name), ['template-extension'])
  const response = JSON.parse(record.invocations[0]?.response ?? '{}') as { greeting: string; env: Record<string, string> }
  t.equal(response.greeting, "hello from the template's layer", "the layer's python/ is on the path")
  t.same(response.env, {
    STAGE: 'prod',
    TABLE: 'orders-us-east-1-123456789012',
    LOG_LEVEL: 'WARN',
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    AWS_LAMBDA_LOG_LEVEL: 'DEBUG',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
  })
  t.equal(record.function.timeoutMs, 5000)
  t.equal(record.function.template?.logicalId, 'OrdersFunction')
  t.equal(record.shutdown?.extensions[0]?.exit?.code, 0)
  t.match(stdout, /^Template: fixtures\/templates\/sam\/template\.yaml \(OrdersFunction\); from it: CodeUri, Handler, Runtime, Timeout, MemorySize, Layers, /m)
  t.equal(record.verdict.clean, true)
})

t.test('flags win over the template, and the report says which values came from it', async (t) => {
  const { record, stdout } = await runTemplate(t, ['--template', 'fixtures/templates/sam/template.yaml', '--timeout', '7', '--env', 'TABLE=mine', '--memory', '1024'])
  const response = JSON.parse(record.invocations[0]?.response ?? '{}') as { env: Record<string, string> }
  t.equal(response.env.TABLE, 'mine')
  t.equal(response.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '1024')
  t.equal(record.function.timeoutMs, 7000)
  t.notOk(record.function.template?.fromTemplate.includes('Timeout'))
  t.notMatch(stdout, /from it: [^\n]*\bTimeout\b/)
})

t.test("CDK's cdk.out: the function's code and layer found through the assets' metadata", async (t) => {
  const { record } = await runTemplate(t, ['--template', 'fixtures/templates/cdk/cdk.out/OrdersStack.template.json'])
  const response = JSON.parse(record.invocations[0]?.response ?? '{}') as { greeting: string; env: Record<string, string> }
  t.equal(response.greeting, "hello from the template's layer")
  t.equal(response.env.STAGE, 'prod')
  t.equal(response.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, '512')
  t.same(record.init?.extensions.map((e) => e.name), ['template-extension'])
  t.equal(record.verdict.clean, true)
})

t.test('what needs a deployed stack is exit 2, naming the property and what to pass instead', async (t) => {
  const unresolvable = 'fixtures/templates/sam/unresolvable.yaml'
  const cases: [string[], RegExp][] = [
    [['--function', 'IfTimeout'], /^lambda-harness: fixtures\/templates\/sam\/unresolvable\.yaml: Resources\.IfTimeout\.Properties\.Timeout: !If cannot be resolved locally; pass --timeout instead\n$/],
    [['--function', 'ForeignLayer'], /Resources\.ForeignLayer\.Properties\.Layers\[0\]: the published layer .* pass --layer <dir>/],
    [['--function', 'GetAttEnv'], /QUEUE_ARN: !GetAtt cannot be resolved locally; pass --env QUEUE_ARN=<value> instead/],
    [['--function', 'NoDefault'], /pass --parameter-overrides DatabaseUrl=<value>/],
    [[], /^lambda-harness: option --function: expected the function to use/],
    [['--function', 'Queue'], /has no function "Queue"/],
  ]
  for (const [args, pattern] of cases) {
    const result = await cli(['run', '--template', unresolvable, ...args])
    t.equal(result.exitCode, 2, args.join(' '))
    t.match(result.stderr, pattern, args.join(' '))
    t.equal(result.stdout, '')
  }
  const missing = await cli(['run', '--template', 'fixtures/templates/none.yaml'])
  t.equal(missing.exitCode, 2)
  t.match(missing.stderr, /option --template: cannot read "fixtures\/templates\/none\.yaml" \(ENOENT\)/)
})
