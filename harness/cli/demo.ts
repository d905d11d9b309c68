// `lambda-harness demo [--python <interpreter>]`: the graceful-shutdown story (harness/demo.ts).
import { parseArgs } from 'node:util'
import { warningWriter } from '../config/flags.js'

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { python: { type: 'string' } } })
  return (await import('../demo.js')).runDemo({
    ...(values.python === undefined ? {} : { python: values.python }),
    write: (text) => process.stdout.write(text),
    warn: warningWriter((text) => process.stderr.write(text)),
  })
}
