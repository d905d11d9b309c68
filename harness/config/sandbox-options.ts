// Options of the sandbox itself (`BootOptions.isolation`, `image`, `runtimeClient`, `expose`,
// `sandboxUser`, `hostPorts`, `ephemeralStorageMB`): what the processes see and who they are.
import { realpathSync, statSync } from 'node:fs'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { SANDBOX_API_PORT } from './environment.js'
import type { BootOptions } from './options.js'
import { invalid, megabytesIn } from './validate.js'

/** 'auto': a bwrap sandbox when Linux and bwrap allow it, else plain processes with a warning. */
export type IsolationMode = 'auto' | 'bwrap' | 'none'
export const ISOLATION_MODES: readonly IsolationMode[] = ['auto', 'bwrap', 'none']
/**
 * Which runtime client starts the function: ours (bootstrap.py), AWS's awslambdaric package run by
 * the interpreter, or an image's own /var/runtime/bootstrap.
 */
export type RuntimeClient = 'builtin' | 'awslambdaric' | 'image'
export const RUNTIME_CLIENTS: readonly RuntimeClient[] = ['builtin', 'awslambdaric', 'image']

/** Lambda's user and limits inside the sandbox (quotas page: 1,024 file descriptors, 1,024 processes/threads). */
export interface SandboxUser {
  readonly uid: number
  readonly gid: number
  readonly hostname: string
  readonly nofile: number
  readonly nproc: number
}

const LAMBDA_UID = 993
const LAMBDA_GID = 990
const LAMBDA_NOFILE = 1024
const LAMBDA_NPROC = 1024

interface ParsedSandboxOptions {
  readonly isolation: IsolationMode
  readonly ephemeralStorageMB: number
  readonly image: string | undefined
  readonly runtimeClient: RuntimeClient
}

/** `isolation`, `ephemeralStorageMB`, `image` and `runtimeClient`, in that order. */
export function validateSandboxOptions(options: BootOptions): ParsedSandboxOptions {
  const isolation = options.isolation ?? 'auto'
  if (!ISOLATION_MODES.includes(isolation)) {
    throw invalid('isolation', ISOLATION_MODES.join(' | '), isolation)
  }
  const ephemeralStorageMB = megabytesIn('ephemeralStorageMB', options.ephemeralStorageMB, 512, 10240)
  return { isolation, ephemeralStorageMB, ...validateImageOptions(options, isolation) }
}

/** `image` and `runtimeClient`: an image needs the sandbox (plain processes would run on the host's root). */
function validateImageOptions(options: BootOptions, isolation: IsolationMode): { image: string | undefined; runtimeClient: RuntimeClient } {
  const runtimeClient = options.runtimeClient ?? 'builtin'
  if (!RUNTIME_CLIENTS.includes(runtimeClient)) {
    throw invalid('runtimeClient', RUNTIME_CLIENTS.join(' | '), runtimeClient)
  }
  if (options.image === undefined) {
    if (runtimeClient === 'image') {
      throw invalid('runtimeClient', `"builtin" without an image (runtimeClient "image" runs the image's own /var/runtime/bootstrap)`, runtimeClient)
    }
    return { image: undefined, runtimeClient }
  }
  if (typeof options.image !== 'string' || options.image === '') {
    throw invalid('image', 'a root file system folder or an image tar', options.image)
  }
  const image = path.resolve(options.image)
  if (statSync(image, { throwIfNoEntry: false }) === undefined) {
    throw new HarnessError('ERR_FILE_NOT_FOUND', `option image: ${JSON.stringify(options.image)} does not exist`)
  }
  if (isolation === 'none') {
    throw new HarnessError('ERR_INVALID_OPTION', 'option image: expected the bwrap sandbox (the image is its root file system), got isolation "none" (--no-isolation)')
  }
  if (runtimeClient === 'image' && options.runtimeCommand !== undefined) {
    throw invalid('runtimeCommand', 'nothing with runtimeClient "image" (the image\'s /var/runtime/bootstrap is the runtime)', options.runtimeCommand)
  }
  return { image, runtimeClient }
}

/** Ports of the host's loopback relayed in; never the sandbox's own API port. */
export function validateHostPorts(value: unknown): number[] {
  const hostPorts = value ?? []
  if (!Array.isArray(hostPorts) || hostPorts.some((port) => !Number.isInteger(port) || port < 1 || port > 65535 || port === SANDBOX_API_PORT)) {
    throw invalid('hostPorts', `an array of TCP ports (1-65535, not the API's ${SANDBOX_API_PORT})`, hostPorts)
  }
  return [...new Set(hostPorts as number[])]
}

/** Each `expose` path must exist; it is kept absolute and with its links resolved (what bwrap binds). */
export function validateExpose(expose: unknown): string[] {
  if (expose === undefined) {
    return []
  }
  if (!Array.isArray(expose)) {
    throw invalid('expose', 'a list of paths', expose)
  }
  return expose.map((target: unknown, index) => {
    if (typeof target !== 'string' || target === '') {
      throw invalid(`expose[${index}]`, 'a path', target)
    }
    try {
      return realpathSync(path.resolve(target))
    } catch {
      throw new HarnessError('ERR_FILE_NOT_FOUND', `option expose[${index}]: ${JSON.stringify(target)} does not exist`)
    }
  })
}

export function validateSandboxUser(user: unknown): SandboxUser {
  if (user !== undefined && (typeof user !== 'object' || user === null)) {
    throw invalid('sandboxUser', 'an object { uid?, gid?, hostname? }', user)
  }
  const given = (user ?? {}) as { uid?: unknown; gid?: unknown; hostname?: unknown }
  const id = (name: 'uid' | 'gid', fallback: number): number => {
    const value = given[name] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65533) {
      throw invalid(`sandboxUser.${name}`, 'a whole number from 1 to 65533 (not root)', value)
    }
    return value
  }
  const hostname = given.hostname ?? lambdaHostname()
  if (typeof hostname !== 'string' || !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})$/.test(hostname)) {
    throw invalid('sandboxUser.hostname', 'a host name of letters, digits, dots and hyphens (at most 63)', hostname)
  }
  return { uid: id('uid', LAMBDA_UID), gid: id('gid', LAMBDA_GID), hostname, nofile: LAMBDA_NOFILE, nproc: LAMBDA_NPROC }
}

/** A link-local address as the host name, the form Lambda's execution environments report (UNCONFIRMED). */
function lambdaHostname(): string {
  const byte = () => 1 + Math.floor(Math.random() * 254)
  return `169.254.${byte()}.${byte()}`
}
