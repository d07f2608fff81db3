// The OKG kit as a cluster would take it: every Secret a manifest reads exists in the kit in the
// namespace it is read from (a PodMonitor's from the PodMonitor's namespace, as the Prometheus
// Operator resolves it; a pod's from the pod's); every field docs/okg.md asks kubectl for exists
// in OpenKruiseGame's GameServer schema; every link in docs/okg.md, and every link into it,
// leads somewhere.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { describe, expect, it } from "vitest";
import { crdSchema, schemaAt } from "./crd-schema.js";
import { filesUnder, kitDocs } from "./deploy-docs.js";

type Doc = Record<string, unknown> & {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
};

const docs = kitDocs<Doc>();

interface SecretRef {
  where: string;
  namespace: string;
  name: string;
  key?: string;
}

/** Every Secret a kit manifest reads, with the namespace it is read from. */
function secretRefs(): SecretRef[] {
  const refs: SecretRef[] = [];
  for (const { file, doc } of docs) {
    const ns = doc.metadata?.namespace ?? "default";
    const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
    const spec = doc.spec as Record<string, unknown> | undefined;
    if (doc.kind === "PodMonitor" || doc.kind === "ServiceMonitor") {
      const eps = (spec?.podMetricsEndpoints ?? spec?.endpoints ?? []) as Array<
        Record<string, Record<string, Record<string, string>>>
      >;
      for (const ep of eps) {
        const sel = [
          ep.authorization?.credentials,
          ep.basicAuth?.username,
          ep.basicAuth?.password,
          ep.bearerTokenSecret as unknown as Record<string, string> | undefined,
        ];
        for (const s of sel)
          if (s?.name) refs.push({ where, namespace: ns, name: s.name, key: s.key });
      }
    }
    // Pod templates: a Deployment's, a GameServerSet's.
    const pod = (
      (spec?.template ?? spec?.gameServerTemplate) as Record<string, unknown> | undefined
    )?.spec as
      | {
          volumes?: Array<{ secret?: { secretName: string; items?: Array<{ key: string }> } }>;
          containers?: Array<{
            env?: Array<{ valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
          }>;
        }
      | undefined;
    for (const v of pod?.volumes ?? []) {
      if (!v.secret) continue;
      const keys = v.secret.items?.map((i) => i.key) ?? [undefined];
      for (const key of keys) refs.push({ where, namespace: ns, name: v.secret.secretName, key });
    }
    for (const c of pod?.containers ?? []) {
      for (const e of c.env ?? []) {
        const r = e.valueFrom?.secretKeyRef;
        if (r) refs.push({ where, namespace: ns, name: r.name, key: r.key });
      }
    }
  }
  return refs;
}

describe("the OKG kit's references", () => {
  const refs = secretRefs();

  it("finds the kit's Secret references (probe, receiver, PodMonitor)", () => {
    expect(refs.map((r) => r.where).join("\n")).toMatch(/PodMonitor\/conn-drain/);
    expect(refs.map((r) => r.where).join("\n")).toMatch(/GameServerSet\/postio/);
    expect(refs.map((r) => r.where).join("\n")).toMatch(/Deployment\/conn-drain-receiver/);
  });

  it.each(
    refs.map((r) => [`${r.where} reads ${r.namespace}/${r.name}${r.key ? ` [${r.key}]` : ""}`, r]),
  )("%s: the kit creates it there", (_w, ref) => {
    const r = ref as SecretRef;
    const secret = docs.find(
      (d) =>
        d.doc.kind === "Secret" &&
        d.doc.metadata?.name === r.name &&
        (d.doc.metadata?.namespace ?? "default") === r.namespace,
    )?.doc;
    expect(secret, `no Secret ${r.namespace}/${r.name} in deploy/`).toBeDefined();
    if (r.key) {
      const data = { ...(secret?.data as object), ...(secret?.stringData as object) };
      expect(Object.keys(data)).toContain(r.key);
    }
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1 for repeats. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^(```|~~~)/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = (m[1] as string)
      .replace(/<[^>]+>/g, "")
      .replace(/`/g, "")
      .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Every link `[text](target)` outside code blocks and code spans. */
function links(markdown: string): string[] {
  const text = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string);
}

function resolves(from: string, target: string): string | undefined {
  if (/^[a-z]+:/.test(target)) return undefined; // external: not checked offline
  const [path = "", anchor] = target.split("#");
  const file = path === "" ? from : normalize(join(dirname(from), path));
  if (!existsSync(file)) return `${target}: no file ${file}`;
  if (anchor !== undefined && !anchors(readFileSync(file, "utf8")).has(anchor)) {
    return `${target}: no heading #${anchor} in ${file}`;
  }
  return undefined;
}

describe("docs/okg.md", () => {
  const okg = readFileSync("docs/okg.md", "utf8");

  it("every link leads to a file and heading that exist", () => {
    const found = links(okg);
    expect(found.length).toBeGreaterThan(0);
    expect(found.map((l) => resolves("docs/okg.md", l)).filter(Boolean)).toEqual([]);
  });

  it('every section named in prose (README, "…") exists', () => {
    const readme = anchors(readFileSync("README.md", "utf8"));
    const named = [...okg.matchAll(/README(?:'s)?,? "([^"]+)"/g)].map((m) => m[1] as string);
    for (const title of named) {
      expect(readme, `README has no section "${title}"`).toContain(
        title
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, "")
          .replace(/\s/g, "-"),
      );
    }
  });

  it("every link into it from README.md and docs/ leads to a heading it has", () => {
    const sources = ["README.md", ...filesUnder("docs").filter((f) => f.endsWith(".md"))];
    const broken = sources.flatMap((src) =>
      links(readFileSync(src, "utf8"))
        .filter((l) => /(^|\/)okg\.md(#|$)/.test(l))
        .map((l) => resolves(src, l))
        .filter(Boolean)
        .map((e) => `${src}: ${e}`),
    );
    expect(broken).toEqual([]);
  });

  it("every GameServer field it reads with kubectl -o jsonpath exists in OKG's GameServer CRD", () => {
    const schema = crdSchema("game.kruise.io/v1alpha1", "GameServer") as Record<string, unknown>;
    const paths = [
      ...okg.matchAll(/kubectl (?:-n \S+ )?get (?:gs|gameservers?)\b[^\n]*?-o jsonpath='([^']+)'/g),
    ].map((m) => m[1] as string);
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) {
      for (const expr of p.match(/\{[^}]*\}/g) ?? []) {
        if (expr === '{"\\n"}' || /^\{range|^\{end/.test(expr)) continue;
        expect(schemaAt(schema, expr), `${expr} is not a GameServer field`).toBeDefined();
      }
    }
  });
});
