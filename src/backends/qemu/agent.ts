import { access, readFile, rename } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'
import { execa } from 'execa'
import { BackendError } from '../types.js'
import { cacheDir, sha256 } from './cache.js'
import { firstRunStep } from './progress.js'

/** The agent's C source; shipped in the package under src/backends/qemu/agent (see package.json "files"). */
export const agentSource = fileURLToPath(new URL('../../../src/backends/qemu/agent/agent.c', import.meta.url))

/** Compiles the agent once (gcc -static -O2) and returns the cached binary's path. */
export async function buildAgent(): Promise<string> {
  let source: string
  try {
    source = await readFile(agentSource, 'utf8')
  } catch (cause) {
    throw new BackendError(`the VM agent's source is missing at ${agentSource}: reinstall kmodspec`, 'setup', '', { cause })
  }
  const gcc = await execa('gcc', ['--version'], { reject: false })
  if (gcc.exitCode !== 0) {
    throw new BackendError('gcc is needed to build the VM agent: install gcc and libc6-dev (apt-get install gcc libc6-dev)', 'setup')
  }
  const out = path.join(cacheDir(), `agent-${sha256(source, gcc.stdout).slice(0, 16)}`)
  try {
    await access(out)
    return out
  } catch {}
  const tmp = `${out}.${process.pid}.tmp`
  const cc = await firstRunStep('building the VM agent (gcc -static, once per agent version)', () =>
    execa('gcc', ['-static', '-O2', '-Wall', '-o', tmp, agentSource], { reject: false, all: true }),
  )
  if (cc.exitCode !== 0) {
    throw new BackendError(`building the VM agent failed (a static build needs libc6-dev):\n${cc.all}`, 'setup', String(cc.all))
  }
  await rename(tmp, out)
  return out
}
