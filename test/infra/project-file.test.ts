import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PLAIN_KEYS, SECRET_KEYS, STRUCTURED_KEYS } from "../../infra/config.js";
import { REPO_ROOT } from "./support.js";

describe("Pulumi.yaml", () => {
  const project = parse(readFileSync(join(REPO_ROOT, "Pulumi.yaml"), "utf8"));

  it("names project mesh, runs infra/index.ts on Node.js with tsx", () => {
    assert.equal(project.name, "mesh");
    assert.equal(project.runtime.name, "nodejs");
    assert.equal(project.main, "infra/index.ts");
    assert.equal(project.runtime.options.nodeargs, "--import=tsx");
  });

  it("documents every config key the program reads, and no other", () => {
    const documented = Object.keys(project.template.config).sort();
    const read = [...STRUCTURED_KEYS, ...PLAIN_KEYS, ...SECRET_KEYS].map((key) => `mesh:${key}`).sort();
    assert.deepEqual(documented, read);
    for (const [key, entry] of Object.entries<{ description?: string; secret?: boolean }>(
      project.template.config,
    )) {
      assert.ok(entry.description && entry.description.length > 20, `${key} needs a description`);
      assert.equal(
        entry.secret === true,
        SECRET_KEYS.some((secret) => key === `mesh:${secret}`),
        `${key} secret flag`,
      );
    }
  });
});
