// `npx vitest bench --run src/sim/cpu`: interpreter speed (printed, never asserted).
import { bench, describe } from 'vitest'
import { Harness, compileKernelC } from './testcc.js'

const h = new Harness()
h.host('_printk', () => 0)
h.load(
  await compileKernelC(String.raw`
extern int _printk(const char *, ...);
volatile int sink;
unsigned long loop(unsigned long n) { unsigned long s = 0; for (unsigned long i = 0; i < n; i++) { s += i * 3; sink = s; } return s; }
int hello_init(void) { _printk("\0016hello: %s %d\n", "world", 42); return 0; }
`),
)

describe('sim/cpu', () => {
  bench('hello_init (a few instructions and one host call)', () => {
    h.value('hello_init')
  })
  bench('loop(10000) (~50,000 instructions)', () => {
    h.value('loop', [10_000])
  })
})

// Instructions per second over a longer run, after a warm-up.
for (let i = 0; i < 50; i++) h.value('loop', [10_000])
const t = performance.now()
const i0 = h.cpu.icount
for (let i = 0; i < 100; i++) h.value('loop', [10_000])
const dt = performance.now() - t
console.log(`sim/cpu: ${((h.cpu.icount - i0) / dt / 1000).toFixed(1)} M instructions/s (loop body), ${(h.cpu.icount - i0) / 100} instructions per loop(10000)`)
