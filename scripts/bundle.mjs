// The kmodspec command as one file instead of 120 modules: after tsc, dist/cli/main.js and everything it imports
// (its dependencies too) become dist/cli/kmodspec-bundle.cjs, which the bin, dist/cli/kmodspec.cjs (src/cli/kmodspec.cts),
// runs with V8's compiled code kept between runs. dist/cli/main.js stays as tsc wrote it, and works the same,
// only slower to start. Node loads each ES module on its own (resolve, read, link: ~0.4 ms a file here), so
// `kmodspec sh` started in about 210 ms, 60 ms of which went to loading modules; bundled, and its compiled code
// kept, it starts in about 120 ms.
//
// The bundle is CommonJS because V8's code cache is reachable from Node 20 only through vm.Script, which runs a
// script, not a module; and with its dependencies inside, as execa and the others are ES modules that Node 20
// cannot require().
//
// esbuild (a devDependency) does the bundling: it is what the Node world uses for this, and writing a bundler
// of our own would be more code than the rest of the build. Nothing changes for the library (dist/index.js and
// the rest stay as tsc wrote them), for depmod's worker thread (loaded by URL from dist/sim/tools/), or for
// anything that finds a file next to its own module: each module's `import.meta.url` is rewritten to the URL
// it had in dist/, so `new URL('../../profiles/…', import.meta.url)` still points where it did.
import { chmod, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const outdir = join(dist, 'cli')
const outfile = join(outdir, 'kmodspec-bundle.cjs')

/** Each of our modules' import.meta.url as the URL of its file in dist/, from the bundle's own path. */
const ownUrls = {
  name: 'own-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      if (!args.path.startsWith(dist + '/')) return undefined
      const source = await readFile(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return undefined
      const rel = relative(outdir, args.path).split('\\').join('/')
      const url = `new URL(${JSON.stringify(rel)}, require('node:url').pathToFileURL(__filename)).href`
      return { contents: source.replaceAll('import.meta.url', `(${url})`), loader: 'js', resolveDir: dirname(args.path) }
    })
  },
}

// what the ES module bundle of the previous build left
await rm(join(outdir, 'chunks'), { recursive: true, force: true })
await build({
  entryPoints: [join(outdir, 'main.js')],
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  outfile,
  sourcemap: true,
  plugins: [ownUrls],
  logLevel: 'warning',
})
// main.js's `#!` line, which a function body cannot start with, as a comment of the same length (the map stays right)
let code = await readFile(outfile, 'utf8')
if (code.startsWith('#!')) code = `//${code.slice(2)}`
// all ASCII, so that the bin reads it as latin1 (5 ms less than UTF-8 for 1.1 MB, and a one-byte string for V8):
// esbuild escapes what is not ASCII in the code, so what is left is in comments, which get '?' (one UTF-16 unit
// for one: the map stays right); anything else stops the build
const lines = code.split('\n')
lines.forEach((line, i) => {
  if (/[^\x00-\x7f]/.test(line) && !/^\s*(\/\/|\/\*|\*)/.test(line)) throw new Error(`bundle: line ${i + 1} of ${outfile} is not ASCII outside a comment`)
})
await writeFile(outfile, code.replace(/[^\x00-\x7f]/g, '?'))
await chmod(outfile, 0o644)
await chmod(join(outdir, 'kmodspec.cjs'), 0o755)
