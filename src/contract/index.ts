// The bottom layer: imported by every other layer, importing nothing of ours.
export * from './backend.js'
export * from './errno.js'
export * from './errors.js'
export * from './script.js'
