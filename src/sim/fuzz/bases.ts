/** The well-formed modules mutants start from: the project's fixtures and one defineModule() model. */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { KernelProfile } from '../../profile/types.js'
import { buildSyntheticModule } from '../../elf/write.js'
import { kmodElfNew, KmodElf } from '../../elf/kmod.js'
import type { FuzzBase } from './run.js'

/**
 * Every readable module under `fixtures/` (files that are already broken on purpose are skipped, and
 * crash_hang.ko and crash_loop.ko, whose init never returns)
 * plus a synthetic module whose behaviour calls an export, so the JSON model is mutated too.
 * @example const bases = fixtureBases('fixtures', profile) // [{ name: 'hello/hello_api.ko', bytes }, ...]
 */
export function fixtureBases(root: string, profile: KernelProfile): FuzzBase[] {
  const out: FuzzBase[] = []
  for (const dir of readdirSync(root).sort()) {
    const path = join(root, dir)
    if (!statSync(path).isDirectory()) continue
    for (const f of readdirSync(path).sort()) {
      if (!f.endsWith('.ko')) continue
      // Its init loops forever by design: every case would spend the CPU's whole instruction budget.
      if (`${dir}/${f}` === 'crash/crash_hang.ko' || `${dir}/${f}` === 'crash/crash_loop.ko') continue
      const bytes = new Uint8Array(readFileSync(join(path, f)))
      if (kmodElfNew(bytes) instanceof KmodElf) out.push({ name: `${dir}/${f}`, bytes })
    }
  }
  out.push({
    name: 'defineModule(fuzz_model)',
    bytes: buildSyntheticModule({
      name: 'fuzz_model',
      license: 'GPL',
      vermagic: profile.vermagic,
      modinfo: [
        { key: 'parm', value: 'level:how loud' },
        { key: 'parmtype', value: 'level:int' },
        { key: 'alias', value: 'fuzz-model' },
      ],
      exports: [{ name: 'fuzz_model_api', gpl: true }],
      behaviour: {
        init: { actions: [{ print: '\u00016fuzz_model: up\n' }, { call: 'fuzz_model_api' }], returns: 0 },
        exit: { actions: [{ print: '\u00016fuzz_model: down\n' }] },
        functions: { fuzz_model_api: [{ print: '\u00016fuzz_model: api\n' }] },
      },
    }),
  })
  return out
}
