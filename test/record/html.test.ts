// The HTML timeline in a real headless Chromium (Debian's `chromium`): it renders offline, and
// after the page's own script has drawn it, the lanes and the deadlines are where the RunRecord
// says (read back from --dump-dom: the script writes each element's page position onto it).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { renderHtmlTimeline, type RunRecord } from '../../harness/index.js'
import { PYTHON, extensionsDir, fn, startSandbox } from '../helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const WIDTH = 1300
const HEIGHT = 900


/** Chromium as the brief has it: headless, no network of its own, a fresh profile per run. */
async function chromium(args: readonly string[], file: string): Promise<string> {
  const profile = mkdtempSync(path.join(tmpdir(), 'lh-chromium-'))
  try {
    const result = await execa(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        `--window-size=${WIDTH},${HEIGHT}`,
        ...args,
        `file://${file}`,
      ],
      { timeout: 60_000, reject: false, stdin: 'ignore' },
    )
    if (result.exitCode !== 0) {
      throw new Error(`chromium exited ${result.exitCode}: ${result.stderr.slice(-2000)}`)
    }
    return String(result.stdout)
  } finally {
    rmSync(profile, { recursive: true, force: true })
  }
}

interface Element {
  readonly tag: string
  readonly attrs: Record<string, string>
}

// Python's html.parser, not regular expressions: every element with a class, and <body>.
const READ_DOM = `
import json, sys
from html.parser import HTMLParser
out = []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict((k, v or "") for k, v in attrs)
        if tag == "body" or "class" in a:
            out.append({"tag": tag, "attrs": a})
    handle_startendtag = handle_starttag
P().feed(sys.stdin.read())
print(json.dumps(out))
`

async function elements(dom: string): Promise<Element[]> {
  const result = await execa(PYTHON, ['-c', READ_DOM], { input: dom })
  return JSON.parse(result.stdout) as Element[]
}

const hasClass = (element: Element, name: string) => (element.attrs.class ?? '').split(/\s+/).includes(name)

/** A run with a reset (a function timeout), a suppressed Init, a final Shutdown and a leaked child. */
async function recordWithReset(t: Test): Promise<RunRecord> {
  const sandbox = await startSandbox(t, {
    functionDir: fn('sleeps'),
    python: PYTHON,
    timeoutSec: 1,
    extensionsDir: extensionsDir(t, ['spawns-child']),
  })
  await sandbox.invoke({ seconds: 3 })
  await sandbox.invoke({ seconds: 0 })
  await sandbox.shutdown({ reason: 'spindown' })
  return sandbox.record
}

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium (make system-deps) to look at the timeline in a real browser`)
} else {
  t.test('the timeline renders in Chromium with a lane per process and the deadlines where the record has them', timelineInChromium)
}

async function timelineInChromium(t: Test): Promise<void> {
  const record = await recordWithReset(t)
  t.equal(record.resets.length, 1, 'the fixture run had a reset')
  t.ok(record.processes.some((p) => p.generation === 1), 'and a second generation of processes')
  // Text that would end the data <script> early, or run, if it were not escaped.
  const hostile = structuredClone(record)
  hostile.timeline.push({ atMs: 1, kind: 'problem', process: 'runtime', detail: '</script><script>document.body.dataset.pwned = "yes"</script><!--' })
  hostile.verdict.problems.push({ code: 'test-<b>', message: '</script><img src=x onerror="document.body.dataset.pwned=1">' })

  const dir = mkdtempSync(path.join(tmpdir(), 'lh-html-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'timeline.html')
  writeFileSync(
    file,
    renderHtmlTimeline([
      { title: 'with a reset', record: hostile, checks: [{ id: 'shutdown-spindown/no-orphans', extension: 'spawns-child', outcome: 'fail', summary: '1 process outlived it' }] },
      { title: 'again', record },
    ]),
  )
  const html = readFileSync(file, 'utf8')
  t.notMatch(html, /<(script|link|img|iframe)[^>]+(src|href)=/i, 'self-contained: nothing to fetch')

  const [dom] = await Promise.all([chromium(['--dump-dom'], file), chromium([`--screenshot=${path.join(dir, 'shot.png')}`], file)])
  const found = await elements(dom)
  const body = found.find((e) => e.tag === 'body')!
  t.equal(body.attrs['data-rendered'], 'true', "the page's script ran to the end")
  t.equal(body.attrs['data-pwned'], undefined, 'text from the record stayed text')
  t.equal(body.attrs['data-sections'], '2')
  const lanesPerSection = 1 + record.processes.length
  t.equal(body.attrs['data-lanes'], String(2 * lanesPerSection), 'a platform lane plus one per process, in each section')

  const svgs = found.filter((e) => e.tag === 'svg' && hasClass(e, 'plot'))
  t.equal(svgs.length, 2)
  const svg = svgs[0]!
  const px0 = Number(svg.attrs['data-px0'])
  const pxPerMs = Number(svg.attrs['data-px-per-ms'])
  t.ok(px0 > 0 && pxPerMs > 0, 'the axis is on the page')
  const at = (ms: number) => px0 + ms * pxPerMs

  // The first section's elements come before the second svg's in document order.
  const firstSection = found.slice(found.indexOf(svg), found.indexOf(svgs[1]!))
  const lanes = firstSection.filter((e) => e.tag === 'g' && hasClass(e, 'lane'))
  t.same(
    lanes.map((l) => [l.attrs['data-process'], l.attrs['data-generation']]),
    [['platform', ''], ...record.processes.map((p) => [p.name, String(p.generation)])],
    'one lane per process, in the record\'s order',
  )
  const tops = lanes.map((l) => Number(l.attrs['data-py']))
  t.ok(tops.every((top, i) => i === 0 || top > tops[i - 1]!), 'lanes stacked top to bottom')
  const lives = firstSection.filter((e) => hasClass(e, 'life'))
  t.equal(lives.length, record.processes.length)
  lives.forEach((life, i) => {
    const process = record.processes[i]!
    t.ok(Math.abs(Number(life.attrs['data-px']) - at(process.startedAtMs)) < 1.5, `${process.name} #${process.generation} starts at +${process.startedAtMs.toFixed(0)} ms on the axis`)
  })

  const shutdowns = [...record.resets, record.shutdown!].filter((s) => s.windowMs > 0)
  const deadlines = firstSection.filter((e) => hasClass(e, 'deadline'))
  t.same(
    deadlines.map((d) => [Number(d.attrs['data-at-ms']), d.attrs['data-reason']]),
    shutdowns.map((s) => [s.deadlineAtMs, s.reason]),
    'a deadline per Shutdown and reset',
  )
  for (const deadline of deadlines) {
    const atMs = Number(deadline.attrs['data-at-ms'])
    t.ok(Math.abs(Number(deadline.attrs['data-px']) - at(atMs)) < 1.5, `the ${deadline.attrs['data-reason']} deadline is drawn at +${atMs.toFixed(0)} ms`)
  }

  const marks = (kind: string) => firstSection.filter((e) => hasClass(e, 'mark') && hasClass(e, kind)).length
  const entries = (kind: string) => hostile.timeline.filter((e) => e.kind === kind).length
  t.equal(marks('exit'), entries('exit'), 'every exit')
  t.equal(marks('signal'), entries('signal'), 'every signal')
  t.equal(marks('event'), entries('event'), 'every event')
  t.equal(marks('problem'), entries('problem'), 'every problem')

  const png = readFileSync(path.join(dir, 'shot.png'))
  t.equal(png.subarray(1, 4).toString('latin1'), 'PNG', 'a screenshot was taken')
  t.same([png.readUInt32BE(16), png.readUInt32BE(20)], [WIDTH, HEIGHT])
  t.ok(png.length > 20_000, 'and it is not blank')
}
