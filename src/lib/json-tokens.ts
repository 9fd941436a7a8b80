/**
 * JSON tokens over raw bytes for the scanner (json-scan.ts): strings (escapes and UTF-8
 * checked as TextDecoder's fatal mode checks them), numbers and literals. Each returns the
 * index just past the token, or why it is not one.
 */

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}
export function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}
function isHex(b: number): boolean {
  return isDigit(b) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

export type Fail = { fail: "invalid_json" | "invalid_utf8"; at: number };

/** Index just past the closing quote of the string starting at `i` (an opening quote). */
export function scanString(bytes: Uint8Array, start: number): number | Fail {
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

export function scanNumber(bytes: Uint8Array, start: number): number | Fail {
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

export const LITERALS: Record<number, number[]> = {
  116: [0x74, 0x72, 0x75, 0x65], // true
  102: [0x66, 0x61, 0x6c, 0x73, 0x65], // false
  110: [0x6e, 0x75, 0x6c, 0x6c], // null
};
