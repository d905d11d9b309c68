// The command line's first word, as both the loader (one code cache per command, load.ts) and main.ts read it.

export const COMMAND_NAMES: readonly string[] = ['run', 'check', 'demo', 'init']

/** No command, or one that asks for the usage. */
export function isHelp(command: string | undefined): boolean {
  return command === undefined || command === '--help' || command === '-h' || command === 'help'
}
