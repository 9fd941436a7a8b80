/** The console's list pages: registrations, instances, failed feedback (over the admin API). */
import type { Context } from "hono";
import type { AppEnv } from "../app-env";
import { type AdminApp, callAdmin, feedbackList, instances, projects } from "./console-data";

type Input<E extends AppEnv> = { c: Context<E>; admin: AdminApp };

export async function ProjectsBody<E extends AppEnv>({ c, admin }: Input<E>) {
  const list = await callAdmin(c, admin, projects, "/projects");
  return (
    <>
      <h1>Projects</h1>
      <table>
        <caption>Registrations (a project hook, or a group hook over a namespace)</caption>
        <thead>
          <tr>
            <th scope="col">instance</th>
            <th scope="col">path</th>
            <th scope="col">kind</th>
            <th scope="col">connected</th>
            <th scope="col">tokens (hint, state, last used)</th>
          </tr>
        </thead>
        <tbody>
          {list.projects.map((p) => (
            <tr>
              <td>{p.instance_url}</td>
              <td>{p.path}</td>
              <td>{p.kind}</td>
              <td>
                {p.connection
                  ? `by @${p.connection.connected_by}; ${
                      p.connection.verified_at
                        ? `verified ${p.connection.verified_at}`
                        : "not verified yet"
                    }${
                      p.connection.hook_health.alert_status &&
                      p.connection.hook_health.alert_status !== "executable"
                        ? `; GitLab: ${p.connection.hook_health.alert_status}`
                        : ""
                    }`
                  : "by ops (hand-configured hook)"}
              </td>
              <td>
                {p.tokens.map((t) => (
                  <div>
                    {t.hint} {t.state}
                    {t.expires_at ? ` until ${t.expires_at}` : ""}, last used{" "}
                    {t.last_used_at ?? "never"}
                  </div>
                ))}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="hint">
        Verification and hook health: the overview lists unverified and auto-disabled hooks;
        <code> relayctl projects show ID</code> has the details.
      </p>
    </>
  );
}

export async function InstancesBody<E extends AppEnv>({ c, admin }: Input<E>) {
  const list = await callAdmin(c, admin, instances, "/instances");
  return (
    <>
      <h1>Instances</h1>
      <table>
        <caption>GitLab instances and their credential health</caption>
        <thead>
          <tr>
            <th scope="col">URL</th>
            <th scope="col">API token</th>
            <th scope="col">feedback</th>
            <th scope="col">sign in with GitLab</th>
          </tr>
        </thead>
        <tbody>
          {list.instances.map((i) => (
            <tr>
              <td>{i.url}</td>
              <td class={i.credential_ok ? "ok" : "bad"}>
                {!i.has_api_token
                  ? "none"
                  : i.credential_broken_at
                    ? `refused by GitLab since ${i.credential_broken_at}`
                    : "working"}
              </td>
              <td>
                {i.feedback_paused_until ? `paused until ${i.feedback_paused_until}` : "flowing"}
              </td>
              <td>{i.oauth_client_id ? "offered" : "no (access tokens)"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export async function FeedbackBody<E extends AppEnv>({
  c,
  admin,
  csrf,
}: Input<E> & { csrf: string }) {
  const list = await callAdmin(c, admin, feedbackList, "/feedback?state=failed&limit=100");
  return (
    <>
      <h1>Failed feedback</h1>
      {c.req.query("replayed") === "1" ? (
        <p class="ok" role="status">
          Queued again.
        </p>
      ) : null}
      <table>
        <caption>Statuses, notes and reactions GitLab did not take</caption>
        <thead>
          <tr>
            <th scope="col">created</th>
            <th scope="col">type</th>
            <th scope="col">attempts</th>
            <th scope="col">last error</th>
            <th scope="col">action</th>
          </tr>
        </thead>
        <tbody>
          {list.feedback.map((f) => (
            <tr>
              <td>{f.created_at}</td>
              <td>{f.type}</td>
              <td>{f.attempts}</td>
              <td>{f.last_error ?? ""}</td>
              <td>
                <form class="inline" method="post" action={`/console/feedback/${f.id}/replay`}>
                  <input type="hidden" name="csrf" value={csrf} />
                  <button type="submit">Replay</button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.feedback.length === 0 ? <p class="ok">None.</p> : null}
    </>
  );
}
