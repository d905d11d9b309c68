#!/usr/bin/env node
// The `lambda-harness` command: loads the CLI (cli/load.ts) and runs the command; its exit code is the process's.
import { loadMain } from './cli/load.js'

const main = await loadMain(process.argv[2])
process.exitCode = await main(process.argv.slice(2))
