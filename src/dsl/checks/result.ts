/**
 * What one check decided: the chain's `expect*` step throws it as Expected/Received, the vitest
 * matcher of the same name prints it (with `.not` in front when negated). Written once per check.
 */
export interface CheckResult {
  pass: boolean
  /** What the check wanted, in words (for a negated matcher, "not " comes in front). */
  expected: string
  /** What the kernel showed, in words. */
  received: string
}
