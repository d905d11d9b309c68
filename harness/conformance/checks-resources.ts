// The many-invokes checks: what the extension's process tree holds (resident memory, open file
// descriptors, threads), sampled from /proc as the invokes go by, must not keep growing.
import { readdirSync, readFileSync } from 'node:fs'
import { descendants } from '../supervisor/process-groups.js'
import type { CheckSpec, LeakTolerance, ResourceSample, ScenarioEvidence, SuiteFacts, Verdict } from './types.js'
import { FIX_KEEP_UP, initBlock, median, processOf } from './evidence.js'

export const DEFAULT_TOLERANCE: LeakTolerance = { memoryMB: 10, memoryPercent: 50, fds: 4, threads: 2 }

/** Reads one sample of a process and its descendants; undefined if /proc cannot be read. */
export function sampleTree(pid: number, afterInvokes: number, atMs: number): ResourceSample | undefined {
  let rssKB = 0
  let fds = 0
  let threads = 0
  let seen = 0
  for (const member of descendants(pid)) {
    try {
      const status = readFileSync(`/proc/${member}/status`, 'utf8')
      rssKB += Number(/^VmRSS:\s*(\d+) kB$/m.exec(status)?.[1] ?? 0)
      threads += Number(/^Threads:\s*(\d+)$/m.exec(status)?.[1] ?? 0)
      fds += readdirSync(`/proc/${member}/fd`).length
      seen++
    } catch {
      // Gone while we looked, or not readable.
    }
  }
  return seen === 0 ? undefined : { afterInvokes, atMs, rssKB, fds, threads }
}

/** Which invokes to sample after: a warm-up first, then evenly to the end (about 14 samples). */
export function samplePoints(invokes: number): Set<number> {
  const warmUp = Math.min(invokes, Math.max(5, Math.round(invokes * 0.1)))
  const step = Math.max(1, Math.round((invokes - warmUp) / 12))
  const points = new Set<number>()
  for (let at = warmUp; at < invokes; at += step) {
    points.add(at)
  }
  points.add(invokes)
  return points
}

type Metric = 'rssKB' | 'fds' | 'threads'

function leakCheck(name: string, metric: Metric, expected: string, fix: string): CheckSpec {
  return {
    name,
    expected,
    evaluate(evidence: ScenarioEvidence, extension: string, suite: SuiteFacts): Verdict {
      const { record } = evidence
      const block = initBlock(record, extension)
      if (block !== undefined) {
        return { outcome: 'fail', summary: block.reason, fix: block.fix, blockedBy: block.owner }
      }
      const failed = record.invocations.findIndex((i) => i.status !== 'success')
      if (failed !== -1) {
        const invocation = record.invocations[failed]!
        return {
          outcome: 'fail',
          summary: `invoke ${failed + 1} of ${suite.manyInvokes} failed (${invocation.status}${invocation.errorType === undefined ? '' : `, ${invocation.errorType}`}), so the run stopped there`,
          fix: FIX_KEEP_UP,
          blockedBy: 'invoke/keeps-up',
        }
      }
      const samples = evidence.extensions[extension]?.samples ?? []
      if (samples.length < 2 || processOf(record, extension)?.pid == null) {
        return { outcome: 'skip', summary: 'its process could not be sampled (/proc/<pid> is Linux only)' }
      }
      const edge = Math.min(3, Math.floor(samples.length / 2))
      const before = median(samples.slice(0, edge).map((s) => s[metric]))
      const after = median(samples.slice(-edge).map((s) => s[metric]))
      const from = samples[0]!.afterInvokes
      const to = samples.at(-1)!.afterInvokes
      const growth = after - before
      const tolerance =
        metric === 'rssKB' ? Math.max(suite.tolerance.memoryMB * 1024, (before * suite.tolerance.memoryPercent) / 100) : suite.tolerance[metric]
      const show = (value: number) => (metric === 'rssKB' ? `${(value / 1024).toFixed(1)} MB` : String(value))
      const perInvoke = to > from ? growth / (to - from) : 0
      const rate = metric === 'rssKB' ? `${perInvoke.toFixed(1)} KB` : perInvoke.toFixed(2)
      const data = { before, after, growth, tolerance, perInvoke, fromInvoke: from, toInvoke: to, samples: samples.length }
      const line = `${show(before)} → ${show(after)} from invoke ${from} to ${to} (${growth >= 0 ? '+' : ''}${show(growth)}, ${rate} per invoke; tolerance ${show(tolerance)})`
      if (growth > tolerance) {
        return { outcome: 'fail', summary: `grew ${line}`, happened: `samples: ${samples.map((s) => `${s.afterInvokes}:${show(s[metric])}`).join(' ')}`, fix, data }
      }
      return { outcome: 'pass', summary: line, data }
    },
  }
}

export const manyInvokesMemory = leakCheck(
  'memory',
  'rssKB',
  'its resident memory (the process and its children, VmRSS) does not keep growing over the invokes',
  'keep per-invoke state bounded: cap buffers and caches, reuse one HTTP client and connection instead of one per invoke, drop references to finished work',
)

export const manyInvokesFds = leakCheck(
  'fds',
  'fds',
  'its open file descriptors (files, sockets, pipes) do not keep growing over the invokes',
  'close what each invoke opens (files, sockets, HTTP responses): use with-blocks / try-finally, and reuse connections',
)

export const manyInvokesThreads = leakCheck(
  'threads',
  'threads',
  'its thread count does not keep growing over the invokes',
  'start worker threads once, at Init, and hand them work through a queue instead of starting a thread per invoke',
)
