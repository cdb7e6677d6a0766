/**
 * Module.symvers lines (`crc<TAB>symbol<TAB>module<TAB>export type<TAB>namespace`) and the
 * changes the fixture recipe makes to them to provoke loader errors on purpose.
 */

export interface SymversEntry {
  crc: number
  symbol: string
  module: string
  /** `EXPORT_SYMBOL` or `EXPORT_SYMBOL_GPL`. */
  exportType: string
  namespace: string
}

/** Parse Module.symvers text; a malformed line is an error naming it. */
export function parseSymvers(text: string): SymversEntry[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, index) => {
      const [crc, symbol, module, exportType, namespace = ''] = line.split('\t')
      if (crc === undefined || !/^0x[0-9a-f]+$/i.test(crc) || !symbol || module === undefined || !exportType) {
        throw new Error(`Module.symvers line ${index + 1} is not 'crc<TAB>symbol<TAB>module<TAB>type': ${JSON.stringify(line)}`)
      }
      return { crc: Number.parseInt(crc, 16), symbol, module, exportType, namespace }
    })
}

/** Format entries as kbuild writes them (`0x%08x`, tab separated, trailing namespace field). */
export function formatSymvers(entries: SymversEntry[]): string {
  return entries.map((e) => `0x${e.crc.toString(16).padStart(8, '0')}\t${e.symbol}\t${e.module}\t${e.exportType}\t${e.namespace}\n`).join('')
}

/** A copy of the text with one symbol changed; throws if the symbol is not there. */
export function changeSymbol(text: string, symbol: string, change: (entry: SymversEntry) => Partial<SymversEntry>): string {
  const entries = parseSymvers(text)
  const entry = entries.find((e) => e.symbol === symbol)
  if (!entry) throw new Error(`symbol ${symbol} is not in this Module.symvers (it has: ${entries.map((e) => e.symbol).join(', ') || 'nothing'})`)
  Object.assign(entry, change(entry))
  return formatSymvers(entries)
}
