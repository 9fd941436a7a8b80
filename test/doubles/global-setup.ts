import type { TestProject } from "vitest/node";
import { startDoubles } from "./server";

/** Starts the loopback destination doubles once for the whole run. */
export default async function setup(project: TestProject) {
  const doubles = await startDoubles();
  project.provide("doublesPort", doubles.port);
  return doubles.close;
}

declare module "vitest" {
  export interface ProvidedContext {
    doublesPort: number;
  }
}
