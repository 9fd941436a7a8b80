// A local GitLab for `npm start` (scripts/gitlab-world.mjs over HTTP), so /connect can be
// clicked through without a real GitLab: @maintainer maintains demo projects and groups,
// @packit-bot is the bot behind the instance API token, and "Sign in with GitLab" goes
// through its OAuth consent page. Hook tests really deliver to the relay.
import { createServer } from "node:http";
import { createGitlabWorld, deliverOverHttp } from "./gitlab-world.mjs";

export const LOCAL_GITLAB = {
  maintainerToken: "glpat-local-maintainer",
  botToken: "glpat-local-packit-bot",
  oauthClientId: "packit-relay-local",
  oauthClientSecret: "gloas-packit-relay-local-secret",
  project: "packit-demo/hello-rpm",
  group: "packit-demo",
};

/** @param {{ port: number }} options */
export async function startGitlabStandIn({ port }) {
  const instanceUrl = `http://127.0.0.1:${port}`;
  const world = createGitlabWorld({ instanceUrl, deliver: deliverOverHttp });
  world.seed({
    users: [
      { id: 1, username: "maintainer", name: "Demo Maintainer" },
      { id: 2, username: "contributor" },
      { id: 9, username: "packit-bot" },
    ],
    tokens: {
      [LOCAL_GITLAB.maintainerToken]: { user: 1 },
      "glpat-local-contributor": { user: 2 },
      [LOCAL_GITLAB.botToken]: { user: 9 },
    },
    groups: [
      { id: 100, path: "packit-demo", tier: "free" },
      { id: 200, path: "packit-premium", tier: "premium" },
    ],
    projects: [
      { id: 10, path: LOCAL_GITLAB.project },
      { id: 11, path: "packit-demo/python-ogr" },
      { id: 20, path: "packit-premium/specfile" },
    ],
    members: [
      { on: "group:100", user: 1, level: 40 },
      { on: "group:200", user: 1, level: 50 },
      { on: "project:10", user: 2, level: 30 },
    ],
    oauthApps: [
      { client_id: LOCAL_GITLAB.oauthClientId, client_secret: LOCAL_GITLAB.oauthClientSecret },
    ],
    sessionUser: 1,
  });
  const server = createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const chunk of req) {
        chunks.push(chunk);
      }
      const url = new URL(req.url ?? "/", instanceUrl);
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [
          k,
          Array.isArray(v) ? v.join(", ") : (v ?? ""),
        ]),
      );
      const answer = await world.handle(
        req.method ?? "GET",
        url.pathname,
        url.searchParams,
        headers,
        Buffer.concat(chunks).toString("utf8"),
      );
      const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, {
        "content-type":
          typeof answer.body === "string" ? "text/html; charset=utf-8" : "application/json",
        ...(answer.headers ?? {}),
      });
      res.end(text);
    } catch (err) {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: String(err) }));
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(undefined));
  });
  return { instanceUrl, world, close: () => new Promise((r) => server.close(() => r(undefined))) };
}
