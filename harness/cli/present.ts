// What `run` writes of a record: --json, --html, --trace, --logs and the text report.
import { writeFileSync } from 'node:fs'
import { formatReport } from '../record/report.js'
import type { RunRecord } from '../record/run-record.js'

interface PresentFlags {
  readonly json?: string | undefined
  readonly html?: string | undefined
  readonly trace?: string | undefined
  readonly logs?: boolean | undefined
  readonly 'no-output'?: boolean | undefined
}

type Sections = { title: string; record: RunRecord }[]

/** The HTML and trace renderers, loaded only when their flag asks for them. */
export interface Views {
  readonly html: ((sections: Sections) => string) | undefined
  readonly trace: ((sections: Sections) => string) | undefined
}

export async function loadViews(values: PresentFlags): Promise<Views> {
  return {
    html: values.html === undefined ? undefined : (await import('../record/html.js')).renderHtmlTimeline,
    trace: values.trace === undefined ? undefined : (await import('../record/trace.js')).renderTrace,
  }
}

export function presentRecord(record: RunRecord, values: PresentFlags, report: boolean, views: Views): void {
  if (values.json !== undefined) {
    const json = `${JSON.stringify(record, null, 2)}\n`
    if (values.json === '-') {
      process.stdout.write(json)
    } else {
      writeFileSync(values.json, json)
    }
  }
  const sections = [{ title: `${record.function.dir} (${record.function.handler})`, record }]
  if (values.html !== undefined && views.html !== undefined) {
    writeFileSync(values.html, views.html(sections))
  }
  if (values.trace !== undefined && views.trace !== undefined) {
    writeFileSync(values.trace, views.trace(sections))
  }
  if (values.logs === true) {
    // With --json - the JSON owns stdout.
    const stream = values.json === '-' ? process.stderr : process.stdout
    stream.write(record.logs.map((line) => `${line}\n`).join(''))
  }
  if (report) {
    process.stdout.write(formatReport(record, { output: values['no-output'] !== true }))
  }
}
