// Moved to observe/kmsg.ts (shared with the host/ssh backends); this path stays until qemu/index.ts imports it from there.
export { decodeKmsgText, parseKmsgRecord } from '../../observe/kmsg.js'
