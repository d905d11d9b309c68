// Where a sandbox's processes run: inside bwrap namespaces that look like Lambda's (the default on
// Linux when bwrap works), or as plain host processes, with one warning that names what differs.
// Each has its process host (the holder, or plain mode's launcher); everything else (signals,
// exits, lines) works the same in both modes.
import { readFileSync, realpathSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import path from 'node:path'
import type { IsolationMode, LayerSpec } from '../config/options.js'
import { HarnessError } from '../errors.js'
import { PACKAGE_ROOT, PYTHON_BOOTSTRAP, PYTHON_RUNTIME_DIR } from '../paths.js'
import type { ProcessHost } from '../supervisor/supervisor.js'
import { EXTENSIONS_DIR, OPT, RUNTIME_DIR, TASK_ROOT, hostsFile, privateFolders, sandboxMountArgs, within } from './mounts.js'
import { ENTER_BINARY, HOLDER_BINARY, findBwrap, nativeHelper } from './launcher.js'
import { linksTheSandboxCannotFollow } from '../layers/follow-links.js'
import { followedCopy } from '../layers/layers.js'
import { SandboxNamespace, type HolderLoss, type SandboxIdentity } from './namespace.js'
import { PlainHost } from './plain-host.js'
import { SANDBOX_API_PORT } from '../config/environment.js'
import type { SandboxNetwork } from './network.js'

/** A layer's parts that go on the runtime's search paths. */
export type LayerPart = 'bin' | 'lib' | 'python'

export interface Isolation {
  readonly mode: 'bwrap' | 'none'
  /** One line for the timeline: where the processes run. */
  readonly description: string
  /** LAMBDA_TASK_ROOT and the runtime's working directory. */
  readonly taskRoot: string
  /** LAMBDA_RUNTIME_DIR: our runtime client's folder. */
  readonly runtimeDir: string
  readonly bootstrap: string
  /** Where an extension's file is, as its process sees it. */
  extensionPath(name: string, hostPath: string): string
  /** The layers' `part` folders in Lambda's precedence order (earlier wins); '' entries are skipped. */
  layerDirs(part: LayerPart): string[]
  /**
   * Starts each process: inside the sandbox (its holder), or in plain mode as a host process
   * (through the launcher) whose whole tree dies with the harness.
   */
  readonly host: ProcessHost
  /**
   * The sandbox's own network (the APIs at 127.0.0.1:9001 inside, the probes relayed in);
   * undefined in plain mode, where the processes share the host's.
   */
  readonly network: SandboxNetwork | undefined
  /** Folders whose open files the process probe names (as the processes see them). */
  readonly probeFolders: readonly string[]
  /**
   * At the final Shutdown: SIGKILLs what is still running in the sandbox (`beforeKill` sees it
   * first) and returns its pids. `killed` are processes the Shutdown itself SIGKILLed as orphans:
   * their end is part of it too.
   */
  end(killed: readonly number[], beforeKill?: (left: readonly number[]) => void): Promise<number[]>
  /**
   * Host pids of what runs besides the sandbox's own machinery: in a sandbox its members; in
   * plain mode the processes that left their group (held by a launcher, or carrying the API address).
   */
  members(): number[]
  /** Plain mode: each launcher still holding daemons, by host pid, and whose it is (daemons.ts). */
  holders(): ReadonlyMap<number, string>
  /** Set once the sandbox's holder died before dispose(): what happened, for the record. The sandbox is dead. */
  readonly lost: string | undefined
  /** Idempotent: nothing of the sandbox is left afterwards. */
  dispose(): Promise<void>
}

export interface IsolationInput {
  readonly mode: IsolationMode
  readonly functionDir: string
  readonly layers: readonly LayerSpec[]
  readonly ephemeralStorageMB: number
  /** The sandbox's root file system (`--image`), prepared; undefined: the host's root. */
  readonly imageRoot?: string
  /** Keep the image's own /var/runtime (runtimeClient "image"). */
  readonly imageRuntime?: boolean
  /** Host files the processes are started from, by the option that names them: they must be visible inside. */
  readonly hostFiles?: readonly { readonly option: string; readonly path: string }[]
  /** Lambda's user, hostname and limits inside (bwrap only). */
  readonly identity?: SandboxIdentity
  /** Host paths that stay visible under the hidden private folders: the interpreter's, `expose`'s. */
  readonly exposed?: readonly string[]
}

export interface StartedIsolation {
  readonly isolation: Isolation
  /** Set in plain mode: what differs from Lambda, once per sandbox. */
  readonly warning: string | undefined
}

/**
 * Starts the sandbox's namespaces ('bwrap'), or decides on plain processes ('none'); 'auto' tries
 * bwrap on Linux and falls back to plain processes with a warning naming why.
 */
export async function startIsolation(input: IsolationInput): Promise<StartedIsolation> {
  if (input.mode === 'none') {
    return plain(input, 'isolation is off (isolation: "none", --no-isolation)')
  }
  // An image's files are not host files: nothing of the host hides them. A file under /tmp is seen
  // through a read-only window onto its folder (sandboxMountArgs).
  const hidden = (input.imageRoot === undefined ? (input.hostFiles ?? []) : []).find((file) => hiddenInside(file.path) !== undefined && hiddenInside(file.path) !== '/tmp')
  if (hidden !== undefined) {
    const why = `${hidden.path} (option ${hidden.option}) is under ${hiddenInside(hidden.path)}, which the sandbox replaces with its own`
    if (input.mode === 'bwrap') {
      throw new HarnessError('ERR_INVALID_OPTION', `isolation "bwrap": ${why}`)
    }
    return plain(input, `isolation is off (${why})`)
  }
  // A folder the sandbox would bind with links it cannot follow is the user's to fix, in any mode.
  const followed = process.platform === 'linux' && findBwrap() !== undefined ? await withLinksFollowed(input) : undefined
  let why: string
  try {
    return { isolation: await bwrapIsolation(followed ?? { input, copied: [], remove: async () => undefined }), warning: undefined }
  } catch (error) {
    await followed?.remove()
    why = (error as Error).message
  }
  if (input.imageRoot !== undefined) {
    // An image is the sandbox's root: plain processes would run on the host's root instead.
    throw new HarnessError('ERR_INVALID_OPTION', `option image: expected the bwrap sandbox, which failed: ${why}`)
  }
  why += userNamespaceHint(why)
  if (input.mode === 'bwrap') {
    throw new HarnessError('ERR_SPAWN_FAILED', `isolation "bwrap": ${why}`)
  }
  return plain(input, `isolation is off (${why})`)
}

const APPARMOR_USERNS = '/proc/sys/kernel/apparmor_restrict_unprivileged_userns'

/**
 * How to enable isolation where user namespaces are refused: Ubuntu 23.10+ (and its GitHub
 * runners) restrict unprivileged ones through AppArmor, and bwrap then fails with "setting up uid
 * map: Permission denied" (containers/bubblewrap#632).
 */
export function userNamespaceHint(why: string, restricted = readHostFile(APPARMOR_USERNS).trim() === '1'): string {
  if (!restricted && !/uid map|No permissions to create new namespace|RTM_NEWADDR|Creating new namespace failed/i.test(why)) {
    return ''
  }
  return (
    '; to enable isolation, allow unprivileged user namespaces: `sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` ' +
    '(Ubuntu 23.10+ restricts them through AppArmor), or give /usr/bin/bwrap an AppArmor profile that allows `userns` (see the README), or run as root'
  )
}

function plain(input: IsolationInput, why: string): StartedIsolation {
  return { isolation: plainIsolation(input), warning: plainWarning(why) }
}

/** The one warning of plain mode: what a result can get wrong without the sandbox. */
export function plainWarning(why: string): string {
  return (
    `${why}: the processes run as plain host processes, unlike Lambda's sandbox: ` +
    'the function is at its own folder instead of /var/task and layers at theirs instead of /opt (launchers that exec /opt/… fail), ' +
    'the root file system is writable (Lambda allows writes only in /tmp), /tmp is the host\'s, shared and unsized, ' +
    `${SHARED_NETWORK}, ` +
    'and `sandbox` and `sandbox.localdomain` resolve only if the host defines them'
  )
}

/** What a sandbox without a network namespace of its own gets wrong. */
const SHARED_NETWORK =
  `the network is the host's, shared with every other sandbox (a fixed port an extension binds, such as 4243, collides, and the APIs are on an ephemeral host port instead of 127.0.0.1:${SANDBOX_API_PORT})`

function plainIsolation(input: IsolationInput): Isolation {
  const host = new PlainHost(nativeHelper(ENTER_BINARY))
  // Once: each end() reads the host's /proc for daemons, and Sandbox.dispose() calls this twice.
  let disposed: Promise<void> | undefined
  return {
    mode: 'none',
    description: 'Sandbox: plain host processes (no isolation)',
    taskRoot: input.functionDir,
    runtimeDir: PYTHON_RUNTIME_DIR,
    bootstrap: PYTHON_BOOTSTRAP,
    extensionPath: (_name, hostPath) => hostPath,
    // A later layer wins, as in /opt; an `--extensions` folder has no bin/, lib/ or python/.
    layerDirs: (part) => [...input.layers].reverse().map((layer) => (layer.extensionsDir === layer.root ? '' : path.join(layer.root, part))),
    host,
    network: undefined,
    probeFolders: [input.functionDir, ...input.layers.map((layer) => layer.root), tmpdir()],
    end: async (_killed, beforeKill) => host.end(beforeKill),
    members: () => host.strays(),
    holders: () => host.holders(),
    lost: undefined,
    dispose: () => (disposed ??= Promise.resolve().then(() => void host.end())),
  }
}

async function bwrapIsolation({ input, copied, remove }: Followed): Promise<Isolation> {
  if (process.platform !== 'linux') {
    throw new Error(`bwrap sandboxes need Linux, this is ${process.platform}`)
  }
  const bwrap = findBwrap()
  if (bwrap === undefined) {
    throw new Error('bwrap was not found on PATH; on Debian/Ubuntu: apt-get install bubblewrap')
  }
  const namespace = await SandboxNamespace.start({
    bwrap: bwrap.file,
    mountArgs: sandboxMountArgs(
      {
        functionDir: input.functionDir,
        runtimeDir: PYTHON_RUNTIME_DIR,
        layers: input.layers,
        ephemeralStorageMB: input.ephemeralStorageMB,
        hostPaths: [PACKAGE_ROOT, ...hostFileFolders(input), ...(input.exposed ?? [])],
        ...hiddenLayout(input),
        ...imageLayout(input),
      },
      4,
    ),
    hostsData: hostsFile(readHostFile('/etc/hosts')),
    holder: nativeHelper(HOLDER_BINARY),
    ...(input.identity === undefined ? {} : { identity: { ...input.identity, disableUserns: await bwrap.disablesUserns } }),
  })
  return sandboxIsolation(input, namespace, copied, remove)
}

/** The folders the sandbox binds, the copies among them and why, and how to remove the copies. */
interface Followed {
  readonly input: IsolationInput
  readonly copied: readonly string[]
  remove(): Promise<void>
}

/**
 * The function's folder and each layer folder as the sandbox binds them: as they are, or, when a
 * link in one leads where the sandbox cannot follow it (out of /var/task or /opt, into a folder it
 * hides), a copy with its links followed, as `sam deploy` zips it (layers/follow-links.ts).
 */
async function withLinksFollowed(input: IsolationInput): Promise<Followed> {
  const shows = sandboxShows(input)
  const copies: { remove(): Promise<void> }[] = []
  const copied: string[] = []
  const remove = async (): Promise<void> => void (await Promise.all(copies.map((copy) => copy.remove())))
  const follow = async (folder: string): Promise<string> => {
    const links = linksTheSandboxCannotFollow(folder, shows)
    if (links.length === 0) {
      return folder
    }
    const why = `${folder}'s link ${links[0]}${links.length > 1 ? ` (and ${links.length - 1} more)` : ''} leads where the sandbox cannot follow`
    try {
      const copy = await followedCopy(folder)
      copies.push(copy)
      copied.push(why)
      return copy.root
    } catch (error) {
      throw new HarnessError(error instanceof HarnessError ? error.code : 'ERR_BAD_INPUT', `${why}, so it is bound as a deploy zips it, with its links followed, and that failed: ${(error as Error).message}`, { cause: error })
    }
  }
  try {
    const functionDir = await follow(input.functionDir)
    const layers: LayerSpec[] = []
    for (const layer of input.layers) {
      // `--extensions DIR` is a folder of extensions, not a layer a deploy zips: as it is.
      const root = layer.extensionsDir === path.join(layer.root, 'extensions') ? await follow(layer.root) : layer.root
      layers.push(root === layer.root ? layer : { root, extensionsDir: path.join(root, 'extensions') })
    }
    return { input: { ...input, functionDir, layers }, copied, remove }
  } catch (error) {
    await remove()
    throw error
  }
}

/** Whether the sandbox shows a host path at that same path: bound in, or on the host's root and not hidden. */
function sandboxShows(input: IsolationInput): (hostPath: string) => boolean {
  const bound = [PACKAGE_ROOT, ...hostFileFolders(input), ...(input.exposed ?? [])]
  const { hidden, exposed } = hiddenLayout(input)
  return (hostPath) => {
    if (bound.some((folder) => within(hostPath, folder))) {
      return true
    }
    if (input.imageRoot !== undefined || hiddenInside(hostPath) !== undefined) {
      return false
    }
    return !hidden.some((folder) => within(hostPath, folder)) || exposed.some((target) => within(hostPath, target))
  }
}

function sandboxIsolation(input: IsolationInput, namespace: SandboxNamespace, copied: readonly string[], removeCopies: () => Promise<void>): Isolation {
  const { identity } = input
  return {
    mode: 'bwrap',
    description: sandboxDescription(input, namespace.initPid, copied),
    taskRoot: TASK_ROOT,
    runtimeDir: RUNTIME_DIR,
    bootstrap: path.posix.join(RUNTIME_DIR, path.basename(PYTHON_BOOTSTRAP)),
    extensionPath: (name) => path.posix.join(EXTENSIONS_DIR, name),
    // Lambda's PATH, LD_LIBRARY_PATH and Python path name /opt's parts whether or not a layer has them.
    layerDirs: (part) => [path.posix.join(OPT, part)],
    host: namespace.host,
    network: namespace.network,
    probeFolders: [TASK_ROOT, OPT, '/tmp'],
    end: async (killed, beforeKill) => {
      const left = namespace.members()
      beforeKill?.(left)
      // With nothing of the sandbox's own left (and no orphan just SIGKILLed, perhaps not yet
      // reaped by pid 1), bwrap's report of pid 1's death is housekeeping: dispose() waits for it.
      const closing = namespace.close()
      if (left.length > 0 || killed.length > 0) {
        await closing
      }
      return left
    },
    members: () => namespace.members(),
    holders: () => new Map(),
    get lost() {
      return describeLoss(namespace.lost, identity !== undefined)
    },
    dispose: async () => {
      try {
        await namespace.close()
      } finally {
        await removeCopies()
      }
    },
  }
}

function sandboxDescription(input: IsolationInput, initPid: number, copied: readonly string[]): string {
  const { identity } = input
  const copies = copied.map((why) => `; bound as a deploy zips it, a copy with its links followed: ${why}`).join('')
  return (
    `Sandbox: bwrap, PID namespace (pid 1 is host pid ${initPid}), /var/task, /opt, read-only ${input.imageRoot === undefined ? 'root' : `root of the image ${input.imageRoot}`}, private /tmp of ${input.ephemeralStorageMB} MB, ` +
    `own network (the APIs at 127.0.0.1:${SANDBOX_API_PORT})` +
    (identity === undefined
      ? ", no user namespace (processes run as the harness's user)"
      : `, uid ${identity.uid} gid ${identity.gid} in a user namespace, hostname ${identity.hostname}, RLIMIT_NOFILE ${identity.nofile}, RLIMIT_NPROC ${identity.nproc}`) +
    copies
  )
}

/** The image's part of the sandbox's layout. */
function imageLayout(input: IsolationInput): { imageRoot?: string; imageRuntime?: boolean } {
  return input.imageRoot === undefined ? {} : { imageRoot: input.imageRoot, imageRuntime: input.imageRuntime === true }
}

/** The record's words for a holder that died under the sandbox. */
function describeLoss(loss: HolderLoss | undefined, init: boolean): string | undefined {
  if (loss === undefined) {
    return undefined
  }
  const how = loss.signal !== undefined ? `was killed (${loss.signal})` : `exited (code ${loss.code ?? 'unknown'})`
  // A PID namespace's init ignores every signal from inside it that it has no handler for.
  const who = loss.signal !== undefined && init ? ' from outside the sandbox (its own processes cannot signal it)' : ''
  return `the sandbox's holder ${how}${who}: the sandbox and every process in it ended`
}

/** Folders of host files under /tmp (a --runtime-command there): seen read-only through the private /tmp. */
function hostFileFolders(input: IsolationInput): string[] {
  return (input.hostFiles ?? [])
    .filter((file) => hiddenInside(file.path) === '/tmp')
    .map((file) => (path.dirname(file.path) === '/tmp' ? file.path : path.dirname(file.path)))
}

/** The private folders to hide (those an exposed path does not contain) and what stays visible under them. */
function hiddenLayout(input: IsolationInput): { hidden: string[]; exposed: string[] } {
  const exposed = [
    ...(input.exposed ?? []),
    input.functionDir,
    PACKAGE_ROOT,
    ...input.layers.map((layer) => layer.root),
    ...(input.hostFiles ?? []).filter((file) => path.isAbsolute(file.path)).flatMap((file) => [path.dirname(file.path), ...installPrefix(file.path)]),
  ].flatMap((target) => [path.resolve(target), realOrSelf(target)])
  const hidden = privateFolders(homedir()).filter((folder) => !exposed.some((target) => within(folder, target)))
  return { hidden, exposed }
}

/**
 * The installation a command's real file belongs to (the folder above its bin/): a venv's python
 * links to pyenv's under /root, whose standard library the command needs too.
 */
function installPrefix(command: string): string[] {
  const real = realOrSelf(command)
  return path.basename(path.dirname(real)) === 'bin' ? [path.dirname(path.dirname(real))] : [path.dirname(real)]
}

function realOrSelf(target: string): string {
  try {
    return realpathSync(target)
  } catch {
    return path.resolve(target)
  }
}

/** Which of the sandbox's own folders hides a host path, if one does (the rest of the host is visible, read-only). */
export function hiddenInside(hostPath: string): string | undefined {
  if (!path.isAbsolute(hostPath)) {
    return undefined
  }
  const own = ['/tmp', TASK_ROOT, RUNTIME_DIR, OPT, '/dev', '/proc']
  return own.find((folder) => hostPath === folder || hostPath.startsWith(`${folder}/`))
}

function readHostFile(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}
