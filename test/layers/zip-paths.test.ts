// The pure path rules: every name and link target shape, without building a zip.
import t from 'tap'
import { linkLeavesLayer, normalisePath, treeProblem, type EntryKind, type PathEntry } from '../../harness/layers/zip-paths.js'

t.test('normalisePath keeps safe names and says why the others are unsafe', async (t) => {
  const safe: [string, string][] = [
    ['python/mod.py', 'python/mod.py'],
    ['extensions/', 'extensions'],
    ['./bin//tool', 'bin/tool'],
    ['lib/..foo', 'lib/..foo'],
    ['weird name:with colon', 'weird name:with colon'],
  ]
  for (const [name, path] of safe) {
    t.same(normalisePath(name), { path }, name)
  }
  const unsafe: [string, RegExp][] = [
    ['..', /"\.\." component/],
    ['a/../b', /"\.\." component/],
    ['/abs', /absolute/],
    ['D:\\x', /backslash|drive letter/],
    ['d:rel', /drive letter/],
    ['a\\..\\..\\b', /backslash/],
    ['nul\0byte', /NUL/],
  ]
  for (const [name, problem] of unsafe) {
    t.match(normalisePath(name), { problem }, JSON.stringify(name))
  }
})

t.test('linkLeavesLayer resolves targets against the link folder', async (t) => {
  const kinds = new Map<string, EntryKind>([
    ['lib/self', 'symlink'],
    ['lib/libx.so.1', 'file'],
  ])
  t.equal(linkLeavesLayer('lib/libx.so', 'libx.so.1', kinds), undefined)
  t.equal(linkLeavesLayer('lib/python', '../python', kinds), undefined)
  t.equal(linkLeavesLayer('a/b/c', '../../x/./y', kinds), undefined)
  t.equal(linkLeavesLayer('lib/chain', 'self', kinds), undefined, 'a link to a link is fine')
  t.equal(linkLeavesLayer('top', '..', kinds), 'points outside the layer')
  t.equal(linkLeavesLayer('a/b', '../../x', kinds), 'points outside the layer')
  t.equal(linkLeavesLayer('a/b', '../a/../../x', kinds), 'points outside the layer')
  t.equal(linkLeavesLayer('lib/x', '/opt/lib/x', kinds), 'is absolute')
  t.equal(linkLeavesLayer('lib/x', 'self/../..', kinds), 'passes through another symlink')
})

t.test('treeProblem finds duplicates and entries inside files or links', async (t) => {
  const entry = (path: string, kind: EntryKind): PathEntry => ({ name: path, path, kind })
  t.equal(treeProblem([entry('a', 'directory'), entry('a', 'directory'), entry('a/b', 'file')]), undefined)
  t.match(treeProblem([entry('a', 'file'), entry('a', 'symlink')]), { entry: { path: 'a', kind: 'symlink' }, problem: /twice/ })
  t.match(treeProblem([entry('a/b/c', 'file'), entry('a/b', 'symlink')]), { entry: { path: 'a/b/c' }, problem: /inside the symlink "a\/b"/ })
  t.match(treeProblem([entry('a/b', 'file'), entry('a', 'file')]), { entry: { path: 'a/b' }, problem: /inside the file "a"/ })
})
