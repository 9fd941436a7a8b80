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

import {
  type Fail,
  isDigit,
  isWhitespace,
  LITERALS,
  QUOTE,
  scanNumber,
  scanString,
} from "./json-tokens";

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
