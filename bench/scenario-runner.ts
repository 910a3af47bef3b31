/** One step of a benchmark: measures something and stores it into the repeat's results. */
export interface Scenario<T> {
  name: string;
  run: (into: Partial<T>) => Promise<void>;
}

/** Where a benchmark run stopped, and why. */
export interface ScenarioFailure {
  scenario: string;
  /** The repeat (from 1) it failed in; absent for the steps after the repeats. */
  repeat?: number;
  message: string;
}

/**
 * Runs scenarios in order into `into`, stopping at the first that throws: what the finished ones
 * measured stays in `into`, and the failure says which one stopped the run. A failure never throws on,
 * so the caller can still write every figure measured before it.
 */
export async function runScenarios<T>(
  scenarios: Array<Scenario<T>>,
  into: Partial<T>,
  repeat?: number,
): Promise<ScenarioFailure | undefined> {
  for (const scenario of scenarios) {
    try {
      await scenario.run(into);
    } catch (error) {
      return { scenario: scenario.name, repeat, message: (error as Error).stack ?? String(error) };
    }
  }
  return undefined;
}
