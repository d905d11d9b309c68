// A sandbox's boot as named steps, each undone when a later one fails (testcontainers' start
// path): resolve layers → validate → open the record → start isolation and probes (side by side:
// neither needs the other, Init needs both) → listen API → relay ports → start generation.
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import { ApiServer } from '../api/server.js'
import { validateOptions, type BootOptions, type ParsedOptions } from '../config/options.js'
import { lifecycleWarnings } from '../config/profiles.js'
import { preflight } from '../config/preflight.js'
import { HarnessError } from '../errors.js'
import { startIsolation, type IsolationInput, type StartedIsolation } from '../isolation/isolation.js'
import { prepareLayers, type PreparedLayers } from '../layers/layers.js'
import type { PostgresProbe } from '../probes/postgres.js'
import { PYTHON_BOOTSTRAP } from '../paths.js'
import { Recorder } from '../record/recorder.js'
import type { TimelineEntry } from '../record/run-record.js'
import { SandboxContext } from './context.js'
import { folderWarning, listExtensions } from './extension-files.js'
import type { ExtensionFile } from './generation.js'
import { startGeneration } from './generations.js'
import { openImage, type OpenedImage } from './image.js'
import { interpreterPaths, interpreterWarnings } from './interpreter.js'
import { platformAdapter } from './platform-adapter.js'
import { pythonInfo, requireAwslambdaric, type PythonInfo } from './python-info.js'
import { SandboxResources } from './resources.js'
import { runtimeCommandOf } from './runtime-spec.js'
import { HARNESS_VERSION } from './version.js'

export interface SandboxHooks {
  /** Where warnings go as they happen (the CLI prints them on stderr). Default: nowhere. */
  readonly warn?: (message: string) => void
  /**
   * Called with host:port as soon as the API server listens, before Init (e.g. to act as a
   * process), and how to open a connection to it as the processes do (a bwrap sandbox's API is
   * in its own network, out of the host's reach).
   */
  readonly onApiListening?: (runtimeApi: string, connect: () => Promise<Socket>) => void
  /**
   * Called with each timeline entry as it is recorded (an API call, an event, a signal, an exit, an
   * output line), synchronously: to follow a run live or to act at an exact point of it. It must
   * not throw; what it throws is reported through `warn` and otherwise ignored.
   */
  readonly onTimeline?: (entry: TimelineEntry) => void
  /** A started PostgreSQL probe to lease from (with `postgres: true`) instead of one of the sandbox's own; the caller stops it. */
  readonly postgres?: PostgresProbe
}

interface BootStep {
  readonly name: string
  run(): Promise<unknown> | unknown
  undo?(): Promise<unknown> | unknown
}

/** Runs the steps in order (an array: side by side); on a failure, undoes the steps that ran, in reverse, and throws its error. */
export async function runSteps(steps: readonly (BootStep | readonly BootStep[])[]): Promise<void> {
  const done: BootStep[] = []
  for (const step of steps) {
    const group = Array.isArray(step) ? (step as readonly BootStep[]) : [step as BootStep]
    const results = await Promise.allSettled(group.map(async (part) => part.run()))
    done.push(...group.filter((_part, index) => results[index]!.status === 'fulfilled'))
    const failed = results.find((result) => result.status === 'rejected')
    if (failed !== undefined) {
      for (const part of done.reverse()) {
        await Promise.resolve()
          .then(() => part.undo?.())
          .catch(() => undefined)
      }
      throw failed.reason
    }
  }
}

/** What validation found: the options, the extension files, the interpreter and the image. */
interface Validated {
  readonly parsed: ParsedOptions
  readonly extensionFiles: ExtensionFile[]
  readonly python: PythonInfo | undefined
  readonly image: OpenedImage | undefined
  readonly skipped: string[]
}

/** Boots a sandbox's parts and runs its Init; a failed Init is recorded, not thrown. */
export async function bootContext(options: BootOptions, hooks: SandboxHooks): Promise<SandboxContext> {
  let layers!: PreparedLayers
  let validated!: Validated
  let sandbox!: SandboxContext
  let started!: StartedIsolation
  await runSteps([
    {
      // Zips are unpacked first (to private temp folders) so validation only ever sees folders.
      name: 'resolve layers',
      run: async () => (layers = await prepareLayers(Array.isArray(options.layers) ? options.layers : [], { option: 'layers' })),
      undo: () => layers.cleanup(),
    },
    { name: 'validate', run: async () => (validated = await validate(options, layers)) },
    { name: 'open the record', run: () => (sandbox = openRecord(validated, layers, hooks)) },
    [
      {
        name: 'start isolation',
        run: async () => {
          sandbox.isolationInput = isolationInput(validated)
          started = await startIsolation(sandbox.isolationInput)
          sandbox.isolation = started.isolation
        },
        undo: () => sandbox.isolation?.dispose(),
      },
      { name: 'start probes', run: () => openResources(sandbox, hooks), undo: () => sandbox.resources?.close() },
    ],
    {
      // Inside a sandbox's own network the API is at 127.0.0.1:9001 there, as on Lambda; the
      // current network's: a holder that died is replaced with its network (renewIsolation).
      name: 'listen API',
      run: async () => (sandbox.server = await ApiServer.start(platformAdapter(sandbox), sandbox.isolation?.network === undefined ? undefined : () => sandbox.listenInside())),
      undo: () => sandbox.server.close(),
    },
    { name: 'relay ports', run: () => announce(sandbox, started, hooks) },
    {
      name: 'start generation',
      run: async () => {
        const init = await startGeneration(sandbox, 'init', sandbox.options.initTimeoutMs)
        sandbox.recorder.record.init = init
        sandbox.coldInitMs = init.status === 'success' ? init.durationMs : undefined
      },
      undo: () => {
        sandbox.controller.abort(new HarnessError('ERR_DISPOSED', 'the sandbox failed to boot'))
        return Promise.all([sandbox.current?.destroy(), sandbox.telemetry.close()])
      },
    },
  ])
  return sandbox
}

async function validate(options: BootOptions, layers: PreparedLayers): Promise<Validated> {
  const skipped: string[] = []
  const parsed = validateOptions({ ...options, ...(options.layers === undefined ? {} : { layers: layers.layers.map((layer) => layer.root) }) })
  const extensionFiles = listExtensions(parsed, (folder) => skipped.push(folder))
  const image = parsed.image === undefined ? undefined : await openImage({ ...parsed, image: parsed.image })
  // An OS-only runtime runs the function's bootstrap: no interpreter of ours is involved.
  const python = image !== undefined ? image.python : parsed.runtimeCommand === undefined && parsed.profile.family === 'python' ? await pythonInfo(parsed.python) : undefined
  if (parsed.runtimeClient === 'awslambdaric' && python !== undefined) {
    requireAwslambdaric(python)
  }
  if (parsed.preflight) {
    preflight(parsed, extensionFiles, python?.sysPath, image?.image.root)
  }
  return { parsed, extensionFiles, python, image, skipped }
}

function openRecord({ parsed, python, extensionFiles, skipped }: Validated, layers: PreparedLayers, hooks: SandboxHooks): SandboxContext {
  const warnings = [...parsed.warnings, ...lifecycleWarnings(parsed.profile, new Date()), ...interpreterWarnings(parsed, python), ...skipped.map(folderWarning)]
  for (const warning of warnings) {
    hooks.warn?.(warning)
  }
  const { onTimeline } = hooks
  const recorder = new Recorder({
    version: HARNESS_VERSION,
    warnings,
    mode: parsed.record,
    ...(onTimeline === undefined ? {} : { onEntry: (entry: TimelineEntry) => callHook(onTimeline, entry, hooks.warn) }),
    runtime: {
      profile: parsed.profile.id,
      executionEnv: parsed.profile.executionEnv,
      os: parsed.profile.os,
      command: runtimeCommandOf(parsed, PYTHON_BOOTSTRAP),
      python: python === undefined ? null : { command: python.command, version: python.version, boto3: python.boto3, botocore: python.botocore },
      // A Python client (ours, awslambdaric or an image's) runs a SIGTERM handler in /next only where the profile lets it.
      sigtermHandlerRunsInNext: parsed.runtimeCommand !== undefined || parsed.profile.family !== 'python' || parsed.profile.sigtermReachesPython,
    },
    function: {
      dir: parsed.functionDir,
      handler: parsed.handler,
      name: parsed.functionName,
      timeoutMs: parsed.timeoutMs,
      memoryMB: parsed.memoryMB,
      ...(parsed.template === undefined
        ? {}
        : { template: { file: parsed.template.file, logicalId: parsed.template.logicalId, fromTemplate: [...parsed.template.fromTemplate] } }),
    },
  })
  const sandbox = new SandboxContext(parsed, python, extensionFiles, recorder)
  sandbox.layers = layers
  return sandbox
}

function isolationInput({ parsed, python, image }: Validated): IsolationInput {
  return {
    mode: parsed.isolation,
    functionDir: parsed.functionDir,
    layers: parsed.layers,
    ephemeralStorageMB: parsed.ephemeralStorageMB,
    ...(image === undefined ? {} : { imageRoot: image.image.root, imageRuntime: parsed.runtimeClient === 'image' }),
    hostFiles:
      parsed.runtimeCommand !== undefined
        ? [{ option: 'runtimeCommand', path: parsed.runtimeCommand[0] ?? '' }]
        : python === undefined
          ? []
          : [{ option: 'python', path: python.executable || parsed.python }],
    identity: parsed.sandboxUser,
    exposed: [...parsed.expose, ...(image === undefined ? interpreterPaths(python) : [])],
  }
}

async function openResources(sandbox: SandboxContext, hooks: SandboxHooks): Promise<void> {
  const { options } = sandbox
  sandbox.resources = await SandboxResources.open(
    { postgres: options.postgres && (hooks.postgres ?? true), postgresBinDir: options.postgresBinDir, sink: options.sink },
    `${options.functionName}_${randomBytes(3).toString('hex')}`,
  )
}

/** The probes relayed in, the isolation's warning and description recorded, and the API's address to the hook. */
async function announce(sandbox: SandboxContext, { isolation, warning }: StartedIsolation, hooks: SandboxHooks): Promise<void> {
  await sandbox.relayPorts()
  if (warning !== undefined) {
    hooks.warn?.(warning)
    sandbox.recorder.record.warnings.push(warning)
  }
  sandbox.recorder.add('phase', isolation.description)
  const { address } = sandbox.server
  hooks.onApiListening?.(address, () => sandbox.connectInside(Number(address.split(':')[1])))
}

/** A user's hook runs inside the harness's own steps: what it throws must not break them. */
function callHook(hook: (entry: TimelineEntry) => void, entry: TimelineEntry, warn: ((message: string) => void) | undefined): void {
  try {
    hook(entry)
  } catch (error) {
    warn?.(`the onTimeline hook threw: ${String(error)}`)
  }
}
