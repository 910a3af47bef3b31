import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { EngineTimings } from "./engine.js";
import type { Measurement } from "./results.js";
import type { ScenarioFailure } from "./scenario-runner.js";

/** What a run that stopped early leaves: everything it measured, and where and why it stopped. */
export interface IncompleteResults {
  quick: boolean;
  incomplete: ScenarioFailure;
  machine: { cpus: number; node: string };
  startedAt: string;
  durationSeconds: number;
  /** Each repeat as far as it got (a repeat's finished scenarios are its keys). */
  repeats: Array<Partial<Measurement>>;
  engine?: EngineTimings;
}

/**
 * Writes benchmarks.json and benchmarks.md for a run that failed part-way. The full report needs every
 * scenario (its tables and targets compare them), so this one lists each finished scenario's figures as
 * measured, under a heading that says the run is incomplete and names the scenario that failed.
 */
export function writeIncompleteReport(outDir: string, results: IncompleteResults): void {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "benchmarks.json"), `${JSON.stringify(results, null, 2)}\n`);
  const where = `${results.incomplete.scenario}${results.incomplete.repeat ? ` (repeat ${results.incomplete.repeat})` : ""}`;
  const lines = [
    "# mesh benchmarks — INCOMPLETE",
    "",
    `This run stopped at **${where}** after ${results.durationSeconds.toFixed(0)} s; the figures below are`,
    "every scenario that finished before it. Fix the cause and run `./dev bench` again for the full report.",
    "",
    "```",
    results.incomplete.message.split("\n").slice(0, 12).join("\n"),
    "```",
    "",
  ];
  results.repeats.forEach((repeat, index) => {
    lines.push(`## Repeat ${index + 1}`, "");
    const finished = Object.entries(repeat);
    if (finished.length === 0) lines.push("No scenario finished.", "");
    for (const [scenario, figures] of finished)
      lines.push(`### ${scenario}`, "", "```json", JSON.stringify(figures, null, 2), "```", "");
  });
  if (results.engine)
    lines.push("## Engine", "", "```json", JSON.stringify(results.engine, null, 2), "```", "");
  writeFileSync(join(outDir, "benchmarks.md"), `${lines.join("\n")}\n`);
}
