#!/usr/bin/env node
// The kmodspec command: each subcommand lives in its own file and exports `main(argv): Promise<number>`.
import process from 'node:process'

const commands: Record<string, { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> }> = {
  sh: { summary: 'run a script of module commands against a kernel', load: () => import('./sh.js') },
  run: { summary: 'run behaviour specs through vitest', load: () => import('./run.js') },
  diff: { summary: 'run a script on the simulator and on the VM and show the differences', load: () => import('./diff.js') },
  setup: { summary: 'install what the real-kernel backends need for kernel releases (Debian, Ubuntu)', load: () => import('./setup.js') },
  init: { summary: 'turn a directory with a kernel module into a kmodspec project', load: () => import('./init.js') },
  'build-fixtures': { summary: 'rebuild the fixture modules against installed kernel headers', load: () => import('./build-fixtures.js') },
}

export function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(16)}${c.summary}`)
  return ['usage: kmodspec <command> [options]', '', 'commands:', ...lines, '', "'kmodspec <command> --help' for a command's options"].join('\n')
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n')
    return name === undefined ? 2 : 0
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`kmodspec: unknown command '${name}'\n${usage()}\n`)
    return 2
  }
  return (await command.load()).main(rest)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`kmodspec: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exitCode = 1
  },
)
