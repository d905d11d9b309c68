// A zip layer's unpacked folder outlives a SIGKILLed harness (no exit hook runs): its name says
// whose it is (`lambda-harness-layer-<pid>-<start>-XXXXXX`), and the next harness that unpacks a
// layer removes it, once its owner is provably dead. A live owner's folder, and folders named any
// other way, are kept. Real CLI processes, in both isolation modes.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execa } from 'execa'
import t, { type Test } from 'tap'
import { LAYER_TEMP_PREFIX } from '../../harness/layers/layers.js'
import { ownerTag } from '../../harness/layers/temp-owner.js'
import { descendants, isLive } from '../../harness/supervisor/process-groups.js'
import { PYTHON, ROOT, fn, until } from '../helpers.js'
import { buildZip } from './zip-writer.js'

const CLI = path.join(ROOT, 'dist', 'harness', 'cli.js')

function scratch(t: Test, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function unpacked(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.startsWith(LAYER_TEMP_PREFIX)).sort()
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ')
  } catch {
    return ''
  }
}

for (const isolation of ['bwrap', 'none'] as const) {
  t.test(`${isolation}: the folder of a SIGKILLed harness is removed by the next one; a live owner's is kept`, async (t) => {
    // A TMPDIR of the test's own: other tests unpack layers into /tmp at the same time.
    const temp = scratch(t, 'lh-temp-owner-')
    const zip = path.join(scratch(t, 'lh-zip-'), 'layer.zip')
    writeFileSync(zip, buildZip([{ name: 'python/layer_mod.py', data: 'NAME = "layer"\n', method: 'deflated' }]))
    const args = (more: string[]) => [CLI, 'run', fn('sleeps'), '--handler', 'app.handler', '--python', PYTHON, '--layer', zip, ...more, ...(isolation === 'none' ? ['--no-isolation'] : [])]
    const env = { ...process.env, TMPDIR: temp, NODE_OPTIONS: '' }

    const killed = execa(process.execPath, args(['--event-json', '{"seconds": 600}', '--timeout', '900']), { env, reject: false, stdin: 'ignore', timeout: 60_000 })
    t.teardown(() => {
      killed.kill('SIGKILL')
    })
    const invoking = () => descendants(killed.pid!).slice(1).some((pid) => cmdline(pid).includes('app.handler'))
    t.ok(await until(invoking, 30_000), 'the first harness is mid-run (its runtime is up)')
    const [stale] = unpacked(temp)
    t.match(stale, new RegExp(`^${LAYER_TEMP_PREFIX}${killed.pid}-\\d+-[A-Za-z0-9]{6}$`), 'its folder names its owner')
    const processes = descendants(killed.pid!).slice(1)
    killed.kill('SIGKILL')
    await killed
    t.ok(existsSync(path.join(temp, stale!, 'python', 'layer_mod.py')), 'SIGKILLed: its folder is left behind')
    t.ok(await until(() => !processes.some(isLive), 10_000), 'its processes are gone')

    // A live owner's folder (this test's process) and a folder named the old way are not touched.
    const live = path.join(temp, `${LAYER_TEMP_PREFIX}${ownerTag()}Abc123`)
    const unnamed = path.join(temp, `${LAYER_TEMP_PREFIX}Xyz789`)
    mkdirSync(live)
    mkdirSync(unnamed)

    const next = await execa(process.execPath, args(['--invokes', '0']), { env, reject: false, stdin: 'ignore', timeout: 60_000 })
    t.equal(next.exitCode, 0, `the next harness runs clean: ${String(next.stderr)}`)
    t.notOk(existsSync(path.join(temp, stale!)), 'the dead owner\'s folder is gone')
    t.ok(existsSync(live), 'the live owner\'s folder is kept')
    t.ok(existsSync(unnamed), 'a folder that names no owner is kept')
    t.same(unpacked(temp), [path.basename(live), path.basename(unnamed)].sort(), 'and the next harness removed its own')
  })
}
