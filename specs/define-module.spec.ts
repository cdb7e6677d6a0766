// defineModule: a module described in TypeScript, for behaviour a C fixture cannot show.
// It runs on the simulated kernel; on a real kernel the chain says it has no .ko.
import { expect, test } from 'vitest'
import { defineModule, kernel, KmodspecError } from 'kmodspec'

const api = defineModule({
  name: 'model_api',
  exports: ['model_ping'],
  functions: { model_ping: { prints: '[model_api] ping' } },
  init: { prints: '[model_api] up' },
  exit: { prints: '[model_api] down' },
})
const user = defineModule({
  name: 'model_user',
  uses: ['model_ping'],
  init: { prints: '[model_user] up', calls: 'model_ping' },
  exit: { prints: '[model_user] down' },
})
const flaky = defineModule({ name: 'model_flaky', init: { prints: '[model_flaky] probing', returns: 'ENODEV' } })
const onSim = (process.env.KMODSPEC_BACKEND ?? 'sim') === 'sim'

test('defined modules load, call each other and fail the way they are told to', async () => {
  const chain = kernel({ modules: [api, user, flaky] })
    .insmod('model_user')
    .expectError('unknown-symbol', { symbol: 'model_ping' })
    .insmod('model_api')
    .expectDmesg('[model_api] up')
    .insmod('model_user')
    .expectDmesg(['[model_user] up', '[model_api] ping'])
    .expectLoaded('model_api', { refcount: 1, holders: ['model_user'] })
    .insmod('model_flaky')
    .expectError('init-failed', { errno: 'ENODEV' })
    .expectDmesg('[model_flaky] probing')
    .rmmod('model_user')
    .expectDmesg('[model_user] down')
    .rmmod('model_api')
    .expectDmesg('[model_api] down')
  if (onSim) {
    await chain
  } else {
    const error = await chain.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(KmodspecError)
    expect((error as KmodspecError).actual).toContain("defineModule('model_user') has no .ko: it runs only on the simulated kernel")
  }
})
