// defineModule() is the one place a definition is checked: every rule throws ModuleDefinitionError
// naming the field, in one line; what passes is written by the ELF writer as given and loads.
import { describe, expect, test } from 'vitest'
import { buildModelImage } from './synthetic.js'
import { defineModule, ModuleDefinitionError, type DefinitionProblem, type ModuleDefinition } from './define.js'
import { KmodspecError } from './errors.js'
import { kernel } from './chain.js'

const R = '6.1.0-56-amd64'

/** The error a definition raises. */
function refusal(definition: unknown): ModuleDefinitionError {
  try {
    defineModule(definition as ModuleDefinition)
  } catch (e) {
    expect(e).toBeInstanceOf(ModuleDefinitionError)
    expect(e).toBeInstanceOf(KmodspecError)
    expect((e as Error).message).not.toContain('\n')
    return e as ModuleDefinitionError
  }
  throw new Error(`defineModule(${JSON.stringify(definition)}) was accepted`)
}

describe('defineModule refuses a definition that cannot be a module, naming the field', () => {
  const cases: Array<[string, unknown, string, DefinitionProblem, RegExp]> = [
    ['not an object', null, '(definition)', 'not-a-definition', /the definition is null/],
    ['a name with a blank', { name: 'a b' }, 'name', 'bad-name', /name must be 1-55 letters, digits, _ or -; name: 'my_module'$/],
    ['a name of 56 bytes (MODULE_NAME_LEN 56 holds 55 and the NUL)', { name: 'x'.repeat(56) }, 'name', 'bad-name', /1-55/],
    ['an empty license', { name: 'm', license: '' }, 'license', 'bad-text', /license must be a non-empty string/],
    ['a NUL in the description', { name: 'm', description: 'a\0b' }, 'description', 'bad-text', /description "a\\u0000b" contains a NUL byte; remove it$/],
    ['a NUL in vermagic', { name: 'm', vermagic: `${R}\0` }, 'vermagic', 'bad-text', /contains a NUL byte/],
    [
      'init returning a positive number',
      { name: 'm', init: { returns: 5 } },
      'init.returns',
      'bad-value',
      /init\.returns is 5; 0, a negative errno \(-19\) or one of EPERM, /,
    ],
    ['init returning a fraction', { name: 'm', init: { returns: -0.5 } }, 'init.returns', 'bad-value', /init\.returns is -0\.5/],
    ['init returning past an int', { name: 'm', init: { returns: -0x80000001 } }, 'init.returns', 'bad-value', /init\.returns is -2147483649/],
    ['init returning an unknown errno name', { name: 'm', init: { returns: 'EWHAT' } }, 'init.returns', 'bad-value', /init\.returns is "EWHAT"/],
    ['an export that is not a C identifier', { name: 'm', exports: ['ok', '1bad'] }, 'exports[1]', 'bad-name', /export "1bad" is not a C identifier/],
    ['an export listed twice', { name: 'm', exports: ['f', { name: 'f', gpl: true }] }, 'exports[1]', 'duplicate', /export f is listed twice; export it once$/],
    ["an export named as the module's own init", { name: 'm', exports: ['init_module'] }, 'exports[0]', 'duplicate', /the symbol of the module's own init/],
    ['a use that is not a C identifier', { name: 'm', uses: [''] }, 'uses[0]', 'bad-name', /uses holds ""/],
    ['a dependency that is not a module name', { name: 'm', depends: ['a b'] }, 'depends[0]', 'bad-name', /depends holds "a b", not a module name/],
    [
      'a call to something undeclared',
      { name: 'm', init: { calls: 'api_test' } },
      'init.calls',
      'undeclared-call',
      /init calls "api_test", which it neither exports, defines nor uses; add 'api_test' to uses/,
    ],
    ['a call from a function body', { name: 'm', functions: { f: { calls: ['g'] } } }, 'functions.f.calls', 'undeclared-call', /functions\.f calls "g"/],
    ['a print that is not a string', { name: 'm', exit: { prints: [1] } }, 'exit.prints', 'bad-text', /exit\.prints holds 1; strings$/],
    [
      'a parameter type module_param() lacks',
      { name: 'm', params: { count: { type: 'float' } } },
      'params.count.type',
      'bad-value',
      /parameter count has type "float"; one of int, uint, long, ulong, short, ushort, bool, charp, byte$/,
    ],
    [
      'a parameter name that is not a C identifier',
      { name: 'm', params: { 'a-b': { type: 'int' } } },
      'params.a-b',
      'bad-name',
      /parameter "a-b" is not a C identifier/,
    ],
  ]
  test.each(cases)('%s', (_what, definition, field, problem, message) => {
    const e = refusal(definition)
    expect({ field: e.field, problem: e.problem }).toEqual({ field, problem })
    expect(e.message).toMatch(message)
  })
})

describe('what defineModule accepts is written as given and loads', () => {
  test('a definition using every field builds an image and loads on the simulated kernel', async () => {
    const api = defineModule({ name: 'full_api', exports: ['full_call'], functions: { full_call: { prints: '[full_api] called' } } })
    const user = defineModule({
      name: 'full-user',
      license: 'GPL v2',
      description: 'uses every field',
      author: 'kmodspec',
      version: '1.0',
      uses: ['full_call'],
      depends: ['full_api'],
      init: { prints: ['[full_user] hi'], calls: 'full_call', returns: 0 },
      exit: { prints: '[full_user] bye' },
      params: { count: { type: 'int', description: 'how many' } },
      vermagic: `${R} SMP preempt mod_unload modversions `,
    })
    expect(user.name).toBe('full_user')
    expect(buildModelImage(user, R).length).toBeGreaterThan(0)
    await kernel({ modules: [api, user] })
      .insmod(api)
      .insmod(user)
      .expectDmesg(['[full_user] hi', '[full_api] called'], { exact: true })
      .expectLoaded('full_api', { holders: ['full_user'] })
  })

  test('init may return an errno by name or number (ENOTEMPTY reaches the kernel and kmod)', async () => {
    const m = defineModule({ name: 'errno_by_name', init: { returns: 'ENOTEMPTY' } })
    await kernel({ modules: [m] })
      .insmod(m)
      .expectError('init-failed', { errno: 'ENOTEMPTY' })
    expect(() => defineModule({ name: 'errno_by_number', init: { returns: -39 } })).not.toThrow()
  })
})
