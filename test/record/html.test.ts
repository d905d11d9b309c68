// The HTML timeline in a real headless Chromium (Debian's `chromium`): it renders offline, and
// after the page's own script has drawn it, the lanes and the deadlines are where the RunRecord
// says (read back from --dump-dom: the script writes each element's page position onto it), and a
// 20-invoke run at 1400×900 has every invoke and the Shutdown readable on its compressed axis.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { renderHtmlTimeline, type RunRecord } from '../../harness/index.js'
import type { ProblemCode } from '../../harness/record/run-record.js'
import { PYTHON, extensionsDir, fn, startSandbox } from '../helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const WIDTH = 1300
const HEIGHT = 900

/** Chromium as the brief has it: headless, no network of its own, a fresh profile per run. */
async function chromium(args: readonly string[], file: string, [width, height] = [WIDTH, HEIGHT]): Promise<string> {
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
        `--window-size=${width},${height}`,
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
  /** The text right inside it, up to its first child. */
  readonly text: string
}

// Python's html.parser, not regular expressions: every element with a class, and <body>.
const READ_DOM = `
import json, sys
from html.parser import HTMLParser
out = []
class P(HTMLParser):
    last = None
    def handle_starttag(self, tag, attrs):
        a = dict((k, v or "") for k, v in attrs)
        self.last = None
        if tag == "body" or "class" in a:
            self.last = {"tag": tag, "attrs": a, "text": ""}
            out.append(self.last)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.last = None
    def handle_endtag(self, tag):
        self.last = None
    def handle_data(self, data):
        if self.last is not None:
            self.last["text"] += data
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

/** The page position of a time on a section's axis: linear between the knots the page wrote. */
function axisOf(svg: Element): (ms: number) => number {
  const knots = svg.attrs['data-knots']!.split(' ').map((k) => k.split(':').map(Number) as [number, number])
  return (ms) => {
    const i = Math.max(1, knots.findIndex(([kms]) => kms >= ms))
    const [m0, p0] = knots[i - 1]!
    const [m1, p1] = knots[Math.min(i, knots.length - 1)]!
    return m1 === m0 ? p1 : p0 + ((p1 - p0) * (ms - m0)) / (m1 - m0)
  }
}

if (!existsSync(CHROMIUM)) {
  t.plan(0, `${CHROMIUM} is missing: install Debian's chromium (make system-deps) to look at the timeline in a real browser`)
} else {
  t.test('the timeline renders in Chromium with a lane per process and the deadlines where the record has them', timelineInChromium)
  t.test('20 invokes at 1400×900: each invoke and the Shutdown readable, idle time cut with labelled breaks', twentyInvokes)
}

async function timelineInChromium(t: Test): Promise<void> {
  const record = await recordWithReset(t)
  t.equal(record.resets.length, 1, 'the fixture run had a reset')
  t.ok(record.processes.some((p) => p.generation === 1), 'and a second generation of processes')
  // Text that would end the data <script> early, or run, if it were not escaped.
  const hostile = structuredClone(record)
  hostile.timeline.push({ atMs: 1, kind: 'problem', process: 'runtime', detail: '</script><script>document.body.dataset.pwned = "yes"</script><!--' })
  // A record read from a file may hold any code: the page escapes it as any other text.
  hostile.verdict.problems.push({ code: 'test-<b>' as ProblemCode, message: '</script><img src=x onerror="document.body.dataset.pwned=1">' })

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
  const at = axisOf(svg)
  t.ok(Number(svg.attrs['data-px0']) > 0 && Math.abs(at(0) - Number(svg.attrs['data-px0'])) < 1.5, 'the axis is on the page, boot at its origin')

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

const READABLE_PX = 12

async function twentyInvokes(t: Test): Promise<void> {
  const sandbox = await startSandbox(t, { functionDir: fn('echo'), extensionsDir: extensionsDir(t, ['well-behaved']) })
  for (let n = 0; n < 20; n++) {
    await sandbox.invoke({ n })
  }
  await sandbox.shutdown({ reason: 'spindown' })
  const record = sandbox.record
  t.equal(record.invocations.length, 20)

  const dir = mkdtempSync(path.join(tmpdir(), 'lh-html-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, 'timeline.html')
  writeFileSync(file, renderHtmlTimeline([{ title: 'twenty invokes', record }]))
  const found = await elements(await chromium(['--dump-dom'], file, [1400, 900]))
  t.equal(found.find((e) => e.tag === 'body')!.attrs['data-rendered'], 'true', "the page's script ran to the end")

  const widths = (cls: string) => found.filter((e) => hasClass(e, 'phase') && hasClass(e, cls)).map((e) => Number(e.attrs['data-px-width']))
  const invokes = widths('invoke')
  t.equal(invokes.length, 20, 'a bar per invoke')
  t.ok(invokes.every((w) => w >= READABLE_PX), `every invoke at least ${READABLE_PX} px wide (${invokes.map((w) => w.toFixed(0)).join(', ')})`)
  const shutdowns = widths('shutdown')
  t.equal(shutdowns.length, 1, 'a bar for the Shutdown')
  t.ok(shutdowns[0]! >= READABLE_PX, `the Shutdown at least ${READABLE_PX} px wide (${shutdowns[0]!.toFixed(0)})`)

  // The Shutdown ends long before its deadline: that idle stretch is cut, and says so.
  const svg = found.find((e) => e.tag === 'svg' && hasClass(e, 'plot'))!
  const at = axisOf(svg)
  const breaks = found.filter((e) => e.tag === 'g' && hasClass(e, 'break'))
  const shutdown = record.shutdown!
  t.ok(
    breaks.some((b) => Number(b.attrs['data-to-ms']) === shutdown.deadlineAtMs && Number(b.attrs['data-from-ms']) >= shutdown.startedAtMs),
    'the idle time before the Shutdown deadline is a break',
  )
  const ticks = found.filter((e) => e.tag === 'text' && hasClass(e, 'tick'))
  const gaps = found.filter((e) => e.tag === 'text' && hasClass(e, 'break-gap'))
  t.equal(gaps.length, breaks.length, 'each break has its length above the axis')
  breaks.forEach((b, i) => {
    const from = Number(b.attrs['data-from-ms'])
    const to = Number(b.attrs['data-to-ms'])
    t.ok(to - from > 50, `${from.toFixed(1)}..${to.toFixed(1)} ms: only long idle stretches are cut`)
    t.match(gaps[i]?.text, /^⋯ \d+(\.\d+)? m?s$/, 'labelled with ⋯ and its length')
    for (const side of [from, to]) {
      const label = ticks.find((l) => hasClass(l, 'break-side') && Number(l.attrs['data-at-ms']) === side)
      t.ok(label, `the break's side at +${side.toFixed(1)} ms is labelled`)
      t.equal(label?.text, `${side.toFixed(1)} ms`, 'with its ms since boot')
    }
  })
  // Every label is true: its text is its time, and it is written where the axis puts that time.
  for (const tick of ticks.filter((l) => !hasClass(l, 'break-side'))) {
    const ms = Number(tick.attrs['data-at-ms'])
    const [value, unit] = tick.text.split(' ')
    t.ok(Math.abs(Number(value) * (unit === 's' ? 1000 : 1) - ms) < 1e-6, `the tick "${tick.text}" is at +${ms} ms`)
  }
  const invokeBars = found.filter((e) => hasClass(e, 'phase') && hasClass(e, 'invoke'))
  invokeBars.forEach((bar, i) => {
    const inv = record.invocations[i]!
    t.ok(Math.abs(Number(bar.attrs['data-px']) - at(inv.startedAtMs)) < 1.5, `invoke ${i + 1} starts at +${inv.startedAtMs.toFixed(1)} ms on the axis`)
  })
}
