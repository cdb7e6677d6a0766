// What the booted kernel registered itself before any module: char and block majors, misc minors,
// filesystems. Captured from the real kernel (profiles/<release>.registries.json, made by
// fixtures/real/capture.mjs from /proc/devices, /proc/misc and /proc/filesystems on the VM).

export interface BootRegistries {
  release: string
  /** /proc/devices' "Character devices:" lines, in order: [major, name]. */
  chrdev: Array<[number, string]>
  /** /proc/devices' "Block devices:" lines. */
  blkdev: Array<[number, string]>
  /** /proc/misc, newest first: [minor, name]. */
  misc: Array<[number, string]>
  /** /proc/filesystems in order: [nodev, name]. */
  filesystems: Array<[boolean, string]>
}

/**
 * The snapshot from the three files' text.
 * @example parseBootRegistries('6.1.0-56-amd64', devices, misc, filesystems).blkdev // [[259, 'blkext']]
 */
export function parseBootRegistries(release: string, procDevices: string, procMisc: string, procFilesystems: string): BootRegistries {
  const chrdev: Array<[number, string]> = []
  const blkdev: Array<[number, string]> = []
  let into = chrdev
  for (const line of procDevices.split('\n')) {
    if (line.startsWith('Block devices:')) into = blkdev
    const m = /^\s*(\d+) (.+)$/.exec(line)
    if (m) into.push([Number(m[1]), m[2]!])
  }
  const misc = procMisc
    .split('\n')
    .map((l) => /^\s*(\d+) (.+)$/.exec(l))
    .filter((m) => m !== null)
    .map((m): [number, string] => [Number(m[1]), m[2]!])
  const filesystems = procFilesystems
    .split('\n')
    .filter(Boolean)
    .map((l): [boolean, string] => {
      const [flag, name] = l.split('\t')
      return [flag === 'nodev', name ?? '']
    })
  return { release, chrdev, blkdev, misc, filesystems }
}
