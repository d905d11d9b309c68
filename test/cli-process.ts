// `lambda-harness` as a user's shell runs it: a real `node dist/harness/cli.js` process.
import path from 'node:path'
import { execa } from 'execa'
import { ROOT } from './helpers.js'

// Kept here too: the CLI tests take their temp folders from their runner.
export { tempDir } from './helpers.js'

export const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')

export interface CliResult {
  readonly exitCode: number | undefined
  readonly timedOut: boolean
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/** Runs the CLI to completion and returns what a shell would see. The cap is generous: a CPU-starved CI box. */
export async function cli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const started = performance.now()
  // As a user's shell runs it: without the NODE_OPTIONS that node-tap's processinfo adds to every
  // child of a test (it loads tap's instrumentation into the CLI and doubles its start-up cost).
  const result = await execa('env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    ...(options.env === undefined ? {} : { env: options.env }),
    reject: false,
    timeout: 60_000,
    stdin: 'ignore',
    stripFinalNewline: false,
  })
  return {
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    stdout: String(result.stdout),
    stderr: String(result.stderr),
    ms: performance.now() - started,
  }
}
