/**
 * The /connect pages, server-rendered with Hono JSX: plain HTML forms that work without
 * JavaScript (the OAuth sign-in is a redirect), labelled fields, one heading per page, and
 * status text rather than colour alone. Hono JSX escapes every interpolated value.
 */
import type { Child } from "hono/jsx";
import { Layout } from "../pages";
import type { ConnectReport } from "./connect-flow";
import type { DisconnectReport } from "./disconnect-flow";

export type InstanceChoice = { url: string; oauth: boolean };

export function ConnectForm(props: { instances: InstanceChoice[]; url?: string }) {
  return (
    <Layout title="Connect">
      <h1>Connect a GitLab project or group to Packit</h1>
      <p>
        The relay installs its webhook in your project (or group) through GitLab's API, with a token
        of its own, and shows GitLab's test event arriving. You need the Maintainer or Owner role;
        GitLab checks it, the relay never sees your password.
      </p>
      <form method="post" action="/connect">
        <label for="url">Project or group URL</label>
        <input
          id="url"
          name="url"
          type="url"
          required
          value={props.url ?? ""}
          placeholder="https://gitlab.example.org/group/project"
          aria-describedby="url-hint"
        />
        <p class="hint" id="url-hint">
          Served here:{" "}
          {props.instances
            .map((i) => `${i.url}${i.oauth ? " (sign in with GitLab)" : " (access token)"}`)
            .join(", ") || "no instance yet"}
          .
        </p>
        <label>
          <input type="checkbox" name="grant_bot" value="yes" checked /> Add the Packit bot user as
          Developer (it needs that role to set commit statuses)
        </label>
        <h2>Prove your role</h2>
        <p class="hint">Sign in with GitLab where the instance offers it:</p>
        <button type="submit" name="action" value="oauth">
          Sign in with GitLab and connect
        </button>
        <p class="hint">
          Or paste a personal, project or group access token with the <code>api</code> scope. It is
          used for this one step and never stored; make it expire tomorrow.
        </p>
        <label for="gitlab_token">Access token</label>
        <input id="gitlab_token" name="gitlab_token" type="password" autocomplete="off" />
        <button type="submit" name="action" value="token">
          Connect with this token
        </button>
        <button type="submit" name="action" value="disconnect">
          Disconnect with this token
        </button>
      </form>
    </Layout>
  );
}

function Step(props: { state: "ok" | "warn" | "bad"; children: Child }) {
  return <li class={props.state}>{props.children}</li>;
}

export function ReportPage(props: { report: ConnectReport; statusPath: string }) {
  const r = props.report;
  return (
    <Layout title="Connected" refreshTo={props.statusPath}>
      <h1>Connected {r.path}</h1>
      <ol class="steps">
        <Step state="ok">
          @{r.connected_by} is Maintainer or Owner of <a href={r.web_url}>{r.path}</a> (GitLab says)
        </Step>
        <Step state="ok">Registered on {r.instance_url}</Step>
        <Step state={r.hooks.problems.length ? "warn" : "ok"}>Webhook: {r.hook}</Step>
        {r.hooks.problems.map((p) => (
          <Step state="warn">
            {p.path}: {p.problem}
          </Step>
        ))}
        <Step state={r.bot.state === "missing" || r.bot.state === "unknown" ? "warn" : "ok"}>
          Packit bot: {r.bot.detail}
        </Step>
        <Step state={r.test.sent ? "ok" : "bad"}>Hook test: {r.test.result}</Step>
      </ol>
      <p>
        <a href={props.statusPath}>Waiting for the test event to come through the relay…</a> (this
        page follows it)
      </p>
    </Layout>
  );
}

export function StatusPage(props: {
  status: {
    path: string;
    instance_url: string;
    connected_by: string;
    connected_at: string;
    verified_at: string | null;
    test_result: string | null;
  };
  selfPath: string;
}) {
  const s = props.status;
  const verified = s.verified_at !== null;
  return (
    <Layout title="Connection status" {...(verified ? {} : { refreshTo: props.selfPath })}>
      <h1>{s.path}</h1>
      <div class="box" role="status" aria-live="polite">
        {verified ? (
          <p class="ok">
            Verified: GitLab's event reached the relay at {s.verified_at}. Packit now hears from
            this {s.path.includes("/") ? "project" : "group"}.
          </p>
        ) : (
          <p class="warn">
            Not verified yet: no event has come through the new hook. This page reloads every three
            seconds.
          </p>
        )}
        <p class="hint">
          Connected by @{s.connected_by} at {s.connected_at} on {s.instance_url}. Hook test:{" "}
          {s.test_result ?? "not run"}
        </p>
      </div>
    </Layout>
  );
}

export function DisconnectedPage(props: { report: DisconnectReport }) {
  const r = props.report;
  return (
    <Layout title="Disconnected">
      <h1>Disconnected {r.path}</h1>
      <p class="ok">
        {r.hooks_removed} hook(s) removed from GitLab by @{r.disconnected_by};{" "}
        {r.registration_removed
          ? "the registration and its tokens are gone."
          : "the relay had no registration for it."}
      </p>
      <p>
        <a href="/connect">Connect another project</a>
      </p>
    </Layout>
  );
}

export function ErrorPage(props: { title: string; message: string }) {
  return (
    <Layout title={props.title}>
      <h1>{props.title}</h1>
      <p class="bad" role="alert">
        {props.message}
      </p>
      <p>Fix this and connect again: every step is safe to repeat, nothing is installed twice.</p>
      <p>
        <a href="/connect">Back to Connect</a>
      </p>
    </Layout>
  );
}
