import { MemoryAccessError } from "./abi.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8Encode(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8Decode(b: Uint8Array): string {
  return decoder.decode(b);
}

export type Allocator = (size: number) => number;

/**
 * Access to one instance's linear memory. Every accessor re-reads `memory.buffer`, because any
 * call into wasm (including the allocator) may grow memory and detach the old ArrayBuffer.
 */
export class GuestMemory {
  private allocator: Allocator | undefined;

  constructor(private readonly memory: WebAssembly.Memory) {}

  /** Current size of the linear memory (it only grows). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  setAllocator(allocator: Allocator): void {
    this.allocator = allocator;
  }

  private check(ptr: number, len: number): void {
    const size = this.memory.buffer.byteLength;
    if (ptr < 0 || len < 0 || ptr + len > size) {
      throw new MemoryAccessError(`guest access [${ptr}, +${len}) outside memory of ${size} bytes`);
    }
  }

  /** A copy of guest bytes (safe to keep after the guest frees or memory grows). */
  read(ptr: number, len: number): Uint8Array {
    const p = ptr >>> 0;
    const l = len >>> 0;
    this.check(p, l);
    return new Uint8Array(this.memory.buffer, p, l).slice();
  }

  readString(ptr: number, len: number): string {
    const p = ptr >>> 0;
    const l = len >>> 0;
    this.check(p, l);
    const view = new Uint8Array(this.memory.buffer, p, l);
    // Keys and header names are short ASCII: build them directly, which costs a fraction of a
    // TextDecoder call (this host's calls are what the benchmarks compare the plugin against).
    if (l <= 128) {
      let ascii = true;
      for (let i = 0; i < l; i++) {
        if ((view[i] as number) >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, view as unknown as number[]);
    }
    return decoder.decode(view);
  }

  write(ptr: number, data: Uint8Array): void {
    const p = ptr >>> 0;
    this.check(p, data.length);
    new Uint8Array(this.memory.buffer, p, data.length).set(data);
  }

  getU32(ptr: number): number {
    const p = ptr >>> 0;
    this.check(p, 4);
    return new DataView(this.memory.buffer).getUint32(p, true);
  }

  setU32(ptr: number, value: number): void {
    const p = ptr >>> 0;
    this.check(p, 4);
    new DataView(this.memory.buffer).setUint32(p, value >>> 0, true);
  }

  setU64(ptr: number, value: bigint): void {
    const p = ptr >>> 0;
    this.check(p, 8);
    new DataView(this.memory.buffer).setBigUint64(p, BigInt.asUintN(64, value), true);
  }

  setI64(ptr: number, value: bigint): void {
    const p = ptr >>> 0;
    this.check(p, 8);
    new DataView(this.memory.buffer).setBigInt64(p, BigInt.asIntN(64, value), true);
  }

  /** Allocates in the guest (proxy_on_memory_allocate / malloc) and copies `data` there. */
  allocCopy(data: Uint8Array): number {
    if (!this.allocator) throw new MemoryAccessError("module exports no allocator");
    const ptr = this.allocator(data.length) >>> 0;
    if (ptr === 0)
      throw new MemoryAccessError(`guest allocator returned 0 for ${data.length} bytes`);
    this.write(ptr, data);
    return ptr;
  }

  /**
   * cpp-host `copyToPointerSize`: an empty value is returned as (0, 0) without allocating;
   * otherwise guest memory is allocated and pointer and size are stored as u32 LE.
   */
  copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): void {
    const ptr = data.length === 0 ? 0 : this.allocCopy(data);
    this.setU32(ptrPtr, ptr);
    this.setU32(sizePtr, data.length);
  }
}
