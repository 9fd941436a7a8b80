/**
 * POST /admin/instances/{id}/check: what GitLab says now about an instance's credential and
 * its registrations. The API token is tried (`GET /user`), and `credential_ok` follows the
 * answer (a refused token is marked broken, a working one clears the mark); each project
 * registration's id is looked up (`GET /projects/:id`) and a path that differs, or a project
 * GitLab no longer has, is reported. GitLab unreachable is reported, never an error.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { ApiApp } from "../api-app";
import { readConfig } from "../config";
import { projectLookup } from "../deps";
import { AppError } from "../errors";
import { instanceGet } from "../gitlab/instance-get";
import { log } from "../lib/logger";
import { errorResponses, idParam, json } from "../openapi";
import { security } from "./schemas";

const MAX_PROJECTS = 100;
const checkSchema = z.object({
  credential: z.enum(["ok", "refused", "missing", "unreachable"]),
  gitlab_user: z.string().nullable(),
  projects: z.array(
    z.object({
      id: z.string(),
      project_id: z.number().int().nullable(),
      path: z.string(),
      gitlab_path: z.string().nullable(),
      problem: z.string().nullable(),
    }),
  ),
});
const userAnswer = z.object({ username: z.string() });

export function registerInstanceCheckRoute(admin: ApiApp): void {
  admin.openapi(
    createRoute({
      method: "post",
      path: "/instances/{id}/check",
      security,
      summary: "Check the instance's API token and its registrations against GitLab",
      request: { params: idParam },
      responses: {
        200: { description: "What GitLab says", content: json(checkSchema) },
        ...errorResponses(401, 404),
      },
    }),
    async (c) => {
      const instance = await c.var.repos.instances.get(c.req.valid("param").id);
      if (!instance) {
        throw new AppError("not_found", "no such instance");
      }
      const deps = {
        encryptionKey: readConfig(c.env).ENCRYPTION_KEY,
        fetcher: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
        now: Date.now,
      };
      let credential: z.infer<typeof checkSchema>["credential"] = "missing";
      let user: string | null = null;
      if (instance.api_token_enc) {
        try {
          const res = await instanceGet(deps, instance, "/user", "API token");
          const body = userAnswer.safeParse(await res.json().catch(() => null));
          credential =
            res.status === 401 ? "refused" : res.ok && body.success ? "ok" : "unreachable";
          user = body.success ? body.data.username : null;
        } catch (err) {
          log("warn", "instance check: GitLab did not answer", {
            instance_url: instance.url,
            error: String(err),
          });
          credential = "unreachable";
        }
      }
      if (credential === "refused") {
        await c.var.repos.feedback.markCredentialBroken({ instanceId: instance.id }, Date.now());
      } else if (credential === "ok") {
        await c.var.repos.instances.clearCredentialBroken(instance.id);
      }
      const lookup = projectLookup(c.env);
      const rows = (await c.var.repos.projects.list(instance.id)).slice(0, MAX_PROJECTS);
      const projects = [];
      for (const row of rows) {
        if (row.kind !== "project" || row.gitlab_project_id === null || credential !== "ok") {
          projects.push({
            id: row.id,
            project_id: row.gitlab_project_id,
            path: row.path,
            gitlab_path: null,
            problem: null,
          });
          continue;
        }
        const answer = await lookup(instance, row.gitlab_project_id).catch(() => null);
        projects.push({
          id: row.id,
          project_id: row.gitlab_project_id,
          path: row.path,
          gitlab_path: answer?.found ? answer.path : null,
          problem:
            answer === null
              ? "GitLab did not answer"
              : !answer.found
                ? "GitLab has no project with this id (deleted, or the bot cannot see it)"
                : answer.path.toLowerCase() !== row.path.toLowerCase()
                  ? `GitLab calls it ${answer.path} now (renamed or moved)`
                  : null,
        });
      }
      return c.json({ credential, gitlab_user: user, projects }, 200);
    },
  );
}
