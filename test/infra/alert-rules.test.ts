import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import type { AlertRule } from "../../infra/monitoring/alerts.js";
import { ALERT_CASES, type AlertCase } from "../monitoring/alert-cases.js";
import { promtool } from "../monitoring/promtool.js";
import { objectOf, renderStack } from "./support.js";

/** The ALERTS series promtool's rule evaluation writes for an alert in a state, in PromQL notation. */
function alertsSeries(alert: string, state: "pending" | "firing", labels: Record<string, string>): string {
  const all = { alertname: alert, alertstate: state, ...labels };
  return `ALERTS{${Object.entries(all)
    .map(([name, value]) => `${name}="${value}"`)
    .join(",")}}`;
}

/** A promtool rule unit-test file for one alert: the firing case (and its pending phase), then each silent one. */
function unitTestFile(testCase: AlertCase, rule: AlertRule): string {
  const labels = { severity: rule.labels.severity, ...testCase.fires.labels };
  const { fires } = testCase;
  const firing = {
    name: `${testCase.alert} fires`,
    interval: "1m",
    input_series: fires.series,
    alert_rule_test: [
      ...(fires.pendingAt ? [{ eval_time: fires.pendingAt, alertname: testCase.alert, exp_alerts: [] }] : []),
      {
        eval_time: fires.firesAt,
        alertname: testCase.alert,
        exp_alerts: [
          {
            exp_labels: labels,
            exp_annotations: {
              summary: fires.summary,
              description: rule.annotations.description,
              runbook_url: rule.annotations.runbook_url,
            },
          },
        ],
      },
    ],
    // Not firing yet is not enough: the alert must be pending then (its `for` is what holds it back).
    promql_expr_test: fires.pendingAt
      ? [
          {
            expr: `ALERTS{alertname="${testCase.alert}"}`,
            eval_time: fires.pendingAt,
            exp_samples: [{ labels: alertsSeries(testCase.alert, "pending", labels), value: 1 }],
          },
        ]
      : [],
  };
  const silent = testCase.silent.map((entry) => ({
    name: `${testCase.alert} silent: ${entry.name}`,
    interval: "1m",
    input_series: entry.series,
    alert_rule_test: [{ eval_time: entry.at, alertname: testCase.alert, exp_alerts: [] }],
    promql_expr_test: [
      { expr: `ALERTS{alertname="${testCase.alert}"}`, eval_time: entry.at, exp_samples: [] },
    ],
  }));
  return stringify({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests: [firing, ...silent] });
}

// Fixture: the prod stack's PrometheusRule (namespace mesh-prod, default thresholds) under Pulumi's mocks,
// written as the rule file a Prometheus loads; promtool (tools/prometheus) judges it.
describe("alerts under promtool: the rendered rules load, and each alert fires exactly when it should", () => {
  let dir: string;
  let rules: AlertRule[];
  before(async () => {
    const prod = await renderStack("prod");
    const rule = objectOf(prod.objects, "PrometheusRule", "mesh");
    rules = rule.spec.groups.flatMap((group: { rules: AlertRule[] }) => group.rules);
    dir = mkdtempSync(join(tmpdir(), "mesh-alert-rules-"));
    writeFileSync(join(dir, "rules.yml"), stringify({ groups: rule.spec.groups }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("promtool check rules accepts the rendered rule file", () => {
    const result = promtool(["check", "rules", "rules.yml"], dir);
    assert.ok(result.ok, result.output);
    assert.match(result.output, new RegExp(`SUCCESS: ${rules.length} rules found`));
  });

  it("every rendered alert has a unit test below, and every unit test an alert", () => {
    assert.deepEqual(
      ALERT_CASES.map((entry) => entry.alert).sort(),
      rules.map((entry) => entry.alert).sort(),
    );
  });

  for (const testCase of ALERT_CASES)
    it(`${testCase.alert}: fires on ${testCase.fires.firesAt} of failing series, silent on ${testCase.silent.map((entry) => entry.name).join("; ")}`, () => {
      const rule = rules.find((entry) => entry.alert === testCase.alert);
      assert.ok(rule, `no rendered alert ${testCase.alert}`);
      const file = `${testCase.alert}.test.yml`;
      writeFileSync(join(dir, file), unitTestFile(testCase, rule));
      const result = promtool(["test", "rules", file], dir);
      assert.ok(result.ok, `promtool test rules ${file}:\n${result.output}`);
    });
});
