// Where the package's own files are, whether running from dist/ or from a checkout.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

function findPackageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir)
    if (parent === dir) {
      throw new Error('lambda-harness: package.json not found above the harness')
    }
    dir = parent
  }
  return dir
}

export const PACKAGE_ROOT = findPackageRoot()
/** Our Python runtime client: Lambda's /var/runtime. */
export const PYTHON_RUNTIME_DIR = path.join(PACKAGE_ROOT, 'harness', 'runtimes', 'python')
export const PYTHON_BOOTSTRAP = path.join(PYTHON_RUNTIME_DIR, 'bootstrap.py')
