// What `run` writes of a record: --json, --html, --trace, --logs and the text report.
import { writeFileSync } from 'node:fs'
import { renderHtmlTimeline } from '../record/html.js'
import { formatReport } from '../record/report.js'
import type { RunRecord } from '../record/run-record.js'
import { renderTrace } from '../record/trace.js'

interface PresentFlags {
  readonly json?: string | undefined
  readonly html?: string | undefined
  readonly trace?: string | undefined
  readonly logs?: boolean | undefined
  readonly 'no-output'?: boolean | undefined
}

export function presentRecord(record: RunRecord, values: PresentFlags, report: boolean): void {
  if (values.json !== undefined) {
    const json = `${JSON.stringify(record, null, 2)}\n`
    if (values.json === '-') {
      process.stdout.write(json)
    } else {
      writeFileSync(values.json, json)
    }
  }
  const sections = [{ title: `${record.function.dir} (${record.function.handler})`, record }]
  if (values.html !== undefined) {
    writeFileSync(values.html, renderHtmlTimeline(sections))
  }
  if (values.trace !== undefined) {
    writeFileSync(values.trace, renderTrace(sections))
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
