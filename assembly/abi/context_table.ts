// Contexts by id, for the callbacks: one probe per lookup and a miss answered with null (an
// AssemblyScript Map needs has() then get(), two hash lookups, and its get() aborts on a miss).
// Envoy numbers contexts with a counter, so the id itself spreads them over the table. Open
// addressing with linear probing; deletion shifts the following run back (no tombstones).

export class ContextTable<T> {
  private ids: StaticArray<u32> = new StaticArray<u32>(64);
  private values: StaticArray<T | null> = new StaticArray<T | null>(64);
  private mask: u32 = 63;
  private count: i32 = 0;

  get(id: u32): T | null {
    if (id == 0) return null;
    let i = id & this.mask;
    while (true) {
      const at = unchecked(this.ids[i]);
      if (at == id) return unchecked(this.values[i]);
      if (at == 0) return null;
      i = (i + 1) & this.mask;
    }
  }

  set(id: u32, value: T): void {
    if (id == 0) return;
    if ((this.count + 1) * 2 > this.ids.length) this.grow();
    let i = id & this.mask;
    while (true) {
      const at = unchecked(this.ids[i]);
      if (at == id || at == 0) {
        if (at == 0) this.count++;
        unchecked((this.ids[i] = id));
        unchecked((this.values[i] = value));
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  delete(id: u32): void {
    if (id == 0) return;
    let i = id & this.mask;
    while (unchecked(this.ids[i]) != id) {
      if (unchecked(this.ids[i]) == 0) return;
      i = (i + 1) & this.mask;
    }
    this.count--;
    // Move later entries of the run back into the gap, so every lookup still finds them.
    let gap = i;
    let j = (i + 1) & this.mask;
    while (unchecked(this.ids[j]) != 0) {
      const home = unchecked(this.ids[j]) & this.mask;
      // Entry j may fill the gap if its home is not cyclically within (gap, j].
      if (((j - home) & this.mask) >= ((j - gap) & this.mask)) {
        unchecked((this.ids[gap] = this.ids[j]));
        unchecked((this.values[gap] = this.values[j]));
        gap = j;
      }
      j = (j + 1) & this.mask;
    }
    unchecked((this.ids[gap] = 0));
    unchecked((this.values[gap] = null));
  }

  private grow(): void {
    const ids = this.ids;
    const values = this.values;
    const n = ids.length * 2;
    this.ids = new StaticArray<u32>(n);
    this.values = new StaticArray<T | null>(n);
    this.mask = <u32>n - 1;
    this.count = 0;
    for (let k = 0; k < ids.length; k++) {
      const id = unchecked(ids[k]);
      if (id != 0) this.set(id, unchecked(values[k])!);
    }
  }
}
