#!/usr/bin/env node
// Captures what the real kernel shows of itself right after boot, for the simulator to show the same:
// /proc/version, and /sys/module/<m> of every built-in module (entries, parameter values, version,
// drivers), with parameter types from the release's modules.builtin.modinfo.
// Usage: npm run build && node scripts/capture-kernel-views.mjs [RELEASE]   (boots the qemu backend)
// Writes profiles/<release>.kernel-views.json.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'

const root = fileURLToPath(new URL('..', import.meta.url))
const release = process.argv[2] ?? '6.1.0-56-amd64'

/** Run script lines on the VM; one JSON result per line. */
async function onVm(lines) {
  return withDir(
    async ({ path }) => {
      const script = join(path, 'views.sh')
      writeFileSync(script, lines.join('\n') + '\n')
      const r = await execa(process.execPath, [join(root, 'dist/cli/kmodspec.cjs'), 'sh', '--backend', 'qemu', '--release', release, '--json', script], {
        cwd: root,
        reject: false,
      })
      return r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    },
    { unsafeCleanup: true },
  )
}

const [ls, version, cmdline] = await onVm(['ls /sys/module', 'cat /proc/version', 'cat /proc/cmdline'])
const names = ls.stdout.split('\n').filter(Boolean)
const dirs = await onVm(names.flatMap((m) => [`ls /sys/module/${m}`, `ls /sys/module/${m}/parameters`]))
const wanted = []
const sysModule = {}
names.forEach((m, i) => {
  const entries = dirs[2 * i].stdout.split('\n').filter(Boolean)
  const params = dirs[2 * i + 1].exitCode === 0 ? dirs[2 * i + 1].stdout.split('\n').filter(Boolean) : []
  sysModule[m] = { entries, params: {} }
  for (const p of params) wanted.push([m, 'param', p, `cat /sys/module/${m}/parameters/${p}`])
  if (entries.includes('version')) wanted.push([m, 'version', '', `cat /sys/module/${m}/version`])
  if (entries.includes('drivers')) wanted.push([m, 'drivers', '', `ls /sys/module/${m}/drivers`])
})
const values = await onVm(wanted.map((w) => w[3]))
const types = new Map()
try {
  for (const e of readFileSync(`/lib/modules/${release}/modules.builtin.modinfo`, 'latin1').split('\0')) {
    const m = /^([^.]+)\.parmtype=([^:]+):(.*)$/.exec(e)
    if (m) types.set(`${m[1]}.${m[2]}`, m[3])
  }
} catch {
  console.error(`no /lib/modules/${release}/modules.builtin.modinfo: parameter types left out`)
}
wanted.forEach(([m, kind, p], i) => {
  const r = values[i]
  if (r.exitCode !== 0) return
  if (kind === 'param') sysModule[m].params[p] = { value: r.stdout.replace(/\n$/, ''), type: types.get(`${m}.${p}`) }
  else if (kind === 'version') sysModule[m].version = r.stdout.replace(/\n$/, '')
  else sysModule[m].drivers = r.stdout.split('\n').filter(Boolean)
})
const out = { release, capturedWithCmdline: cmdline.stdout.replace(/\n$/, ''), procVersion: version.stdout, sysModule }
const dest = join(root, 'profiles', `${release}.kernel-views.json`)
writeFileSync(dest, JSON.stringify(out, null, 1) + '\n')
console.log(`${dest}: ${names.length} modules under /sys/module, ${wanted.length} values`)
