// The kmodspec command as a few files instead of 120 modules: after tsc, dist/cli/main.js and what it imports
// become one entry file, dist/cli/kmodspec.js (the package's bin), and the chunks its subcommands load
// (dist/cli/chunks/). dist/cli/main.js stays as tsc wrote it, and works the same, only slower to start.
// Node loads each ES module on its own (resolve, read, link: ~0.4 ms a file here), so `kmodspec sh` started in
// about 210 ms, 60 ms of which went to loading modules; bundled it starts in about 150 ms.
//
// esbuild (a devDependency) does the bundling: it is what the Node world uses for this, and writing a bundler
// of our own would be more code than the rest of the build. Nothing changes for the library (dist/index.js and
// the rest stay as tsc wrote them), for depmod's worker thread (loaded by URL from dist/sim/tools/), or for
// anything that finds a file next to its own module: each module's `import.meta.url` is rewritten to the URL
// it had in dist/, so `new URL('../../profiles/…', import.meta.url)` still points where it did.
import { readFile, rm } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const entry = join(dist, 'cli/main.js')
const bin = 'kmodspec'
const outdir = join(dist, 'cli')
const chunks = 'chunks'

/** Each module's import.meta.url as the URL of its file in dist/, relative to the chunk it ends up in. */
const ownUrls = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return undefined
      // every chunk sits in dist/cli/chunks/, the entry in dist/cli/: a path from there to this module's file
      const fromChunk = relative(join(outdir, chunks), args.path).split('\\').join('/')
      const fromEntry = relative(outdir, args.path).split('\\').join('/')
      // the entry file and the chunks are in different directories: ask at run time which one this is
      const url = `new URL(import.meta.url.endsWith('/cli/${bin}.js') ? ${JSON.stringify(fromEntry)} : ${JSON.stringify(fromChunk)}, import.meta.url).href`
      return { contents: source.replaceAll('import.meta.url', `(${url})`), loader: 'js', resolveDir: dirname(args.path) }
    })
  },
}

await rm(join(outdir, chunks), { recursive: true, force: true })
await build({
  entryPoints: { [bin]: entry },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // dependencies stay in node_modules, loaded as they are
  packages: 'external',
  outdir,
  chunkNames: `${chunks}/[name]-[hash]`,
  sourcemap: true,
  plugins: [ownUrls],
  logLevel: 'warning',
})
