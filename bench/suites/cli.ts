// What a user of the CLI feels: `lambda-harness run` of a trivial function (the echo fixture, one
// invoke), a fresh Node process each time, from its spawn to its exit, against the floor of the
// same work without the harness: `node -e 0` (Node's own start and exit), then the same
// interpreter importing the same function module. With an extension the floor also has the
// extension's own life, done directly against the trivial server in the order Lambda runs it:
// started, registered, first /event/next (before the runtime starts), then, after the function
// module's import, SHUTDOWN and its exit. The sides alternate run by run.
import { spawn } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { privateCacheFolder } from '../../harness/cache.js'
import { extensionEnvironment } from '../../harness/config/environment.js'
import { PACKAGE_ROOT } from '../../harness/paths.js'
import { directEnvironment } from '../baseline/baseline-sandbox.js'
import { DirectProcess } from '../baseline/direct-process.js'
import { TrivialServer } from '../baseline/trivial-server.js'
import { figure, ratioTarget, type Figure } from '../figure.js'
import { ECHO_FUNCTION } from '../workspace.js'
import { paired, timed, type SuiteContext } from './context.js'

export const CLI = path.join(PACKAGE_ROOT, 'dist', 'harness', 'cli.js')

/** Runs a command to its exit (output drained and dropped); rejects unless it exits with one of `codes`. */
export function runToExit(file: string, args: readonly string[], cwd: string, codes: readonly number[] = [0], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], ...(env === undefined ? {} : { env }) })
    let stderr = ''
    child.stdout.resume()
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2000)))
    child.once('error', reject)
    child.once('close', (code, signal) => {
      if (code !== null && codes.includes(code)) {
        resolve(code)
      } else {
        reject(new Error(`${path.basename(file)} ${args.join(' ')}: exited ${signal ?? code}\n${stderr}`))
      }
    })
  })
}

/** The floor's function part: Node's start and exit, then the interpreter importing the function module. */
async function nodeAndImport(python: string): Promise<void> {
  await runToExit(process.execPath, ['-e', '0'], ECHO_FUNCTION)
  await runToExit(python, ['-c', 'import app'], ECHO_FUNCTION)
}

/** The floor with one extension: its start to its first poll, the function part, then its SHUTDOWN to its exit. */
async function floorWithExtension(python: string, extension: string): Promise<void> {
  await runToExit(process.execPath, ['-e', '0'], ECHO_FUNCTION)
  const server = await TrivialServer.start()
  let process_: DirectProcess | undefined
  try {
    const env = extensionEnvironment(directEnvironment({ handler: 'app.handler', functionDir: ECHO_FUNCTION }, server.address))
    process_ = await DirectProcess.start({ file: extension, args: [], cwd: ECHO_FUNCTION, env })
    await server.registered(1)
    await server.extensions[0]?.reached(1)
    await runToExit(python, ['-c', 'import app'], ECHO_FUNCTION)
    server.shutdownExtensions(Date.now() + 2000)
    await process_.exited
  } finally {
    await process_?.kill()
    await server.close()
  }
}

export async function cliSuite(context: SuiteContext): Promise<Figure[]> {
  const { config, workspace } = context
  const figures: Figure[] = []
  for (const extensions of [0, 1]) {
    const extensionFiles = extensions === 0 ? [] : workspace.extensions(1).files
    const args = [
      CLI, 'run', ECHO_FUNCTION, '--handler', 'app.handler', '--python', config.python,
      ...(extensions === 0 ? [] : ['--extensions', workspace.extensions(1).dir]),
      ...(config.isolation === 'none' ? ['--no-isolation'] : []),
    ]
    const harnessRun = async (env?: NodeJS.ProcessEnv) => (await timed(() => runToExit(process.execPath, args, PACKAGE_ROOT, [0], env))).ms
    const floorRun = async () =>
      (await timed(() => (extensions === 0 ? nodeAndImport(config.python) : floorWithExtension(config.python, extensionFiles[0] ?? '')))).ms
    // Untimed: the page cache and the interpreter probe's cache warm up on both sides.
    await harnessRun()
    await floorRun()
    const harness: number[] = []
    const floor: number[] = []
    for (let run = 0; run < config.cliRuns; run++) {
      context.progress(`cli run, ${extensions === 0 ? 'no extension' : 'one extension'}: run ${run + 1}/${config.cliRuns}`)
      await paired(
        run,
        async () => void harness.push(await harnessRun()),
        async () => void floor.push(await floorRun()),
      )
    }
    const cold = extensions === 0 ? await coldRuns(config.cliRuns, harnessRun, floor) : undefined
    figures.push(
      figure({
        suite: 'cli',
        name: `lambda-harness run, ${extensions === 0 ? 'no extension' : 'one extension'}`,
        unit: 'ms',
        harness,
        baseline: floor,
        target: ratioTarget(1.25),
        note:
          extensions === 0
            ? '`node dist/harness/cli.js run` of the echo function, one invoke, spawn to exit; floor: `node -e 0`, then the interpreter importing app'
            : 'with the well-behaved fixture extension; floor: `node -e 0`, the extension started directly to its first /event/next, the import, its SHUTDOWN to its exit',
      }),
      ...(cold === undefined ? [] : [cold]),
    )
  }
  return figures
}

/**
 * The same run with no code cache (the first run of a command after an install, a build or a Node
 * upgrade: cli/load.ts): a cache folder of its own, the interpreter probe's answers copied in,
 * the compiled code removed before each run. Against the same floor runs as the row above.
 */
async function coldRuns(runs: number, harnessRun: (env: NodeJS.ProcessEnv) => Promise<number>, floor: readonly number[]): Promise<Figure> {
  const home = mkdtempSync(path.join(tmpdir(), 'lh-bench-cold-'))
  try {
    const cache = path.join(home, 'lambda-harness')
    mkdirSync(cache, { recursive: true, mode: 0o700 })
    const probed = privateCacheFolder('python')
    if (probed !== undefined) {
      cpSync(probed, path.join(cache, 'python'), { recursive: true })
    }
    const env = { ...process.env, XDG_CACHE_HOME: home }
    const harness: number[] = []
    for (let run = 0; run < runs; run++) {
      rmSync(path.join(cache, 'code'), { recursive: true, force: true })
      harness.push(await harnessRun(env))
    }
    return figure({
      suite: 'cli',
      name: 'lambda-harness run, no extension, no code cache',
      unit: 'ms',
      harness,
      baseline: [...floor],
      note: 'the first run of `run` after an install, a build or a Node upgrade: the bundle compiled without V8\'s code cache (which that run then writes); floor: the row above\'s',
    })
  } finally {
    rmSync(home, { recursive: true, force: true })
  }
}
