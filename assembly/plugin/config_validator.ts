// The one way config fields are checked: each check names the field and what was expected, and
// the first failure is the one reported (the whole config is then refused).
import { JsonKind, JsonValue } from "./json";

export class Validator {
  error: string = "";

  fail(path: string, message: string): void {
    if (this.error.length == 0) this.error = path + ": " + message;
  }

  get ok(): bool {
    return this.error.length == 0;
  }

  got(v: JsonValue): string {
    if (v.kind == JsonKind.Number) return v.str.length > 24 ? v.str.substring(0, 24) + "…" : v.str;
    if (v.kind == JsonKind.String) {
      const s = v.str.length > 40 ? v.str.substring(0, 40) + "…" : v.str;
      return 'the string "' + s + '"';
    }
    return "a " + v.kindName();
  }

  str(path: string, v: JsonValue, minLen: i32, maxLen: i32): string | null {
    if (v.kind != JsonKind.String) {
      this.fail(path, "expected a string, got " + this.got(v));
      return null;
    }
    if (v.str.length < minLen || v.str.length > maxLen) {
      this.fail(
        path,
        "expected a string of " +
          minLen.toString() +
          " to " +
          maxLen.toString() +
          " characters, got " +
          v.str.length.toString(),
      );
      return null;
    }
    return v.str;
  }

  int(path: string, v: JsonValue, min: i32, max: i32): i32 {
    const range = "an integer from " + min.toString() + " to " + max.toString();
    if (v.kind != JsonKind.Number) {
      this.fail(path, "expected " + range + ", got " + this.got(v));
      return min;
    }
    if (!v.isInt || v.int < <i64>min || v.int > <i64>max) {
      this.fail(path, "expected " + range + ", got " + this.got(v));
      return min;
    }
    return <i32>v.int;
  }

  bool(path: string, v: JsonValue): bool {
    if (v.kind != JsonKind.Bool) this.fail(path, "expected true or false, got " + this.got(v));
    return v.bool;
  }

  array(path: string, v: JsonValue, maxItems: i32): bool {
    if (v.kind != JsonKind.Array) {
      this.fail(path, "expected an array, got " + this.got(v));
      return false;
    }
    if (v.items.length > maxItems) {
      this.fail(path, "expected at most " + maxItems.toString() + " items");
      return false;
    }
    return true;
  }

  object(path: string, v: JsonValue): bool {
    if (v.kind != JsonKind.Object) {
      this.fail(path, "expected an object, got " + this.got(v));
      return false;
    }
    return true;
  }
}
