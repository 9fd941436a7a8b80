/**
 * Seeds for property tests: the fixed regression seeds, plus a fresh one per run so every
 * run explores new input. The fresh seed is printed; set FUZZ_SEED to replay a failure.
 */
import { env } from "cloudflare:workers";

export function fuzzSeeds(...regression: number[]): number[] {
  const pinned = Number.parseInt(env.FUZZ_SEED ?? "", 10);
  if (Number.isSafeInteger(pinned)) {
    return [pinned];
  }
  const fresh = Math.floor(Math.random() * 2 ** 31);
  console.info(`property tests: fresh seed ${fresh} (replay with FUZZ_SEED=${fresh})`);
  return [...regression, fresh];
}
