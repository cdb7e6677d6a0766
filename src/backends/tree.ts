/**
 * The `tree` option: which `/lib/modules/<release>` a run sees. 'empty' (the default) is an empty
 * directory the run fills itself; 'installed' is the kernel's own installed tree (its modules, the
 * `modules.*` indexes and `modules.builtin*`), with the run's own files next to it.
 */
import { existsSync } from 'node:fs'
import process from 'node:process'

export type ModuleTree = 'empty' | 'installed'

const trees: readonly ModuleTree[] = ['empty', 'installed']

/**
 * The tree a run asked for: the option, else KMODSPEC_TREE, else 'empty'. Throws a one-line Error naming the bad value.
 * @example resolveTree('installed') // 'installed'
 */
export function resolveTree(option?: unknown): ModuleTree {
  const value = option ?? (process.env.KMODSPEC_TREE || undefined) ?? 'empty'
  if (!trees.includes(value as ModuleTree)) {
    throw new Error(
      `tree ${JSON.stringify(value)} (from ${option !== undefined ? 'the tree option' : 'KMODSPEC_TREE'}) is not one of ${trees.join(', ')}: use 'installed' for the kernel's own /lib/modules/<release>, or leave it out`,
    )
  }
  return value as ModuleTree
}

/** Host directory of a release's installed module tree. */
export function installedTreeDir(release: string, root = '/lib/modules'): string {
  return `${root}/${release}`
}

/**
 * Why the host's installed tree of `release` cannot serve a run, or undefined when it can.
 * @example installedTreeProblem('6.1.0-56-amd64') // undefined where linux-image-6.1.0-56-amd64 is installed
 */
export function installedTreeProblem(release: string, root = '/lib/modules'): string | undefined {
  const dir = installedTreeDir(release, root)
  if (!existsSync(dir)) return `tree 'installed' needs ${dir}: install linux-image-${release} (kmodspec setup --release ${release})`
  if (!existsSync(`${dir}/modules.dep.bin`)) return `tree 'installed' needs the indexes of ${dir} (no modules.dep.bin there): run 'depmod ${release}' as root`
  return undefined
}
