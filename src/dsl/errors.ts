import { formatCallSite, type CallSite } from './callsite.js'
import { clipLines, hang } from './format.js'
import { formatTranscript, type TranscriptEntry } from './transcript.js'

/** Which step of a chain an error belongs to. */
export interface StepInfo {
  /** 1-based. */
  index: number
  total: number
  /** The call as written, e.g. `expectLoaded('hello_api', { refcount: 1 })`. */
  call: string
  /** The action this expectation looks at, e.g. `insmod('hello_feature')`. */
  after?: string
  site?: CallSite
}

export interface KmodspecErrorDetails {
  step?: StepInfo
  expected: string
  actual: string
  /** Backend name, e.g. `sim`. */
  backend: string
  transcript?: TranscriptEntry[]
  cause?: unknown
  /** Path prefixes to shorten in the printed transcript. */
  replace?: Array<[string, string]>
  /** Show the failing step's probes in the transcript (failed expectations). */
  showProbes?: boolean
  /** Header when there is no step (option errors). */
  title?: string
}

const LABEL = 11 // width of 'Expected:  '

/**
 * The one error kmodspec throws for a failed spec or a misused chain. `message` is the full
 * report (what vitest prints: header, step, spec line, expected, received, transcript);
 * `shortMessage` is the same without the transcript.
 * @example
 * try { await kernel().rmmod('x') } catch (e) { if (e instanceof KmodspecError) console.log(e.step?.index, e.actual) }
 */
export class KmodspecError extends Error {
  override name = 'KmodspecError'
  declare readonly step: StepInfo | undefined
  declare readonly expected: string
  declare readonly actual: string
  declare readonly backend: string
  declare readonly transcript: TranscriptEntry[]
  declare readonly shortMessage: string

  constructor(details: KmodspecErrorDetails) {
    const { step, backend } = details
    const title = details.title ?? `kernel(${backend}).${step?.call ?? '?'} failed`
    const head = [title, '']
    if (step) {
      head.push(`Step:      ${step.index}/${step.total}${step.after ? `  after ${step.after}` : ''}`)
      head.push(`At:        ${formatCallSite(step.site)}`)
    }
    // Long values are cut in the message; the fields below keep them whole.
    head.push(`Expected:  ${hang(clipLines(details.expected), LABEL)}`)
    head.push(`Received:  ${hang(clipLines(details.actual), LABEL)}`)
    const shortMessage = head.join('\n')
    const transcript = details.transcript ?? []
    const full = details.transcript
      ? `${shortMessage}\n\nTranscript\n${formatTranscript(transcript, { failedStep: step?.index, replace: details.replace, showProbes: details.showProbes })}`
      : shortMessage
    super(full, details.cause === undefined ? undefined : { cause: details.cause })
    // Not enumerable: vitest would otherwise dump them as a "Serialized Error" and diff expected/actual.
    const hidden = { step, expected: details.expected, actual: details.actual, backend, transcript, shortMessage, showDiff: false }
    for (const [key, value] of Object.entries(hidden)) Object.defineProperty(this, key, { value, enumerable: false })
    if (step?.site) this.stack = `${this.name}: ${full}\n${step.site.frames.join('\n')}`
  }
}

/** Thrown inside a step to fail it; the chain turns it into a {@link KmodspecError}. */
export class StepFailure extends Error {
  constructor(
    readonly expected: string,
    readonly actual: string,
    options?: { cause?: unknown },
  ) {
    super(`expected ${expected}, received ${actual}`, options)
    this.name = 'StepFailure'
  }
}
