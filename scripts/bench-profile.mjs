// Where the time of a simulated step goes: V8's sampling profiler (node:inspector) over a loop of steps,
// each sample given to the innermost function of the stack that names a phase.
import { Session } from 'node:inspector/promises'

/** Phases by function name (src/sim/...): the innermost named function on a sample's stack wins. */
const PHASES = [
  ['kernel API setup (per kernel)', ['createKernelApi', 'Machine', 'createSimKernel']],
  ['read .ko', ['kmodFileOpen']],
  ['ELF checks+parse (kept per image)', ['imageFacts', 'checkImageOnce', 'setupLoadInfo', 'moduleFromElf']],
  ['layout', ['layoutAndAllocate']],
  ['map+relocate', ['mapModule', 'applyRelocateAdd']],
  ['module code on CPU', ['runModuleFunction']],
  ['/proc and /sys views', ['readFile', 'listDir']],
  ['kmod config+state', ['ModuleDb', 'loadConfig', 'initState', 'checkInUse']],
  ['unload', ['deleteModule']],
  ['file system (vfs)', ['stat', 'hostRead', 'resolve', 'readdir']],
  ['GC', ['(garbage collector)']],
]
/** Samples that are not the simulator's: idle, V8's own bookkeeping, and the inspector answering this profiler. */
const NOT_OURS = new Set(['(idle)', '(program)', 'dispatch'])

/**
 * Run `step` `times` times under the profiler; returns "phase NN%" parts, largest first.
 * @example console.log((await whereTimeGoes(() => sim.exec(['lsmod']), 500)).join(', '))
 */
export async function whereTimeGoes(step, times) {
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 100 })
  await session.post('Profiler.start')
  for (let i = 0; i < times; i++) await step()
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  return shares(profile, PHASES)
}

/**
 * A V8 CPU profile's samples as "phase NN%" parts, largest first: each sample goes to the innermost function
 * on its stack that `phases` ([label, function names]) names (with or without a number a bundler added), else
 * to "other" (with its three largest functions).
 * @example shares(JSON.parse(readFileSync('CPU.cpuprofile', 'utf8')), [['GC', ['(garbage collector)']]])
 */
export function shares(profile, phases) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const phaseOf = new Map()
  const phase = (id) => {
    if (phaseOf.has(id)) return phaseOf.get(id)
    // a bundler renames a function whose name another module also uses by adding a number (run2)
    const name = byId.get(id).callFrame.functionName
    const plain = name.replace(/\d+$/, '')
    const own = phases.find(([, names]) => names.includes(name) || names.includes(plain))?.[0]
    const p = own ?? (parent.has(id) ? phase(parent.get(id)) : 'other')
    phaseOf.set(id, p)
    return p
  }
  const totals = new Map()
  let all = 0
  profile.samples.forEach((id, i) => {
    const name = byId.get(id).callFrame.functionName
    if (NOT_OURS.has(name)) return
    const dt = profile.timeDeltas[i] ?? 0
    totals.set(phase(id), (totals.get(phase(id)) ?? 0) + dt)
    all += dt
  })
  // the largest functions left in "other", by their own time
  const others = new Map()
  profile.samples.forEach((id, i) => {
    const f = byId.get(id).callFrame
    if (phase(id) !== 'other' || NOT_OURS.has(f.functionName)) return
    const name = `${f.functionName || '(anonymous)'}${f.url ? ` ${f.url.split('/').slice(-2).join('/')}` : ''}`
    others.set(name, (others.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  const top = [...others]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([n, t]) => `${n} ${Math.round((100 * t) / all)}%`)
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .map(([p, t]) => `${p} ${Math.round((100 * t) / all)}%${p === 'other' && top.length ? ` (most: ${top.join(', ')})` : ''}`)
}
