// What one sandbox's parts share once booted: its options, record, API server, isolation, probes
// and current generation. Internal: callers see the Sandbox, the routers the platform adapter.
import type { Socket } from 'node:net'
import type { ApiServer } from '../api/server.js'
import type { ParsedOptions } from '../config/options.js'
import { SANDBOX_API_PORT } from '../config/environment.js'
import { HarnessError } from '../errors.js'
import { startIsolation, type Isolation, type IsolationInput } from '../isolation/isolation.js'
import type { PreparedLayers } from '../layers/layers.js'
import { OwnConnections } from '../probes/own-connections.js'
import type { Recorder } from '../record/recorder.js'
import { TelemetryHub } from '../telemetry/hub.js'
import { connectLoopback } from '../telemetry/transport.js'
import { RuntimeCallers } from './callers.js'
import { PlatformFaults } from './faults.js'
import type { ExtensionFile, Fatal, Generation } from './generation.js'
import type { PythonInfo } from './python-info.js'
import type { SandboxResources } from './resources.js'

export class SandboxContext {
  readonly options: ParsedOptions
  readonly recorder: Recorder
  readonly controller = new AbortController()
  readonly extensionFiles: readonly ExtensionFile[]
  readonly python: PythonInfo | undefined
  readonly telemetry: TelemetryHub
  readonly functionArn: string
  readonly faults: PlatformFaults
  /** Our API's connections, so the evidence read before a SIGKILL can skip them (probes/processes.ts). */
  readonly ownConnections = new OwnConnections(() => this.tcpTable(), (client, server) => this.isolation?.network?.inodeOf(client, server))
  readonly runtimeCallers = new RuntimeCallers(() => this.tcpTable(), (socket) => this.ownConnections.inodeOf(socket))
  /**
   * Every AWS_LAMBDA_RUNTIME_API this sandbox handed out (each generation listens afresh), and from
   * when, in clock ticks since the host booted: which generation a leftover daemon belongs to.
   */
  readonly apiAddresses: { readonly address: string; readonly sinceTicks: number }[] = []
  server!: ApiServer
  resources: SandboxResources | undefined
  current!: Generation
  live = false
  /** Init duration to report on the first invoke after a cold (not suppressed) Init. */
  coldInitMs: number | undefined
  generations = 0
  /** bwrap namespaces or plain processes. */
  isolation: Isolation | undefined
  /** What the isolation was started from: a sandbox whose holder died is rebuilt from it. */
  isolationInput: IsolationInput | undefined
  layers: PreparedLayers | undefined

  constructor(options: ParsedOptions, python: PythonInfo | undefined, extensionFiles: readonly ExtensionFile[], recorder: Recorder) {
    this.options = options
    this.python = python
    this.extensionFiles = extensionFiles
    this.recorder = recorder
    this.faults = new PlatformFaults(recorder)
    this.functionArn = `arn:aws:lambda:${options.region}:${options.accountId}:function:${options.functionName}`
    this.telemetry = new TelemetryHub({
      recorder,
      options: options.telemetry,
      // Lambda's own names: python:3.12.v38, provided:al2023.v25.
      runtimeName: options.profile.pythonVersion === null ? options.profile.id.replace('.', ':') : `python:${options.profile.pythonVersion}`,
      region: options.region,
      freezes: options.freeze,
      connect: (port, signal) => this.connectInside(port, signal),
    })
  }

  get sandboxed(): Isolation {
    if (this.isolation === undefined) {
      throw new HarnessError('ERR_INTERNAL', 'the sandbox has no isolation yet')
    }
    return this.isolation
  }

  /** A connection to 127.0.0.1:`port` as the processes reach it: in the sandbox's own network, else the host's loopback. */
  connectInside(port: number, signal: AbortSignal = this.controller.signal): Promise<Socket> {
    const network = this.isolation?.network
    return network === undefined ? connectLoopback(port, signal) : network.connect(port, signal)
  }

  /** The socket table of the network the API's connections are in: the sandbox's own, or the host's. */
  tcpTable(): string {
    return this.isolation?.network?.tcpTable ?? '/proc/self/net/tcp'
  }

  platformFault(): Fatal | undefined {
    return this.faults.platformFault(this.isolation)
  }

  /** The probes' servers and the ports the user named, on the host, at the same 127.0.0.1 addresses inside. */
  async relayPorts(): Promise<void> {
    const network = this.isolation?.network
    const relayed = [...new Set([...(this.resources?.hostPorts ?? []), ...this.options.hostPorts])]
    if (network !== undefined) {
      await Promise.all(relayed.map((port) => network.relay(port)))
    }
  }

  /** A listening socket at 127.0.0.1:9001 in the current sandbox's own network. */
  listenInside(): ReturnType<NonNullable<Isolation['network']>['listen']> {
    const network = this.isolation?.network
    if (network === undefined) {
      throw new HarnessError('ERR_SERVER', 'the sandbox has no network of its own to serve the API in')
    }
    return network.listen(SANDBOX_API_PORT)
  }

  /** The sandbox's holder died: the next Init runs in a new sandbox (its /tmp starts empty). */
  async renewIsolation(): Promise<void> {
    const old = this.sandboxed
    // In the verdict even when no process was left to notice (it died between generations).
    this.platformFault()
    await old.dispose()
    const { isolation, warning } = await startIsolation(this.isolationInput!)
    this.isolation = isolation
    if (warning !== undefined) {
      this.recorder.record.warnings.push(warning)
    }
    await this.relayPorts()
    this.recorder.add('phase', `a new sandbox replaces the one whose holder died. ${isolation.description}`)
  }
}
