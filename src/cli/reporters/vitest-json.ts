// What `kmodspec run` reads from vitest's JSON reporter, and how it cleans vitest's failure messages.

/** The parts of vitest's JSON reporter output the report reads. */
export interface VitestJsonReport {
  numTotalTests: number
  numPassedTests: number
  numFailedTests: number
  numTotalTestSuites: number
  numFailedTestSuites: number
  success: boolean
  testResults: Array<{
    name: string
    status: string
    message: string
    assertionResults: Array<{ ancestorTitles: string[]; title: string; status: string; failureMessages: string[]; duration?: number | null }>
  }>
}

/** An error as vitest reported it, without the stack frames inside node_modules and node itself. */
export function trimFailure(message: string): string {
  // KmodspecError's message starts with its own header; its class name adds nothing.
  const lines = message.replace(/^KmodspecError: /, '').split('\n')
  const frames = lines.filter((l) => /^\s+at /.test(l))
  const userFrame = frames.find((l) => !/node_modules|node:|\(<anonymous>\)/.test(l))
  const body = lines.filter((l) => !/^\s+at /.test(l))
  while (body.length > 0 && body.at(-1)!.trim() === '') body.pop()
  // A KmodspecError already names its spec line (At:); other errors get their first user frame.
  if (userFrame && !body.some((l) => l.startsWith('At: '))) body.push(userFrame.trim())
  return body.join('\n')
}
