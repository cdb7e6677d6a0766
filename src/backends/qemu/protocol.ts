// The agent's wire format (see agent/agent.c): u32 LE length + body; a body starts with a type byte.

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

function blob(data: string | Uint8Array): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)
  return Buffer.concat([u32(bytes.length), bytes])
}

function frame(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), ...parts])
  return Buffer.concat([u32(body.length), body])
}

export function encodePing(token: number): Buffer {
  return frame('P', u32(token))
}

export interface ExecRequest {
  /** Absolute path of the program in the VM. */
  path: string
  argv: readonly string[]
  cwd: string
  /** '' for none; '>' or '>>' sends stdout to `file`, opened by the agent itself. */
  redirect: '' | '>' | '>>'
  file: string
}

export function encodeExec(r: ExecRequest): Buffer {
  return frame('E', blob(r.path), u32(r.argv.length), ...r.argv.map(blob), blob(r.cwd), blob(r.redirect), blob(r.file))
}

/** Writes `length` bytes, already placed in the shared memory window, to `path` (appending when asked). */
export function encodePut(path: string, mode: number, append: boolean, length: number): Buffer {
  return frame('W', blob(path), u32(mode), u32(append ? 1 : 0), u32(length))
}

export function encodeMkdir(path: string): Buffer {
  return frame('D', blob(path))
}

/** Waits until the kernel has settled: CRNG seeded, TSC refinement done, no record for `quietMs` of guest time (at most `maxMs`). */
export function encodeSettle(quietMs: number, maxMs: number): Buffer {
  return frame('S', u32(quietMs), u32(maxMs))
}

/** A decoded reply from the agent. */
export type Reply =
  | { type: 'hello'; release: string }
  | { type: 'pong'; token: number }
  | { type: 'result'; status: number; stdout: string; stderr: string; kmsg: string[] }
  | { type: 'ok' }
  | { type: 'error'; message: string }

class Cursor {
  private at = 0
  constructor(private readonly b: Buffer) {}
  get done(): boolean {
    return this.at >= this.b.length
  }
  u32(): number {
    const v = this.b.readUInt32LE(this.at)
    this.at += 4
    return v
  }
  blob(): Buffer {
    const n = this.u32()
    const v = this.b.subarray(this.at, this.at + n)
    this.at += n
    return v
  }
}

export function decodeReply(body: Buffer): Reply {
  const first = body[0]
  if (first === undefined) throw new Error('kmodspec agent sent an empty reply frame')
  const type = String.fromCharCode(first)
  const c = new Cursor(body.subarray(1))
  switch (type) {
    case 'H':
      return { type: 'hello', release: c.blob().toString('utf8') }
    case 'P':
      return { type: 'pong', token: c.u32() }
    case 'O':
      return { type: 'ok' }
    case 'X':
      return { type: 'error', message: c.blob().toString('utf8') }
    case 'R': {
      const status = c.u32() | 0
      const stdout = c.blob().toString('utf8')
      const stderr = c.blob().toString('utf8')
      const kmsg: string[] = []
      while (!c.done) kmsg.push(c.blob().toString('utf8'))
      return { type: 'result', status, stdout, stderr, kmsg }
    }
    default:
      throw new Error(`kmodspec agent sent an unknown reply type 0x${first.toString(16)}`)
  }
}

/** Splits a byte stream into frame bodies. */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0)
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk
    const out: Buffer[] = []
    while (this.pending.length >= 4) {
      const n = this.pending.readUInt32LE(0)
      if (this.pending.length < 4 + n) break
      out.push(this.pending.subarray(4, 4 + n))
      this.pending = this.pending.subarray(4 + n)
    }
    return out
  }
}
