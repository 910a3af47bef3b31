import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";

/**
 * MESH_TEST_CPU_HOG=1 runs a busy loop on every core beside the tests of a describe block that calls
 * this (the durability suite), so timing-sensitive behaviour is proven under CPU contention, as when CI
 * shares the machine with a build. Off by default; `.ci/run` runs the durability suite once with it on.
 */
/**
 * A busy loop that ends itself once its parent is gone: a test run killed before its `after` hook
 * (Ctrl-C, a CI timeout) must not leave loops eating the machine's cores for good.
 */
const BUSY_LOOP = `
  const parent = process.ppid;
  for (;;) {
    const until = Date.now() + 50;
    while (Date.now() < until) {}
    if (process.ppid !== parent) process.exit(0);
  }
`;

export function useCpuHogIfRequested(): void {
  if (process.env.MESH_TEST_CPU_HOG !== "1") return;
  const hogs: ChildProcess[] = [];
  before(() => {
    for (let core = 0; core < availableParallelism(); core++)
      hogs.push(spawn(process.execPath, ["-e", BUSY_LOOP], { stdio: "ignore" }));
    console.log(`      (CPU hog: ${hogs.length} busy loops beside this suite)`);
  });
  after(() => {
    for (const hog of hogs.splice(0)) hog.kill("SIGKILL");
  });
}
