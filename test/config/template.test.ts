// The template reader: SAM and CDK shapes, Globals, parameters and pseudo parameters, flags that
// win, and an error naming the property and the way out for each value that needs a deployed stack.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import t from 'tap'
import { bootFromTemplate, layerFromTemplate, type TemplateRequest } from '../../harness/config/template.js'
import { isHarnessError } from '../../harness/errors.js'
import { ROOT } from '../helpers.js'

const TEMPLATES = path.join(ROOT, 'fixtures', 'templates')
const SAM = path.join(TEMPLATES, 'sam', 'template.yaml')
const UNRESOLVABLE = path.join(TEMPLATES, 'sam', 'unresolvable.yaml')
const CDK = path.join(TEMPLATES, 'cdk', 'cdk.out', 'OrdersStack.template.json')

function request(file: string, extra: Partial<TemplateRequest> = {}): TemplateRequest {
  return { file, text: readFileSync(file, 'utf8'), region: 'eu-west-1', accountId: '111122223333', ...extra }
}

function errorOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (error) {
    if (isHarnessError(error)) {
      return { code: error.code, message: error.message }
    }
    throw error
  }
  throw new Error('expected a HarnessError')
}

t.test('SAM: code, handler, runtime, Globals, parameters, pseudo parameters, mappings, the local layer, logging', async (t) => {
  const boot = bootFromTemplate(request(SAM), {})
  t.equal(boot.functionDir, path.join(TEMPLATES, 'sam', 'src'))
  t.equal(boot.handler, 'app.handler')
  t.equal(boot.runtime, 'python3.12', 'from Globals.Function')
  t.equal(boot.timeoutSec, 5)
  t.equal(boot.memoryMB, 256)
  t.same(boot.layers, [path.join(TEMPLATES, 'sam', 'layer')])
  t.same(boot.env, {
    STAGE: 'dev',
    TABLE: 'orders-eu-west-1-111122223333',
    LOG_LEVEL: 'DEBUG',
    AWS_LAMBDA_LOG_FORMAT: 'JSON',
    AWS_LAMBDA_LOG_LEVEL: 'DEBUG',
  })
  t.equal(boot.template.logicalId, 'OrdersFunction')
  t.ok(boot.template.fromTemplate.includes('Environment.Variables.STAGE'))
  t.same(boot.template.warnings, process.arch === 'x64' ? [] : boot.template.warnings)
})

t.test('--parameter-overrides win over Default, and flags win over the template', async (t) => {
  const boot = bootFromTemplate(request(SAM, { parameters: { Stage: 'prod', TableName: 'carts' } }), {
    timeoutSec: 9,
    env: { TABLE: 'from-flag' },
    layers: ['/elsewhere'],
  })
  t.equal(boot.env?.STAGE, 'prod')
  t.equal(boot.env?.LOG_LEVEL, 'WARN', '!FindInMap with the overridden key')
  t.equal(boot.env?.TABLE, 'from-flag')
  t.equal(boot.timeoutSec, 9)
  t.same(boot.layers, ['/elsewhere'], '--layer replaces the template Layers')
  t.notOk(boot.template.fromTemplate.includes('Timeout'))
  t.notOk(boot.template.fromTemplate.includes('Layers'))
  t.notOk(boot.template.fromTemplate.includes('Environment.Variables.TABLE'))
})

t.test('CDK: code and layers through the assets metadata, relative to cdk.out', async (t) => {
  const boot = bootFromTemplate(request(CDK), {})
  t.equal(boot.functionDir, path.join(TEMPLATES, 'cdk', 'cdk.out', 'asset.3f2a9c1e7b'))
  t.same(boot.layers, [path.join(TEMPLATES, 'cdk', 'cdk.out', 'asset.8d41e0b2c6')])
  t.equal(boot.memoryMB, 512)
  t.equal(boot.timeoutSec, 10)
  t.equal(boot.template.logicalId, 'OrdersFunction9C8D7E6F')
  t.equal(layerFromTemplate(request(CDK), 'ToolsLayer5E6F7A8B'), path.join(TEMPLATES, 'cdk', 'cdk.out', 'asset.8d41e0b2c6'))
})

t.test('each value that needs a deployed stack: the property path and what to pass instead', async (t) => {
  const cases: [string, RegExp][] = [
    ['IfTimeout', /^.*unresolvable\.yaml: Resources\.IfTimeout\.Properties\.Timeout: !If cannot be resolved locally; pass --timeout instead$/],
    ['GetAttEnv', /Resources\.GetAttEnv\.Properties\.Environment\.Variables\.QUEUE_ARN: !GetAtt cannot be resolved locally; pass --env QUEUE_ARN=<value> instead$/],
    ['ForeignLayer', /Resources\.ForeignLayer\.Properties\.Layers\[0\]: the published layer "arn:aws:lambda:us-east-1:999999999999:layer:shared:3" cannot be resolved locally; pass --layer <dir>/],
    ['ParameterLayer', /Resources\.ParameterLayer\.Properties\.Layers\[0\]: the published layer "arn:aws:lambda:us-east-1:999999999999:layer:shared:3"/],
    ['NoDefault', /Resources\.NoDefault\.Properties\.Environment\.Variables\.DATABASE_URL: parameter DatabaseUrl has no Default .*; pass --parameter-overrides DatabaseUrl=<value>$/],
  ]
  for (const [functionId, pattern] of cases) {
    const error = errorOf(() => bootFromTemplate({ ...request(UNRESOLVABLE), functionId }, {}))
    t.equal(error.code, 'ERR_BAD_INPUT', functionId)
    t.match(error.message, pattern, functionId)
  }
  // The way out each message names works.
  t.equal(bootFromTemplate({ ...request(UNRESOLVABLE), functionId: 'IfTimeout' }, { timeoutSec: 4 }).timeoutSec, 4)
  t.equal(bootFromTemplate({ ...request(UNRESOLVABLE), functionId: 'GetAttEnv' }, { env: { QUEUE_ARN: 'q' } }).env?.QUEUE_ARN, 'q')
  t.same(bootFromTemplate({ ...request(UNRESOLVABLE), functionId: 'ForeignLayer' }, { layers: ['/l'] }).layers, ['/l'])
  t.equal(bootFromTemplate({ ...request(UNRESOLVABLE, { parameters: { DatabaseUrl: 'postgres://x' } }), functionId: 'NoDefault' }, {}).env?.DATABASE_URL, 'postgres://x')
})

t.test('choosing the function, and templates that are not usable', async (t) => {
  t.match(errorOf(() => bootFromTemplate(request(UNRESOLVABLE), {})), { code: 'ERR_INVALID_OPTION', message: /^option --function: expected the function to use, as .* declares 5 \(IfTimeout, GetAttEnv, ForeignLayer, ParameterLayer, NoDefault\)$/ })
  t.match(errorOf(() => bootFromTemplate({ ...request(SAM), functionId: 'ToolsLayer' }, {})), { message: /has no function "ToolsLayer" \(functions: OrdersFunction\)/ })
  t.match(errorOf(() => layerFromTemplate(request(SAM), 'OrdersFunction')), { message: /has no layer "OrdersFunction" \(layers: ToolsLayer\)/ })
  const text = (body: string) => ({ file: 't.yaml', text: body, region: 'us-east-1', accountId: '123456789012' })
  t.match(errorOf(() => bootFromTemplate(text('Resources: [1'), {})), { code: 'ERR_BAD_INPUT', message: /t\.yaml is not YAML or JSON/ })
  t.match(errorOf(() => bootFromTemplate(text('Description: x'), {})), { message: /t\.yaml has no Resources section/ })
  const fn = (props: string) => text(`Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n${props}`)
  t.match(errorOf(() => bootFromTemplate(fn('      CodeUri: .\n      Handler: a.b\n'), {})), { message: /Resources\.Fn\.Properties\.Runtime: missing .*; pass --runtime/ })
  t.match(errorOf(() => bootFromTemplate(fn('      CodeUri: s3://bucket/key.zip\n      Runtime: python3.12\n'), {})), { message: /CodeUri: "s3:\/\/bucket\/key\.zip" \(not a local path\) cannot be resolved locally; pass <function-dir> instead/ })
  t.match(errorOf(() => bootFromTemplate(fn('      CodeUri: .\n      Runtime: !Sub "${Missing.Attr}"\n'), {})), { message: /Runtime: !Sub's \$\{Missing\.Attr\} \(an attribute of a deployed resource\)/ })
  // !Join, !Select and !Sub's own variables and ${!Literal}.
  const boot = bootFromTemplate(fn('      CodeUri: .\n      Runtime: !Join ["", [python, "3.13"]]\n      Handler: !Select [1, [x.y, app.handler]]\n      Environment:\n        Variables:\n          A: !Sub ["${X}-${!Y}", { X: !Ref AWS::Region }]\n          B: !Ref AWS::NoValue\n'), {})
  t.equal(boot.runtime, 'python3.13')
  t.equal(boot.handler, 'app.handler')
  t.same(boot.env, { A: 'us-east-1-${Y}' })
})
