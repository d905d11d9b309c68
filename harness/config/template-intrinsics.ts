// CloudFormation templates as data: the YAML/JSON text parsed with the short-form tags (!Ref,
// !Sub, …) turned into their long forms, and the intrinsic functions that can be resolved on this
// machine (parameters, pseudo parameters, mappings) resolved. The rest (!If, !GetAtt, imports)
// needs a deployed stack: an error that names the property and what to pass instead.
import { parse } from 'yaml'
import { HarnessError } from '../errors.js'
import { isObject } from './validate.js'

// CloudFormation's short forms (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html).
const FUNCTIONS = ['Ref', 'Condition', 'Sub', 'GetAtt', 'If', 'Join', 'Select', 'FindInMap', 'Equals', 'Not', 'And', 'Or', 'Base64', 'Split', 'GetAZs', 'ImportValue', 'Cidr', 'Length', 'ToJsonString']

function longForm(name: string): string {
  return name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`
}

const CUSTOM_TAGS = FUNCTIONS.flatMap((name) => [
  // `!GetAtt Res.Attr` is the one scalar short form whose long form is a list.
  { tag: `!${name}`, resolve: (text: string) => ({ [longForm(name)]: name === 'GetAtt' ? text.split('.') : text }) },
  { tag: `!${name}`, collection: 'seq' as const, resolve: (seq: { toJSON(): unknown }) => ({ [longForm(name)]: seq.toJSON() }) },
  { tag: `!${name}`, collection: 'map' as const, resolve: (map: { toJSON(): unknown }) => ({ [longForm(name)]: map.toJSON() }) },
])

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json }

/** A template's text (YAML or JSON, which is YAML) as its long-form document. */
export function parseTemplate(text: string, file: string): Record<string, Json> {
  let document: unknown
  try {
    // Custom tags resolve to plain objects; the package's types expect nodes.
    document = parse(text, { customTags: CUSTOM_TAGS as never, maxAliasCount: 100 })
  } catch (error) {
    throw new HarnessError('ERR_BAD_INPUT', `option --template: ${file} is not YAML or JSON (${(error as Error).message.split('\n')[0]})`, { cause: error })
  }
  if (!isObject(document)) {
    throw new HarnessError('ERR_BAD_INPUT', `option --template: ${file} is not a template (expected a mapping with Resources)`)
  }
  if (!isObject(document.Resources)) {
    throw new HarnessError('ERR_BAD_INPUT', `option --template: ${file} has no Resources section`)
  }
  return document as Record<string, Json>
}

export interface ResolveContext {
  readonly file: string
  readonly template: Record<string, Json>
  /** --parameter-overrides, winning over each parameter's Default. */
  readonly parameters: Readonly<Record<string, string>>
  readonly region: string
  readonly accountId: string
}

/** Marks a property resolved to AWS::NoValue: it is left out, as CloudFormation does. */
export const NO_VALUE = Symbol('AWS::NoValue')
export type Resolved = string | number | boolean | null | Resolved[] | { [key: string]: Resolved } | typeof NO_VALUE

/** The error for a value that needs a deployed stack, naming its property path and the way out. */
export function unresolvable(context: ResolveContext, at: string, what: string, instead: string): HarnessError {
  return new HarnessError('ERR_BAD_INPUT', `${context.file}: ${at}: ${what} cannot be resolved locally; ${instead}`)
}

function parameter(context: ResolveContext, name: string, at: string, instead: string): string {
  if (name === 'AWS::Region') {
    return context.region
  }
  if (name === 'AWS::AccountId') {
    return context.accountId
  }
  if (name === 'AWS::Partition') {
    return 'aws'
  }
  if (name === 'AWS::URLSuffix') {
    return 'amazonaws.com'
  }
  const override = context.parameters[name]
  if (override !== undefined) {
    return override
  }
  const declared = isObject(context.template.Parameters) ? context.template.Parameters[name] : undefined
  if (isObject(declared)) {
    const fallback = declared.Default
    if (fallback === undefined || fallback === null) {
      throw unresolvable(context, at, `parameter ${name} has no Default and`, `pass --parameter-overrides ${name}=<value>`)
    }
    return Array.isArray(fallback) ? fallback.join(',') : String(fallback)
  }
  if (name.startsWith('AWS::')) {
    throw unresolvable(context, at, `the pseudo parameter ${name}`, instead)
  }
  throw unresolvable(context, at, `!Ref ${name} (a resource, not a parameter)`, instead)
}

/** `${Name}` / `${!Literal}` substitution of Fn::Sub. */
function substitute(context: ResolveContext, text: string, vars: Record<string, Resolved>, at: string, instead: string): string {
  return text.replace(/\$\{([^}]*)\}/g, (_whole, inner: string) => {
    if (inner.startsWith('!')) {
      return `\${${inner.slice(1)}}`
    }
    const name = inner.trim()
    const local = vars[name]
    if (local !== undefined) {
      if (typeof local === 'object' && local !== null) {
        throw unresolvable(context, at, `\${${name}} (not a string)`, instead)
      }
      return String(local)
    }
    if (name.includes('.') && !name.startsWith('AWS::')) {
      throw unresolvable(context, at, `!Sub's \${${name}} (an attribute of a deployed resource)`, instead)
    }
    return parameter(context, name, at, instead)
  })
}

/**
 * The value at `at` with every intrinsic function resolved. `instead` says what the user can pass
 * for this property when a function cannot be resolved (e.g. `pass --env KEY=VALUE`).
 */
export function resolveValue(context: ResolveContext, value: Json | undefined, at: string, instead: string): Resolved | undefined {
  if (value === undefined) {
    return undefined
  }
  if (Array.isArray(value)) {
    return value.map((item, index) => resolveValue(context, item, `${at}[${index}]`, instead) ?? null).filter((item) => item !== NO_VALUE)
  }
  if (!isObject(value)) {
    return value
  }
  const keys = Object.keys(value)
  const key = keys[0]
  if (keys.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) {
    return resolveFunction(context, key, value[key]!, at, instead)
  }
  const out: { [key: string]: Resolved } = {}
  for (const [name, item] of Object.entries(value)) {
    const resolved = resolveValue(context, item, `${at}.${name}`, instead)
    if (resolved !== undefined && resolved !== NO_VALUE) {
      out[name] = resolved
    }
  }
  return out
}

function shortName(key: string): string {
  return `!${key.replace(/^Fn::/, '')}`
}

function resolveFunction(context: ResolveContext, key: string, args: Json, at: string, instead: string): Resolved {
  const arg = (item: Json | undefined) => resolveValue(context, item, at, instead)
  switch (key) {
    case 'Ref':
      if (args === 'AWS::NoValue') {
        return NO_VALUE
      }
      return parameter(context, String(args), at, instead)
    case 'Fn::Sub': {
      const [text, vars] = Array.isArray(args) ? args : [args, {}]
      const resolvedVars = arg(vars ?? {})
      if (typeof text !== 'string' || !isObject(resolvedVars as Json)) {
        throw unresolvable(context, at, '!Sub with an unexpected shape', instead)
      }
      return substitute(context, text, resolvedVars as Record<string, Resolved>, at, instead)
    }
    case 'Fn::Join': {
      const [delimiter, list] = Array.isArray(args) ? args : []
      const items = arg(list)
      if (typeof delimiter !== 'string' || !Array.isArray(items)) {
        throw unresolvable(context, at, '!Join with an unexpected shape', instead)
      }
      return items.map(String).join(delimiter)
    }
    case 'Fn::Select': {
      const [index, list] = Array.isArray(args) ? args : []
      const items = arg(list)
      const n = Number(arg(index))
      if (!Array.isArray(items) || !Number.isInteger(n) || items[n] === undefined) {
        throw unresolvable(context, at, '!Select with an unexpected shape or index', instead)
      }
      return items[n]!
    }
    case 'Fn::FindInMap': {
      const [map, first, second] = (Array.isArray(args) ? args : []).map((item) => arg(item))
      const mappings = context.template.Mappings
      const found = isObject(mappings) && isObject(mappings[String(map)]) ? (mappings[String(map)] as Record<string, Json>)[String(first)] : undefined
      const leaf = isObject(found) ? found[String(second)] : undefined
      if (leaf === undefined) {
        throw unresolvable(context, at, `!FindInMap [${String(map)}, ${String(first)}, ${String(second)}] (no such entry in Mappings)`, instead)
      }
      return arg(leaf) ?? null
    }
    default:
      throw unresolvable(context, at, shortName(key), instead)
  }
}
