// The contract lives in src/contract/; this path stays for the layers above that import it from here.
export * from '../contract/backend.js'
export * from '../contract/errors.js'
