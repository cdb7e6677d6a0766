// One file per matcher; this barrel is what expect.extend() receives.
export { toHaveLoaded } from './to-have-loaded.js'
export { toHaveRefcount } from './to-have-refcount.js'
export { toHaveHolders } from './to-have-holders.js'
export { toHaveLogged } from './to-have-logged.js'
export { toHaveFailedWith } from './to-have-failed-with.js'
export { toHaveTaint } from './to-have-taint.js'
export { toHaveLoadOrder } from './to-have-load-order.js'
