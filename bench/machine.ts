// What the figures were measured on: they mean little without the machine and the load on it.
import { execFileSync } from 'node:child_process'
import os from 'node:os'

export interface Machine {
  readonly cpuModel: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  readonly python: string
  readonly pythonPath: string
  /** 1-minute load average when the bench started and ended: other jobs skew everything. */
  loadAverage: { start: number; end: number }
}

export function describeMachine(python: string): Machine {
  const cpus = os.cpus()
  let pythonVersion: string
  try {
    pythonVersion = execFileSync(python, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim()
  } catch (error) {
    throw new Error(`bench: cannot run ${python}: ${(error as Error).message}`)
  }
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: pythonVersion,
    pythonPath: python,
    loadAverage: { start: os.loadavg()[0] ?? 0, end: 0 },
  }
}
