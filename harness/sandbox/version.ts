import { readFileSync } from 'node:fs'
import path from 'node:path'
import { PACKAGE_ROOT } from '../paths.js'

/** The package's own version (package.json, read once): the same from dist/ and from the npm package. */
export const HARNESS_VERSION: string = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version
