// The test process plays the runtime or an extension over real HTTP (undici), against a live
// sandbox whose own "runtime" and "extension" processes stay idle.
import { connect } from 'node:net'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import type { Test } from 'tap'
import { Agent, request } from 'undici'
import type { BootOptions, Sandbox } from '../../harness/index.js'
import { RUNTIMES, fn, startSandbox } from '../helpers.js'

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly text: string
  readonly json: unknown
}

export class Driver {
  readonly base: string
  readonly #agent: Agent

  constructor(t: Test, address: string) {
    this.base = `http://${address}`
    // A pool per test, destroyed at teardown so pending long polls never outlive it.
    this.#agent = new Agent({ connections: 16, bodyTimeout: 0, headersTimeout: 0 })
    t.teardown(() => this.#agent.destroy().catch(() => undefined))
  }

  async call(method: string, urlPath: string, options: { headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<Reply> {
    const response = await request(`${this.base}${urlPath}`, {
      method: method as 'GET',
      headers: options.headers,
      body: options.body,
      dispatcher: this.#agent,
    })
    const text = await response.body.text()
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.statusCode, headers: response.headers, text, json }
  }

  /** A long poll that may never be answered: its failure at teardown is expected. */
  pending(method: string, urlPath: string, headers: Record<string, string> = {}): Promise<Reply> {
    const reply = this.call(method, urlPath, { headers })
    reply.catch(() => undefined)
    return reply
  }
}

/**
 * Writes `text` (a request's head and as much of its body as the test wants sent) on a fresh
 * connection to `base`, and `rest` once the server has had that first piece (an event, not a
 * sleep); resolves with the answer's status line and the ms from the connection to it.
 */
export function rawRequest(base: string, text: string, rest?: string): Promise<{ head: string; ms: number }> {
  const [host = '127.0.0.1', port] = base.slice('http://'.length).split(':')
  return new Promise((resolve, reject) => {
    let sentAt = 0
    const socket = connect(Number(port), host, () => {
      sentAt = performance.now()
      socket.write(text)
      if (rest !== undefined) {
        setImmediate(() => socket.write(rest))
      }
    })
    socket.once('data', (chunk: Buffer) => {
      resolve({ head: chunk.toString('latin1').split('\r\n')[0] ?? '', ms: performance.now() - sentAt })
      socket.destroy()
    })
    socket.on('error', reject)
  })
}

/**
 * Boots a sandbox whose runtime is an idle process and lets `duringInit` act as the runtime and
 * extensions; resolves once Init is done (the runtime's first /next must be called by the test).
 */
export async function bootDriven(
  t: Test,
  options: Partial<BootOptions>,
  duringInit: (driver: Driver) => Promise<void>,
): Promise<{ sandbox: Sandbox; driver: Driver }> {
  let started: (() => void) | undefined
  let driver!: Driver
  const ready = new Promise<void>((resolve) => (started = resolve))
  const booting = startSandbox(
    t,
    // The test process plays the runtime and extensions from the host: a bwrap sandbox's API is
    // inside its own network, so these run in plain mode (the server is the same in both).
    { functionDir: fn('echo'), runtimeCommand: [path.join(RUNTIMES, 'idle.sh')], isolation: 'none', ...options },
    {
      onApiListening: (address) => {
        driver = new Driver(t, address)
        started?.()
      },
    },
  )
  await ready
  await duringInit(driver)
  const sandbox = await booting
  return { sandbox, driver }
}
