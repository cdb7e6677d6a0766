// `kmodspec build-fixtures`: rebuild the fixture modules against installed kernel headers.
import { relative, resolve } from 'node:path'
import process from 'node:process'
import { parseArgs } from 'node:util'
import { buildFixtures, fixturesRoot } from '../build/fixtures.js'
import { BuildError, defaultRelease } from '../build/kbuild.js'

const help = `usage: kmodspec build-fixtures [--release R] [--headers DIR] [--out DIR]

Builds every fixture module (fixtures/*) with kbuild against a kernel's headers, including the
deliberately broken ones (fake Module.symvers, patched vermagic, truncated and non-ELF files).

options:
  --release R     kernel release (headers in /lib/modules/R/build); default: the running
                  kernel's if its headers are installed, else the newest installed
  --headers DIR   a kernel headers tree to build against (overrides --release)
  --out DIR       write the built tree here (same layout as fixtures/); default: fixtures/ itself
  -h, --help      show this help
`

/** A path relative to the current directory when it lies below it, else absolute. */
function display(path: string): string {
  const rel = relative(process.cwd(), resolve(path))
  return rel === '' ? '.' : rel.startsWith('..') ? resolve(path) : rel
}

export async function main(argv: string[]): Promise<number> {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        release: { type: 'string' },
        headers: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`kmodspec build-fixtures: ${(error as Error).message}\n${help}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(help)
    return 0
  }
  try {
    const release = values.headers === undefined ? (values.release ?? defaultRelease()) : values.release
    const files = await buildFixtures({ release, headersDir: values.headers, outDir: values.out })
    process.stdout.write(`built ${files.length} fixture files${release ? ` for ${release}` : ''} into ${display(values.out ?? fixturesRoot)}\n`)
    for (const file of files) process.stdout.write(`  ${display(file)}\n`)
    return 0
  } catch (error) {
    if (error instanceof BuildError) {
      process.stderr.write(`kmodspec build-fixtures: ${error.message}\n`)
      return 1
    }
    throw error
  }
}
