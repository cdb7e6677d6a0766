export { ProfileError, composeVermagic, configFacts, parseKernelConfig, parseModuleSymvers, profileForRelease, profileFromHeaders } from './headers.js'
export type { KernelConfig } from './headers.js'
export { EMBEDDED_RELEASE, deserializeProfile, embeddedProfilePath, loadEmbeddedProfile, serializeProfile } from './embedded.js'
export type { KernelConfigFacts, KernelProfile, KernelSymbol } from './types.js'
