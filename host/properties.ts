import { utf8Encode } from "./memory.js";

export type PropertyValue = string | number | bigint | boolean | Uint8Array;
export type PropertyPath = string | readonly string[];
/** Keys are paths as a test writes them: "upstream.address" or ["upstream", "address"]. */
export type PropertiesInput =
  | Record<string, PropertyValue>
  | Iterable<[PropertyPath, PropertyValue]>;

/**
 * Internal key of a property: its segments joined with NUL, which is exactly what the plugin
 * must pass to proxy_get_property (Envoy splits the path on '\0', never on '.').
 * At the host API boundary a dotted string is split on dots, for convenience.
 */
export function propertyKey(path: PropertyPath): string {
  const segments = typeof path === "string" ? path.split(".") : [...path];
  return segments.join("\0");
}

/**
 * Envoy serialises CEL values for proxy_get_property: strings as raw bytes, integers as 8-byte
 * little-endian int64, bytes raw. Booleans as one byte (0/1) is our choice.
 */
export function encodePropertyValue(v: PropertyValue): Uint8Array {
  if (v instanceof Uint8Array) return v.slice();
  if (typeof v === "string") return utf8Encode(v);
  if (typeof v === "boolean") return new Uint8Array([v ? 1 : 0]);
  const out = new Uint8Array(8);
  const n = typeof v === "bigint" ? v : BigInt(Math.trunc(v));
  new DataView(out.buffer).setBigInt64(0, BigInt.asIntN(64, n), true);
  return out;
}

/** A layer of properties keyed by NUL-joined path. */
export class PropertyBag {
  private readonly values = new Map<string, Uint8Array>();

  constructor(input?: PropertiesInput) {
    if (input) this.merge(input);
  }

  merge(input: PropertiesInput): this {
    const entries: Iterable<[PropertyPath, PropertyValue]> =
      Symbol.iterator in Object(input) && !(input instanceof Uint8Array)
        ? (input as Iterable<[PropertyPath, PropertyValue]>)
        : Object.entries(input as Record<string, PropertyValue>);
    for (const [path, value] of entries) this.set(path, value);
    return this;
  }

  set(path: PropertyPath, value: PropertyValue): void {
    this.values.set(propertyKey(path), encodePropertyValue(value));
  }

  /** Stores a value under the exact NUL-separated key the plugin used. */
  setRaw(key: string, value: Uint8Array): void {
    this.values.set(key, value.slice());
  }

  getRaw(key: string): Uint8Array | undefined {
    return this.values.get(key);
  }

  has(key: string): boolean {
    return this.values.has(key);
  }
}

/** Looks a raw plugin path up through layers, innermost first. */
export function lookupProperty(
  layers: ReadonlyArray<PropertyBag | undefined>,
  rawPath: string,
): Uint8Array | undefined {
  // Some SDKs terminate the path with a NUL; that is still the same path.
  const key = rawPath.endsWith("\0") ? rawPath.slice(0, -1) : rawPath;
  for (const layer of layers) {
    const v = layer?.getRaw(key);
    if (v) return v;
  }
  return undefined;
}

/** `host:port` → port, for Envoy's `upstream.port`. */
export function portOf(address: string): number | undefined {
  const m = /:(\d+)$/.exec(address);
  return m ? Number(m[1]) : undefined;
}
