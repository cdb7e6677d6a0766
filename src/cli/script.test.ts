import { describe, expect, test } from 'vitest'
import { parseScript, ScriptError, splitWords } from './script.js'

describe('splitWords', () => {
  test.each([
    ['insmod a.ko', ['insmod', 'a.ko']],
    ['  insmod\ta.ko   x=1 ', ['insmod', 'a.ko', 'x=1']],
    [`insmod p.ko name='hello world'`, ['insmod', 'p.ko', 'name=hello world']],
    [`insmod p.ko name="a \\"b\\" \\$c"`, ['insmod', 'p.ko', 'name=a "b" $c']],
    [`echo a\\ b`, ['echo', 'a b']],
    [`echo ''`, ['echo', '']],
    ['echo 1 >/sys/module/p/parameters/name', ['echo', '1', '>', '/sys/module/p/parameters/name']],
    ['echo 1 >> f', ['echo', '1', '>>', 'f']],
    ['lsmod # list', ['lsmod']],
    ['echo a#b', ['echo', 'a#b']],
    [`echo '#'`, ['echo', '#']],
  ])('%s', (line, words) => {
    expect(splitWords(line)).toEqual(words)
  })

  test.each([
    [`echo 'open`, 'unterminated single quote'],
    [`echo "open`, 'unterminated double quote'],
    ['lsmod | grep lkm', 'pipes are not supported'],
    ['insmod $X', 'variables are not supported'],
    ['lsmod; lsmod', "';' is not supported"],
    ['echo \\', 'may not end with a backslash'],
  ])('rejects %s', (line, message) => {
    expect(() => splitWords(line, 7)).toThrow(message)
    expect(() => splitWords(line, 7)).toThrow(/^line 7: /)
  })
})

describe('parseScript', () => {
  test('keeps line numbers and the command text without comments', () => {
    const script = '# setup\ninsmod fixtures/hello/hello_api.ko  # first\n\n  rmmod hello_api\n'
    expect(parseScript(script)).toEqual([
      { line: 2, text: 'insmod fixtures/hello/hello_api.ko', argv: ['insmod', 'fixtures/hello/hello_api.ko'] },
      { line: 4, text: 'rmmod hello_api', argv: ['rmmod', 'hello_api'] },
    ])
  })

  test('names an unknown command and its line', () => {
    expect(() => parseScript('lsmod\nsudo insmod a.ko\n')).toThrowError(
      new ScriptError("unknown command 'sudo': use one of insmod, rmmod, lsmod, modinfo, modprobe, depmod, dmesg, cat, ls, mkdir, cp, rm, echo", 2),
    )
  })

  test('only echo redirects, once, to one file', () => {
    expect(() => parseScript('cat a > b')).toThrow("line 1: 'cat' cannot write to a file")
    expect(() => parseScript('echo a > b c')).toThrow('echo takes one redirection followed by one file')
    expect(() => parseScript('echo a >')).toThrow('echo takes one redirection followed by one file')
    expect(parseScript('echo a >b')[0]!.argv).toEqual(['echo', 'a', '>', 'b'])
  })

  test('skips a byte-order mark at the start, as shells do, and names one elsewhere', () => {
    expect(parseScript('\uFEFFinsmod a.ko\nlsmod\n').map((c) => c.argv)).toEqual([['insmod', 'a.ko'], ['lsmod']])
    expect(() => parseScript('lsmod\n\uFEFFrmmod a\n')).toThrowError(
      new ScriptError("'rmmod' is preceded or followed by an invisible character (U+FEFF, e.g. a byte-order mark): delete it", 2),
    )
  })

  test('accepts CRLF scripts', () => {
    expect(parseScript('lsmod\r\ndmesg -c\r\n').map((c) => c.argv)).toEqual([['lsmod'], ['dmesg', '-c']])
  })
})
