// The sandbox's file system plan, without running bwrap: how layers merge into /opt (Lambda's
// order, later layers win, folders merge), /var/task replaces rather than merges, and /etc/hosts.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import t, { type Test } from 'tap'
import { hostsFile, mergeTree, optSources, sandboxMountArgs, toBwrapArgs, type MountOp } from '../../harness/isolation/mounts.js'

/** A folder tree from a { 'a/b.txt': 'text', 'c/': null, 'l': { link: 'target' } } description. */
function tree(t: Test, files: Record<string, string | null | { link: string }>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'lh-mounts-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(root, name)
    if (content === null) {
      mkdirSync(file, { recursive: true })
      continue
    }
    mkdirSync(path.dirname(file), { recursive: true })
    if (typeof content === 'string') {
      writeFileSync(file, content)
    } else {
      symlinkSync(content.link, file)
    }
  }
  return root
}

const layer = (root: string) => ({ root, extensionsDir: path.join(root, 'extensions') })

t.test('no layers: /opt is an empty read-only tmpfs (the host\'s /opt is hidden)', async (t) => {
  t.same(mergeTree('/opt', optSources([])), [
    { op: 'tmpfs', dest: '/opt' },
    { op: 'remount-ro', dest: '/opt' },
  ])
})

t.test('one layer is bound whole at /opt', async (t) => {
  const a = tree(t, { 'python/a.py': 'a', 'extensions/ext-a': '#!/bin/sh' })
  t.same(mergeTree('/opt', optSources([layer(a)])), [{ op: 'bind', source: a, dest: '/opt' }])
})

t.test('several layers: later files win, folders merge, a folder only one layer has is bound whole', async (t) => {
  const a = tree(t, { 'python/shared.py': 'a', 'python/only_a.py': 'a', 'extensions/ext-a': 'a', 'bin/tool': 'a', 'lib/': null })
  const b = tree(t, { 'python/shared.py': 'b', 'extensions/ext-b': 'b', 'extensions/ext-a': 'b wins', 'b-own/data': 'b' })
  const ops = mergeTree('/opt', optSources([layer(a), layer(b)]))
  t.same(ops, [
    { op: 'tmpfs', dest: '/opt' },
    { op: 'bind', source: path.join(b, 'b-own'), dest: '/opt/b-own' },
    { op: 'bind', source: path.join(a, 'bin'), dest: '/opt/bin' },
    { op: 'dir', dest: '/opt/extensions' },
    { op: 'bind', source: path.join(b, 'extensions', 'ext-a'), dest: '/opt/extensions/ext-a' },
    { op: 'bind', source: path.join(b, 'extensions', 'ext-b'), dest: '/opt/extensions/ext-b' },
    { op: 'bind', source: path.join(a, 'lib'), dest: '/opt/lib' },
    { op: 'dir', dest: '/opt/python' },
    { op: 'bind', source: path.join(a, 'python', 'only_a.py'), dest: '/opt/python/only_a.py' },
    { op: 'bind', source: path.join(b, 'python', 'shared.py'), dest: '/opt/python/shared.py' },
    { op: 'remount-ro', dest: '/opt' },
  ] satisfies MountOp[])
})

t.test('a later file replaces an earlier folder and the other way round', async (t) => {
  const a = tree(t, { 'thing/inside': 'a', other: 'a file' })
  const b = tree(t, { thing: 'b file', 'other/inside': 'b' })
  t.same(mergeTree('/opt', optSources([layer(a), layer(b)])), [
    { op: 'tmpfs', dest: '/opt' },
    { op: 'bind', source: path.join(b, 'other'), dest: '/opt/other' },
    { op: 'bind', source: path.join(b, 'thing'), dest: '/opt/thing' },
    { op: 'remount-ro', dest: '/opt' },
  ])
})

t.test('--extensions DIR is a layer whose folder is extensions/; symlinks stay symlinks', async (t) => {
  const a = tree(t, { 'extensions/ext-a': 'a', 'python/a.py': 'a' })
  const dir = tree(t, { 'linked-ext': { link: '/elsewhere/real-ext' }, 'lib/': null })
  const ops = mergeTree('/opt', optSources([layer(a), { root: dir, extensionsDir: dir }]))
  t.same(ops, [
    { op: 'tmpfs', dest: '/opt' },
    { op: 'dir', dest: '/opt/extensions' },
    { op: 'bind', source: path.join(a, 'extensions', 'ext-a'), dest: '/opt/extensions/ext-a' },
    { op: 'bind', source: path.join(dir, 'lib'), dest: '/opt/extensions/lib' },
    { op: 'symlink', target: '/elsewhere/real-ext', dest: '/opt/extensions/linked-ext' },
    { op: 'bind', source: path.join(a, 'python'), dest: '/opt/python' },
    { op: 'remount-ro', dest: '/opt' },
  ])
  t.same(toBwrapArgs(ops.slice(1, 5)), [
    '--dir', '/opt/extensions',
    '--ro-bind', path.join(a, 'extensions', 'ext-a'), '/opt/extensions/ext-a',
    '--ro-bind', path.join(dir, 'lib'), '/opt/extensions/lib',
    '--symlink', '/elsewhere/real-ext', '/opt/extensions/linked-ext',
  ])
})

t.test('/var keeps the host\'s entries; /var/task is the function folder only, never merged', async (t) => {
  const fn = tree(t, { 'app.py': 'x' })
  const client = tree(t, { 'bootstrap.py': 'x' })
  const args = sandboxMountArgs({ functionDir: fn, runtimeDir: client, layers: [], ephemeralStorageMB: 512 }, 4)
  const at = (dest: string) => args.findIndex((arg, i) => arg === dest && args[i - 2] === '--ro-bind')
  t.ok(at('/var/task') > 0 && args[at('/var/task') - 1] === fn, 'the function folder is bound at /var/task')
  t.ok(at('/var/runtime') > 0 && args[at('/var/runtime') - 1] === client, 'our client is bound at /var/runtime')
  t.ok(args.indexOf('/var') < at('/var/task'), '/var is a tmpfs first')
  t.same(args.slice(args.indexOf('--size') - 2, args.indexOf('--size') + 4), ['--perms', '1777', '--size', String(512 * 1024 * 1024), '--tmpfs', '/tmp'])
  t.same(args.slice(-3), ['--ro-bind-data', '4', '/etc/hosts'])
  t.same(args.slice(0, 3), ['--ro-bind', '/', '/'], 'the host root, read-only, first')
})

t.test('/etc/hosts: sandbox and sandbox.localdomain are 127.0.0.1, the host\'s lines follow', async (t) => {
  const text = hostsFile('127.0.0.1\tlocalhost\n10.0.0.9 sandbox other # a host that claims the name\n::1 localhost ip6-localhost\n')
  t.equal(text, '# lambda-harness sandbox\n127.0.0.1\tsandbox.localdomain sandbox\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost\n')
})
