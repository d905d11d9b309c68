// Checks that a folder can be the sandbox's root (`--image`), and runs a command inside it.
// A root needs a /bin/sh this machine can run: an ELF for this CPU whose libc does not ask for a
// newer kernel than this one (its GNU ABI note, as the kernel's loader would refuse it later with
// "FATAL: kernel too old"). Paths inside are resolved as the sandbox resolves them: symlinks
// (absolute ones too) stay inside the root, never on the host.
import { execFile } from 'node:child_process'
import { closeSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs'
import { release } from 'node:os'
import path from 'node:path'
import { HarnessError } from '../errors.js'
import { findBwrap } from './launcher.js'

/** The host path that `inside` (an absolute path in the image) names, following symlinks within `root`; undefined if missing. */
export function resolveInRoot(root: string, inside: string): string | undefined {
  let pending = inside.split('/').filter((part) => part !== '' && part !== '.')
  const resolved: string[] = []
  for (let hops = 0; pending.length > 0; ) {
    const part = pending.shift()!
    if (part === '..') {
      resolved.pop()
      continue
    }
    const host = path.join(root, ...resolved, part)
    const stat = lstatSync(host, { throwIfNoEntry: false })
    if (stat === undefined) {
      return undefined
    }
    if (stat.isSymbolicLink()) {
      if (++hops > 40) {
        return undefined
      }
      const target = readlinkSync(host)
      if (target.startsWith('/')) {
        resolved.length = 0
      }
      pending = [...target.split('/').filter((p) => p !== '' && p !== '.'), ...pending]
      continue
    }
    resolved.push(part)
  }
  return path.join(root, ...resolved)
}

const ELF_MACHINES: Record<string, number> = { x64: 62, arm64: 183, ia32: 3, arm: 40 }

/** Why the folder cannot be the sandbox's root, or undefined when it can. */
export function imageRootProblem(root: string): string | undefined {
  const shell = resolveInRoot(root, '/bin/sh')
  if (shell === undefined || lstatSync(shell).isFile() !== true) {
    return 'it is not a root file system (it has no /bin/sh)'
  }
  const elf = readElfFacts(shell)
  if (elf === undefined) {
    return undefined
  }
  const machine = ELF_MACHINES[process.arch]
  if (machine !== undefined && elf.machine !== machine) {
    return `its /bin/sh is built for another CPU (ELF machine ${elf.machine}; this machine is ${process.arch})`
  }
  if (elf.minKernel !== undefined && compareVersions(elf.minKernel, release()) > 0) {
    return `it needs Linux ${elf.minKernel} or newer (its /bin/sh's ABI note); this kernel is ${release()}`
  }
  return undefined
}

interface ElfFacts {
  readonly machine: number
  /** From the NT_GNU_ABI_TAG note (e.g. "3.2.0"), when the binary carries one. */
  readonly minKernel: string | undefined
}

/** The ELF header's machine and the GNU ABI note of a 64-bit little-endian ELF; undefined for anything else (a script). */
function readElfFacts(file: string): ElfFacts | undefined {
  const fd = openSync(file, 'r')
  try {
    const header = Buffer.alloc(64)
    readSync(fd, header, 0, 64, 0)
    if (header.toString('latin1', 0, 4) !== '\x7fELF' || header[4] !== 2 || header[5] !== 1) {
      return undefined
    }
    const machine = header.readUInt16LE(18)
    const phoff = Number(header.readBigUInt64LE(32))
    const phentsize = header.readUInt16LE(54)
    const phnum = header.readUInt16LE(56)
    const table = Buffer.alloc(phentsize * phnum)
    readSync(fd, table, 0, table.length, phoff)
    for (let i = 0; i < phnum; i++) {
      const entry = table.subarray(i * phentsize)
      // PT_NOTE = 4
      if (entry.readUInt32LE(0) !== 4) {
        continue
      }
      const notes = Buffer.alloc(Math.min(Number(entry.readBigUInt64LE(32)), 4096))
      readSync(fd, notes, 0, notes.length, Number(entry.readBigUInt64LE(8)))
      const minKernel = abiTag(notes)
      if (minKernel !== undefined) {
        return { machine, minKernel }
      }
    }
    return { machine, minKernel: undefined }
  } finally {
    closeSync(fd)
  }
}

/** NT_GNU_ABI_TAG (type 1, name "GNU"): os 0 (Linux), then major, minor, patch of the oldest kernel. */
function abiTag(notes: Buffer): string | undefined {
  for (let at = 0; at + 12 <= notes.length; ) {
    const nameSize = notes.readUInt32LE(at)
    const descSize = notes.readUInt32LE(at + 4)
    const type = notes.readUInt32LE(at + 8)
    const name = notes.toString('latin1', at + 12, at + 12 + nameSize).replace(/\0+$/, '')
    const desc = at + 12 + align4(nameSize)
    if (type === 1 && name === 'GNU' && descSize >= 16 && desc + 16 <= notes.length && notes.readUInt32LE(desc) === 0) {
      return [4, 8, 12].map((offset) => notes.readUInt32LE(desc + offset)).join('.')
    }
    at = desc + align4(descSize)
  }
  return undefined
}

function align4(n: number): number {
  return (n + 3) & ~3
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((part) => parseInt(part, 10) || 0)
  const pb = b.split(/[.-]/).map((part) => parseInt(part, 10) || 0)
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (diff !== 0) {
      return diff
    }
  }
  return 0
}

/** Runs `argv` inside the image (read-only, its own /proc and /dev) and resolves with its stdout; rejects with its last stderr line. */
export function runInImage(root: string, argv: readonly string[], timeoutMs = 20_000): Promise<string> {
  const bwrap = findBwrap()?.file
  if (bwrap === undefined) {
    return Promise.reject(new HarnessError('ERR_INVALID_OPTION', 'option image: needs bwrap (the image is the bwrap sandbox\'s root); on Debian/Ubuntu: apt-get install bubblewrap'))
  }
  const args = ['--ro-bind', root, '/', '--proc', '/proc', '--dev', '/dev', '--unshare-pid', '--die-with-parent', '--', ...argv]
  return new Promise((resolve, reject) => {
    execFile(bwrap, args, { timeout: timeoutMs, maxBuffer: 1024 * 1024, env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' } }, (error, stdout, stderr) => {
      if (error !== null) {
        const why = stderr.trim().split('\n').slice(-1)[0] || (error.killed ? 'timed out' : error.message.split('\n')[0])
        reject(Object.assign(new Error(why ?? 'failed'), { cause: error }))
        return
      }
      resolve(stdout)
    })
  })
}
