// A function or a layer of a SAM / CloudFormation template (or CDK's cdk.out/<Stack>.template.json)
// as options: text in, options out, no file read. Command-line flags win over the template, and
// a property the flags replace is not read at all (so its unresolvable intrinsic is no error).
import path from 'node:path'
import { HarnessError } from '../errors.js'
import type { BootOptions } from './options.js'
import { isObject } from './validate.js'
import { NO_VALUE, parseTemplate, resolveValue, unresolvable, type Json, type ResolveContext, type Resolved } from './template-intrinsics.js'

const FUNCTION_TYPES = ['AWS::Serverless::Function', 'AWS::Lambda::Function']
const LAYER_TYPES = ['AWS::Serverless::LayerVersion', 'AWS::Lambda::LayerVersion']

export interface TemplateRequest {
  /** The template's path as the user gave it: messages name it, and local paths are relative to its folder. */
  readonly file: string
  readonly text: string
  /** `--parameter-overrides Key=Value`, winning over each parameter's Default. */
  readonly parameters?: Readonly<Record<string, string>>
  /** For AWS::Region and AWS::AccountId. */
  readonly region: string
  readonly accountId: string
}

/** Where a run's options came from, for the report: `template.function` is the resource read. */
export interface TemplateSource {
  readonly file: string
  readonly logicalId: string
  /** The template's properties that were used (e.g. Handler, Environment.Variables.TABLE). */
  readonly fromTemplate: readonly string[]
  /** What the template asks for that this machine does not do (e.g. another architecture). */
  readonly warnings: readonly string[]
}

type Resource = { Type?: Json; Properties?: Json; Metadata?: Json }

interface Parsed {
  readonly context: ResolveContext
  readonly resources: Record<string, Resource>
  readonly folder: string
}

function parseRequest(request: TemplateRequest): Parsed {
  const template = parseTemplate(request.text, request.file)
  const context: ResolveContext = {
    file: request.file,
    template,
    parameters: request.parameters ?? {},
    region: request.region,
    accountId: request.accountId,
  }
  return { context, resources: template.Resources as Record<string, Resource>, folder: path.dirname(path.resolve(request.file)) }
}

function asObject(value: Json | Resolved | undefined): Record<string, Json> {
  return isObject(value) ? (value as Record<string, Json>) : {}
}

/** SAM's Globals rule: scalars and lists of the resource win, maps merge (the resource's keys win). */
function withGlobals(globals: Record<string, Json>, properties: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = { ...globals }
  for (const [key, value] of Object.entries(properties)) {
    const global = globals[key]
    const isMap = (v: Json | undefined) => isObject(v) && !Object.keys(v).some((k) => k === 'Ref' || k.startsWith('Fn::'))
    out[key] = isMap(global) && isMap(value) ? withGlobals(global as Record<string, Json>, value as Record<string, Json>) : Array.isArray(global) && Array.isArray(value) ? [...global, ...value] : value
  }
  return out
}

function pickResource(parsed: Parsed, types: readonly string[], id: string | undefined, kind: string, flag: string): [string, Resource] {
  const matching = Object.entries(parsed.resources).filter(([, r]) => typeof r?.Type === 'string' && types.includes(r.Type))
  if (id !== undefined) {
    const found = parsed.resources[id]
    if (found === undefined || !types.includes(String(found.Type))) {
      throw new HarnessError('ERR_BAD_INPUT', `option ${flag}: ${parsed.context.file} has no ${kind} ${JSON.stringify(id)} (${kind}s: ${matching.map(([name]) => name).join(', ') || 'none'})`)
    }
    return [id, found]
  }
  if (matching.length !== 1) {
    throw new HarnessError(
      matching.length === 0 ? 'ERR_BAD_INPUT' : 'ERR_INVALID_OPTION',
      matching.length === 0
        ? `option --template: ${parsed.context.file} declares no ${kind} (${types.join(' or ')})`
        : `option ${flag}: expected the ${kind} to use, as ${parsed.context.file} declares ${matching.length} (${matching.map(([name]) => name).join(', ')})`,
    )
  }
  return matching[0]!
}

/** A local code or content folder: a SAM path, or a CDK asset (`aws:asset:path`, relative to cdk.out). */
function localPath(parsed: Parsed, resource: Resource, logicalId: string, property: string, instead: string): string {
  const asset = asObject(resource.Metadata)['aws:asset:path']
  if (typeof asset === 'string') {
    return path.resolve(parsed.folder, asset)
  }
  const at = `Resources.${logicalId}.Properties.${property}`
  const value = resolveValue(parsed.context, asObject(resource.Properties)[property], at, instead)
  if (typeof value === 'string' && !/^s3:\/\//.test(value)) {
    return path.resolve(parsed.folder, value)
  }
  throw unresolvable(parsed.context, at, value === undefined ? 'a missing local path' : `${JSON.stringify(value)} (not a local path)`, instead)
}

function layerFolder(parsed: Parsed, logicalId: string, resource: Resource): string {
  const property = resource.Type === 'AWS::Serverless::LayerVersion' ? 'ContentUri' : 'Content'
  return localPath(parsed, resource, logicalId, property, 'pass --layer <dir> instead')
}

function layers(parsed: Parsed, list: Json | undefined, at: string): string[] {
  if (list === undefined) {
    return []
  }
  if (!Array.isArray(list)) {
    throw unresolvable(parsed.context, at, 'a Layers value that is not a list', 'pass --layer <dir> for each layer instead')
  }
  return list.map((item, index) => {
    const itemAt = `${at}[${index}]`
    const ref = asObject(item).Ref
    const resource = typeof ref === 'string' ? parsed.resources[ref] : undefined
    if (typeof ref === 'string' && resource !== undefined && LAYER_TYPES.includes(String(resource.Type))) {
      return layerFolder(parsed, ref, resource)
    }
    const value = resolveValue(parsed.context, item, itemAt, 'pass --layer <dir> for each layer instead')
    // A published layer's ARN (of this account or another) names no folder here.
    throw unresolvable(parsed.context, itemAt, `the published layer ${JSON.stringify(value)}`, 'pass --layer <dir> (its unpacked content, or its .zip) for each layer instead')
  })
}

function scalar(parsed: Parsed, properties: Record<string, Json>, at: string, name: string, instead: string): string | number | undefined {
  const value = resolveValue(parsed.context, properties[name], `${at}.${name}`, instead)
  if (value === undefined || value === NO_VALUE) {
    return undefined
  }
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw unresolvable(parsed.context, `${at}.${name}`, `${JSON.stringify(value)} (not a single value)`, instead)
  }
  return typeof value === 'boolean' ? String(value) : value
}

function numeric(parsed: Parsed, value: string | number | undefined, at: string): number | undefined {
  if (value === undefined) {
    return undefined
  }
  const n = Number(value)
  if (!Number.isFinite(n)) {
    throw new HarnessError('ERR_BAD_INPUT', `${parsed.context.file}: ${at}: expected a number, got ${JSON.stringify(value)}`)
  }
  return n
}

const HOST_ARCHITECTURE: Record<string, string> = { x64: 'x86_64', arm64: 'arm64' }

/** A function resource with SAM's Globals applied, and where its properties are in the template. */
interface FunctionResource {
  readonly parsed: Parsed
  readonly logicalId: string
  readonly resource: Resource
  readonly properties: Record<string, Json>
  readonly at: string
}

/** Reads a property unless its flag was given (then the template's value is not read at all), noting the ones used. */
type PropertyReader = <T>(name: string, flag: unknown, get: () => T | undefined) => T | undefined

function propertyReader(used: string[]): PropertyReader {
  return (name, flag, get) => {
    if (flag !== undefined) {
      return undefined
    }
    const value = get()
    if (value !== undefined) {
      used.push(name)
    }
    return value
  }
}

/**
 * The boot options of a function in the template, with `flags` (what the command line set) winning.
 * `flags.layers` replaces the template's Layers; `flags.env` wins key by key.
 */
export function bootFromTemplate(request: TemplateRequest & { readonly functionId?: string }, flags: Partial<BootOptions>): BootOptions & { template: TemplateSource } {
  const parsed = parseRequest(request)
  const [logicalId, resource] = pickResource(parsed, FUNCTION_TYPES, request.functionId, 'function', '--function')
  const globals = resource.Type === 'AWS::Serverless::Function' ? asObject(asObject(parsed.context.template.Globals).Function) : {}
  const fn: FunctionResource = { parsed, logicalId, resource, properties: withGlobals(globals, asObject(resource.Properties)), at: `Resources.${logicalId}.Properties` }
  if (fn.properties.PackageType === 'Image') {
    throw new HarnessError('ERR_BAD_INPUT', `${request.file}: ${fn.at}.PackageType: a container image function is not supported (zip functions only)`)
  }
  const used: string[] = []
  const read = propertyReader(used)
  const fromTemplate = readFunctionProperties(fn, flags, read)
  const env = readEnvironment(fn, flags, read)
  const warnings = architectureWarnings(fn, used)
  return {
    ...flags,
    functionDir: flags.functionDir ?? fromTemplate.functionDir ?? '',
    handler: flags.handler ?? (fromTemplate.handler === undefined ? '' : String(fromTemplate.handler)),
    ...(fromTemplate.runtime === undefined ? {} : { runtime: String(fromTemplate.runtime) }),
    ...(fromTemplate.functionName === undefined ? {} : { functionName: String(fromTemplate.functionName) }),
    ...(fromTemplate.timeoutSec === undefined ? {} : { timeoutSec: fromTemplate.timeoutSec }),
    ...(fromTemplate.memoryMB === undefined ? {} : { memoryMB: fromTemplate.memoryMB }),
    layers: fromTemplate.layerDirs ?? flags.layers ?? [],
    env: { ...env, ...flags.env },
    template: { file: request.file, logicalId, fromTemplate: used, warnings },
  }
}

/** Code, Handler, Runtime, FunctionName, Timeout, MemorySize and Layers, each unless its flag was given. */
function readFunctionProperties(fn: FunctionResource, flags: Partial<BootOptions>, read: PropertyReader) {
  const { parsed, logicalId, resource, properties, at } = fn
  const codeProperty = resource.Type === 'AWS::Serverless::Function' ? 'CodeUri' : 'Code'
  const functionDir = read(codeProperty, flags.functionDir, () => localPath(parsed, { ...resource, Properties: properties }, logicalId, codeProperty, 'pass <function-dir> instead'))
  const handler = read('Handler', flags.handler, () => scalar(parsed, properties, at, 'Handler', 'pass --handler instead'))
  const runtime = read('Runtime', flags.runtime, () => scalar(parsed, properties, at, 'Runtime', 'pass --runtime instead'))
  if (runtime === undefined && flags.runtime === undefined) {
    throw new HarnessError('ERR_BAD_INPUT', `${parsed.context.file}: ${at}.Runtime: missing (neither the function nor Globals.Function sets it); pass --runtime`)
  }
  const functionName = read('FunctionName', flags.functionName, () => scalar(parsed, properties, at, 'FunctionName', 'pass --function-name instead'))
  const timeoutSec = read('Timeout', flags.timeoutSec, () => numeric(parsed, scalar(parsed, properties, at, 'Timeout', 'pass --timeout instead'), `${at}.Timeout`))
  const memoryMB = read('MemorySize', flags.memoryMB, () => numeric(parsed, scalar(parsed, properties, at, 'MemorySize', 'pass --memory instead'), `${at}.MemorySize`))
  const layerDirs = flags.layers !== undefined && flags.layers.length > 0 ? undefined : read('Layers', undefined, () => (properties.Layers === undefined ? undefined : layers(parsed, properties.Layers, `${at}.Layers`)))
  return { functionDir, handler, runtime, functionName, timeoutSec, memoryMB, layerDirs }
}

/** Environment.Variables, and LoggingConfig as the two variables Lambda's advanced logging controls set. */
function readEnvironment(fn: FunctionResource, flags: Partial<BootOptions>, read: PropertyReader): Record<string, string> {
  const { parsed, properties, at } = fn
  const env: Record<string, string> = {}
  const variables = asObject(asObject(properties.Environment).Variables)
  for (const key of Object.keys(variables)) {
    const value = read(`Environment.Variables.${key}`, flags.env?.[key], () => scalar(parsed, variables, `${at}.Environment.Variables`, key, `pass --env ${key}=<value> instead`))
    if (value !== undefined) {
      env[key] = String(value)
    }
  }
  const logging = asObject(properties.LoggingConfig)
  const format = read('LoggingConfig.LogFormat', flags.env?.AWS_LAMBDA_LOG_FORMAT, () => scalar(parsed, logging, `${at}.LoggingConfig`, 'LogFormat', 'pass --env AWS_LAMBDA_LOG_FORMAT=<JSON|Text> instead'))
  if (format !== undefined) {
    env.AWS_LAMBDA_LOG_FORMAT = String(format)
  }
  const level = format === 'JSON' ? read('LoggingConfig.ApplicationLogLevel', flags.env?.AWS_LAMBDA_LOG_LEVEL, () => scalar(parsed, logging, `${at}.LoggingConfig`, 'ApplicationLogLevel', 'pass --env AWS_LAMBDA_LOG_LEVEL=<level> instead')) : undefined
  if (level !== undefined) {
    env.AWS_LAMBDA_LOG_LEVEL = String(level)
  }
  return env
}

/** Architectures is used (and noted) as a warning when it is not this machine's. */
function architectureWarnings(fn: FunctionResource, used: string[]): string[] {
  const architectures = resolveValue(fn.parsed.context, fn.properties.Architectures, `${fn.at}.Architectures`, 'remove it')
  if (!Array.isArray(architectures) || architectures.length === 0) {
    return []
  }
  used.push('Architectures')
  const host = HOST_ARCHITECTURE[process.arch] ?? process.arch
  return architectures[0] === host ? [] : [`${fn.parsed.context.file}: ${fn.logicalId} is built for ${String(architectures[0])}; this machine runs ${host}, so the function runs on ${host} here`]
}

/** The content folder of a layer declared in the template (`check --template t.yaml --layer Id`). */
export function layerFromTemplate(request: TemplateRequest, layerId: string): string {
  const parsed = parseRequest(request)
  const [logicalId, resource] = pickResource(parsed, LAYER_TYPES, layerId, 'layer', '--layer')
  return layerFolder(parsed, logicalId, resource)
}
