#!/usr/bin/env node
// Regenerates the embedded kernel profile (profiles/<release>.json.gz) from installed headers.
// Usage: node scripts/make-profile.mjs [RELEASE]   (default: 6.1.0-56-amd64; needs linux-headers-RELEASE)
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { join } from 'node:path'
import { execa } from 'execa'
import { withDir } from 'tmp-promise'

const root = fileURLToPath(new URL('..', import.meta.url))
const release = process.argv[2] ?? '6.1.0-56-amd64'

await withDir(
  async ({ path: out }) => {
    // Compile only src/profile (it imports nothing else of ours) so this works before a full build.
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    const files = ['headers.ts', 'embedded.ts', 'index.ts'].map((f) => join(root, 'src/profile', f))
    await execa(
      process.execPath,
      [
        tsc,
        '--outDir',
        out,
        '--rootDir',
        join(root, 'src/profile'),
        '--module',
        'NodeNext',
        '--moduleResolution',
        'NodeNext',
        '--target',
        'ES2022',
        '--strict',
        '--skipLibCheck',
        '--types',
        'node',
        ...files,
      ],
      { cwd: root, stdio: 'inherit' },
    )
    const profile = await import(pathToFileURL(join(out, 'index.js')).href)
    const p = await profile.profileForRelease(release)
    const bytes = profile.serializeProfile(p)
    await mkdir(join(root, 'profiles'), { recursive: true })
    const dest = join(root, 'profiles', `${p.release}.json.gz`)
    await writeFile(dest, bytes)
    console.log(`${dest}: ${p.symbols.size} symbols, vermagic ${JSON.stringify(p.vermagic)}, ${bytes.length} bytes`)
  },
  { unsafeCleanup: true },
)
