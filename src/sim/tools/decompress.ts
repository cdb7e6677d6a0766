/**
 * libkmod's kmod_file_open as Debian builds kmod 30 (+ZSTD +XZ -ZLIB): the file's first bytes,
 * not its name, say whether it is zstd or xz; anything else (gzip included) is read as it is.
 * Decoders: fzstd (pure JS) and @napi-rs/lzma (lzma-rust2), both synchronous as the tools are.
 */
import { createRequire } from 'node:module'
import { decompress as zstdDecompress } from 'fzstd'
import { VfsError } from '../vfs.js'
import type { ToolContext } from './context.js'
import { errno } from './errors.js'

/** @napi-rs/lzma's xz, loaded on the first xz file: loading the native addon costs every run ~17 ms otherwise. */
let xz: typeof import('@napi-rs/lzma').xz | undefined
const loadXz = (): typeof import('@napi-rs/lzma').xz => (xz ??= (createRequire(import.meta.url)('@napi-rs/lzma') as typeof import('@napi-rs/lzma')).xz)

const MAGIC_ZSTD = [0x28, 0xb5, 0x2f, 0xfd]
const MAGIC_XZ = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]

export interface KmodFile {
  /** The module image (decompressed when the file was compressed). */
  bytes?: Uint8Array
  /** True for an uncompressed file: kmod hands its fd to finit_module, else the image to init_module. */
  direct: boolean
  /** 0, or a negative errno as kmod_file_open sets it. */
  err: number
}

const starts = (b: Uint8Array, magic: number[]) => magic.every((x, i) => b[i] === x)

/**
 * Decompress a module image by its magic bytes, or return it as it is.
 * @example decompressModule(readFileSync('foo.ko.xz')).bytes // the ELF image
 */
export function decompressModule(raw: Uint8Array): KmodFile {
  // kmod reads as many bytes as the longest magic and refuses a shorter file
  if (raw.length < MAGIC_XZ.length) return { direct: false, err: -errno.EINVAL }
  try {
    if (starts(raw, MAGIC_ZSTD)) return { bytes: zstdDecompress(raw), direct: false, err: 0 }
    if (starts(raw, MAGIC_XZ)) return { bytes: new Uint8Array(loadXz().decompressSync(raw)), direct: false, err: 0 }
  } catch {
    // liblzma and libzstd failures both reach the tools as EINVAL
    return { direct: false, err: -errno.EINVAL }
  }
  return { bytes: raw, direct: true, err: 0 }
}

/**
 * kmod_file_open on the simulated machine's file system.
 * @example const { bytes, err } = kmodFileOpen(ctx, '/lib/modules/6.1.0-56-amd64/extra/foo.ko.zst')
 */
export function kmodFileOpen(ctx: ToolContext, abs: string): KmodFile {
  let raw: Uint8Array
  try {
    raw = ctx.vfs.readFile(abs)
  } catch (e) {
    return { direct: false, err: e instanceof VfsError ? -e.errno : -errno.EIO }
  }
  return decompressModule(raw)
}
