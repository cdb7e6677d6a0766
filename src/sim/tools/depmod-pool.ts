/**
 * depmod reads thousands of module files: this thread and one helper thread (depmod-worker.ts) share them,
 * in chunks claimed from a shared counter, so both cores work. depmod is synchronous, so the wait for the
 * helper's last chunks is Atomics.wait and its results are taken with receiveMessageOnPort. Where the
 * helper cannot run or would not pay (a small tree, no built worker file as under vitest, no core to spare,
 * a failed start), this thread reads every chunk itself; a chunk the helper claimed but never posted is
 * read here too.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import { fileURLToPath } from 'node:url'
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads'
import { readFactsFast, type DepmodFacts } from './depmod-read.js'

/** Indexes into the shared counters: the next chunk to claim, the chunks the helper has posted, and 1 once it has stopped. */
export const CLAIMED = 0
export const DONE = 1
export const STOPPED = 2

/** The files to read (as the helper is given them in a message): host paths and sizes, and the cache keys and mtimes of their entries (-1: stamped by the reading). */
export interface Jobs {
  hosts: string[]
  keys: string[]
  sizes: number[]
  mtimes: number[]
}

/** What the helper thread is given when it starts (plus its end of a message channel, on which the jobs come). */
export interface HelperData {
  shared: Int32Array
  chunk: number
}

/** A chunk the helper read: its index, its facts as a segment (depmod-segment.ts), and the files it left. */
export interface ChunkMessage {
  c: number
  seg: ArrayBuffer
  slow: number[]
}

/** What readAllFacts gives for each file: its facts; undefined when they are in one of `segments`; null to be read the slow way. */
export interface PoolResult {
  facts: Array<DepmodFacts | null | undefined>
  /** The helper's facts, as segments (FactsCache.absorb takes them). */
  segments: Buffer[]
}

/** Files per chunk: small enough to share the work evenly, large enough that messages are few. */
const CHUNK = 48
/** Below this many files a helper thread (about 40 ms to start, its own heap) costs more than it saves. */
export const MIN_FILES = 400
/** The longest wait for the helper without progress before this thread reads the rest itself. */
const STALL_MS = 10_000

const builtWorker = new URL('./depmod-worker.js', import.meta.url)
let defaultWorker = builtWorker

/**
 * Point the helper thread at other code (tests: a transpiled copy, as vitest runs TypeScript a worker cannot
 * load); returns the previous location.
 * @example const old = setHelperUrl(pathToFileURL('/tmp/x/sim/tools/depmod-worker.js'))
 */
export function setHelperUrl(url: URL): URL {
  const old = defaultWorker
  defaultWorker = url
  return old
}

/**
 * True when two cores look free beside this thread's (the load average of the last minute below the cores
 * less two and a half): one for the helper, one for V8's own threads (its optimizing compiler and its GC),
 * which depmod's cold code keeps busy. On a 2-core machine the helper took that core from them and made the
 * reading slower even when idle (300 ms instead of 220 ms for the whole 6.1 tree). A helper set by
 * setHelperUrl (tests) is always used.
 * @example if (coreToSpare()) pool = startFactsPool()
 */
export function coreToSpare(): boolean {
  return defaultWorker !== builtWorker || os.loadavg()[0]! < os.availableParallelism() - 2.5
}

interface Helper {
  shared: Int32Array
  port: MessagePort
  stop(): void
}

/**
 * A helper thread for a later {@link FactsPool.read}, started now so that it is ready by then (it waits for
 * its files); undefined where it cannot run (no built worker file, as under vitest) or would not pay (no core to spare).
 * @example const pool = startFactsPool(); ...; const { facts } = pool ? pool.read(jobs) : readAllFacts(jobs)
 */
export function startFactsPool(options: { worker?: URL; stallMs?: number } = {}): FactsPool | undefined {
  if (!options.worker && !coreToSpare()) return undefined
  const helper = startHelper(options.worker ?? defaultWorker)
  return helper && new FactsPool(helper, options.stallMs ?? STALL_MS)
}

/** This thread and a started helper thread reading one set of files together; read() once, or stop(). */
export class FactsPool {
  constructor(
    private helper: Helper | undefined,
    private readonly stallMs: number,
  ) {}

  /** The facts of `jobs` (see readAllFacts); the helper stops after it. */
  read(jobs: Jobs): PoolResult {
    const helper = this.helper
    this.helper = undefined
    if (helper && this.posted !== jobs) helper.port.postMessage(jobs)
    return readWith(jobs, helper, this.stallMs)
  }

  /** Hand the helper its files before read(jobs) (the same object), so that it starts on them while this thread does other work. */
  post(jobs: Jobs): void {
    if (!this.helper || this.posted) return
    this.posted = jobs
    this.helper.port.postMessage(jobs)
  }

  private posted: Jobs | undefined

  /** Stop the helper without reading. */
  stop(): void {
    this.helper?.stop()
    this.helper = undefined
  }
}

/**
 * The facts of the host files `jobs.hosts` (with their sizes; keys and mtimes name their cache entries), read
 * the fast way on this thread and a helper thread (for `minFiles` files or more); null where the caller must
 * read a file through libkmod's whole-file reading (unusual, compressed or unreadable).
 * @example const { facts, segments } = readAllFacts({ hosts, keys, sizes, mtimes })
 */
export function readAllFacts(jobs: Jobs, options: { worker?: URL; minFiles?: number; stallMs?: number } = {}): PoolResult {
  const wanted = jobs.hosts.length >= (options.minFiles ?? MIN_FILES) && (options.worker !== undefined || coreToSpare())
  const helper = wanted ? startHelper(options.worker ?? defaultWorker) : undefined
  return new FactsPool(helper, options.stallMs ?? STALL_MS).read(jobs)
}

function readWith(jobs: Jobs, helper: Helper | undefined, stallMs: number): PoolResult {
  const { hosts } = jobs
  const facts = new Array<DepmodFacts | null | undefined>(hosts.length).fill(null)
  const segments: Buffer[] = []
  const chunks = Math.ceil(hosts.length / CHUNK)
  const shared = helper?.shared ?? new Int32Array(new SharedArrayBuffer(12))
  const done = new Uint8Array(chunks)
  let mine = 0
  const readChunk = (c: number) => {
    for (let i = c * CHUNK; i < Math.min(hosts.length, (c + 1) * CHUNK); i++) facts[i] = readOne(jobs, i)
    done[c] = 1
  }
  for (let c = Atomics.add(shared, CLAIMED, 1); c < chunks; c = Atomics.add(shared, CLAIMED, 1)) {
    readChunk(c)
    mine++
  }
  if (!helper) return { facts, segments }
  // the helper's chunks: wait for each to be posted (or for the helper to stop or stall), then take them
  let seen = Atomics.load(shared, DONE)
  let since = Date.now()
  while (seen < chunks - mine && !Atomics.load(shared, STOPPED) && Date.now() - since < stallMs) {
    Atomics.wait(shared, DONE, seen, 50)
    const now = Atomics.load(shared, DONE)
    if (now !== seen) since = Date.now()
    seen = now
  }
  for (let m = receiveMessageOnPort(helper.port); m; m = receiveMessageOnPort(helper.port)) {
    const { c, seg, slow } = m.message as ChunkMessage
    for (let i = c * CHUNK; i < Math.min(hosts.length, (c + 1) * CHUNK); i++) facts[i] = undefined
    for (const i of slow) facts[i] = null
    segments.push(Buffer.from(seg))
    done[c] = 1
  }
  helper.stop()
  for (let c = 0; c < chunks; c++) if (!done[c]) readChunk(c)
  return { facts, segments }
}

/**
 * The facts of file `i` of `jobs` the fast way, or null; a file without a stamp (size -1) is stamped from its
 * open descriptor, into `jobs` (sizes and mtimes).
 * @example const facts = readOne({ hosts: [path], keys: [path], sizes: [-1], mtimes: [-1] }, 0)
 */
export function readOne(jobs: Jobs, i: number): DepmodFacts | null {
  let fd: number | undefined
  try {
    fd = fs.openSync(jobs.hosts[i]!, 'r')
    if (jobs.sizes[i]! < 0) {
      const st = fs.fstatSync(fd)
      if (!st.isFile()) return null
      jobs.sizes[i] = st.size
      jobs.mtimes[i] = st.mtimeMs
    }
    return readFactsFast(fd, jobs.sizes[i]!) ?? null
  } catch {
    return null
  } finally {
    if (fd !== undefined) fs.closeSync(fd)
  }
}

/** A started helper thread with its counters and this thread's end of its channel; undefined when it cannot be started. */
function startHelper(url: URL): Helper | undefined {
  if (url.protocol !== 'file:' || !fs.existsSync(fileURLToPath(url))) return undefined
  const shared = new Int32Array(new SharedArrayBuffer(12))
  const { port1, port2 } = new MessageChannel()
  try {
    const data: HelperData & { port: MessagePort } = { shared, chunk: CHUNK, port: port2 }
    const worker = new Worker(url, { workerData: data, transferList: [port2] })
    // a failed helper is no error: this thread reads what it left (an 'error' listener keeps it from throwing)
    worker.on('error', () => {})
    worker.unref()
    port1.unref()
    return {
      shared,
      port: port1,
      stop: () => {
        port1.close()
        void worker.terminate()
      },
    }
  } catch {
    port1.close()
    return undefined
  }
}

type MessagePort = InstanceType<typeof MessageChannel>['port1']
