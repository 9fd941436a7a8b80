import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      TEST_DOUBLES_URL: string;
      TEST_GITLAB_FIXTURES: {
        present: boolean;
        files: { name: string; event: string; body: string }[];
      };
    }
  }
}
