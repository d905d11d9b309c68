// The dynamic loader's own words when a program cannot start: a library or a symbol version its
// root lacks (an extension built against a newer glibc than the image's). The loader exits (1 for
// a missing symbol version, 127 for a missing library) before main(): the program never ran.
const LOADER_ERROR = /(version `[^']+' not found|error while loading shared libraries: )/

/** The loader's message among a process's stderr lines (the last that matches), or undefined. */
export function loaderError(stderrLines: readonly string[]): string | undefined {
  for (let i = stderrLines.length - 1; i >= 0; i--) {
    if (LOADER_ERROR.test(stderrLines[i]!)) {
      return stderrLines[i]
    }
  }
  return undefined
}
