// Flags → options → run. No logic of its own: each command lives in a module of its own
// (cli/run.ts, cli/demo.ts, cli/init.ts, conformance/command.ts); this file picks one and turns
// its errors into exit codes. The build bundles it, with everything it imports, into main.cjs,
// which the entry (cli.ts) loads with V8's code cache (cli/load.ts).
import { invalid } from '../config/options.js'
import { isHarnessError } from '../errors.js'
import { demoCommand } from './demo.js'
import { isHelp } from './commands.js'
import { HELP } from './help.js'
import { initCommand } from './init.js'
import { runCommand } from './run.js'
import { ENTER_BINARY, HOLDER_BINARY } from '../isolation/launcher.js'
import { nativeHelpersNote } from '../native.js'

/** Each command: its arguments in, its exit code out; bad usage throws a user HarnessError (exit 2). */
const COMMANDS = new Map<string, (argv: string[]) => Promise<number>>([
  ['run', runCommand],
  ['demo', demoCommand],
  ['init', initCommand],
  ['check', async (argv) => (await import('../conformance/command.js')).checkCommand(argv, { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) })],
])

// The API's option names, as the flags a CLI user typed them.
const FLAG_FOR_OPTION: Record<string, string> = {
  functionDir: '<function-dir>',
  handler: '--handler',
  runtime: '--runtime',
  python: '--python',
  runtimeCommand: '--runtime-command',
  runtimeClient: '--runtime-client',
  expose: '--expose',
  extensionsDir: '--extensions',
  timeoutSec: '--timeout',
  memoryMB: '--memory',
  env: '--env',
  functionName: '--function-name',
  accountId: '--account-id',
  initTimeoutMs: '--init-timeout-ms',
  runtimeShutdownMs: '--runtime-shutdown-ms',
  ephemeralStorageMB: '--ephemeral-storage',
  postgresBinDir: '--postgres-bin',
  image: '--image',
  hostPorts: '--host-port',
}

function flagNames(message: string): string {
  return message
    .replace(/^option ([A-Za-z]+)(?=:| )/, (whole, name: string) => (FLAG_FOR_OPTION[name] === undefined ? whole : `option ${FLAG_FOR_OPTION[name]}`))
    .replace(/^option layers\[(\d+)\]/, 'option --layer #$1')
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (isHelp(command)) {
    // Asked-for help goes to stdout; usage after a mistake goes to stderr.
    ;(command === undefined ? process.stderr : process.stdout).write(HELP)
    return command === undefined ? 2 : 0
  }
  try {
    if (command === 'run' || command === 'check') {
      const note = nativeHelpersNote([ENTER_BINARY, HOLDER_BINARY])
      if (note !== undefined) {
        process.stderr.write(`lambda-harness: ${note}\n`)
      }
    }
    const runNamed = COMMANDS.get(command)
    if (runNamed === undefined) {
      throw invalid('<command>', 'run, check, demo or init', command)
    }
    return await runNamed(rest)
  } catch (error) {
    if (isHarnessError(error) && error.isUserError) {
      process.stderr.write(`lambda-harness: ${flagNames(error.message)}\n`)
      return 2
    }
    // parseArgs reports unknown or malformed flags with these codes.
    const code = (error as NodeJS.ErrnoException).code
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`lambda-harness: ${(error as Error).message}\n`)
      return 2
    }
    process.stderr.write(`lambda-harness: internal error: ${(error as Error).stack ?? String(error)}\n`)
    return 3
  }
}
