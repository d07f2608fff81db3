// A growing UTF-8 byte buffer for admin answers. Building a 10,000-host answer out of string
// concatenations made hundreds of thousands of short-lived strings, and AssemblyScript's
// incremental GC then spent seconds re-marking the live heap; writing bytes into one buffer
// allocates O(log n) times instead.
import { jsonString } from "./json";

export class ByteBuffer {
  private buf: ArrayBuffer;
  len: i32 = 0;

  constructor(capacity: i32 = 1024) {
    this.buf = new ArrayBuffer(max(capacity, 16));
  }

  private ensure(extra: i32): void {
    const need = this.len + extra;
    if (need <= this.buf.byteLength) return;
    const grown = new ArrayBuffer(max(need, this.buf.byteLength * 2));
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.len);
    this.buf = grown;
  }

  byte(b: i32): ByteBuffer {
    this.ensure(1);
    store<u8>(changetype<usize>(this.buf) + <usize>this.len, <u8>b);
    this.len++;
    return this;
  }

  /** Appends a string as UTF-8. */
  str(s: string): ByteBuffer {
    if (this.plain(s, false)) return this;
    return this.raw(String.UTF8.encode(s));
  }

  /**
   * Appends `s` if every character is ASCII and, with `escapes`, none needs escaping in a JSON
   * string or a Prometheus label (", \, control characters); returns false having written
   * nothing otherwise. One pass over the UTF-16 code units: what host names and numbers are.
   */
  private plain(s: string, escapes: bool): bool {
    const n = s.length;
    this.ensure(n);
    const from = changetype<usize>(s);
    const base = changetype<usize>(this.buf) + <usize>this.len;
    for (let i = 0; i < n; i++) {
      const c = load<u16>(from + ((<usize>i) << 1));
      if (c >= 0x80 || (escapes && (c < 0x20 || c == 0x22 || c == 0x5c))) return false;
      store<u8>(base + <usize>i, <u8>c);
    }
    this.len += n;
    return true;
  }
  /**
   * Appends bytes that are ASCII (a host key) as the inside of a JSON string (`json`) or a
   * Prometheus label value: copied whole unless one needs escaping, which is rare.
   */
  asciiEscaped(bytes: ArrayBuffer, json: bool): ByteBuffer {
    const p = changetype<usize>(bytes);
    const n = <usize>bytes.byteLength;
    for (let i: usize = 0; i < n; i++) {
      const c = load<u8>(p + i);
      if (c < 0x20 || c == 0x22 || c == 0x5c || c >= 0x80) {
        this.escaped(String.UTF8.decode(bytes), json);
        return this;
      }
    }
    return this.raw(bytes);
  }

  raw(bytes: ArrayBuffer): ByteBuffer {
    const n = bytes.byteLength;
    this.ensure(n);
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, changetype<usize>(bytes), <usize>n);
    this.len += n;
    return this;
  }

  int(v: i64): ByteBuffer {
    if (v < 0) {
      this.byte(0x2d);
      v = -v;
    }
    this.ensure(20);
    let digits = 1;
    for (let t = v; t >= 10; t /= 10) digits++;
    const base = changetype<usize>(this.buf) + <usize>this.len;
    let x = v;
    for (let i = digits - 1; i >= 0; i--) {
      store<u8>(base + <usize>i, <u8>(0x30 + <i32>(x % 10)));
      x /= 10;
    }
    this.len += digits;
    return this;
  }

  /** A JSON string literal, quotes included. */
  json(s: string): ByteBuffer {
    this.byte(0x22);
    if (!this.plain(s, true)) this.escaped(s, true);
    return this.byte(0x22);
  }

  /** A Prometheus label value: backslash, double quote and newline escaped (format 0.0.4). */
  label(s: string): ByteBuffer {
    if (!this.plain(s, true)) this.escaped(s, false);
    return this;
  }

  /** The slow path of json() and label(): escapes character by character. */
  private escaped(s: string, json: bool): void {
    if (!isAscii(s)) {
      if (json) {
        // jsonString quotes; the caller already wrote the opening quote.
        const quoted = jsonString(s);
        this.str(quoted.substring(1, quoted.length - 1));
      } else {
        this.str(s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n"));
      }
      return;
    }
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 0x22 || c == 0x5c) this.byte(0x5c).byte(c);
      else if (c == 0x0a) this.byte(0x5c).byte(0x6e);
      else if (json && c == 0x0d) this.byte(0x5c).byte(0x72);
      else if (json && c == 0x09) this.byte(0x5c).byte(0x74);
      else if (json && c < 0x20) {
        this.str("\\u00")
          .byte(HEX.charCodeAt(c >> 4))
          .byte(HEX.charCodeAt(c & 15));
      } else this.byte(c);
    }
  }

  bytes(): ArrayBuffer {
    return this.buf.slice(0, this.len);
  }
}

const HEX = "0123456789abcdef";

function isAscii(s: string): bool {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
