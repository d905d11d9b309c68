// A sandbox's generations: each Init starts one (a new set of processes, a new API listener), a
// reset or the final Shutdown ends it; what escaped it is found and SIGKILLed at the final one.
import type { ShutdownReason } from '../config/options.js'
import { extensionEnvironment } from '../config/environment.js'
import { NO_BOOTSTRAP_MESSAGE } from '../config/runtime-files.js'
import { MAX_EXTENSIONS } from '../lifecycle/extensions.js'
import { uptimeTicks } from '../probes/processes.js'
import type { ShutdownRecord } from '../record/run-record.js'
import { isLive } from '../supervisor/process-groups.js'
import type { SandboxContext } from './context.js'
import { daemonOwner, type DaemonOwner } from './daemons.js'
import { Generation, type Fatal } from './generation.js'
import { runtimeEnv, runtimeSpecIn } from './process-env.js'

export async function startGeneration(sandbox: SandboxContext, phase: 'init' | 'invoke', timeoutMs: number) {
  // A new sandbox first, when its holder died: the next listener is made in its network.
  if (sandbox.isolation?.lost !== undefined) {
    await sandbox.renewIsolation()
  }
  if (sandbox.generations > 0) {
    await sandbox.server.renew()
  }
  sandbox.apiAddresses.push({ address: sandbox.server.address, sinceTicks: uptimeTicks() })
  const generation = newGeneration(sandbox)
  sandbox.current = generation
  sandbox.live = true
  if (sandbox.recorder.record.interrupted) {
    generation.interrupt()
  }
  const init = sandbox.extensionFiles.length > MAX_EXTENSIONS ? tooManyExtensions(sandbox, generation) : await generation.init(phase, timeoutMs)
  if (init.status !== 'success') {
    const fatal = generation.fatalError
    await reset(sandbox, fatal?.resetReason ?? 'failure', describeFatal(fatal))
  }
  return init
}

function newGeneration(sandbox: SandboxContext): Generation {
  const { options, sandboxed } = sandbox
  return new Generation({
    index: sandbox.generations++,
    recorder: sandbox.recorder,
    extensionFiles: sandbox.extensionFiles.map((file) => ({ name: file.name, path: sandboxed.extensionPath(file.name, file.path), hostPath: file.path })),
    extensionEnv: extensionEnvironment(runtimeEnv(sandbox)),
    extensionCwd: sandboxed.taskRoot,
    host: sandboxed.host,
    runtimeSpec: () => runtimeSpecIn(sandbox),
    signal: sandbox.controller.signal,
    runtimeShutdownMs: options.runtimeShutdownMs,
    telemetry: sandbox.telemetry,
    flushTelemetryBeforeShutdown: options.telemetry.flushBeforeShutdown,
    memoryMB: options.memoryMB,
    functionName: options.functionName,
    probeFolders: sandboxed.probeFolders,
    apiAddress: sandbox.server.address,
    ownSockets: sandbox.ownConnections.inodes,
    learnOwnSockets: sandbox.ownConnections.learnFrom,
    processEnv: (name) => sandbox.resources?.env(name) ?? {},
    functionTimeoutMs: options.timeoutMs,
    ...(options.profile.family === 'os-only' && options.runtimeCommand === undefined ? { runtimeNotFound: NO_BOOTSTRAP_MESSAGE } : {}),
    platformFault: () => sandbox.platformFault(),
    outOfFds: (cause) => sandbox.faults.harnessOutOfFds(cause),
  })
}

function tooManyExtensions(sandbox: SandboxContext, generation: Generation) {
  generation.raiseFatal({
    errorType: 'Extension.LaunchError',
    message: `TooManyExtensions: ${sandbox.extensionFiles.length} extension files, Lambda allows ${MAX_EXTENSIONS}`,
    process: 'platform',
    resetReason: 'failure',
  })
  return {
    status: 'error' as const,
    phase: 'init' as const,
    errorType: 'Extension.LaunchError',
    durationMs: 0,
    startedAtMs: sandbox.recorder.now(),
    extensions: [],
  }
}

export async function reset(sandbox: SandboxContext, reason: ShutdownReason, cause: string | undefined): Promise<void> {
  const record = await shutdownGeneration(sandbox, reason, false)
  record.cause = cause ?? 'a failure'
  sandbox.recorder.record.resets.push(record)
}

export async function shutdownGeneration(sandbox: SandboxContext, reason: ShutdownReason, final: boolean): Promise<ShutdownRecord> {
  const record = await sandbox.current.shutdown(reason, final)
  sandbox.live = false
  if (final) {
    sandbox.recorder.record.shutdown = record
    // Whatever escaped its process group (a double-forked daemon) dies with the sandbox.
    const reaped = new Set(record.orphans.flatMap((orphan) => orphan.pids))
    const left = (await sandbox.sandboxed.end([...reaped])).filter((pid) => !reaped.has(pid))
    if (left.length > 0) {
      record.orphans.push({ group: 'sandbox', pids: left })
      sandbox.recorder.add('signal', `SIGKILL to ${left.length} process(es) left in the sandbox: ${left.join(', ')}`, 'sandbox')
    }
  }
  return record
}

/**
 * The final Shutdown when a reset ended the last generation: nothing of Lambda's runs, but a
 * daemon a process of it forked out of its group may. It is reported, as its own process's
 * orphan, and SIGKILLed here rather than silently by dispose().
 */
export async function shutdownAfterReset(sandbox: SandboxContext, reason: ShutdownReason): Promise<ShutdownRecord> {
  const { sandboxed, recorder } = sandbox
  // What an earlier Shutdown already SIGKILLed may not be reaped yet (pid 1 reaps it): not news.
  const reapedBefore = new Set(recorder.record.resets.flatMap((reset) => reset.orphans.flatMap((orphan) => orphan.pids)))
  const context = {
    generationTicks: sandbox.apiAddresses.map((address) => address.sinceTicks),
    extensions: sandbox.extensionFiles.map((file) => file.name),
    launchers: sandboxed.holders(),
  }
  let owners: { readonly pid: number; readonly owner: DaemonOwner | undefined }[] = []
  // Their owners are read before the SIGKILL: from the one scan of what is left.
  const killed = await sandboxed.end([], (left) => {
    owners = left.filter((pid) => !reapedBefore.has(pid) && isLive(pid)).map((pid) => ({ pid, owner: daemonOwner(pid, context) }))
  })
  if (owners.length === 0) {
    return emptyShutdown(sandbox, reason)
  }
  const record = emptyShutdown(sandbox, reason, `${owners.length} process(es) forked out of their group were still running after the last reset`)
  for (const { pid, owner } of owners.filter(({ pid }) => killed.includes(pid))) {
    const group = owner?.process ?? 'sandbox'
    const orphan = record.orphans.find((o) => o.group === group) ?? record.orphans[record.orphans.push({ group, pids: [] }) - 1]!
    orphan.pids.push(pid)
    recorder.add('signal', `SIGKILL to pid ${pid}, left running after the last reset (started in generation ${owner?.generation ?? '?'})`, group)
  }
  return record
}

function emptyShutdown(sandbox: SandboxContext, reason: ShutdownReason, running = 'nothing was running after the last reset'): ShutdownRecord {
  const { recorder } = sandbox
  const atMs = recorder.now()
  const record: ShutdownRecord = {
    reason,
    final: true,
    startedAtMs: atMs,
    durationMs: 0,
    windowMs: 0,
    runtimeShareMs: 0,
    deadlineEpochMs: recorder.epochAt(atMs),
    deadlineAtMs: atMs,
    runtime: null,
    extensions: [],
    orphans: [],
  }
  recorder.add('phase', `Shutdown (reason ${reason}): ${running}`)
  recorder.record.shutdown = record
  return record
}

export function describeFatal(fatal: Fatal | undefined): string | undefined {
  if (fatal === undefined) {
    return undefined
  }
  const who = fatal.process === 'runtime' ? 'the runtime' : fatal.process === 'platform' ? 'the platform' : `extension \`${fatal.process}\``
  return `${who}: ${fatal.errorType} (${fatal.message})`
}
