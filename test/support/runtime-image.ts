import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What the Dockerfile's runtime stage holds, rebuilt in a folder of its own (no container engine here). */
export interface RuntimeImage {
  /** The stage's WORKDIR: package.json, the lock, production node_modules and the compiled dist/. */
  root: string;
  /** The stage's `ENV` lines (NODE_ENV=production, ...): a container starts with them. */
  env: Record<string, string>;
  /** The stage's `CMD` (exec form): what a container without `command` runs. */
  cmd: string[];
  remove(): void;
}

/**
 * Builds the image's runtime stage: compile with the project's toolchain (the build stage), then
 * package.json + lock, `npm ci --omit=dev --ignore-scripts`, patches/ applied by patch-package (the build
 * stage's postinstall, before its prune) and dist/ in an empty folder. Takes ≈ 20 s.
 */
export function buildRuntimeImage(): RuntimeImage {
  const root = mkdtempSync(join(tmpdir(), "mesh-runtime-image-"));
  const build = mkdtempSync(join(tmpdir(), "mesh-build-"));
  try {
    execFileSync(
      process.execPath,
      [
        join(ROOT, "node_modules/typescript/bin/tsc"),
        "-p",
        "tsconfig.build.json",
        "--outDir",
        join(build, "dist"),
      ],
      { cwd: ROOT, stdio: "pipe" },
    );
    for (const file of ["package.json", "package-lock.json", "patches"])
      cpSync(join(ROOT, file), join(root, file), { recursive: true });
    cpSync(join(build, "dist"), join(root, "dist"), { recursive: true });
    execFileSync(
      "npm",
      ["ci", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
      {
        cwd: root,
        stdio: "pipe",
        env: { ...process.env, NODE_ENV: "production" },
      },
    );
    execFileSync(
      process.execPath,
      [join(ROOT, "node_modules/patch-package/index.js"), "--error-on-fail", "--error-on-warn"],
      { cwd: root, stdio: "pipe" },
    );
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  } finally {
    rmSync(build, { recursive: true, force: true });
  }
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  return {
    root,
    env: runtimeStageEnv(dockerfile),
    cmd: runtimeStageCmd(dockerfile),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** The `ENV` of the Dockerfile's last stage (`ENV A=1 \ B=2` continuation lines included). */
export function runtimeStageEnv(dockerfile: string): Record<string, string> {
  const lines = dockerfile.replace(/\\\n/g, " ").split("\n");
  const lastStage = lines.findLastIndex((line) => /^FROM\s/i.test(line));
  const env: Record<string, string> = {};
  for (const line of lines.slice(lastStage)) {
    const match = /^ENV\s+(.*)$/i.exec(line.trim());
    if (!match?.[1]) continue;
    for (const pair of match[1].trim().split(/\s+/)) {
      const [name, ...value] = pair.split("=");
      if (name) env[name] = value.join("=");
    }
  }
  return env;
}

/** The `CMD` of the Dockerfile's last stage, in exec (JSON array) form. */
export function runtimeStageCmd(dockerfile: string): string[] {
  const cmd = dockerfile
    .split("\n")
    .filter((line) => /^CMD\s/i.test(line.trim()))
    .at(-1);
  if (!cmd) throw new Error("the Dockerfile has no CMD");
  return JSON.parse(cmd.trim().slice(3).trim()) as string[];
}

/**
 * Another build of the same tree, as a release that bumped the workflow version would be: the image's
 * files hard-linked (nothing is copied but the one file that differs), dist/app/version.js saying
 * `workflowVersion`, and `env` added to the image's ENV (how a build bakes in a different default, such
 * as another step layout). What a container of it runs is the same code but for those.
 */
export function imageVariant(
  image: RuntimeImage,
  variant: { workflowVersion: string; env?: Record<string, string> },
): RuntimeImage {
  const root = mkdtempSync(join(tmpdir(), "mesh-runtime-image-variant-"));
  rmSync(root, { recursive: true });
  execFileSync("cp", ["-al", image.root, root]);
  const versionFile = join(root, "dist/app/version.js");
  const source = readFileSync(versionFile, "utf8");
  const constant = /WORKFLOW_CODE_VERSION = "[^"]*"/;
  if (!constant.test(source)) throw new Error(`${versionFile} has no WORKFLOW_CODE_VERSION to set`);
  const patched = source.replace(constant, `WORKFLOW_CODE_VERSION = "${variant.workflowVersion}"`);
  rmSync(versionFile); // a new file, not a write through the hard link into the original image
  writeFileSync(versionFile, patched);
  return {
    root,
    env: { ...image.env, ...variant.env },
    cmd: image.cmd,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
