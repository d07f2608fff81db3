// Which host keys are tracked: exact keys or "*.suffix" patterns; an empty list tracks any.
// Entries arrive already in stream-key form (host_key.ts hostPatternFor), so matching is a plain
// comparison: case-insensitive under keyBy authority only because both sides are lower case.
import { BadEntry, hostPatternFor, isKeyChar, KeyBy } from "./host_key";

export class HostPatterns {
  exact: Set<string> = new Set<string>();
  suffixes: Array<string> = [];

  get isEmpty(): bool {
    return this.exact.size == 0 && this.suffixes.length == 0;
  }

  matches(key: string): bool {
    if (this.isEmpty) return true;
    if (this.exact.has(key)) return true;
    for (let i = 0; i < this.suffixes.length; i++) {
      const suffix = unchecked(this.suffixes[i]);
      // "*.example.com" matches "a.example.com" but not "example.com" itself.
      if (key.length > suffix.length && key.endsWith(suffix)) return true;
    }
    return false;
  }
}

/** Returns null if the pattern's syntax is acceptable, else what is wrong with it. */
export function patternProblem(pattern: string): string | null {
  if (pattern.length == 0) return "an empty pattern";
  if (pattern.length > 512) return "a pattern longer than 512 characters";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (!isKeyChar(c)) return "a character that cannot appear in a host key";
    if (c == 0x2a && i != 0) return "'*' other than as a leading '*.'";
  }
  if (pattern.startsWith("*")) {
    if (!pattern.startsWith("*.") || pattern.length < 3) return "'*' not followed by '.suffix'";
  }
  return null;
}

/** Adds an entry hostPatternFor returned: "*.suffix" or an exact key. */
export function addPattern(patterns: HostPatterns, pattern: string): void {
  if (pattern.startsWith("*.")) patterns.suffixes.push(pattern.substring(1));
  else patterns.exact.add(pattern);
}

/**
 * Adds every `hosts` entry as written (syntax already checked) in stream-key form; returns the
 * first entry no stream can match under keyBy, or null.
 */
export function addPatterns(
  keyBy: KeyBy,
  written: Array<string>,
  into: HostPatterns,
): BadEntry | null {
  for (let i = 0; i < written.length; i++) {
    const p = hostPatternFor(keyBy, unchecked(written[i]));
    const pattern = p.key;
    if (pattern === null) return new BadEntry(i, p.problem);
    addPattern(into, pattern);
  }
  return null;
}
