// What every hardening campaign reports: how much it tried, what it found, and its figures.
export interface Report {
  name: string;
  tried: number;
  /** Each finding is a defect: a trap, a wrong count, a lost or double signal, a leak. */
  findings: string[];
  figures: Record<string, string | number>;
  ms: number;
}

export type Scale = "test" | "full";

export interface Campaign {
  name: string;
  /**
   * Does its work in child processes: `make fuzz` starts it first and runs the others beside it
   * (they are single-threaded; the children keep the other cores busy meanwhile).
   */
  forks?: boolean;
  /** Runs the campaign; `scale` "test" is a fast subset for the test suite. */
  run(scale: Scale): Promise<Report>;
}

export class Findings {
  readonly list: string[] = [];
  private counts = new Map<string, number>();

  /** Records a finding; the same kind is listed a few times, then only counted. */
  add(kind: string, detail: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= 3) this.list.push(`${kind}: ${detail}`);
    else if (n === 4) this.list.push(`${kind}: (more of this kind are counted, not listed)`);
  }

  check(ok: boolean, kind: string, detail: () => string): void {
    if (!ok) this.add(kind, detail());
  }

  summary(): string[] {
    return [
      ...this.list,
      ...[...this.counts].filter(([, n]) => n > 3).map(([k, n]) => `${k}: ${n} in all`),
    ];
  }
}

export async function timed(
  name: string,
  body: (findings: Findings, figures: Record<string, string | number>) => Promise<number>,
): Promise<Report> {
  const findings = new Findings();
  const figures: Record<string, string | number> = {};
  const start = performance.now();
  const tried = await body(findings, figures);
  return {
    name,
    tried,
    findings: findings.summary(),
    figures,
    ms: Math.round(performance.now() - start),
  };
}
