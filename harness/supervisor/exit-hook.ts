// Kills every live process group if the harness's own Node process exits. Detached groups (their
// own sessions) outlive their parent, so without this a crashed test run would leave sandboxes running.
import { onExit } from 'signal-exit'

const liveGroups = new Set<number>()
let removeHook: (() => void) | undefined

function killLiveGroups(): void {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, 'SIGKILL')
    } catch {
      // Already gone.
    }
  }
  liveGroups.clear()
}

export function trackGroup(pgid: number): void {
  liveGroups.add(pgid)
  removeHook ??= onExit(killLiveGroups, { alwaysLast: true })
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid)
  // Remove our listeners once nothing is left, so an idle harness does not hold signal handlers.
  if (liveGroups.size === 0 && removeHook !== undefined) {
    removeHook()
    removeHook = undefined
  }
}
