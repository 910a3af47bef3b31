// Kubernetes quantities and short durations as numbers, for settings derived from stack config
// (GOMEMLIMIT from a memory limit, JetStream limits from a volume size).

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, "": 1 };

/** Bytes of a memory or storage quantity such as `512Mi`, `10Gi` or `1G`. */
export function quantityToBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  if (!match) throw new Error(`not a byte quantity: ${quantity}`);
  const unit = match[2] ?? "";
  return Math.floor(Number(match[1]) * (BINARY[unit] ?? DECIMAL[unit] ?? 1));
}

const SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds of a duration such as `90s`, `30m`, `24h` or `7d`. */
export function durationToSeconds(duration: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * (SECONDS[match[2] ?? "s"] ?? 1);
}
