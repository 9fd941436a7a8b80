/**
 * A validating JSON scanner over raw bytes that builds nothing: it checks the whole text
 * (RFC 8259 grammar, UTF-8 inside strings, a nesting limit) and records where each member of
 * the top-level object lies. Callers then parse only the members they need.
 *
 * Why: a 25 MiB webhook held as bytes, decoded text and a parsed object at once does not
 * fit a Worker's 128 MB; ingress needs a handful of small top-level fields to authorize and
 * classify, the consumer a few more to normalize. Duplicate keys resolve as JSON.parse
 * (and Python's json, which packit-service uses) resolve them: the last one wins.
 */

export type MemberRange = { start: number; end: number };

export type ScanResult =
  | { ok: true; object: true; members: Map<string, MemberRange> }
  | { ok: true; object: false }
  | { ok: false; reason: "invalid_json" | "invalid_utf8" | "too_deep"; at: number };

enum State {
  Value,
  ArrayValueOrEnd,
  KeyOrEnd,
  Key,
  Colon,
  AfterValue,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}
function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
function isHex(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

type Fail = { fail: "invalid_json" | "invalid_utf8"; at: number };

/** Index just past the closing quote of the string starting at `i` (an opening quote). */
function scanString(bytes: Uint8Array, start: number): number | Fail {
  let i = start + 1;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i] as number;
    if (b === QUOTE) {
      return i + 1;
    }
    if (b === BACKSLASH) {
      const e = bytes[i + 1];
      if (e === 0x75) {
        for (let k = 2; k < 6; k++) {
          if (!isHex(bytes[i + k] ?? 0)) {
            return { fail: "invalid_json", at: i };
          }
        }
        i += 6;
      } else if (
        e === QUOTE ||
        e === BACKSLASH ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      ) {
        i += 2;
      } else {
        return { fail: "invalid_json", at: i };
      }
    } else if (b < 0x20) {
      return { fail: "invalid_json", at: i };
    } else if (b < 0x80) {
      i++;
    } else {
      // UTF-8, as TextDecoder's fatal mode checks it: no overlongs, surrogates or > U+10FFFF.
      const b1 = bytes[i + 1] ?? 0;
      const cont = (x: number) => (x & 0xc0) === 0x80;
      if (b >= 0xc2 && b <= 0xdf) {
        if (!cont(b1)) {
          return { fail: "invalid_utf8", at: i };
        }
        i += 2;
      } else if (b >= 0xe0 && b <= 0xef) {
        const b2 = bytes[i + 2] ?? 0;
        const lo = b === 0xe0 ? 0xa0 : 0x80;
        const hi = b === 0xed ? 0x9f : 0xbf;
        if (b1 < lo || b1 > hi || !cont(b2)) {
          return { fail: "invalid_utf8", at: i };
        }
        i += 3;
      } else if (b >= 0xf0 && b <= 0xf4) {
        const b2 = bytes[i + 2] ?? 0;
        const b3 = bytes[i + 3] ?? 0;
        const lo = b === 0xf0 ? 0x90 : 0x80;
        const hi = b === 0xf4 ? 0x8f : 0xbf;
        if (b1 < lo || b1 > hi || !cont(b2) || !cont(b3)) {
          return { fail: "invalid_utf8", at: i };
        }
        i += 4;
      } else {
        return { fail: "invalid_utf8", at: i };
      }
    }
  }
  return { fail: "invalid_json", at: n };
}

function scanNumber(bytes: Uint8Array, start: number): number | Fail {
  let i = start;
  if (bytes[i] === 0x2d) {
    i++;
  }
  if (bytes[i] === 0x30) {
    i++;
  } else if (isDigit(bytes[i] ?? 0)) {
    while (isDigit(bytes[i] ?? 0)) {
      i++;
    }
  } else {
    return { fail: "invalid_json", at: i };
  }
  if (bytes[i] === 0x2e) {
    i++;
    if (!isDigit(bytes[i] ?? 0)) {
      return { fail: "invalid_json", at: i };
    }
    while (isDigit(bytes[i] ?? 0)) {
      i++;
    }
  }
  if (bytes[i] === 0x65 || bytes[i] === 0x45) {
    i++;
    if (bytes[i] === 0x2b || bytes[i] === 0x2d) {
      i++;
    }
    if (!isDigit(bytes[i] ?? 0)) {
      return { fail: "invalid_json", at: i };
    }
    while (isDigit(bytes[i] ?? 0)) {
      i++;
    }
  }
  return i;
}

const LITERALS: Record<number, number[]> = {
  116: [0x74, 0x72, 0x75, 0x65], // true
  102: [0x66, 0x61, 0x6c, 0x73, 0x65], // false
  110: [0x6e, 0x75, 0x6c, 0x6c], // null
};

const keyDecoder = new TextDecoder();

export function scanJson(bytes: Uint8Array, maxDepth: number): ScanResult {
  const stack: number[] = []; // 0x7b '{' or 0x5b '['
  const members = new Map<string, MemberRange>();
  let state: State = State.Value;
  let topIsObject = false;
  let pendingKey: string | null = null;
  let valueStart = 0;
  let valueEnd = 0;
  let i = 0;
  const n = bytes.length;
  const fail = (f: Fail): ScanResult => ({ ok: false, reason: f.fail, at: f.at });

  for (;;) {
    while (i < n && isWhitespace(bytes[i] as number)) {
      i++;
    }
    if (state === State.AfterValue && stack.length === 1 && pendingKey !== null) {
      members.set(pendingKey, { start: valueStart, end: valueEnd });
      pendingKey = null;
    }
    if (i >= n) {
      return state === State.AfterValue && stack.length === 0
        ? topIsObject
          ? { ok: true, object: true, members }
          : { ok: true, object: false }
        : { ok: false, reason: "invalid_json", at: i };
    }
    const b = bytes[i] as number;
    switch (state) {
      case State.Value: {
        if (stack.length === 1 && stack[0] === 0x7b) {
          valueStart = i;
        }
        if (b === 0x7b || b === 0x5b) {
          if (stack.length === 0 && b === 0x7b) {
            topIsObject = true;
          }
          stack.push(b);
          if (stack.length > maxDepth) {
            return { ok: false, reason: "too_deep", at: i };
          }
          i++;
          state = b === 0x7b ? State.KeyOrEnd : State.ArrayValueOrEnd;
        } else if (b === QUOTE) {
          const end = scanString(bytes, i);
          if (typeof end !== "number") {
            return fail(end);
          }
          i = end;
          valueEnd = i;
          state = State.AfterValue;
        } else if (b === 0x2d || isDigit(b)) {
          const end = scanNumber(bytes, i);
          if (typeof end !== "number") {
            return fail(end);
          }
          i = end;
          valueEnd = i;
          state = State.AfterValue;
        } else {
          const literal = LITERALS[b];
          if (!literal || literal.some((c, k) => bytes[i + k] !== c)) {
            return { ok: false, reason: "invalid_json", at: i };
          }
          i += literal.length;
          valueEnd = i;
          state = State.AfterValue;
        }
        break;
      }
      case State.ArrayValueOrEnd:
        if (b === 0x5d) {
          stack.pop();
          i++;
          valueEnd = i;
          state = State.AfterValue;
        } else {
          state = State.Value;
        }
        break;
      case State.KeyOrEnd:
        if (b === 0x7d) {
          stack.pop();
          i++;
          valueEnd = i;
          state = State.AfterValue;
          break;
        }
        state = State.Key;
        break;
      case State.Key: {
        if (b !== QUOTE) {
          return { ok: false, reason: "invalid_json", at: i };
        }
        const end = scanString(bytes, i);
        if (typeof end !== "number") {
          return fail(end);
        }
        if (stack.length === 1) {
          // Keys are short; JSON.parse resolves their escapes exactly as for the values.
          pendingKey = JSON.parse(keyDecoder.decode(bytes.subarray(i, end))) as string;
        }
        i = end;
        state = State.Colon;
        break;
      }
      case State.Colon:
        if (b !== 0x3a) {
          return { ok: false, reason: "invalid_json", at: i };
        }
        i++;
        state = State.Value;
        break;
      case State.AfterValue: {
        const top = stack.at(-1);
        if (top === undefined) {
          return { ok: false, reason: "invalid_json", at: i };
        }
        if (b === 0x2c) {
          i++;
          state = top === 0x7b ? State.Key : State.Value;
        } else if ((b === 0x7d && top === 0x7b) || (b === 0x5d && top === 0x5b)) {
          stack.pop();
          i++;
          valueEnd = i;
        } else {
          return { ok: false, reason: "invalid_json", at: i };
        }
        break;
      }
    }
  }
}

const memberDecoder = new TextDecoder();

/**
 * The named members of a scanned top-level object, parsed one by one: an object holding
 * only those keys, each exactly as JSON.parse of the whole text would have it.
 */
export function parseMembers(
  bytes: Uint8Array,
  members: ReadonlyMap<string, MemberRange>,
  keys: Iterable<string>,
): Record<string, unknown> {
  const entries: [string, unknown][] = [];
  for (const key of keys) {
    const range = members.get(key);
    if (range) {
      entries.push([key, JSON.parse(memberDecoder.decode(bytes.subarray(range.start, range.end)))]);
    }
  }
  return Object.fromEntries(entries);
}
