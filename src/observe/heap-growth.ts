/**
 * How far V8 lets the heap grow past what survived the last full collection. Left to itself it
 * grows by up to 4 times on a machine with memory to spare, so a daemon whose live data is about
 * 100 MB (one batch committing, one mapped, one chunk read ahead) sits at 600 MB of resident
 * memory while streaming. A fixed, smaller factor keeps it near the live size for some more
 * collector work (README, "Memory"; the benchmark measures both).
 *
 * V8 reads this flag each time it sets the next collection's limit, so it takes effect when set
 * at run time, unlike `--max-old-space-size`, which only the command line can give.
 */
import v8 from "node:v8";

const FLAG = "--heap-growing-percent";

export type HeapGrowthDecision =
  | { readonly applied: true; readonly percent: number }
  | { readonly applied: false; readonly reason: "off" | "set-by-operator" };

/**
 * Whether to set the growth factor: not when the setting is 0 (V8's own heuristics), and not when
 * the operator gave the flag to Node already (`NODE_OPTIONS` or the command line): theirs wins.
 */
export function decideHeapGrowth(
  percent: number,
  nodeFlags: { readonly execArgv: readonly string[]; readonly nodeOptions: string | undefined },
): HeapGrowthDecision {
  if (percent === 0) return { applied: false, reason: "off" };
  const given = [...nodeFlags.execArgv, ...(nodeFlags.nodeOptions ?? "").split(/\s+/)].some(
    (flag) => flag.replace(/_/g, "-").startsWith(FLAG),
  );
  if (given) return { applied: false, reason: "set-by-operator" };
  return { applied: true, percent };
}

/** Applies `sync.heapGrowthPercent` to this process (see `decideHeapGrowth`). */
export function limitHeapGrowth(percent: number): HeapGrowthDecision {
  const decision = decideHeapGrowth(percent, {
    execArgv: process.execArgv,
    nodeOptions: process.env["NODE_OPTIONS"],
  });
  if (decision.applied) v8.setFlagsFromString(`${FLAG}=${decision.percent}`);
  return decision;
}
