// A strict JSON reader that never traps. Plugin configuration and admin input are untrusted
// bytes: a JSON library that aborts on malformed input (json-as does) would fail the worker VM
// and turn every request on it into a 503. This reader returns an error with a byte offset
// instead, and bounds depth and size so no input can exhaust the stack or memory.

export enum JsonKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

export class JsonValue {
  kind: JsonKind = JsonKind.Null;
  bool: bool = false;
  /** Numbers keep their text; `int` is valid when `isInt` (an integer within +-2^53). */
  isInt: bool = false;
  int: i64 = 0;
  str: string = "";
  items: Array<JsonValue> = [];
  keys: Array<string> = [];

  /** Index of `key` in an object, or -1. */
  indexOf(key: string): i32 {
    for (let i = 0; i < this.keys.length; i++) if (unchecked(this.keys[i]) == key) return i;
    return -1;
  }

  kindName(): string {
    return kindName(this.kind);
  }
}

export function kindName(kind: JsonKind): string {
  switch (kind) {
    case JsonKind.Null:
      return "null";
    case JsonKind.Bool:
      return "boolean";
    case JsonKind.Number:
      return "number";
    case JsonKind.String:
      return "string";
    case JsonKind.Array:
      return "array";
    default:
      return "object";
  }
}

export const MAX_JSON_BYTES: i32 = 256 * 1024;
const MAX_DEPTH: i32 = 32;

export class JsonResult {
  value: JsonValue | null = null;
  error: string = "";
}

export function parseJson(bytes: ArrayBuffer): JsonResult {
  const result = new JsonResult();
  if (bytes.byteLength > MAX_JSON_BYTES) {
    result.error = "input is " + bytes.byteLength.toString() + " bytes, the limit is 262144";
    return result;
  }
  const reader = new Reader(Uint8Array.wrap(bytes));
  reader.skipSpace();
  const value = reader.value(0);
  if (value !== null) {
    reader.skipSpace();
    if (reader.pos < reader.len) reader.fail("unexpected data after the JSON value");
  }
  if (reader.error.length > 0) {
    result.error = reader.error + " at byte " + reader.errorAt.toString();
  } else {
    result.value = value;
  }
  return result;
}

class Reader {
  pos: i32 = 0;
  len: i32;
  error: string = "";
  errorAt: i32 = 0;

  constructor(public bytes: Uint8Array) {
    this.len = bytes.length;
  }

  fail(message: string): JsonValue | null {
    if (this.error.length == 0) {
      this.error = message;
      this.errorAt = this.pos;
    }
    return null;
  }

  peek(): i32 {
    return this.pos < this.len ? <i32>unchecked(this.bytes[this.pos]) : -1;
  }

  skipSpace(): void {
    while (this.pos < this.len) {
      const c = unchecked(this.bytes[this.pos]);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  literal(word: string): bool {
    if (this.pos + word.length > this.len) return false;
    for (let i = 0; i < word.length; i++) {
      if (<i32>unchecked(this.bytes[this.pos + i]) != word.charCodeAt(i)) return false;
    }
    this.pos += word.length;
    return true;
  }

  value(depth: i32): JsonValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than 32 levels");
    const c = this.peek();
    const v = new JsonValue();
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      v.kind = JsonKind.String;
      v.str = s;
      return v;
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) {
      v.kind = JsonKind.Bool;
      v.bool = true;
      return v;
    }
    if (this.literal("false")) {
      v.kind = JsonKind.Bool;
      return v;
    }
    if (this.literal("null")) return v;
    if (c < 0) return this.fail("unexpected end of input");
    return this.fail("unexpected character");
  }

  object(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    this.pos++; // {
    this.skipSpace();
    if (this.peek() == 0x7d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.skipSpace();
      if (this.peek() != 0x22) return this.fail("expected a string key");
      const key = this.string();
      if (key === null) return null;
      if (v.indexOf(key) >= 0) return this.fail('duplicate key "' + key + '"');
      this.skipSpace();
      if (this.peek() != 0x3a) return this.fail("expected ':'");
      this.pos++;
      this.skipSpace();
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x7d) return v;
      this.pos--;
      return this.fail("expected ',' or '}'");
    }
  }

  array(depth: i32): JsonValue | null {
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    this.pos++; // [
    this.skipSpace();
    if (this.peek() == 0x5d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.skipSpace();
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.skipSpace();
      const c = this.peek();
      this.pos++;
      if (c == 0x2c) continue;
      if (c == 0x5d) return v;
      this.pos--;
      return this.fail("expected ',' or ']'");
    }
  }

  number(): JsonValue | null {
    const start = this.pos;
    if (this.peek() == 0x2d) this.pos++;
    const first = this.peek();
    if (first == 0x30) {
      this.pos++;
    } else if (first >= 0x31 && first <= 0x39) {
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    } else {
      return this.fail("invalid number");
    }
    if (this.peek() == 0x2e) {
      this.pos++;
      if (!(this.peek() >= 0x30 && this.peek() <= 0x39)) return this.fail("invalid number");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.pos++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.pos++;
      if (!(this.peek() >= 0x30 && this.peek() <= 0x39)) return this.fail("invalid number");
      while (this.peek() >= 0x30 && this.peek() <= 0x39) this.pos++;
    }
    if (this.pos - start > 64) return this.fail("number longer than 64 characters");
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    v.str = this.slice(start, this.pos);
    // Config fields are integers; anything else keeps only its text for the error message.
    // (Avoiding strtod/dtoa also keeps a few KB out of the module.)
    const digitsFrom = v.str.startsWith("-") ? 1 : 0;
    if (!v.str.includes(".") && !v.str.includes("e") && !v.str.includes("E")) {
      if (v.str.length - digitsFrom <= 15) {
        let n: i64 = 0;
        for (let i = digitsFrom; i < v.str.length; i++)
          n = n * 10 + <i64>(v.str.charCodeAt(i) - 0x30);
        v.int = digitsFrom == 1 ? -n : n;
        v.isInt = true;
      }
    }
    return v;
  }

  hex4(): i32 {
    if (this.pos + 4 > this.len) return -1;
    let code = 0;
    for (let i = 0; i < 4; i++) {
      const c = <i32>unchecked(this.bytes[this.pos + i]);
      let d = -1;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x61 + 10;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x41 + 10;
      if (d < 0) return -1;
      code = (code << 4) | d;
    }
    this.pos += 4;
    return code;
  }

  /** Reads a string; validates UTF-8 so that no byte sequence can surprise the decoder. */
  string(): string | null {
    this.pos++; // opening quote
    const parts: string[] = [];
    let runStart = this.pos;
    while (true) {
      if (this.pos >= this.len) {
        this.fail("unterminated string");
        return null;
      }
      const c = <i32>unchecked(this.bytes[this.pos]);
      if (c == 0x22) {
        parts.push(this.slice(runStart, this.pos));
        this.pos++;
        return parts.length == 1 ? unchecked(parts[0]) : parts.join("");
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c == 0x5c) {
        parts.push(this.slice(runStart, this.pos));
        this.pos++;
        const e = this.peek();
        this.pos++;
        if (e == 0x22) parts.push('"');
        else if (e == 0x5c) parts.push("\\");
        else if (e == 0x2f) parts.push("/");
        else if (e == 0x62) parts.push("\b");
        else if (e == 0x66) parts.push("\f");
        else if (e == 0x6e) parts.push("\n");
        else if (e == 0x72) parts.push("\r");
        else if (e == 0x74) parts.push("\t");
        else if (e == 0x75) {
          const unit = this.hex4();
          if (unit < 0) {
            this.fail("invalid \\u escape");
            return null;
          }
          parts.push(String.fromCharCode(unit));
        } else {
          this.pos--;
          this.fail("invalid escape");
          return null;
        }
        runStart = this.pos;
        continue;
      }
      if (c < 0x80) {
        this.pos++;
        continue;
      }
      const n = this.utf8Length(c);
      if (n == 0) {
        this.fail("invalid UTF-8");
        return null;
      }
      this.pos += n;
    }
  }

  /** Length of a valid UTF-8 sequence starting with `lead` at pos, or 0 if invalid. */
  utf8Length(lead: i32): i32 {
    let n = 0;
    let min = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      n = 2;
      min = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      n = 3;
      min = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      n = 4;
      min = 0x10000;
    } else {
      return 0;
    }
    if (this.pos + n > this.len) return 0;
    let code = lead & (0x7f >> n);
    for (let i = 1; i < n; i++) {
      const b = <i32>unchecked(this.bytes[this.pos + i]);
      if ((b & 0xc0) != 0x80) return 0;
      code = (code << 6) | (b & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return 0;
    return n;
  }

  slice(from: i32, to: i32): string {
    if (to <= from) return "";
    return String.UTF8.decodeUnsafe(
      changetype<usize>(this.bytes.buffer) + <usize>from,
      <usize>(to - from),
    );
  }
}

/** Escapes a string for a JSON document. */
export function jsonString(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x22 || c == 0x5c) {
      needs = true;
      break;
    }
  }
  if (!needs) return '"' + s + '"';
  const parts: string[] = [];
  parts.push('"');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) parts.push('\\"');
    else if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x0a) parts.push("\\n");
    else if (c == 0x0d) parts.push("\\r");
    else if (c == 0x09) parts.push("\\t");
    else if (c < 0x20) parts.push("\\u00" + (c < 0x10 ? "0" : "") + c.toString(16));
    else parts.push(String.fromCharCode(c));
  }
  parts.push('"');
  return parts.join("");
}
