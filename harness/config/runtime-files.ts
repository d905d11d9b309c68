// Where Lambda finds files the runtime starts from, by their paths inside the sandbox (/var/task,
// /opt) and on the host: an OS-only runtime's bootstrap (LAMBDA-SPEC §10.2), a wrapper script (§10.1).
import { statSync } from 'node:fs'
import path from 'node:path'
import type { LayerSpec } from './options.js'

/** Lambda's paths, as the processes inside see them (the sandbox's mounts use them too). */
export const TASK_ROOT = '/var/task'
export const OPT = '/opt'

/** RAPID's Init error when no candidate exists (RIE rapidcore bootstrap.go; seen on Lambda as Runtime.InvalidEntrypoint). */
export const NO_BOOTSTRAP_MESSAGE = `Couldn't find valid bootstrap(s): [${TASK_ROOT}/bootstrap ${OPT}/bootstrap]`

/** The real layers (not an `--extensions` folder), in Lambda's order: a later one wins in /opt. */
function realLayers(layers: readonly LayerSpec[]): LayerSpec[] {
  return layers.filter((layer) => layer.extensionsDir !== layer.root)
}

function isFile(file: string): boolean {
  const stat = statSync(file, { throwIfNoEntry: false })
  return stat !== undefined && !stat.isDirectory()
}

/**
 * Where a path under /var/task or /opt is on the host: the function folder, or the last layer
 * that has it (later layers win, as Lambda unpacks them into /opt). Undefined when nothing has it.
 */
export function hostPathOf(lambdaPath: string, functionDir: string, layers: readonly LayerSpec[]): string | undefined {
  if (lambdaPath.startsWith(`${TASK_ROOT}/`)) {
    const file = path.join(functionDir, lambdaPath.slice(TASK_ROOT.length + 1))
    return statSync(file, { throwIfNoEntry: false }) === undefined ? undefined : file
  }
  if (lambdaPath.startsWith(`${OPT}/`)) {
    const rel = lambdaPath.slice(OPT.length + 1)
    return realLayers(layers)
      .reverse()
      .map((layer) => path.join(layer.root, rel))
      .find((file) => statSync(file, { throwIfNoEntry: false }) !== undefined)
  }
  return undefined
}

/**
 * The OS-only runtime's bootstrap: /var/task/bootstrap, else /opt/bootstrap; the first candidate
 * that exists and is not a folder wins, executable or not (RIE rapidcore bootstrap.go; the docs'
 * runtimes-custom page: the deployment package first, then the layers).
 */
export function findBootstrap(functionDir: string, layers: readonly LayerSpec[]): { lambdaPath: string; hostPath: string } | undefined {
  for (const lambdaPath of [`${TASK_ROOT}/bootstrap`, `${OPT}/bootstrap`]) {
    const hostPath = hostPathOf(lambdaPath, functionDir, layers)
    if (hostPath !== undefined && isFile(hostPath)) {
      return { lambdaPath, hostPath }
    }
  }
  return undefined
}
