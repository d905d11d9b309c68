// The last lines a process writes before it exits are in the record (issue 15, part 2): exit
// reports and output pipes arrive separately, so a process's exit is final only once its output
// has been read to EOF (bounded). A runtime that writes on stdout and stderr and exits at once
// mid-invoke, and an extension that does the same on SHUTDOWN (AWS's Go sample extension prints
// "Received SHUTDOWN event" and "Exiting" and exits), 50 runs in a row, isolated and plain.
import t from 'tap'
import type { RunRecord } from '../../harness/index.js'
import { extensionsDir, fn, startSandbox, NO_BWRAP } from '../helpers.js'

const RUNS = 50
const EXTENSION = 'says-goodbye-and-exits'

/** Output lines of a process as the record's timeline has them ("[stderr] " marks stderr). */
function outputOf(record: RunRecord, process: string): string[] {
  return record.timeline.filter((e) => e.kind === 'output' && e.process === process).map((e) => e.detail)
}

for (const isolation of ['bwrap', 'none'] as const) {
  t.test(`${isolation}: ${RUNS} runs, every last line of the runtime and the extension recorded`, { skip: isolation === 'bwrap' && NO_BWRAP }, async (t) => {
    const missing: string[] = []
    for (let run = 0; run < RUNS; run++) {
      await t.test(`run ${run + 1}`, async (t) => {
        const sandbox = await startSandbox(t, { functionDir: fn('writes-then-exits'), extensionsDir: extensionsDir(t, [EXTENSION]), isolation })
        // The runtime's exit resets the sandbox: the extension gets SHUTDOWN (reason failure) and
        // exits; the next invoke re-inits both, and the final Shutdown ends them again.
        const crashed = await sandbox.invoke({ tag: `run ${run}`, exit: true })
        const answered = await sandbox.invoke({ tag: `run ${run} again` })
        await sandbox.shutdown()
        const record = sandbox.record
        const expected: [string, string][] = [
          ['runtime', `run ${run}: last words on stdout`],
          ['runtime', `[stderr] run ${run}: last words on stderr`],
        ]
        for (const [process, line] of expected) {
          if (!outputOf(record, process).includes(line)) {
            missing.push(`run ${run + 1}: ${process} "${line}"`)
          }
        }
        const goodbyes = outputOf(record, EXTENSION)
        for (const line of ['Received SHUTDOWN event', '[stderr] Exiting']) {
          const count = goodbyes.filter((l) => l === line).length
          if (count !== 2) {
            missing.push(`run ${run + 1}: ${EXTENSION} "${line}" ${count} of 2 times (reset and final Shutdown)`)
          }
        }
        if (crashed.errorType !== 'Runtime.ExitError' || answered.status !== 'success') {
          missing.push(`run ${run + 1}: invokes ended ${crashed.errorType}, ${answered.status}`)
        }
        const exits = record.processes.filter((p) => p.name === EXTENSION).map((p) => p.exit?.code)
        if (exits.join() !== '0,0') {
          missing.push(`run ${run + 1}: extension exits ${exits.join()}`)
        }
      })
    }
    t.same(missing, [], `nothing lost in ${RUNS} runs`)
  })
}
