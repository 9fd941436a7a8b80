import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      TEST_DOUBLES_URL: string;
      /** Replays property tests with one seed (see test/helpers/fuzz-seeds.ts). */
      FUZZ_SEED?: string;
      /** "1": tests over GitLab's documented bodies fail when the folder is absent. */
      REQUIRE_GITLAB_FIXTURES?: string;
      TEST_GITLAB_FIXTURES: {
        present: boolean;
        files: { name: string; event: string; body: string }[];
      };
    }
  }
}
