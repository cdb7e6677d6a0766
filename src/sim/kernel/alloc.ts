/**
 * module_alloc() as vmalloc hands it out: first fit from the start of the module area,
 * each area page-rounded and followed by one guard page; freed areas are reused.
 */
export class ModuleArea {
  private readonly used: Array<{ start: bigint; end: bigint }> = []

  constructor(
    private readonly base: bigint,
    private readonly pageSize: number,
  ) {}

  alloc(size: number): bigint {
    const page = BigInt(this.pageSize)
    const len = ((BigInt(Math.max(size, 1)) + page - 1n) / page) * page + page
    let at = this.base
    for (const r of this.used) {
      if (at + len <= r.start) break
      if (r.end > at) at = r.end
    }
    this.used.push({ start: at, end: at + len })
    this.used.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    return at
  }

  free(addr: bigint): void {
    const i = this.used.findIndex((r) => r.start === addr)
    if (i >= 0) this.used.splice(i, 1)
  }
}
