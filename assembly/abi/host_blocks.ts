// Memory the host writes its answers into. During a host call that returns data (a header, a
// property, a shared-data value), Envoy asks the module for a block of the right size through
// proxy_on_memory_allocate, writes the value there and passes the pointer back; the module frees
// it once read. Allocating from the heap for every such value would make each stream pay the
// allocator several times, so one static block serves the common case: it is handed out when
// free and large enough, and taken back by freeHostBlock. Anything else (a second value while
// the first is still held, a large value) comes from the heap as before.

const SCRATCH_SIZE: usize = 16384;
const SCRATCH: usize = memory.data(<i32>SCRATCH_SIZE, 16);
let scratchInUse = false;

export function allocateHostBlock(size: usize): usize {
  if (!scratchInUse && size <= SCRATCH_SIZE) {
    scratchInUse = true;
    return SCRATCH;
  }
  return heap.alloc(size);
}

export function freeHostBlock(ptr: usize): void {
  if (ptr == 0) return;
  if (ptr == SCRATCH) {
    scratchInUse = false;
    return;
  }
  heap.free(ptr);
}
