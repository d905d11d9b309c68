// The package's C helpers (the sandbox's holder and plain mode's launcher) are static binaries
// built at pack time for the packing machine's architecture: an install needs no compiler and runs
// no install script. On another architecture they cannot run; this says so once, in one line.
import { closeSync, openSync, readSync } from 'node:fs'

// ELF e_machine values (the System V ABI's registry) for the architectures Lambda offers.
const ELF_MACHINE: Record<string, number> = { x64: 0x3e, arm64: 0xb7 }

/** The first bytes of `file`, or undefined when it cannot be read or is shorter. */
function head(file: string, bytes: number): Buffer | undefined {
  try {
    const fd = openSync(file, 'r')
    try {
      const buffer = Buffer.alloc(bytes)
      return readSync(fd, buffer, 0, bytes, 0) === bytes ? buffer : undefined
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
}

/** Whether `file` is an ELF executable for the architecture this Node runs on. */
export function builtForThisMachine(file: string, arch: string = process.arch): boolean {
  const header = head(file, 20)
  if (header === undefined || header.readUInt32BE(0) !== 0x7f454c46) {
    return false
  }
  // e_machine is at offset 18, in the byte order e_ident[5] names (1: little-endian).
  const machine = header[5] === 1 ? header.readUInt16LE(18) : header.readUInt16BE(18)
  return ELF_MACHINE[arch] === machine
}

/** One line when the packaged helpers cannot run here (another architecture, or never built); else undefined. */
export function nativeHelpersNote(binaries: readonly string[], arch: string = process.arch): string | undefined {
  const missing = binaries.filter((binary) => !builtForThisMachine(binary, arch))
  if (missing.length === 0) {
    return undefined
  }
  return `note: the package's sandbox helpers (${missing.map((b) => b.split('/').at(-1)).join(', ')}) are not built for ${arch}: build them with \`make -s launcher\` in the package's folder (needs a C compiler; Debian: apt-get install gcc)`
}
