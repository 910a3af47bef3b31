// The images the real nodes run, built on this machine and never pulled: the pause image, a stand-in for
// the Dockerfile's base (node:22-bookworm-slim), CoreDNS, nats-server, and mesh's own image from the Dockerfile,
// unchanged. Built with buildah (root's storage keeps them between runs as a cache: an image is rebuilt
// only when what it is built from changed), then written as OCI archives for each node's containerd.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface NodeImages {
  pause: string;
  coredns: string;
  /** nats-server (the one scripts/ensure-tools.sh built) on the base image. */
  nats: string;
  /** mesh's image, under the reference the stacks give (so the kubelet finds it and never pulls). */
  mesh: string;
  /** KEDA's operator (/keda) and metrics API server (/keda-adapter), when asked for. */
  keda?: string;
  /** metrics-server (/metrics-server), when asked for. */
  metricsServer?: string;
  /** OCI archives of all of them, for `ctr images import`. */
  archives: string[];
}

const BASE_IMAGE = "docker.io/library/node:22-bookworm-slim";
/** The npm the stand-in base carries (the real node:22 image ships npm 10). */
const BASE_NPM = "npm@10.9.4";

const run = (command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  execFileSync(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 << 20,
  }).trim();

const hashOf = (...parts: (string | Buffer)[]) => {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  return hash.digest("hex").slice(0, 16);
};

/** The hash label a built image carries, or "" when buildah has no such image. */
function builtHash(reference: string): string {
  try {
    return run("buildah", [
      "inspect",
      "--type",
      "image",
      "--format",
      '{{index .ImageAnnotations "mesh.source-hash"}}',
      reference,
    ]);
  } catch {
    return "";
  }
}

/** Builds `reference` with `build` unless buildah holds it built from `hash` already. */
function ensureImage(reference: string, hash: string, build: () => void, log: (line: string) => void): void {
  if (builtHash(reference) === hash) return;
  const started = Date.now();
  log(`building ${reference}`);
  build();
  log(`built ${reference} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

/** A container from scratch holding `files` (host path → image path), committed as `reference`. */
function commitScratch(
  reference: string,
  hash: string,
  files: Record<string, string>,
  entrypoint: string[],
  user = "0",
) {
  const container = run("buildah", ["from", "scratch"]);
  for (const [from, to] of Object.entries(files)) run("buildah", ["copy", "-q", container, from, to]);
  run("buildah", [
    "config",
    "--entrypoint",
    JSON.stringify(entrypoint),
    "--user",
    user,
    "--annotation",
    `mesh.source-hash=${hash}`,
    container,
  ]);
  run("buildah", ["commit", "-q", "--rm", container, reference]);
}

/**
 * Another build of mesh's image, as a release that bumped the workflow version would be: one layer on top
 * of the image, dist/app/version.js saying `workflowVersion`, and `env` added to its ENV (how a build bakes
 * in another default, such as another step layout).
 */
export interface MeshImageVariant {
  reference: string;
  workflowVersion: string;
  env?: Record<string, string>;
}

export function ensureNodeImages(options: {
  root: string;
  workDir: string;
  meshReference: string;
  variants?: MeshImageVariant[];
  /** Also KEDA's image (the binaries scripts/ensure-tools.sh built). */
  keda?: boolean;
  /** Also metrics-server's image (the binary scripts/ensure-tools.sh built). */
  metricsServer?: boolean;
  log: (line: string) => void;
}): NodeImages {
  const { root, workDir, log } = options;
  const buildDir = join(workDir, "images");
  mkdirSync(buildDir, { recursive: true });

  // The pause image: a static Go binary, FROM scratch.
  const pauseSource = join(root, "test/real-node/pause");
  const pauseHash = hashOf(readFileSync(join(pauseSource, "main.go")));
  const pause = `mesh.local/pause:${pauseHash}`;
  ensureImage(
    pause,
    pauseHash,
    () => {
      run("go", ["build", "-ldflags", "-s -w", "-o", join(buildDir, "pause"), "."], {
        cwd: pauseSource,
        env: { ...process.env, CGO_ENABLED: "0" },
      });
      commitScratch(pause, pauseHash, { [join(buildDir, "pause")]: "/pause" }, ["/pause"]);
    },
    log,
  );

  // CoreDNS: the binary scripts/ensure-tools.sh built (static), FROM scratch.
  const corednsBinary = run("sh", ["-c", "command -v coredns"]);
  const corednsHash = hashOf(readFileSync(corednsBinary));
  const coredns = `mesh.local/coredns:${corednsHash}`;
  ensureImage(
    coredns,
    corednsHash,
    () => commitScratch(coredns, corednsHash, { [corednsBinary]: "/coredns" }, ["/coredns"]),
    log,
  );

  // KEDA: its two static binaries (tools/keda), FROM scratch, as a non-root user like KEDA's own images.
  let keda: string | undefined;
  if (options.keda) {
    const binaries = ["keda-operator", "keda-adapter"].map((name) => run("sh", ["-c", `command -v ${name}`]));
    const [operator = "", adapter = ""] = binaries;
    const kedaHash = hashOf(...binaries.map((binary) => readFileSync(binary)));
    keda = `mesh.local/keda:${kedaHash}`;
    const reference = keda;
    ensureImage(
      reference,
      kedaHash,
      () =>
        commitScratch(
          reference,
          kedaHash,
          { [operator]: "/keda", [adapter]: "/keda-adapter" },
          ["/keda"],
          "65532:65532",
        ),
      log,
    );
  }

  // metrics-server: its static binary (tools/metrics-server), FROM scratch, non-root as its own image.
  let metricsServer: string | undefined;
  if (options.metricsServer) {
    const binary = run("sh", ["-c", "command -v metrics-server"]);
    const hash = hashOf(readFileSync(binary));
    const reference = `mesh.local/metrics-server:${hash}`;
    metricsServer = reference;
    ensureImage(
      reference,
      hash,
      () =>
        commitScratch(reference, hash, { [binary]: "/metrics-server" }, ["/metrics-server"], "65532:65532"),
      log,
    );
  }

  // The base: debootstrap minbase bookworm (Debian's archive is reachable here) + Node 22 + npm + the
  // `node` user, uid 1000, as the real one. Node 22 is the one this suite runs on: .tools/node22's (the
  // npm registry's `node` package) when the machine's is older, else the machine's own.
  const nodeBinary = process.versions.node.startsWith("22.")
    ? process.execPath
    : join(root, ".tools/node22/node_modules/node/bin/node");
  // What decides the base: how it is built (this function's source), Node's version, npm's.
  const baseHash = hashOf(buildBaseImage.toString(), run(nodeBinary, ["--version"]), BASE_NPM);
  ensureImage(BASE_IMAGE, baseHash, () => buildBaseImage(buildDir, nodeBinary, baseHash), log);

  // NATS: the nats-server scripts/ensure-tools.sh built (linked against glibc), on the base image.
  const natsBinary = run("sh", ["-c", "command -v nats-server"]);
  const natsHash = hashOf(baseHash, readFileSync(natsBinary));
  const nats = `mesh.local/nats:${natsHash}`;
  ensureImage(
    nats,
    natsHash,
    () => buildOnBase(nats, natsHash, { [natsBinary]: "/usr/local/bin/nats-server" }),
    log,
  );

  // mesh: the project's Dockerfile, unchanged; rebuilt when anything in its build context changed.
  const contextFiles = run(
    "git",
    [
      "ls-files",
      "-co",
      "--exclude-standard",
      "Dockerfile",
      "package.json",
      "package-lock.json",
      "tsconfig.json",
      "tsconfig.build.json",
      "patches",
      "app",
    ],
    { cwd: root },
  )
    .split("\n")
    .filter((file) => file && existsSync(join(root, file)));
  const meshHash = hashOf(
    baseHash,
    ...contextFiles.flatMap((file) => [file, readFileSync(join(root, file))]),
  );
  // Built once per source under a local name, then tagged with the reference the stack gives.
  const meshBuild = `mesh.local/mesh:${meshHash}`;
  ensureImage(
    meshBuild,
    meshHash,
    () => {
      run(
        "buildah",
        [
          "bud",
          "-q",
          "--pull=never",
          "--network=host",
          "--layers=false",
          "--annotation",
          `mesh.source-hash=${meshHash}`,
          "-t",
          meshBuild,
          "-f",
          "Dockerfile",
          ".",
        ],
        { cwd: root },
      );
    },
    log,
  );
  run("buildah", ["tag", meshBuild, options.meshReference]);
  // Older builds would pile up in root's storage (one per source change): only the current one stays.
  for (const old of run("buildah", ["images", "--format", "{{.Name}}:{{.Tag}}"]).split("\n"))
    if (old.startsWith("mesh.local/mesh:") && old !== meshBuild) {
      try {
        run("buildah", ["rmi", old]);
      } catch {} // still the parent of a variant: it goes with it
    }
  run("buildah", ["rmi", "--prune"]); // and the untagged images earlier builds left

  for (const variant of options.variants ?? []) {
    const variantHash = hashOf(meshHash, JSON.stringify(variant));
    ensureImage(variant.reference, variantHash, () => buildVariant(meshBuild, variant, variantHash), log);
  }

  const references = [
    pause,
    coredns,
    nats,
    ...(keda ? [keda] : []),
    ...(metricsServer ? [metricsServer] : []),
    options.meshReference,
    ...(options.variants ?? []).map((v) => v.reference),
  ];
  const archives = references.map((reference, index) => {
    const archive = join(buildDir, `image-${index}.tar`);
    rmSync(archive, { force: true });
    run("buildah", ["push", "-q", reference, `oci-archive:${archive}:${reference}`]);
    return archive;
  });
  return { pause, coredns, nats, keda, metricsServer, mesh: options.meshReference, archives };
}

/** The base image with `files` (host path → image path) added, committed as `reference`. */
function buildOnBase(reference: string, hash: string, files: Record<string, string>): void {
  const container = run("buildah", ["from", "--pull=never", BASE_IMAGE]);
  try {
    for (const [from, to] of Object.entries(files)) run("buildah", ["copy", "-q", container, from, to]);
    run("buildah", ["config", "--annotation", `mesh.source-hash=${hash}`, container]);
    run("buildah", ["commit", "-q", container, reference]);
  } finally {
    run("buildah", ["rm", container]);
  }
}

function buildVariant(from: string, variant: MeshImageVariant, hash: string): void {
  const container = run("buildah", ["from", "--pull=never", from]);
  try {
    const mount = run("buildah", ["mount", container]);
    const versionFile = join(mount, "app/dist/app/version.js");
    const source = readFileSync(versionFile, "utf8");
    const constant = /WORKFLOW_CODE_VERSION = "[^"]*"/;
    if (!constant.test(source)) throw new Error(`${versionFile} has no WORKFLOW_CODE_VERSION to set`);
    writeFileSync(
      versionFile,
      source.replace(constant, `WORKFLOW_CODE_VERSION = "${variant.workflowVersion}"`),
    );
    run("buildah", ["umount", container]);
    const env = Object.entries(variant.env ?? {}).flatMap(([name, value]) => ["--env", `${name}=${value}`]);
    run("buildah", ["config", ...env, "--annotation", `mesh.source-hash=${hash}`, container]);
    run("buildah", ["commit", "-q", container, variant.reference]);
  } finally {
    run("buildah", ["rm", container]);
  }
}

function buildBaseImage(buildDir: string, nodeBinary: string, hash: string): void {
  const rootfs = join(buildDir, "rootfs");
  rmSync(rootfs, { recursive: true, force: true });
  run("debootstrap", ["--variant=minbase", "bookworm", rootfs, "http://deb.debian.org/debian"]);
  run("install", ["-m", "0755", nodeBinary, join(rootfs, "usr/local/bin/node")]);
  run("npm", [
    "install",
    "-g",
    "--prefix",
    join(rootfs, "usr/local"),
    "--no-audit",
    "--no-fund",
    "--loglevel=error",
    BASE_NPM,
  ]);
  run("chroot", [rootfs, "/usr/sbin/groupadd", "-g", "1000", "node"]);
  run("chroot", [rootfs, "/usr/sbin/useradd", "-u", "1000", "-g", "1000", "-m", "-s", "/bin/sh", "node"]);
  // This machine reaches the npm registry through a TLS-inspecting proxy: the build stage's npm needs its CA.
  run("install", [
    "-D",
    "-m",
    "0644",
    "/etc/ssl/certs/ca-certificates.crt",
    join(rootfs, "etc/ssl/certs/ca-certificates.crt"),
  ]);
  run("sh", [
    "-c",
    `printf 'cafile=/etc/ssl/certs/ca-certificates.crt\\nupdate-notifier=false\\n' > ${join(rootfs, "usr/local/etc/npmrc")}`,
  ]);
  run("sh", ["-c", `rm -rf ${rootfs}/var/cache/apt/archives/*.deb ${rootfs}/var/lib/apt/lists/*`]);
  const container = run("buildah", ["from", "scratch"]);
  const mount = run("buildah", ["mount", container]);
  run("cp", ["-a", `${rootfs}/.`, `${mount}/`]);
  run("buildah", ["umount", container]);
  run("buildah", [
    "config",
    "--env",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "--cmd",
    "node",
    "--annotation",
    `mesh.source-hash=${hash}`,
    container,
  ]);
  run("buildah", ["commit", "-q", "--rm", container, BASE_IMAGE]);
  rmSync(rootfs, { recursive: true, force: true });
}
