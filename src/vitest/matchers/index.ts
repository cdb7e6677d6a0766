// What expect.extend() receives: each chain expectation `expectX` as the matcher `toHaveX`, and
// the old names (toHaveLogged, toHaveTaint, toHaveFailedWith) as deprecated aliases for one version.
export { toHaveDmesg, toHaveLogged } from './to-have-dmesg.js'
export { toHaveError, toHaveFailedWith } from './to-have-error.js'
export { toHaveHolders, toHaveLoaded, toHaveLoadOrder, toHaveRefcount } from './to-have-modules.js'
export { toHaveOutput } from './to-have-output.js'
export { toHaveTainted, toHaveTaint } from './to-have-tainted.js'
