/**
 * The console's pages (Hono JSX). Tables with captions and headers, figures as text next to
 * the chart, every action a form with the session's CSRF token. No secret is ever rendered:
 * tokens by hint, bodies masked by the admin API.
 */
import { raw } from "hono/html";
import type { Child } from "hono/jsx";
import type { z } from "zod";
import { Layout } from "../pages";
import type { delivery, deliveryBody, deliveryDetail, overview } from "./console-data";

export const OUTCOME_COLORS: Record<string, string> = {
  delivered: "#2e7d32",
  duplicate: "#78909c",
  ignored: "#b0bec5",
  retrying: "#f9a825",
  dead: "#c62828",
  rejected: "#8e24aa",
  skipped: "#90a4ae",
  undeliverable: "#6d4c41",
};

function Nav() {
  return (
    <>
      <a href="/console">Overview</a>
      <a href="/console/deliveries">Deliveries</a>
      <a href="/console/projects">Projects</a>
      <a href="/console/instances">Instances</a>
      <a href="/console/feedback">Failed feedback</a>
    </>
  );
}

export function ConsolePage(props: {
  title: string;
  csrf: string;
  who: string;
  scripts?: string[];
  children: Child;
}) {
  return (
    <Layout
      title={props.title}
      wide
      nav={
        <>
          <Nav />
          <form class="inline" method="post" action="/console/logout">
            <input type="hidden" name="csrf" value={props.csrf} />
            <button type="submit">Sign out ({props.who})</button>
          </form>
        </>
      }
      styles={["/console/assets/uplot.css"]}
      {...(props.scripts ? { scripts: props.scripts } : {})}
    >
      {props.children}
    </Layout>
  );
}

export function LoginPage(props: { message?: string }) {
  return (
    <Layout title="Sign in">
      <h1>Relay console</h1>
      {props.message ? (
        <p class="bad" role="alert">
          {props.message}
        </p>
      ) : null}
      <form method="post" action="/console/login">
        <label for="admin_token">Admin token</label>
        <input id="admin_token" name="admin_token" type="password" autocomplete="off" required />
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">
        The session lasts an hour; signing in again or rotating ADMIN_TOKEN ends it.
      </p>
    </Layout>
  );
}

type Overview = z.infer<typeof overview>;

/** Chart data for console.js: one point per minute, zeros where nothing happened. */
export function chartData(o: Overview, now: number) {
  const start = Math.floor(Date.parse(o.since) / 60_000);
  const end = Math.floor(now / 60_000);
  const byMinute = new Map(
    o.per_minute.map((m) => [Math.floor(Date.parse(String(m.minute)) / 60_000), m]),
  );
  const x: number[] = [];
  for (let m = start; m <= end; m++) {
    x.push(m * 60);
  }
  const series = Object.keys(OUTCOME_COLORS).map((label) => ({
    label,
    color: OUTCOME_COLORS[label],
    values: x.map((t) => Number(byMinute.get(t / 60)?.[label] ?? 0)),
  }));
  return { x, series };
}

export function OverviewBody(props: { o: Overview; now: number }) {
  const { o } = props;
  const data = JSON.stringify(chartData(o, props.now)).replace(/</g, "\\u003c");
  return (
    <>
      <h1>Overview</h1>
      <div class="figures">
        <div>
          Retry backlog<b id="backlog">{o.backlog.retrying + o.backlog.queued}</b>
          {o.backlog.oldest_received_at ? `oldest ${o.backlog.oldest_received_at}` : "none waiting"}
        </div>
        <div>
          Dead letters<b>{o.failed_in_retention.dead}</b>in the retention window
        </div>
        <div>
          Rejected<b>{o.failed_in_retention.rejected}</b>
          <a href="/console/deliveries?status=rejected">see them</a>
        </div>
        <div>
          Ingress p50 / p99
          <b>
            {o.ingress_ms.p50 ?? "–"} / {o.ingress_ms.p99 ?? "–"} ms
          </b>
          last hour, {o.ingress_ms.count} events
        </div>
        <div>
          Failed feedback<b>{o.feedback_failed}</b>
          <a href="/console/feedback">see them</a>
        </div>
      </div>
      <h2>Events per minute, last 24 hours</h2>
      <div id="chart" role="img" aria-label="Events per minute by outcome, stacked" />
      <script type="application/json" id="chart-data">
        {raw(data)}
      </script>
      <table id="totals">
        <caption>Totals, last 24 hours</caption>
        <thead>
          <tr>
            {Object.keys(OUTCOME_COLORS).map((k) => (
              <th scope="col">{k}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            {Object.keys(OUTCOME_COLORS).map((k) => (
              <td data-outcome={k}>{o.totals[k] ?? 0}</td>
            ))}
          </tr>
        </tbody>
      </table>
      <h2>Needs attention</h2>
      {o.instances.length + o.hooks.length === 0 ? (
        <p class="ok">Nothing: every instance and hook is healthy.</p>
      ) : null}
      <ul>
        {o.instances.map((i) => (
          <li class="warn">
            Instance {i.url}: {i.problem}
          </li>
        ))}
        {o.hooks.map((h) => (
          <li class="warn">
            {h.instance_url}/{h.path}: {h.problem}
          </li>
        ))}
      </ul>
    </>
  );
}

type Delivery = z.infer<typeof delivery>;

export function DeliveryRows(props: { rows: Delivery[] }) {
  return (
    <table>
      <caption>Deliveries, newest first</caption>
      <thead>
        <tr>
          <th scope="col">received</th>
          <th scope="col">project</th>
          <th scope="col">kind</th>
          <th scope="col">status</th>
          <th scope="col">attempts</th>
          <th scope="col">last answer</th>
        </tr>
      </thead>
      <tbody>
        {props.rows.map((d) => (
          <tr>
            <td>
              <a href={`/console/deliveries/${d.id}`}>{d.received_at}</a>
            </td>
            <td>{d.project_path ?? d.project_id ?? "–"}</td>
            <td>{d.kind}</td>
            <td>{d.status}</td>
            <td>{d.attempts}</td>
            <td>{d.last_status_code ?? d.reason ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function DeliveryBody(props: {
  d: z.infer<typeof deliveryDetail>;
  body: z.infer<typeof deliveryBody>;
  csrf: string;
  replayed: boolean;
}) {
  const { d, body } = props;
  return (
    <>
      <h1>
        Delivery {d.id.slice(0, 8)}: {d.status}
      </h1>
      {props.replayed ? (
        <p class="ok" role="status">
          Replay queued: it goes out again with the same dedupe key.
        </p>
      ) : null}
      <p>
        {d.kind} for {d.project_path ?? d.project_id ?? "?"}, received {d.received_at}, {d.attempts}{" "}
        attempt(s){d.reason ? `; ${d.reason}` : ""}
      </p>
      <form method="post" action={`/console/deliveries/${d.id}/replay`}>
        <input type="hidden" name="csrf" value={props.csrf} />
        <button type="submit">Replay this delivery</button>
      </form>
      <h2>Destinations</h2>
      <table>
        <thead>
          <tr>
            <th scope="col">destination</th>
            <th scope="col">status</th>
            <th scope="col">attempts</th>
            <th scope="col">last answer</th>
          </tr>
        </thead>
        <tbody>
          {d.destinations.map((t) => (
            <tr>
              <td>{t.destination}</td>
              <td>{t.status}</td>
              <td>{t.attempts}</td>
              <td>{t.last_status_code ?? t.last_error ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Attempts</h2>
      <ol id="timeline">
        {d.history.map((a) => (
          <li class={a.outcome === "delivered" ? "ok" : a.outcome === "transient" ? "warn" : "bad"}>
            {a.attempted_at}: {a.destination} {a.outcome}
            {a.status_code !== null ? ` (${a.status_code})` : ""} in {a.duration_ms} ms
            {a.error ? `: ${a.error}` : ""}
          </li>
        ))}
      </ol>
      {d.history.length === 0 ? <p>No attempt yet.</p> : null}
      <h2>Body</h2>
      {body.body !== null ? <pre>{body.body}</pre> : <p>{body.note}</p>}
      <h2>Normalized event</h2>
      {body.normalized !== null ? (
        <pre>{JSON.stringify(body.normalized, null, 2)}</pre>
      ) : (
        <p>{body.note ?? "none"}</p>
      )}
    </>
  );
}
