#!/usr/bin/env node
// `npm run vm:setup`: `kmodspec setup` (src/cli/setup.ts) from the sources, so it works before dist/ is built
// (npm test provisions before it compiles). Arguments pass through: `--if-missing` installs only what dpkg
// lacks and prints nothing when all is there; `--release R` adds a kernel. The pinned kernel
// (PINNED_RELEASE in src/cli/releases.ts, linux-image/headers-6.1.0-56-amd64) is the default release:
// the ABI the captures in fixtures/captures were made on, never the linux-image-amd64 meta-package.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import process from 'node:process'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'

const root = path.resolve(import.meta.dirname, '..')
// Inside node_modules so that the transpiled files resolve execa, under the repository's "type": "module".
const out = path.join(root, 'node_modules', '.cache', 'kmodspec-setup')
await mkdir(out, { recursive: true })
for (const name of ['setup', 'releases']) {
  const source = await readFile(path.join(root, 'src', 'cli', `${name}.ts`), 'utf8')
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
  await writeFile(path.join(out, `${name}.js`), outputText)
}
const { main } = await import(pathToFileURL(path.join(out, 'setup.js')).href)
process.exitCode = await main(process.argv.slice(2))
