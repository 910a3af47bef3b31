import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";

/**
 * MESH_TEST_CPU_HOG=1 runs a busy loop on every core beside the tests of a describe block that calls
 * this (the durability suite), so timing-sensitive behaviour is proven under CPU contention, as when CI
 * shares the machine with a build. Off by default; `.ci/run` runs the durability suite once with it on.
 */
export function useCpuHogIfRequested(): void {
  if (process.env.MESH_TEST_CPU_HOG !== "1") return;
  const hogs: ChildProcess[] = [];
  before(() => {
    for (let core = 0; core < availableParallelism(); core++)
      hogs.push(spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" }));
    console.log(`      (CPU hog: ${hogs.length} busy loops beside this suite)`);
  });
  after(() => {
    for (const hog of hogs.splice(0)) hog.kill("SIGKILL");
  });
}
