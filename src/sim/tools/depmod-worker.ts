/**
 * depmod's helper thread (see depmod-pool.ts): claims chunks of the module files from a shared counter, reads
 * each with positioned reads (depmod-read.ts) and posts the facts of a chunk, as a segment (a buffer moved,
 * not copied; depmod-segment.ts), before counting it done. A file it cannot read the fast way is listed: the main thread reads
 * that one through libkmod's whole-file reading.
 */
import { workerData, type MessagePort } from 'node:worker_threads'
import type { DepmodFacts, Stamp } from './depmod-read.js'
import { encodeSegment } from './depmod-segment.js'
import { CLAIMED, DONE, readOne, STOPPED, type ChunkMessage, type HelperData, type Jobs } from './depmod-pool.js'

const { shared, port, chunk } = workerData as HelperData & { port: MessagePort }

/** Claim and read chunks until none is left. */
function work(jobs: Jobs): void {
  const hosts = jobs.hosts
  const chunks = Math.ceil(hosts.length / chunk)
  try {
    for (;;) {
      const c = Atomics.add(shared, CLAIMED, 1)
      if (c >= chunks) break
      const entries: Array<[string, Stamp, DepmodFacts]> = []
      const slow: number[] = []
      for (let i = c * chunk; i < Math.min(hosts.length, (c + 1) * chunk); i++) {
        const facts = readOne(jobs, i)
        if (facts) entries.push([jobs.keys[i]!, { size: jobs.sizes[i]!, mtimeMs: jobs.mtimes[i]! }, facts])
        else slow.push(i)
      }
      // its own memory: moved to the main thread, not copied
      const seg = encodeSegment(entries).buffer as ArrayBuffer
      // posted before counted: once the main thread sees the count, the message is in its port
      port.postMessage({ c, seg, slow } satisfies ChunkMessage, [seg])
      Atomics.add(shared, DONE, 1)
      Atomics.notify(shared, DONE)
    }
  } finally {
    // the main thread stops waiting: a chunk claimed and never posted is read there
    Atomics.store(shared, STOPPED, 1)
    Atomics.notify(shared, DONE)
    port.close()
  }
}

// started early, the helper waits for its files
port.once('message', (jobs: Jobs) => work(jobs))
