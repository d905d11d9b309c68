// `lambda-harness init <dir> [--runtime <id>]`: scaffold a function (harness/scaffold.ts).
import { parseArgs } from 'node:util'
import { invalid } from '../config/options.js'

export async function initCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { runtime: { type: 'string' } } })
  if (positionals.length !== 1) {
    throw invalid('init <dir>', 'one folder to create', positionals.join(' ') || undefined)
  }
  const { files } = (await import('../scaffold.js')).scaffold(positionals[0] ?? '', values.runtime)
  process.stdout.write(`created:\n${files.map((f) => `  ${f}`).join('\n')}\n`)
  return 0
}
