// `run --watch`: the whole lifecycle again whenever the function's or a layer's files change, as
// `cargo lambda watch` and `sam sync --watch` do. Changes are debounced (an editor's save is
// several events); a change during a run queues one more run after it; the abort signal (Ctrl-C)
// ends the watch once the run in progress has shut down.
import { watch, type FSWatcher } from 'node:fs'
import path from 'node:path'
import type { RunRecord } from './record/run-record.js'
import { runLifecycle, type RunPlan } from './run.js'
import type { SandboxHooks } from './sandbox/sandbox.js'

interface WatchHooks extends SandboxHooks {
  /** A run ended; `changed` names the file whose change started it (undefined for the first). */
  readonly onRecord: (record: RunRecord, changed: string | undefined) => void
  /** A run could not start or failed (bad input after an edit): the watch goes on. */
  readonly onError: (error: unknown) => void
}

const WATCH_DEBOUNCE_MS = 200

// Bytecode the interpreter writes next to the code (plain mode) and editors' scratch files are
// not changes of the function: reacting to them would re-run forever.
export function ignoredChange(name: string): boolean {
  return /(^|[/\\])__pycache__([/\\]|$)|\.py[co]$|~$|\.sw[a-z]$|(^|[/\\])\.#|(^|[/\\])4913$/.test(name)
}

/** The folders (recursively) and files a run reads its code from. */
export function watchedPaths(plan: RunPlan): string[] {
  const { boot } = plan
  return [boot.functionDir, ...(boot.layers ?? []), ...(boot.extensionsDir === undefined ? [] : [boot.extensionsDir])].map((p) => path.resolve(p))
}

export async function watchLifecycle(plan: RunPlan, hooks: WatchHooks, signal: AbortSignal, debounceMs = WATCH_DEBOUNCE_MS): Promise<void> {
  let pending: string | undefined
  let wake: (() => void) | undefined
  let timer: NodeJS.Timeout | undefined
  const changed = (root: string, name: string | null) => {
    const file = name === null ? root : path.join(root, name)
    if (ignoredChange(file)) {
      return
    }
    clearTimeout(timer)
    timer = setTimeout(() => {
      pending = file
      wake?.()
    }, debounceMs)
  }
  const watchers: FSWatcher[] = watchedPaths(plan).map((root) => watch(root, { recursive: true }, (_event, name) => changed(root, name)).on('error', hooks.onError))
  const aborted = () => wake?.()
  signal.addEventListener('abort', aborted)
  try {
    let trigger: string | undefined
    for (;;) {
      try {
        hooks.onRecord(await runLifecycle(plan, hooks), trigger)
      } catch (error) {
        hooks.onError(error)
      }
      if (pending === undefined && !signal.aborted) {
        await new Promise<void>((resolve) => (wake = resolve))
      }
      if (signal.aborted) {
        return
      }
      trigger = pending
      pending = undefined
    }
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', aborted)
    for (const watcher of watchers) {
      watcher.close()
    }
  }
}
