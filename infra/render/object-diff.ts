import type { KubernetesObject } from "./kubernetes-objects.js";
import { objectKey } from "./kubernetes-objects.js";

export interface FieldChange {
  path: string;
  before: unknown;
  after: unknown;
}

export interface ObjectDiff {
  added: string[];
  removed: string[];
  unchanged: string[];
  changed: Array<{ object: string; changes: FieldChange[] }>;
}

/** Arrays of named items (containers, env, ports, volumes) are compared by name, not by position. */
function keyOf(item: unknown): string | undefined {
  if (typeof item === "object" && item !== null && typeof (item as { name?: unknown }).name === "string") {
    return (item as { name: string }).name;
  }
  return undefined;
}

function describe(value: unknown): unknown {
  return typeof value === "object" && value !== null ? JSON.stringify(value) : value;
}

/** Every leaf that differs between two values, as dotted paths (`env[MESH_DISPATCH_ROLE].value`). */
export function fieldChanges(before: unknown, after: unknown, path = ""): FieldChange[] {
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  if (Array.isArray(before) && Array.isArray(after)) {
    const named = [...before, ...after].every((item) => keyOf(item) !== undefined);
    if (named) {
      const names = [...new Set([...before, ...after].map((item) => keyOf(item) as string))];
      return names.flatMap((name) =>
        fieldChanges(
          before.find((item) => keyOf(item) === name),
          after.find((item) => keyOf(item) === name),
          `${path}[${name}]`,
        ),
      );
    }
    const length = Math.max(before.length, after.length);
    return Array.from({ length }, (_, index) =>
      fieldChanges(before[index], after[index], `${path}[${index}]`),
    ).flat();
  }
  const isObject = (value: unknown) => typeof value === "object" && value !== null && !Array.isArray(value);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before as object), ...Object.keys(after as object)])].sort();
    return keys.flatMap((key) =>
      fieldChanges(
        (before as Record<string, unknown>)[key],
        (after as Record<string, unknown>)[key],
        path ? `${path}.${key}` : key,
      ),
    );
  }
  return [{ path, before: describe(before), after: describe(after) }];
}

/** What a config change does to the rendered objects, object by object. */
export function diffObjects(before: KubernetesObject[], after: KubernetesObject[]): ObjectDiff {
  const beforeByKey = new Map(before.map((object) => [objectKey(object), object]));
  const afterByKey = new Map(after.map((object) => [objectKey(object), object]));
  const diff: ObjectDiff = { added: [], removed: [], unchanged: [], changed: [] };
  for (const [key, object] of afterByKey) {
    const previous = beforeByKey.get(key);
    if (!previous) diff.added.push(key);
    else {
      const changes = fieldChanges(previous, object);
      if (changes.length === 0) diff.unchanged.push(key);
      else diff.changed.push({ object: key, changes });
    }
  }
  for (const key of beforeByKey.keys()) if (!afterByKey.has(key)) diff.removed.push(key);
  for (const list of [diff.added, diff.removed, diff.unchanged]) list.sort();
  diff.changed.sort((a, b) => a.object.localeCompare(b.object));
  return diff;
}

/** Reviewer-friendly text: one line per object, one indented line per changed field. */
export function formatDiff(diff: ObjectDiff): string {
  const lines: string[] = [];
  for (const key of diff.added) lines.push(`added:     ${key}`);
  for (const key of diff.removed) lines.push(`removed:   ${key}`);
  for (const { object, changes } of diff.changed) {
    lines.push(`changed:   ${object}`);
    for (const change of changes) {
      lines.push(
        `             ${change.path}: ${String(change.before ?? "(unset)")} -> ${String(change.after ?? "(unset)")}`,
      );
    }
  }
  for (const key of diff.unchanged) lines.push(`unchanged: ${key}`);
  return lines.join("\n");
}
