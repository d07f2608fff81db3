// The kit's manifests as the kit tests read them: every YAML document in every .yaml/.yml file
// under deploy/, with the file it came from. A document that does not parse fails the reading,
// naming its file, so no test passes over a manifest it never saw.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** Every file under `dir`, depth first. */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

export const KIT_YAML_FILES = filesUnder("deploy").filter((f) => /\.ya?ml$/.test(f));

/** The documents of the kit's YAML files that have a `kind` (comment-only documents are left out). */
export function kitDocs<Doc extends { kind?: string }>(): Array<{ file: string; doc: Doc }> {
  return KIT_YAML_FILES.flatMap((file) =>
    parseAllDocuments(readFileSync(file, "utf8")).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]?.message}`);
      return { file, doc: d.toJS() as Doc };
    }),
  ).filter((d) => d.doc?.kind !== undefined);
}
