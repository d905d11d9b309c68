// import() as an ES module does it, from anywhere: the CLI's bundle is CommonJS, where import()
// is built as require() (cli/load.ts), which cannot load an ES-modules-only package.

/** Where the CLI's loader (an ES module) leaves its own import() for the bundle. */
export const ESM_IMPORT = Symbol.for('lambda-harness.import')

/** The module at `specifier` (a package name or a file: URL), loaded by Node's ES module loader. */
export function importEsm<T>(specifier: string): Promise<T> {
  const fromLoader = (globalThis as Record<symbol, ((specifier: string) => Promise<unknown>) | undefined>)[ESM_IMPORT]
  return (fromLoader === undefined ? import(specifier) : fromLoader(specifier)) as Promise<T>
}
