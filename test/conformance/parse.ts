// Readers for the machine reports, so tests check them the way CI tools read them: TAP through
// tap-parser (strict: any line that is not TAP fails), JUnit XML through a real XML parser
// (Python's xml.etree), never through regular expressions.
import { execa } from 'execa'
import { Parser, type FinalResults } from 'tap-parser'
import { PYTHON } from '../helpers.js'

export interface ParsedTap {
  readonly final: FinalResults
  /** Test point name → its YAML diagnostics (parsed), for failures and passes that carry them. */
  readonly diags: Map<string, Record<string, unknown>>
  /** Lines tap-parser could not read as TAP. */
  readonly extra: string[]
}

export async function parseTap(text: string): Promise<ParsedTap> {
  const diags = new Map<string, Record<string, unknown>>()
  const extra: string[] = []
  const final = await new Promise<FinalResults>((resolve) => {
    const parser = new Parser({ strict: true }, resolve)
    parser.on('assert', (result: { name: string; diag: Record<string, unknown> | null }) => {
      if (result.diag !== null) {
        diags.set(result.name, result.diag)
      }
    })
    parser.on('extra', (line: string) => extra.push(line))
    parser.end(text)
  })
  return { final, diags, extra }
}

export interface JunitCase {
  readonly suite: string
  readonly classname: string
  readonly name: string
  readonly outcome: 'pass' | 'fail' | 'skip'
  readonly message: string | null
  readonly text: string | null
}

export interface ParsedJunit {
  readonly root: { tag: string; attrs: Record<string, string> }
  readonly suites: { name: string; attrs: Record<string, string> }[]
  readonly cases: JunitCase[]
}

const READ_JUNIT = `
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.buffer.read())
out = {"root": {"tag": root.tag, "attrs": dict(root.attrib)}, "suites": [], "cases": []}
for suite in root.findall("testsuite"):
    out["suites"].append({"name": suite.get("name"), "attrs": dict(suite.attrib)})
    for case in suite.findall("testcase"):
        failure, skipped = case.find("failure"), case.find("skipped")
        node = failure if failure is not None else skipped
        out["cases"].append({"suite": suite.get("name"), "classname": case.get("classname"), "name": case.get("name"),
            "outcome": "fail" if failure is not None else "skip" if skipped is not None else "pass",
            "message": None if node is None else node.get("message"), "text": None if failure is None else failure.text})
print(json.dumps(out))
`

/** Parses JUnit XML with a real XML parser; rejects (with the parser's message) if it is not well-formed. */
export async function parseJunit(text: string): Promise<ParsedJunit> {
  const result = await execa(PYTHON, ['-c', READ_JUNIT], { input: text, reject: false })
  if (result.exitCode !== 0) {
    throw new Error(`not well-formed XML: ${result.stderr.split('\n').at(-1) ?? result.stderr}`)
  }
  return JSON.parse(result.stdout) as ParsedJunit
}
