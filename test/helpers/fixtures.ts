/**
 * GitLab's documented webhook bodies (../shared/fixtures/gitlab), when that folder exists.
 * Tests over them use `withFixtures`: absent, they show as skipped, never as passed; with
 * REQUIRE_GITLAB_FIXTURES=1 an absent folder fails the run instead.
 */
import { env } from "cloudflare:workers";
import { describe, it } from "vitest";

export const fixtures = env.TEST_GITLAB_FIXTURES;

export const describeFixtures = describe.skipIf(
  !fixtures.present && env.REQUIRE_GITLAB_FIXTURES !== "1",
);

/** Fails when the fixtures are required but absent (so "skipped" cannot hide in CI). */
export function requireFixtures(): void {
  if (!fixtures.present && env.REQUIRE_GITLAB_FIXTURES === "1") {
    it("finds GitLab's documented bodies", () => {
      throw new Error("REQUIRE_GITLAB_FIXTURES=1 but ../shared/fixtures/gitlab is absent");
    });
  }
}
